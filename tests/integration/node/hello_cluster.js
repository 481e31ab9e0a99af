// A Node cluster program in the usual tutorial shape, run unmodified by
// tests/integration/test_node_workers.py under Node's own primary and
// under handoff's (--node). GET /slow?ms=N answers after N ms (for the
// graceful-stop test), GET /busy?ms=N after keeping the CPU (and the
// event loop) busy for N ms; everything else says which worker answered.
const cluster = require('cluster');
const http = require('http');
const os = require('os');

const PORT = process.env.PORT || 3000;

if (cluster.isPrimary) {
  console.log(`Primary ${process.pid} is running`);
  for (let i = 0; i < os.cpus().length; i++) {
    cluster.fork();
  }
  cluster.on('exit', (worker, code, signal) => {
    console.log(`worker ${worker.process.pid} died (${signal || code}); forking another`);
    cluster.fork();
  });
} else {
  http.createServer((req, res) => {
    const m = /^\/slow\?ms=(\d+)$/.exec(req.url);
    const busy = /^\/busy\?ms=(\d+)$/.exec(req.url);
    const answer = () => res.end(`Hello from worker ${process.pid}\n`);
    if (m) {
      setTimeout(answer, Number(m[1]));
    } else if (busy) {
      const until = Date.now() + Number(busy[1]);
      while (Date.now() < until);
      answer();
    } else {
      answer();
    }
  }).listen(PORT);
  console.log(`Worker ${process.pid} started`);
}
