// preload.cjs (installed as handoff-preload.cjs): loaded by handoff's
// master into every Node worker it starts (`node --require` this file,
// before the program, which is not changed; --node-preload off leaves it
// out). It does for a Node worker what handoff's own workers do:
//
//   load reports   open connections, requests in flight and served,
//                  event-loop lag, RSS and heap, as worker/report.c sends
//                  them: when a figure changes (at most every 50 ms),
//                  and every second as a heartbeat; and each
//                  answer to a newconn carries the open connections and
//                  requests in flight, as a native worker's ACK does, so
//                  that least-loaded and p2c see a worker busy in a long
//                  synchronous handler before it stops reading;
//   a drain        that drops nothing when the master retires the worker:
//                  requests in flight are served, each idle connection
//                  goes back to the master, which hands it to a live
//                  worker (below), or, where it cannot, its next response
//                  says Connection: close; an idle connection is never
//                  closed under its client (Node's server.close() does
//                  that since Node 19: the read errors of a reload).
//
// The wire (docs/node-workers.md): the preload sends
// {"cmd":"NODE_HANDOFF","act":"load",...}; the master reads a cmd that
// starts with NODE_ as its own, never as the program's process.send(). The
// master sends {"cmd":"NODE_HANDOFF","act":"drain"} (with "giveback":true
// where connections may come back) in place of Node's
// disconnect once it has had a report: Node emits a NODE_ message as
// 'internalMessage', which its own code ignores unless the cmd is
// NODE_CLUSTER or NODE_HANDLE*, so the program's process.on('message')
// never sees it. When the last connection is gone the preload calls
// cluster.worker.disconnect(), Node's own way for a worker to leave.
//
// Connections and requests are seen through diagnostics_channel (Node's
// net.server.socket, http.server.request.start, http.server.response.finish),
// which Node publishes from inside its own http code: a program that
// patches http.Server, replaces createServer or runs several servers is
// counted all the same, and the preload changes no prototype.
//
// Giving idle connections back. When the drain says "giveback":true (the
// master hands connections again: --rehand on, a policy under which it
// accepts), each connection idle at the drain, or once its requests in
// flight are answered, goes back to the master with process.send(msg,
// socket), Node's own way to pass a socket to its primary, instead of
// being answered with Connection: close: {"cmd":"NODE_HANDOFF",
// "act":"giveback"} in a NODE_HANDLE line with the descriptor. The master
// hands it to a live worker; Node closes its handle (no FIN) at the
// master's NODE_HANDLE_ACK. Idle is Node's own idle of
// server.closeIdleConnections() and more: no request in flight, no byte of
// a next request in the parser, nothing buffered either way, not ended;
// reading stops before the send, so that whatever the client sends next
// stays in the kernel for the worker that gets the connection. A
// connection that cannot be given back (a pipelined or half-read request
// after its answer, an upgraded or an HTTPS one) closes after its next
// response, as without.
'use strict';

(function handoffPreload() {
  const cluster = require('node:cluster');

  // A child the program forks inherits --require from process.execArgv;
  // only a worker of handoff's master has the cluster channel.
  if (!cluster.isWorker || typeof process.send !== 'function') {
    return;
  }

  const dc = require('node:diagnostics_channel');
  const net = require('node:net');
  const { monitorEventLoopDelay } = require('node:perf_hooks');

  const MIN_GAP_MS = 50; // as worker/report.c
  const HEARTBEAT_MS = 1000;
  const LAG_RESOLUTION_MS = 20;
  // Draining, a connection idle this long (Node's default keepAliveTimeout)
  // is closed: a longer or disabled keepAliveTimeout does not hold the old
  // worker. Node's own keepAliveTimeout, if shorter, closes it first.
  const DRAIN_IDLE_MS = 5000;
  const SWEEP_MS = 1000;
  const UINT32_MAX = 0xffffffff;

  // The channel's own send, before the program can replace process.send.
  const send = process.send;
  const kRec = Symbol('handoff.connection');
  const sockets = new Set();
  let open = 0;
  let inflight = 0;
  let served = 0;
  let lagUs = 0;
  let rssKib = 0;
  let heapKib = 0;
  let sentLast = 0; // when the last report of a change went out
  let timer = null;
  let draining = false;
  let giveback = false; // the drain gives idle connections back
  let givenBack = 0;
  // Given back, not yet sent: Node sends one handle at a time (each after
  // the master's ACK of the one before), and until its turn a socket is
  // still the server's, which the disconnect's server.close() would close
  // as idle (closeIdleConnections, Node 19 on). The drain ends after.
  let giving = 0;
  let left = false;
  let sweepTimer = null;
  // _http_server.js's private list of an http.Server's parsers
  // (ConnectionsList), found once: its active() are those in the middle
  // of a request, from its first byte to its end.
  let kConnections;

  function ignore() {}

  function report() {
    if (!process.connected) {
      return;
    }
    const msg = {
      cmd: 'NODE_HANDOFF',
      act: 'load',
      open,
      inflight,
      served,
      lag_us: lagUs,
      rss_kib: rssKib,
      heap_kib: heapKib,
    };
    if (draining) {
      msg.draining = true;
      msg.given_back = givenBack;
    }
    send.call(process, msg, ignore);
  }

  function onTimer() {
    timer = null;
    sentLast = Date.now();
    report();
  }

  // A figure changed: report now, or once MIN_GAP_MS has passed since the
  // last report of a change. Returns true if it reported now.
  function changed() {
    if (timer !== null) {
      return false;
    }
    const now = Date.now();
    const wait = sentLast + MIN_GAP_MS - now;
    if (wait <= 0) {
      sentLast = now;
      report();
      return true;
    }
    timer = setTimeout(onTimer, wait);
    timer.unref();
    return false;
  }

  // The master now reads this request as in flight. A worker that blocks
  // in a long synchronous handler has said so before it blocks; for a
  // quick answer, its end is told before the answer goes out, or the
  // master would count it for a while after the client has it (and send
  // the client's next connection to a worker that is really busy).
  function tellEndFirst(res) {
    const end = res.end;
    let told = false;
    res.end = function handoffEnd() {
      if (!told) {
        told = true;
        inflight--;
        report(); // as it will be once answered; counted at 'finish'
        inflight++;
      }
      return Reflect.apply(end, this, arguments);
    };
  }

  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lag.enable();

  // Once a second: the longest stall of the loop since the last beat (the
  // histogram's samples are the timer's period plus its lateness), RSS and
  // heap.
  function heartbeat() {
    const late = (lag.max - LAG_RESOLUTION_MS * 1e6) / 1000;
    lag.reset();
    lagUs = late > 0 ? Math.min(Math.round(late), UINT32_MAX) : 0;
    const m = process.memoryUsage();
    rssKib = Math.min(Math.round(m.rss / 1024), UINT32_MAX);
    heapKib = Math.min(Math.round(m.heapUsed / 1024), UINT32_MAX);
    report();
  }

  const beat = setInterval(heartbeat, HEARTBEAT_MS);
  beat.unref();

  // Under --policy none and reuseport the worker accepts by itself: a
  // draining worker stops. net's close(), not http's, which would also
  // close idle connections (Node 19 on). Under the other policies the
  // master has stopped handing it connections: its server stays as it is
  // until cluster.worker.disconnect() closes it the usual way. There the
  // server's handle is the plain object of cluster's round-robin child.
  function stopListening(server) {
    if (server == null || server._handle == null ||
        Object.getPrototypeOf(server._handle) === Object.prototype) {
      return;
    }
    net.Server.prototype.close.call(server);
  }

  // Draining: the last response of the connection (pipelined ones before
  // it keep it open for those behind) says Connection: close and closes it.
  function closeAfter(rec, res) {
    const prev = rec.last;
    if (prev !== null && prev !== res && !prev.headersSent) {
      prev.shouldKeepAlive = rec.lastKeep;
    }
    rec.last = res;
    rec.lastKeep = res.shouldKeepAlive;
    if (!res.headersSent) {
      res.shouldKeepAlive = false;
    }
  }

  function leave() {
    if (!draining || open > 0 || giving > 0 || left) {
      return;
    }
    left = true;
    clearInterval(beat);
    clearTimeout(sweepTimer);
    lag.disable();
    report(); // the last figures: what it served counts in its slot
    if (process.connected && cluster.worker) {
      cluster.worker.disconnect();
    }
  }

  // Draining: gives back what has become idle (if the drain gives back),
  // and closes each HTTP connection (it has its parser) idle since the
  // last sweep: no request in flight, nothing read, nothing left to
  // write. One upgraded (WebSocket) or a plain net server's is waited for,
  // as Node waits for it.
  function sweep() {
    let given = 0;
    for (const s of sockets) {
      const rec = s[kRec];
      if (giveback && giveBack(s)) {
        given++;
        continue;
      }
      if (rec.busy === 0 && s.parser != null && s.bytesRead === rec.swept &&
          s.writableLength === 0) {
        s.destroy();
      } else {
        rec.swept = s.bytesRead;
      }
    }
    if (given > 0) {
      gaveBack();
    }
    sweepTimer = setTimeout(sweep, SWEEP_MS);
    sweepTimer.unref();
  }

  // The server's list of parsers, or undefined (not an http.Server, or a
  // Node without it: nothing is given back).
  function connectionsOf(server) {
    if (server == null) {
      return undefined;
    }
    if (kConnections === undefined) {
      kConnections = Object.getOwnPropertySymbols(server).find(
        (sym) => sym.description === 'http.server.connections');
    }
    const list = kConnections === undefined ? undefined : server[kConnections];
    return list != null && typeof list.active === 'function' ? list : undefined;
  }

  // <s> can go back to the master: handed by it (its server's handle is
  // cluster's round-robin one), HTTP/1 with its parser (not upgraded, not
  // HTTPS: a TLS session lives here), open both ways, nothing buffered
  // either way, no request in flight, no byte of one read.
  function idleNow(s, rec) {
    const srv = s.server;
    if (rec.busy !== 0 || rec.given || s.parser == null || s._handle == null ||
        s.destroyed || s.readableEnded || s.writableEnded ||
        s.readableLength !== 0 || s.writableLength !== 0 ||
        s._httpMessage != null || srv == null || srv._handle == null ||
        Object.getPrototypeOf(srv._handle) !== Object.prototype) {
      return false;
    }
    // A parser is active from a request's first byte to its end (and from
    // its start, until the first request: nothing read yet is idle too).
    const list = connectionsOf(srv);
    return list !== undefined &&
      (s.bytesRead === 0 || !list.active().includes(s.parser));
  }

  // The master could not be told: the connection is this worker's again,
  // and closes after its next response.
  function givenBackFailed(s) {
    const rec = s[kRec];
    if (s._handle == null || s.destroyed || !rec.given) {
      return; // sent after all, or gone
    }
    rec.given = false;
    rec.fallback = true;
    sockets.add(s);
    open++;
    givenBack--;
    s._handle.reading = true;
    s._handle.readStart();
  }

  // Gives <s> back to the master if it is idle; true if it went.
  function giveBack(s) {
    const rec = s[kRec];
    if (!process.connected || !idleNow(s, rec)) {
      return false;
    }
    // Reading stops before anything else: a byte Node read now would be
    // lost to the worker that gets the connection.
    s._handle.reading = false;
    s._handle.readStop();
    rec.given = true;
    sockets.delete(s);
    open--;
    givenBack++;
    giving++;
    s.setTimeout(0); // no keepAliveTimeout while it waits for its turn
    send.call(process, { cmd: 'NODE_HANDOFF', act: 'giveback' }, s, (err) => {
      giving--;
      if (err) {
        givenBackFailed(s);
      }
      if (draining) {
        setImmediate(leave);
      }
    });
    return true;
  }

  // Some connections went back: the master hears of it, and the drain may
  // be over.
  function gaveBack() {
    changed();
    setImmediate(leave);
  }

  // A response of <s> went out (its socket is detached from it now):
  // given back if idle, else it closes after its last parsed response.
  function afterResponse(s) {
    const rec = s[kRec];
    if (rec.given || rec.fallback) {
      return;
    }
    if (giveBack(s)) {
      gaveBack();
      return;
    }
    rec.fallback = true;
    if (rec.last !== null) {
      closeAfter(rec, rec.last);
    }
  }

  function drain(msg) {
    if (draining) {
      return;
    }
    draining = true;
    giveback = msg.giveback === true;
    for (const s of sockets) {
      const rec = s[kRec];
      rec.swept = s.bytesRead;
      stopListening(s.server);
      if (giveback && giveBack(s)) {
        continue;
      }
      if (rec.last !== null && !giveback) {
        closeAfter(rec, rec.last);
      }
    }
    sweepTimer = setTimeout(sweep, DRAIN_IDLE_MS);
    sweepTimer.unref();
    report(); // the master logs what the drain waits for
    setImmediate(leave);
  }

  function onClose() {
    const rec = this[kRec];
    if (rec.given) {
      return; // counted out when given back
    }
    sockets.delete(this);
    open--;
    inflight -= rec.busy; // answers that will never finish
    rec.busy = 0;
    rec.last = null;
    changed();
    if (draining) {
      setImmediate(leave); // after Node's own 'close' handlers
    }
  }

  // Not reported by itself: the newconn's answer says it (below), and a
  // request, which follows, is.
  function onSocket(msg) {
    const s = msg.socket;
    s[kRec] = {
      busy: 0, last: null, lastKeep: true, swept: -1,
      given: false, // sent to the master
      fallback: false, // could not be: it closes after its next response
    };
    sockets.add(s);
    open++;
    s.on('close', onClose); // once, as a socket closes once
    if (draining) {
      stopListening(s.server);
      if (giveback) {
        setImmediate(afterResponse, s); // once http has its parser on it
      }
    }
  }

  // An HTTPS request's socket is the TLS socket over the one accepted.
  function recOf(socket) {
    const rec = socket[kRec];
    return rec !== undefined || socket._parent == null ? rec : socket._parent[kRec];
  }

  function onRequestStart(msg) {
    const rec = recOf(msg.socket);
    if (rec === undefined) {
      return; // a socket the program emitted by hand, not accepted
    }
    rec.busy++;
    inflight++;
    if (draining && (!giveback || rec.fallback)) {
      closeAfter(rec, msg.response);
    } else {
      rec.last = msg.response; // draining: given back once answered
    }
    if (changed()) {
      tellEndFirst(msg.response);
    }
  }

  function onResponseFinish(msg) {
    const rec = recOf(msg.socket);
    if (rec === undefined || rec.busy === 0) {
      return;
    }
    rec.busy--;
    inflight--;
    served++;
    if (rec.last === msg.response) {
      rec.last = null;
    }
    if (giveback && rec.busy === 0 && msg.socket[kRec] === rec) {
      // Node detaches the response from its socket after this message,
      // before any read: the next tick sees the connection as it is.
      process.nextTick(afterResponse, msg.socket);
    }
    changed();
  }

  // Held here: Node 18 keeps channels only as long as they are referenced.
  const channels = [
    [dc.channel('net.server.socket'), onSocket],
    [dc.channel('http.server.request.start'), onRequestStart],
    [dc.channel('http.server.response.finish'), onResponseFinish],
  ];
  for (const [ch, fn] of channels) {
    ch.subscribe(fn);
  }

  // Node's cluster answers a newconn ({ack, accepted}) just before it
  // makes the connection's socket: the answer carries the figures with
  // that connection counted, as a native worker's ACK does.
  function handoffSend(message) {
    if (message !== null && typeof message === 'object' &&
        message.cmd === 'NODE_CLUSTER' && message.accepted === true &&
        message.ack !== undefined) {
      message.load = { open: open + 1, inflight };
    }
    return Reflect.apply(send, this, arguments);
  }
  process.send = handoffSend;

  process.on('internalMessage', (msg) => {
    if (msg !== null && typeof msg === 'object' && msg.cmd === 'NODE_HANDOFF' &&
        msg.act === 'drain') {
      drain(msg);
    }
  });

  // The channel is gone: nothing more to tell. (The worker's event, not
  // process's: a 'disconnect' listener on process would hold the channel.)
  cluster.worker.once('disconnect', () => {
    clearInterval(beat);
    clearTimeout(timer);
    clearTimeout(sweepTimer);
    lag.disable();
    for (const [ch, fn] of channels) {
      ch.unsubscribe(fn);
    }
    if (process.send === handoffSend) {
      process.send = send;
    }
  });

  heartbeat(); // the first report says the preload is there
})();
