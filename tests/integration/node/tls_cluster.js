// A Node cluster HTTPS program, as a tutorial writes one, run unmodified
// by tests/integration/test_tls.py under handoff's primary (--node): its
// workers must resume each other's TLS sessions, which takes the same
// ticket keys in every worker (the queryServer answer's data).
const cluster = require('cluster');
const fs = require('fs');
const https = require('https');

if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) {
    cluster.fork();
  }
} else {
  https.createServer({
    key: fs.readFileSync(process.env.TLS_KEY),
    cert: fs.readFileSync(process.env.TLS_CERT),
  }, (req, res) => {
    res.end(`Hello from worker ${process.pid}\n`);
  }).listen(process.env.PORT);
}
