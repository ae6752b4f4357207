#!/usr/bin/env python3
"""Public pages served by `vigil serve` from its page cache, side by side with nginx serving the very
same bytes as static files (the physical limit of answering with a finished page over HTTP on this
machine), both loaded by wrk over keep-alive connections. Prints requests per second, latency and
the ratio.

    make bench
    python3 bench/pages_vs_nginx.py [--seconds S] [--connections C]
"""
import argparse, os, pathlib, re, shutil, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = {
    "home": "/",
    "document (UA 126/19 initial)": "/urgent-actions/126-19/initial",
    "list, filtered": "/urgent-actions?country=RU&status=closed",
    "search": "/urgent-actions?q=Kuku",
    "Atom feed": "/feed.atom",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url):
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{url} did not answer")


def wrk(url, seconds, connections):
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", url],
                         capture_output=True, check=True).stdout.decode()
    if "Non-2xx" in out:
        sys.exit(f"{url} answered with errors:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p99 = ms(re.search(r"\s99%\s+([0-9.]+\w+)", out).group(1))
    return rate, p99


def ms(text):
    value, unit = re.match(r"([0-9.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--binary", default=str(ROOT / ".build/release/vigil"))
    args = ap.parse_args()
    binary = pathlib.Path(args.binary)
    if not binary.exists():
        sys.exit("build first: swift build -c release (make bench does)")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx) or not shutil.which("wrk"):
        sys.exit("needs nginx and wrk (make bench installs them)")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="vigil-bench-", dir=os.environ.get("BENCH_DIR", str(ROOT / ".build"))))
    env = dict(os.environ, VIGIL_DATABASE_PATH=str(tmp / "bench.sqlite"), LOG_LEVEL="error", VIGIL_SECRET_FILE=str(tmp / "secret"))
    env.pop("DATABASE_URL", None)
    subprocess.run([str(binary), "migrate", "--yes"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([str(binary), "demo"], env=env, check=True, capture_output=True, cwd=ROOT)
    vport, nport = free_port(), free_port()
    server = subprocess.Popen([str(binary), "serve", "--port", str(vport)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    vbase, nbase = f"http://127.0.0.1:{vport}", f"http://127.0.0.1:{nport}"
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
    types {{ text/html html; }}
    default_type text/html;
    server {{
        listen 127.0.0.1:{nport};
        root {static};
        location / {{ try_files $uri =404; }}
    }}
}}
""")
    proxy = None
    try:
        wait(vbase + "/healthz")
        files = {}
        for i, (name, path) in enumerate(PAGES.items()):
            body = urllib.request.urlopen(vbase + path).read()
            (static / f"p{i}.html").write_bytes(body)
            files[name] = (path, f"/p{i}.html", len(body))
        proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(nbase + "/p0.html")
        print(f"{args.connections} keep-alive connections, {args.seconds} s per run; nginx serves the same bytes from files")
        print(f"{'page':<30} {'bytes':>7} {'vigil req/s':>12} {'p99 ms':>7} {'nginx req/s':>12} {'p99 ms':>7} {'vigil/nginx':>12}")
        for name, (path, file, size) in files.items():
            v, vp = wrk(vbase + path, args.seconds, args.connections)
            n, np_ = wrk(nbase + file, args.seconds, args.connections)
            print(f"{name:<30} {size:>7} {v:>12,.0f} {vp:>7.1f} {n:>12,.0f} {np_:>7.1f} {v / n:>11.2f}x")
    finally:
        if proxy:
            proxy.terminate()
            proxy.wait()
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
