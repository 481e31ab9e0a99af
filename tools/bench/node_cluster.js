// node_cluster.js: the usual tutorial shape of a Node.js cluster, as a
// benchmark peer for handoff. The primary forks WORKERS workers (default:
// one per CPU) and re-forks any that exit; each worker answers every
// request with "Hello from worker <pid>". The scheduling policy is Node's:
// NODE_CLUSTER_SCHED_POLICY=rr (its default on Linux) or none.
'use strict';
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');

const port = Number(process.env.PORT || 8000);
const workers = Number(process.env.WORKERS || os.cpus().length);

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', () => cluster.fork());
  cluster.on('listening', () => {
    if (Object.values(cluster.workers).every((w) => w.isListening)) {
      console.log(`listening on 127.0.0.1:${port}`);
    }
  });
} else {
  const server = http.createServer((req, res) => {
    res.end(`Hello from worker ${process.pid}\n`);
  });
  server.listen(port, '127.0.0.1', () => { cluster.worker.isListening = true; });
}
