#!/usr/bin/env python3
"""Public pages served by `vigil serve` from its page cache, side by side with nginx serving the very
same bytes as static files (the physical limit of answering with a finished page over HTTP on this
machine), both loaded by wrk over keep-alive connections. Prints requests per second, latency and
the ratio. Rows: the issue's B1 (cached pages), B2 (the document page asked again with its ETag in
`If-None-Match`, answered 304 by both) and B4 (the API's cached list of 100 urgent actions, JSON).

    make bench
    python3 bench/pages_vs_nginx.py [--seconds S] [--connections C]
"""
import argparse, os, shutil, subprocess, sys, urllib.error, urllib.request

from common import Serve, demo_env, free_port, release_binary, scratch_dir, wait, wrk

# Addresses with their language: without one, a page answers 302 to it (which wrk would time).
PAGES = {
    "home": "/en/",
    "document (UA 126/19 initial)": "/en/urgent-actions/126-19/initial",
    "list, filtered": "/en/urgent-actions?country=RU&status=closed",
    "search": "/en/urgent-actions?q=Kuku",
    "Atom feed": "/feed.atom",
    "API list, 100 (JSON)": "/api/v1/urgent-actions?limit=100",
}
# B2: this page again, with the validator each server gave it.
CONDITIONAL = "document (UA 126/19 initial)"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


# Every answer timed must be the page itself: a redirect is an error here.
direct = urllib.request.build_opener(NoRedirect)


def etag(url):
    with direct.open(url) as r:
        assert r.status == 200, (url, r.status)
        return r.headers["ETag"]


def run(url, seconds, connections, headers=()):
    extra = [a for h in headers for a in ("-H", h)]
    n, rate, _, p99, out = wrk(["-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", *extra, url])
    if "Non-2xx" in out:
        sys.exit(f"{url} answered with errors:\n{out}")
    return rate, p99


def not_modified(url, tag):
    """The answer really is 304 with that validator (wrk counts 304s as successes)."""
    try:
        direct.open(urllib.request.Request(url, headers={"If-None-Match": tag}))
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return
        raise
    sys.exit(f"{url} did not answer 304 to If-None-Match: {tag}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--binary")
    args = ap.parse_args()
    binary = release_binary(args.binary)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx) or not shutil.which("wrk"):
        sys.exit("needs nginx and wrk (make bench installs them)")
    tmp = scratch_dir()
    env = demo_env(binary, tmp)
    nport = free_port()
    nbase = f"http://127.0.0.1:{nport}"
    static = tmp / "static"
    static.mkdir()
    conf = tmp / "nginx.conf"
    # Run as root, nginx's workers would switch to "nobody", who cannot read the benchmark's files.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(f"""
{user}
worker_processes auto;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    types {{ text/html html; application/json json; }}
    default_type text/html;
    server {{
        listen 127.0.0.1:{nport};
        root {static};
        location / {{ try_files $uri =404; }}
    }}
}}
""")
    proxy = None
    with Serve(binary, env) as server:
        try:
            files = {}
            for i, (name, path) in enumerate(PAGES.items()):
                body = direct.open(server.base + path).read()
                suffix = "json" if path.startswith("/api/") else "html"
                (static / f"p{i}.{suffix}").write_bytes(body)
                files[name] = (path, f"/p{i}.{suffix}", len(body))
            proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait(nbase + "/p0.html")
            print(f"{args.connections} keep-alive connections, {args.seconds} s per run; nginx serves the same bytes from files")
            print(f"{'page':<30} {'bytes':>7} {'vigil req/s':>12} {'p99 ms':>7} {'nginx req/s':>12} {'p99 ms':>7} {'vigil/nginx':>12}")
            for name, (path, file, size) in files.items():
                v, vp = run(server.base + path, args.seconds, args.connections)
                n, np_ = run(nbase + file, args.seconds, args.connections)
                print(f"{name:<30} {size:>7} {v:>12,.0f} {vp:>7.1f} {n:>12,.0f} {np_:>7.1f} {v / n:>11.2f}x")
            path, file, _ = files[CONDITIONAL]
            vtag, ntag = etag(server.base + path), etag(nbase + file)
            not_modified(server.base + path, vtag)
            not_modified(nbase + file, ntag)
            v, vp = run(server.base + path, args.seconds, args.connections, [f"If-None-Match: {vtag}"])
            n, np_ = run(nbase + file, args.seconds, args.connections, [f"If-None-Match: {ntag}"])
            print(f"{'the document again, 304':<30} {0:>7} {v:>12,.0f} {vp:>7.1f} {n:>12,.0f} {np_:>7.1f} {v / n:>11.2f}x")
        finally:
            if proxy:
                proxy.terminate()
                proxy.wait()


if __name__ == "__main__":
    main()
