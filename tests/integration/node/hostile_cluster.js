// A Node cluster program that does what handoff's preload must survive,
// run unmodified by tests/integration/test_node_preload.py under handoff
// (--node): an APM-style patch of http.Server, a createServer that
// replaces Node's, a long keepAliveTimeout (as behind a load balancer),
// its own close() that calls server.closeIdleConnections(), a second
// server on the same port, its own process.on('message') and
// process.send(), and a child it forks (which inherits --require).
const cluster = require('cluster');
const http = require('http');
const { fork } = require('child_process');

const PORT = process.env.PORT || 3000;

if (process.argv[2] === 'child') {
  // Forked by a worker with the worker's execArgv: the preload is loaded
  // here too and must stay out of the way.
  process.send({ child: process.pid, execArgv: process.execArgv.join(' ') });
  process.disconnect();
} else if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  cluster.on('exit', () => cluster.fork());
} else {
  let requests = 0;
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (event, ...args) {
    if (event === 'request') requests++;
    return emit.call(this, event, ...args);
  };
  const createServer = http.createServer;
  http.createServer = function (...args) {
    const s = createServer.apply(this, args);
    s.keepAliveTimeout = 65000;
    return s;
  };

  const server = http.createServer((req, res) => {
    res.end(`Hello from worker ${process.pid} (${requests})\n`);
  });
  const close = server.close;
  server.close = function (cb) {
    this.closeIdleConnections();
    return close.call(this, cb);
  };
  server.listen(PORT, () => process.send({ hello: process.pid }));

  // Only one server per worker gets the master's connections.
  const second = http.createServer((req, res) => res.end('second\n'));
  second.on('error', (e) => process.send({ second: e.code }));
  second.listen(PORT);

  // Whatever reaches the program's own handler is told to the master.
  process.on('message', (m) => process.send({ leaked: m }));

  // (A worker retired before its child has spoken has no channel left.)
  fork(__filename, ['child']).on('message', (m) => process.connected && process.send(m));
}
