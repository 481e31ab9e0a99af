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
//                  requests in flight are served, each connection's next
//                  response says Connection: close, and an idle connection
//                  is never closed under its client (Node's server.close()
//                  does that since Node 19: the read errors of a reload).
//
// The wire (docs/node-workers.md): the preload sends
// {"cmd":"NODE_HANDOFF","act":"load",...}; the master reads a cmd that
// starts with NODE_ as its own, never as the program's process.send(). The
// master sends {"cmd":"NODE_HANDOFF","act":"drain"} in place of Node's
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
// Giving idle connections back to the master (process.send(msg, socket))
// waits for the master's side of the connection handover; drain() is where
// it goes: an idle connection would be sent instead of waited for.
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
  let left = false;
  let sweepTimer = null;

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
    if (!draining || open > 0 || left) {
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

  // Draining: closes each HTTP connection (it has its parser) idle since
  // the last sweep: no request in flight, nothing read, nothing left to
  // write. One upgraded (WebSocket) or a plain net server's is waited for,
  // as Node waits for it.
  function sweep() {
    for (const s of sockets) {
      const rec = s[kRec];
      if (rec.busy === 0 && s.parser != null && s.bytesRead === rec.swept &&
          s.writableLength === 0) {
        s.destroy();
      } else {
        rec.swept = s.bytesRead;
      }
    }
    sweepTimer = setTimeout(sweep, SWEEP_MS);
    sweepTimer.unref();
  }

  function drain() {
    if (draining) {
      return;
    }
    draining = true;
    for (const s of sockets) {
      const rec = s[kRec];
      if (rec.last !== null) {
        closeAfter(rec, rec.last);
      }
      rec.swept = s.bytesRead;
      stopListening(s.server);
    }
    sweepTimer = setTimeout(sweep, DRAIN_IDLE_MS);
    sweepTimer.unref();
    report(); // the master logs what the drain waits for
    setImmediate(leave);
  }

  function onClose() {
    const rec = this[kRec];
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
    s[kRec] = { busy: 0, last: null, lastKeep: true, swept: -1 };
    sockets.add(s);
    open++;
    s.on('close', onClose); // once, as a socket closes once
    if (draining) {
      stopListening(s.server);
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
    if (draining) {
      closeAfter(rec, msg.response);
    } else {
      rec.last = msg.response;
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
      drain();
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
