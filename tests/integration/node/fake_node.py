#!/usr/bin/env python3
"""A stand-in for `node SCRIPT` (given to handoff as --node-bin) that
speaks Node's cluster protocol from Python, so tests can make a worker
misbehave in ways real Node never would. FAKE_MODE picks how:

  garbage   before listening: a line that is not JSON, a 2 MiB line, an
            answer to a message never sent, NODE_HANDLE without an fd and
            with one, a burst of process.send() messages
  nack      answers the first newconn with NODE_HANDLE_NACK, as Node does
            when the fd did not arrive
  refuse    answers the first newconn with accepted:false
  silent    worker 1 takes its first newconn's fd and never answers
  guess     answers for the next newconn before it arrives (its seq is
            easy to guess), then serves as usual
  flood     worker 1 never reads its channel and writes NODE_HANDLE lines without
            an fd (each asks for a NACK) as fast as the master takes
            them, up to 64 MiB; says how far it got once the channel has
            not been writable for 5 s, then hangs; the others serve
  leaving   worker 1 says it leaves (exitedAfterDisconnect, as
            cluster.worker.disconnect() does) and, once answered, keeps
            its channel open and tells each line it gets after that
  slowread  (under --policy none) sends its queryServer, with 60 kB of
            data that the answer repeats, behind 8000 + 1000 * its
            NODE_UNIQUE_ID NODE_HANDLE lines
            without an fd, then reads its channel a little at a time, so
            the master's writes stall and resume, likely mid-line; says
            whether the answers came whole with one fd, accepts on the
            socket and serves

and then serves like a worker: every accepted connection gets one HTTP
answer, "Hello from worker <pid>", and is closed."""

import array
import json
import os
import select
import socket
import sys
import threading

mode = os.environ.get("FAKE_MODE", "")
chan = socket.socket(fileno=int(os.environ["NODE_CHANNEL_FD"]))
chan.setblocking(True)
seq = 0
lock = threading.Lock()


def send(msg, fds=()):
    global seq
    with lock:
        if isinstance(msg, dict) and msg.get("cmd") == "NODE_CLUSTER":
            msg["seq"] = seq
            seq += 1
        data = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
        if fds:
            chan.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                   array.array("i", fds))])
        else:
            chan.sendall(data)


def serve(fd):
    with socket.socket(fileno=fd) as c:
        c.setblocking(True)
        c.settimeout(10)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            body = f"Hello from worker {os.getpid()}\n".encode()
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                      % len(body) + body)
        except OSError:
            pass


def lines(chunk=65536, every_fd=None):
    """Yields (message, fd or None) as Node's setupChannel pairs them;
    reads <chunk> bytes at a time; appends each fd received, paired or
    not, to <every_fd> if given."""
    buf, pending = b"", []
    while True:
        data, anc, _, _ = chan.recvmsg(chunk, socket.CMSG_SPACE(16 * 4))
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(payload[:len(payload) - len(payload) % 4])
                pending += list(a)
                if every_fd is not None:
                    every_fd += list(a)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            fd = None
            if isinstance(msg, dict) and msg.get("cmd") == "NODE_HANDLE" and pending:
                fd = pending.pop(0)
            yield msg, fd


send({"cmd": "NODE_CLUSTER", "act": "online"})
if mode == "flood" and os.environ["NODE_UNIQUE_ID"] == "1":
    chunk = b'{"cmd":"NODE_HANDLE"}\n' * 4096
    sent, total = 0, 64 * 1024 * 1024
    chan.setblocking(False)
    while sent < total:
        if not select.select([], [chan], [], 5)[1]:
            break
        try:
            sent += chan.send(chunk)
        except BlockingIOError:
            pass
    print(f"fake worker: flood {'stalled' if sent < total else 'done'} after {sent} bytes",
          file=sys.stderr, flush=True)
    threading.Event().wait()
if mode == "garbage":
    chan.sendall(b"this is not json\n")
    chan.sendall(b'{"x":"' + b"y" * (2 * 1024 * 1024) + b'"}\n')
    send([1, 2, 3])
    send({"cmd": "NODE_CLUSTER", "ack": 999, "accepted": True})
    # A handle, then a NODE_HANDLE line without one (which Node never
    # sends: on a byte stream the receiver gives a read's fd to the first
    # NODE_HANDLE line it parses, so the fd must come first).
    r, handle_w = os.pipe()
    send({"cmd": "NODE_HANDLE", "type": "net.Native", "msg": {"hello": "with fd"}}, [r])
    os.close(r)
    send({"cmd": "NODE_HANDLE", "type": "net.Native", "msg": {"hello": "no fd"}})
    for i in range(50):
        send({"burst": i})
    # Well-formed JSON with the wrong shapes: none may hurt the master,
    # none may make it take this worker for listening.
    for raw in [
        '{"cmd":"NODE_CLUSTER","act":"queryServer"}',
        '{"cmd":"NODE_CLUSTER","act":"queryServer","seq":"x"}',
        '{"cmd":"NODE_CLUSTER","act":"queryServer","seq":1,"port":"abc",'
        '"address":{"a":1},"addressType":[1],"fd":null,"index":1e400}',
        '{"cmd":"NODE_CLUSTER","act":"queryServer","seq":2,"port":99999999999999999999}',
        '{"cmd":"NODE_CLUSTER","act":"queryServer","seq":3,"port":%d,"address":"%s"}'
        % (int(os.environ["PORT"]), "a" * 10000),
        '{"cmd":"NODE_CLUSTER","act":"queryServer","seq":4,"port":%d,"address":7}'
        % int(os.environ["PORT"]),
        '{"cmd":"NODE_CLUSTER","act":"queryServer","seq":5,"port":%d,"fd":3}'
        % int(os.environ["PORT"]),
        '{"cmd":"NODE_CLUSTER","act":"queryServer","seq":6,"port":%d,"addressType":"udp4"}'
        % int(os.environ["PORT"]),
        '{"cmd":"NODE_CLUSTER","ack":-1}',
        '{"cmd":"NODE_CLUSTER","ack":1.5,"accepted":"yes"}',
        '{"cmd":"NODE_CLUSTER","act":123}',
        '{"cmd":"NODE_CLUSTER","act":"close","key":{}}',
        '{"cmd":"NODE_CLUSTER","act":"listening","port":[[[]]]}',
        '{"cmd":"NODE_HANDLE_ACK"}',
        '{"cmd":"NODE_X"}',
        '{"cmd":5}',
        "[" * 100 + "]" * 100,
        '"\\u0000"',
        "",
        '{"cmd":"NODE_CLUSTER","act":"\\ud800"}',
        # A log line of its own, if the master logged the address as is.
        '{"cmd":"NODE_CLUSTER","act":"queryServer","seq":7,"port":%d,'
        '"address":"x\\nFORGED by the worker"}' % int(os.environ["PORT"]),
    ]:
        chan.sendall(raw.encode() + b"\n")
    chan.sendall(b'{"bytes":"\xff\xfe\x00"}\n')
    chan.sendall(b'{"cmd":"x\x1b[2J\rFORGED raw"}\n')
port = int(os.environ["PORT"])
if mode == "leaving" and os.environ["NODE_UNIQUE_ID"] == "1":
    send({"cmd": "NODE_CLUSTER", "act": "exitedAfterDisconnect"})
    for msg, fd in lines():
        if msg.get("ack") == 1:
            print("fake worker: acknowledged, leaving", file=sys.stderr, flush=True)
        else:
            print(f"fake worker: after leaving got {json.dumps(msg)}", file=sys.stderr,
                  flush=True)
    sys.exit(0)
if mode == "slowread":
    # Where the writes stall depends on timing: each worker asks for a
    # different number of NACKs, so that in some the answer is cut.
    nacks_asked = 8000 + 1000 * int(os.environ["NODE_UNIQUE_ID"])
    data = "k" * 60000
    q = {"cmd": "NODE_CLUSTER", "act": "queryServer", "index": 0, "data": data,
         "address": None, "port": port, "addressType": 4, "backlog": 511, "seq": seq}
    seq += 1
    chan.sendall(json.dumps(q, separators=(",", ":")).encode() + b"\n"
                 + b'{"cmd":"NODE_HANDLE"}\n' * nacks_asked)
    fds, nacks, handle = [], 0, None
    # Small reads, so that the answer's line spans several.
    for msg, _ in lines(512, fds):
        if msg.get("cmd") == "NODE_HANDLE_NACK":
            nacks += 1
        elif msg.get("cmd") == "NODE_HANDLE":
            handle = msg
        if handle is not None and nacks >= nacks_asked:
            break
    intact = handle is not None and handle["msg"].get("data") == data \
        and handle["msg"].get("errno") == 0
    nfds = len(fds)
    # One write: the workers share the master's stderr.
    os.write(2, f"fake worker: slowread: {nacks} of {nacks_asked} NACKs, {nfds} fds, "
             f"answer intact: {intact}\n".encode())
    send({"cmd": "NODE_HANDLE_ACK"})
    listener = socket.socket(fileno=fds[0])

    def accept_loop():
        # The socket is the master's, non-blocking: it stays so.
        while True:
            select.select([listener], [], [])
            try:
                c, _ = listener.accept()
            except BlockingIOError:
                continue
            threading.Thread(target=serve, args=(c.detach(),), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
else:
    send({"cmd": "NODE_CLUSTER", "act": "queryServer", "index": 0, "data": None,
          "address": None, "port": port, "addressType": 4, "backlog": 511})

newconns = 0
for msg, fd in lines():
    if msg.get("cmd") in ("NODE_HANDLE_ACK", "NODE_HANDLE_NACK"):
        print(f"fake worker got {msg['cmd']}", file=sys.stderr, flush=True)
        if msg["cmd"] == "NODE_HANDLE_ACK" and mode == "garbage":
            # The pipe's read end went to the master: if it closed it,
            # nobody can read what we write.
            try:
                os.write(handle_w, b"x")
                print("fake worker: the master kept the handle", file=sys.stderr, flush=True)
            except BrokenPipeError:
                print("fake worker: the master closed the handle", file=sys.stderr, flush=True)
            os.close(handle_w)
        continue
    if msg.get("cmd") == "NODE_CLUSTER" and msg.get("act") == "disconnect":
        break  # as Node's worker, once its (here: no) servers have closed
    if msg.get("cmd") != "NODE_HANDLE":
        continue
    inner = msg["msg"]
    if inner.get("act") != "newconn":
        continue
    newconns += 1
    if newconns == 1 and mode == "nack":
        if fd is not None:
            os.close(fd)
        send({"cmd": "NODE_HANDLE_NACK"})
        continue
    send({"cmd": "NODE_HANDLE_ACK"})
    if mode == "guess":
        send({"cmd": "NODE_CLUSTER", "ack": inner["seq"] + 1, "accepted": True})
    if newconns == 1 and mode == "refuse":
        os.close(fd)
        send({"cmd": "NODE_CLUSTER", "ack": inner["seq"], "accepted": False})
        continue
    if newconns == 1 and mode == "silent" and os.environ["NODE_UNIQUE_ID"] == "1":
        continue  # holds the fd, never answers
    send({"cmd": "NODE_CLUSTER", "ack": inner["seq"], "accepted": True})
    threading.Thread(target=serve, args=(fd,), daemon=True).start()
