// node_cluster.js: the usual tutorial shape of a Node.js cluster, as a
// benchmark peer for handoff. The primary forks WORKERS workers (default:
// one per CPU) and re-forks any that exit; each worker answers every
// request with "Hello from worker <pid>". The scheduling policy is Node's:
// NODE_CLUSTER_SCHED_POLICY=rr (its default on Linux) or none. SIGHUP to
// the primary is the usual hand-written rolling restart: one worker at a
// time, a replacement is forked and, once it listens, the old worker is
// told to disconnect (Node's worker.disconnect(): its servers close).
// Under PM2's cluster mode and handoff --node only the worker branch runs.
'use strict';
const cluster = require('node:cluster');
const http = require('node:http');
const os = require('node:os');

const port = Number(process.env.PORT || 8000);
const workers = Number(process.env.WORKERS || os.cpus().length);

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  // A worker that was told to go is not replaced again.
  cluster.on('exit', (w) => { if (!w.exitedAfterDisconnect) cluster.fork(); });
  let restarting = false;
  process.on('SIGHUP', () => {
    if (restarting) return;
    restarting = true;
    const old = Object.values(cluster.workers);
    const next = (i) => {
      if (i === old.length) {
        restarting = false;
        return;
      }
      cluster.fork().once('listening', () => {
        old[i].disconnect();
        next(i + 1);
      });
    };
    next(0);
  });
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
