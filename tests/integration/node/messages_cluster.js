// A Node cluster program whose workers talk to the primary: each sends a
// message when it starts, and GET /bye makes a worker send another and
// then disconnect itself (cluster.worker.disconnect()). Run unmodified by
// tests/integration/test_node_workers.py under handoff (--node).
const cluster = require('cluster');
const http = require('http');

const PORT = process.env.PORT || 3000;

if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  cluster.on('message', (worker, msg) => {
    console.log(`primary got ${JSON.stringify(msg)} from worker ${worker.id}`);
  });
  cluster.on('exit', (worker) => {
    console.log(`worker ${worker.id} exited; exitedAfterDisconnect=${worker.exitedAfterDisconnect}`);
    cluster.fork();
  });
} else {
  const server = http.createServer((req, res) => {
    if (req.url === '/bye') {
      res.setHeader('Connection', 'close');
      res.end(`Bye from worker ${process.pid}\n`);
      process.send({ bye: process.pid, id: cluster.worker.id });
      cluster.worker.disconnect();
      return;
    }
    res.end(`Hello from worker ${process.pid}\n`);
  });
  server.listen(PORT, () => {
    process.send({ hello: process.pid, id: cluster.worker.id });
  });
}
