#!/usr/bin/env python3
"""Static files under --root: types, validators and 304s, single ranges,
index.html, no listings, and nothing outside the root, whatever the
encoding or symlinks. Checked with raw sockets and with curl."""

import email.utils
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ROOT_FILES = {
    "index.html": b"<h1>home</h1>\n",
    "a.css": b"body { color: red }\n",
    "data.json": b'{"a": 1}\n',
    "plain.unknownext": b"???\n",
    "empty.txt": b"",
    "hello world.txt": b"spaces\n",
    "sub/index.html": b"<p>sub index</p>\n",
    "nodir/file.txt": b"x\n",
}


class Site:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="handoff-static-")
        self.root = os.path.join(self.tmp, "root")
        for name, data in ROOT_FILES.items():
            path = os.path.join(self.root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        # larger than the kernel's largest send buffer (tcp_wmem, 4 MiB), so
        # sendfile must stop at EAGAIN and resume
        self.big = os.urandom(12 * 1024 * 1024 + 17)
        with open(os.path.join(self.root, "big.bin"), "wb") as f:
            f.write(self.big)
        # a secret next to the root, and ways that try to reach it
        with open(os.path.join(self.tmp, "secret.txt"), "w") as f:
            f.write("TOP SECRET\n")
        os.symlink(os.path.join(self.tmp, "secret.txt"), os.path.join(self.root, "evil"))
        os.symlink("../secret.txt", os.path.join(self.root, "evil-rel"))
        os.symlink(self.tmp, os.path.join(self.root, "evildir"))
        os.symlink("/etc", os.path.join(self.root, "etc"))
        os.symlink("a.css", os.path.join(self.root, "alias.css"))  # inside: fine
        os.mkfifo(os.path.join(self.root, "fifo"))

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def get(s, path, headers=None, method="GET"):
    hdrs = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    with h.connect(s.port) as c:
        c.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{hdrs}\r\n"
                  .encode("latin-1"))
        return h.Reader(c).read_response(head=(method == "HEAD"))


_site = None


def with_site(fn, *args):
    """fn(server, site) on the file's one site, which these tests only
    read, served by a server shared with the other tests of these flags."""
    def run():
        global _site
        if _site is None:
            _site = Site()
            h.at_end(_site.cleanup)
        fn(h.shared_server("--root", _site.root, *args, workers=2), _site)
    run.__name__ = fn.__name__
    return run


def with_demo_site(fn):
    return with_site(fn, "--demo-routes", "on")


def with_own_site(fn):
    """fn(server, site) on a site and a server of its own, for a test that
    changes the site."""
    def run():
        site = Site()
        try:
            fn(h.server("--root", site.root, workers=2), site)
        finally:
            site.cleanup()
    run.__name__ = fn.__name__
    return run


@with_site
def test_files_and_types(s, site):
    for name, ctype in (("a.css", "text/css"), ("data.json", "application/json"),
                        ("plain.unknownext", "application/octet-stream"),
                        ("sub/index.html", "text/html")):
        r = get(s, "/" + name)
        h.check(r.status == 200 and r.body == ROOT_FILES[name], f"{name}: {r}")
        h.check(r.header("content-type") == ctype, f"{name}: {r.header('content-type')}")
        h.check(r.header("etag") and r.header("last-modified"), r)
        h.check(r.header("accept-ranges") == "bytes", r)
    r = get(s, "/empty.txt")
    h.check(r.status == 200 and r.body == b"" and r.header("content-length") == "0", r)
    r = get(s, "/hello%20world.txt")
    h.check(r.status == 200 and r.body == b"spaces\n", r)
    r = get(s, "/a.css", method="HEAD")
    h.check(r.status == 200 and r.header("content-length") == str(len(ROOT_FILES["a.css"])), r)
    r = get(s, "/missing.txt")
    h.check(r.status == 404, r)
    r = get(s, "/a.css", method="POST")
    h.check(r.status == 405 and "GET" in r.header("allow"), r)


@with_site
def test_root_is_the_site(s, site):
    # With --root, / is the site's home page and /cpu is not there for
    # anyone to burn a worker's CPU: the demo routes are off by default.
    for path in ("/", "/?x=1", "http://t/", "/index.html"):
        r = get(s, path)
        h.check(r.status == 200 and r.body == ROOT_FILES["index.html"], f"{path}: {r}")
        h.check(r.header("content-type") == "text/html", r)
    r = get(s, "/", method="HEAD")
    h.check(r.status == 200 and r.header("content-length") == str(len(ROOT_FILES["index.html"])), r)
    for path in ("/cpu", "/cpu?n=1000000000"):
        h.check(get(s, path).status == 404, path)
    r = get(s, "/", method="POST")
    h.check(r.status == 405 and r.header("allow") == "GET, HEAD", r)


@with_demo_site
def test_demo_routes_on_with_root(s, site):
    # --demo-routes on: / and /cpu are the demo's, every other path a file
    h.hello_pid(get(s, "/"))
    h.check(get(s, "/cpu?n=10").status == 200)
    r = get(s, "/index.html")
    h.check(r.status == 200 and r.body == ROOT_FILES["index.html"], r)
    r = get(s, "/sub/")
    h.check(r.status == 200 and r.body == ROOT_FILES["sub/index.html"], r)
    r = get(s, "/", method="POST")
    h.check(r.status == 405 and "OPTIONS" in r.header("allow"), r)


def test_demo_routes_off_without_root():
    s = h.server("--demo-routes", "off", workers=1)
    for path in ("/", "/cpu", "/cpu?n=10"):
        h.check(get(s, path).status == 404, path)
    s2 = h.server("--demo-routes", "on", workers=1)
    h.hello_pid(get(s2, "/"))


def test_demo_routes_flag_is_checked():
    for args, why in ((["--demo-routes", "yes"], "'yes' for --demo-routes"),
                      (["--demo-routes", ""], "for --demo-routes"),
                      (["--demo-routes=ON"], "for --demo-routes"),
                      (["--demo-routes"], "needs a value"),
                      (["--node", "app.js", "--demo-routes", "on"],
                       "--demo-routes configures handoff's own workers")):
        p = subprocess.run([h.HANDOFF, "--port", "0", *args], capture_output=True, text=True,
                           timeout=10)
        h.check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
                and why in p.stderr, f"{args}: {p}")
    p = subprocess.run([h.HANDOFF, "--help"], capture_output=True, text=True, timeout=10)
    h.check("--demo-routes=on|off" in p.stdout, p.stdout)


@with_site
def test_big_file_with_curl_and_slow_reader(s, site):
    with tempfile.TemporaryDirectory(prefix="handoff-static-got-") as tmp:
        out = os.path.join(tmp, "got.bin")
        p = subprocess.run(["curl", "-s", "-o", out, "-w", "%{http_code}",
                            f"http://127.0.0.1:{s.port}/big.bin"], capture_output=True,
                           text=True, timeout=60)
        h.check(p.stdout == "200", p)
        with open(out, "rb") as f:
            h.check(f.read() == site.big, "curl got different bytes")
    # a reader with a small window forces sendfile to stop and resume
    with h.connect(s.port, timeout=30) as c:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /a.css HTTP/1.1\r\nHost: t\r\n\r\n")
        rd = h.Reader(c)
        got = bytearray()
        while b"\r\n\r\n" not in rd.buf:
            rd._fill()
        head, rest = rd.buf.split(b"\r\n\r\n", 1)
        got += rest
        while len(got) < len(site.big):
            data = c.recv(8192)
            h.check(data, "connection closed mid-file")
            got += data
        rd.buf = bytes(got[len(site.big):])
        h.check(bytes(got[:len(site.big)]) == site.big, "slow reader got different bytes")
        # the pipelined request after the file comes after it, whole
        r = rd.read_response()
        h.check(r.status == 200 and r.body == ROOT_FILES["a.css"], r)


@with_own_site
def test_conditional_requests(s, site):
    r = get(s, "/a.css")
    etag, lm = r.header("etag"), r.header("last-modified")
    for hdrs in ({"If-None-Match": etag}, {"If-None-Match": "W/" + etag},
                 {"If-None-Match": '"nope", ' + etag}, {"If-None-Match": "*"},
                 {"If-Modified-Since": lm}):
        r = get(s, "/a.css", hdrs)
        h.check(r.status == 304 and r.body == b"", f"{hdrs}: {r}")
        h.check(r.header("etag") == etag and r.header("content-length") is None, r)
    now = email.utils.formatdate(time.time(), usegmt=True)
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)
    earlier = email.utils.formatdate(time.time() - 3600 * 24, usegmt=True)
    h.check(get(s, "/a.css", {"If-Modified-Since": now}).status == 304)
    h.check(get(s, "/a.css", {"If-Modified-Since": earlier}).status == 200)
    h.check(get(s, "/a.css", {"If-Modified-Since": "garbage"}).status == 200)
    # a date in the future is a broken clock: ignored
    h.check(get(s, "/a.css", {"If-Modified-Since": later}).status == 200)
    # obsolete date formats are understood too
    h.check(get(s, "/a.css", {"If-Modified-Since":
                              time.strftime("%A, %d-%b-%y %H:%M:%S GMT",
                                            time.gmtime())}).status == 304)
    # If-None-Match wins over If-Modified-Since
    r = get(s, "/a.css", {"If-None-Match": '"other"', "If-Modified-Since": now})
    h.check(r.status == 200 and r.body == ROOT_FILES["a.css"], r)
    # a change makes a new validator
    path = os.path.join(site.root, "a.css")
    with open(path, "ab") as f:
        f.write(b"/* more */\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    r = get(s, "/a.css", {"If-None-Match": etag})
    h.check(r.status == 200 and r.header("etag") != etag, r)


@with_site
def test_ranges(s, site):
    size = len(site.big)
    r = get(s, "/big.bin", {"Range": "bytes=10-19"})
    h.check(r.status == 206 and r.body == site.big[10:20], r)
    h.check(r.header("content-range") == f"bytes 10-19/{size}", r)
    r = get(s, "/big.bin", {"Range": "bytes=-5"})
    h.check(r.status == 206 and r.body == site.big[-5:], r)
    r = get(s, "/big.bin", {"Range": f"bytes={size - 3}-"})
    h.check(r.status == 206 and r.body == site.big[-3:], r)
    r = get(s, "/big.bin", {"Range": f"bytes=0-{size * 2}"})
    h.check(r.status == 206 and r.body == site.big, "a range past the end is cut")
    r = get(s, "/big.bin", {"Range": f"bytes={size}-"})
    h.check(r.status == 416 and r.header("content-range") == f"bytes */{size}", r)
    h.check(get(s, "/big.bin", {"Range": "bytes=-0"}).status == 416)
    # ignored: several ranges, another unit, nonsense, a reversed range
    for bad in ("bytes=0-1,5-6", "lines=1-2", "bytes=x-y", "bytes=9-3", "bytes="):
        r = get(s, "/a.css", {"Range": bad})
        h.check(r.status == 200 and r.body == ROOT_FILES["a.css"], f"{bad}: {r}")
    etag = get(s, "/big.bin", method="HEAD").header("etag")
    r = get(s, "/big.bin", {"Range": "bytes=0-3", "If-Range": etag})
    h.check(r.status == 206 and r.body == site.big[:4], r)
    r = get(s, "/big.bin", {"Range": "bytes=0-3", "If-Range": '"stale"'})
    h.check(r.status == 200 and len(r.body) == size, "If-Range mismatch must send all")
    # curl as a real client
    p = subprocess.run(["curl", "-s", "-r", "100-199", f"http://127.0.0.1:{s.port}/big.bin"],
                       capture_output=True, timeout=30)
    h.check(p.stdout == site.big[100:200], "curl -r")


@with_site
def test_directories(s, site):
    r = get(s, "/sub")
    h.check(r.status == 301 and r.header("location") == "/sub/", r)
    r = get(s, "/sub/")
    h.check(r.status == 200 and r.body == ROOT_FILES["sub/index.html"], r)
    h.check(r.header("content-type") == "text/html", r)
    r = get(s, "/nodir/")
    h.check(r.status == 404 and b"file.txt" not in r.body, f"listing? {r}")
    # "//sub" must not become a redirect to the host "sub"
    for path in ("//sub", "///sub"):
        r = get(s, path)
        h.check(r.status == 301 and r.header("location") == "/sub/", f"{path}: {r}")


@with_site
def test_nothing_outside_the_root(s, site):
    attempts = ["/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt",
                "/%2E%2E%2fsecret.txt", "/sub/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt",
                "/evil", "/evil-rel", "/evildir/secret.txt", "/etc/passwd",
                "/%252e%252e/secret.txt", "//../secret.txt", "/a.css%00", "/%00",
                "/sub/%2e%2e%2f%2e%2e%2fsecret.txt", "/fifo", "/bad%zzescape", "/%",
                "/%2"]
    for path in attempts:
        with h.connect(s.port) as c:
            c.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
            r = h.Reader(c).read_response()
        h.check(r.status in (400, 403, 404), f"{path}: {r.status}")
        h.check(b"SECRET" not in r.body and b"root:" not in r.body, f"{path} leaked!")
    # a symlink that stays inside is fine
    r = get(s, "/alias.css")
    h.check(r.status == 200 and r.body == ROOT_FILES["a.css"], r)
    # the FIFO did not block a worker
    for _ in range(4):
        h.check(get(s, "/a.css").status == 200)


def data_segments_in(sock):
    """Data segments <sock> has received (TCP_INFO's tcpi_data_segs_in)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, 152)[0]


@with_site
def test_head_and_body_in_one_segment(s, site):
    """A file's head leaves with the start of its body (MSG_MORE, as
    nginx's tcp_nopush), not in a packet of its own that every response
    pays an extra round of ACKs for."""
    body = ROOT_FILES["index.html"]
    for path in ("/index.html", "/a.css"):
        with h.connect(s.port) as c:
            c.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            r = h.Reader(c).read_response()
            h.check(r.status == 200 and len(r.body) > 0, r)
            n = data_segments_in(c)
            h.check(n == 1, f"{path}: head and body came in {n} data segments")
    h.check(body, "no index.html")


@with_own_site
def test_file_cache_follows_the_disk(s, site):
    """Files are kept open between requests (bounded), and a change on
    disk is seen at the next request: a file replaced (rename over it),
    rewritten, deleted, or a symlink turned to point out of the root."""
    def fetch(path):
        return get(s, path)

    # replaced by a rename, as editors and deploys do: the new inode
    h.check(fetch("/a.css").body == ROOT_FILES["a.css"])
    tmp = os.path.join(site.root, "a.css.new")
    with open(tmp, "wb") as f:
        f.write(b"replaced\n")
    os.rename(tmp, os.path.join(site.root, "a.css"))
    r = fetch("/a.css")
    h.check(r.status == 200 and r.body == b"replaced\n", r)
    # rewritten in place with the same length: a new modification time
    path = os.path.join(site.root, "data.json")
    h.check(fetch("/data.json").body == ROOT_FILES["data.json"])
    with open(path, "r+b") as f:
        f.write(b'{"a": 2}\n')
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    r = fetch("/data.json")
    h.check(r.body == b'{"a": 2}\n', r)
    # deleted
    os.unlink(path)
    h.check(fetch("/data.json").status == 404)
    # a symlink inside the root, served, then pointed outside it
    link = os.path.join(site.root, "alias2.css")
    os.symlink("a.css", link)
    h.check(fetch("/alias2.css").body == b"replaced\n")
    os.unlink(link)
    os.symlink(os.path.join(site.tmp, "secret.txt"), link)
    r = fetch("/alias2.css")
    h.check(r.status == 404 and b"SECRET" not in r.body, r)


@with_own_site
def test_file_cache_is_bounded(s, site):
    """However many files are asked for, a worker keeps at most
    FILECACHE_MAX (256) of them open."""
    many = os.path.join(site.root, "many")
    os.makedirs(many)
    for i in range(400):
        with open(os.path.join(many, f"{i}.txt"), "w") as f:
            f.write(f"{i}\n")
    workers = s.worker_pids()
    before = {p: h.fd_count(p) for p in workers}
    for i in range(400):
        r = get(s, f"/many/{i}.txt")
        h.check(r.status == 200 and r.body == f"{i}\n".encode(), r)
    for p in workers:
        files = h.fd_count(p) - h.fd_count_outside(p, os.path.realpath(site.root))
        h.check(0 < files <= 256, f"worker {p} holds {files} files of the root open")
        # (Each ended connection's descriptor waits until the master has
        # let go of its own copy, at the worker's next load report: --rehand.)
        h.wait_until(lambda: h.fd_count(p) - before[p] <= 256 + 1,
                     what=f"worker {p}: {before[p]} -> {h.fd_count(p)} descriptors")
    # evicted ones are served again, opened afresh
    h.check(get(s, "/many/0.txt").body == b"0\n")


def test_root_must_be_a_directory():
    for bad in ("/nonexistent/dir", "/etc/passwd"):
        p = subprocess.run([h.HANDOFF, "--root", bad, "--port", "0"], capture_output=True,
                           text=True, timeout=10)
        h.check(p.returncode == 1 and bad in p.stderr, p)


if __name__ == "__main__":
    h.main(globals())
