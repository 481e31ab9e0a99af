// An Express app clustered the way tutorials show it, run unmodified by
// tests/integration/test_node_workers.py under handoff (--node). Its one
// route spins the CPU for a while before answering, as the tutorials'
// "heavy computation" examples do.
const cluster = require('cluster');
const os = require('os');
const express = require('express');

const PORT = process.env.PORT || 3000;

if (cluster.isPrimary) {
  const n = os.cpus().length;
  console.log(`Primary ${process.pid}: forking ${n} workers`);
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('exit', (worker) => {
    console.log(`Worker ${worker.process.pid} died`);
    cluster.fork();
  });
} else {
  const app = express();
  app.get('/', (req, res) => {
    let total = 0;
    for (let i = 0; i < 5e6; i++) total += i;
    res.set('X-Worker-Pid', String(process.pid));
    res.json({ success: true });
  });
  app.listen(PORT, () => {
    console.log(`Worker ${process.pid} listening on ${PORT}`);
  });
}
