#!/usr/bin/env python3
"""A burst of action reports against `vigil serve` on SQLite, side by side with the physical
limit of committing each report on its own (one fsync'd SQLite transaction per row, same disk,
same settings: WAL, synchronous=FULL), and prints reports per second and the ratio.

Each report is a real form post (CSRF token, idempotency key, an official, a channel) from its
own client address (through a trusted proxy header, so that the per-address rate limit of 120 a
minute does not stop the burst), answered only after its commit.

    make bench
    python3 bench/report_burst.py [--reports N] [--clients C]
"""
import argparse, http.client, os, pathlib, re, socket, sqlite3, statistics, subprocess, sys, tempfile, threading, time
import urllib.parse, urllib.request, uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = "ua-126-19-0-en"


def per_commit_limit(path, n):
    """Rows per second when each row is its own durable transaction."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE r (id TEXT PRIMARY KEY, document TEXT, channel TEXT, at REAL)")
    t = time.perf_counter()
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO r VALUES (?, ?, ?, ?)", (str(uuid.uuid4()), DOC, "letter", time.time()))
        db.execute("COMMIT")
    return n / (time.perf_counter() - t)


def burst(port, cookie, csrf, target, n, clients):
    latencies, errors = [], []
    lock = threading.Lock()
    counter = iter(range(n))

    def worker(w):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = urllib.parse.urlencode({"csrf": csrf, "document": DOC, "channel": "letter", "key": f"bench-{uuid.uuid4()}",
                                           "targets[]": target})
            ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            t = time.perf_counter()
            conn.request("POST", "/report", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
                                                   "X-Forwarded-For": ip})
            r = conn.getresponse()
            r.read()
            with lock:
                latencies.append(time.perf_counter() - t)
                if r.status != 303:
                    errors.append(r.status)
        conn.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return n / (time.perf_counter() - t), latencies, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--binary", default=str(ROOT / ".build/release/vigil"))
    args = ap.parse_args()
    binary = pathlib.Path(args.binary)
    if not binary.exists():
        sys.exit("build first: swift build -c release (make bench does)")
    tmp = tempfile.mkdtemp(prefix="vigil-bench-", dir=os.environ.get("BENCH_DIR", str(ROOT / ".build")))
    limit = per_commit_limit(f"{tmp}/limit.sqlite", 1000)

    env = dict(os.environ, VIGIL_DATABASE_PATH=f"{tmp}/bench.sqlite", LOG_LEVEL="error", VIGIL_TRUSTED_PROXIES="127.0.0.1",
               VIGIL_SECRET_FILE=f"{tmp}/secret")
    env.pop("DATABASE_URL", None)
    subprocess.run([str(binary), "migrate", "--yes"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([str(binary), "demo"], env=env, check=True, capture_output=True, cwd=ROOT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(binary), "serve", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with urllib.request.urlopen(f"{base}/report?document={DOC}") as r:
            page = r.read().decode()
            cookie = "; ".join(c.split(";")[0] for c in r.headers.get_all("Set-Cookie"))
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        target = re.search(r'name="targets\[\]" value="([^"]+)"', page).group(1)
        before = totals(base)
        burst(port, cookie, csrf, target, 200, 16)  # warm up
        print(f"SQLite on this disk, one durable commit per report (the limit without group commit): {limit:,.0f}/s")
        print(f"{'clients':>7} {'reports':>8} {'reports/s':>10} {'p50_ms':>7} {'p99_ms':>7} {'vs per-commit limit':>20}")
        sent = 200
        for clients in (1, 16, args.clients):
            n = args.reports if clients > 1 else min(args.reports, 500)
            rate, lat, errors = burst(port, cookie, csrf, target, n, clients)
            sent += n
            if errors:
                sys.exit(f"{len(errors)} reports were refused: {sorted(set(errors))}")
            lat.sort()
            print(f"{clients:>7} {n:>8} {rate:>10,.0f} {statistics.median(lat) * 1000:>7.1f} {lat[int(len(lat) * 0.99)] * 1000:>7.1f}"
                  f" {rate / limit:>19.1f}x")
        counted = totals(base) - before
        print(f"counted {counted} of {sent} reports sent (totals API)")
        if counted != sent:
            sys.exit("some acknowledged reports were not counted")
    finally:
        server.terminate()
        server.wait()


def totals(base):
    import json
    time.sleep(1.5)
    with urllib.request.urlopen(f"{base}/api/v1/totals") as r:
        return json.load(r)["documents"].get(DOC, {}).get("total", 0)


if __name__ == "__main__":
    main()
