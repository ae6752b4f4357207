#!/usr/bin/env python3
"""A burst of action reports against `vigil serve` on SQLite, side by side with the physical
limit of committing each report on its own (one fsync'd SQLite transaction per row, same disk,
same settings: WAL, synchronous=FULL), and prints reports per second and the ratio.

Each report is a real form post (CSRF token, idempotency key, an official, a channel) from its
own client address (through a trusted proxy header, so that the per-address rate limit of 120 a
minute does not stop the burst), answered only after its commit. The load comes from wrk (C,
keep-alive connections, a Lua script making each request unique); a Python client first checks
that every acknowledged report is counted.

    make bench
    python3 bench/report_burst.py [--seconds S] [--clients C]

B6, with --postgres URL (an empty database, whose schema is dropped first): the server on
PostgreSQL (`synchronous_commit` as the server has it, checked to be `on`), beside pgbench's
one-row INSERT transactions into the same server at the same concurrency, each committed on its
own: the database's own client with nothing around the row.

    scripts/with-postgres.sh sh -c 'python3 bench/report_burst.py --postgres "$VIGIL_TEST_POSTGRES_URL"'
"""
import argparse, http.client, os, re, shutil, sqlite3, subprocess, sys, threading, time, urllib.parse, urllib.request, uuid

from common import Serve, demo_env, release_binary, report_form, scratch_dir, wrk

DOC = "ua-77-26-0-en"


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
    """`n` reports from `clients` Python threads; returns the statuses other than 303."""
    errors = []
    lock = threading.Lock()
    counter = iter(range(n))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = urllib.parse.urlencode({"csrf": csrf, "document": DOC, "channel": "letter", "key": f"bench-{uuid.uuid4()}",
                                           "targets[]": target})
            ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            conn.request("POST", "/report", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
                                                   "X-Forwarded-For": ip})
            r = conn.getresponse()
            r.read()
            if r.status != 303:
                with lock:
                    errors.append(r.status)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--binary")
    ap.add_argument("--postgres", metavar="URL", help="B6: serve from this PostgreSQL database (emptied first), beside pgbench")
    args = ap.parse_args()
    binary = release_binary(args.binary)
    tmp = scratch_dir()
    if args.postgres:
        return postgres_burst(binary, args, tmp)
    limit = per_commit_limit(f"{tmp}/limit.sqlite", 1000)
    env = demo_env(binary, tmp, VIGIL_TRUSTED_PROXIES="127.0.0.1")
    script = tmp / "report.lua"
    script.write_text(WRK_SCRIPT)
    print(f"SQLite on this disk, one durable commit per report (the limit without group commit): {limit:,.0f}/s")
    print(f"{'connections':>11} {'reports':>8} {'reports/s':>10} {'p50_ms':>7} {'p99_ms':>7} {'vs per-commit limit':>20}")
    bursts(binary, env, script, args, lambda connections, rate: f"{rate / limit:>19.2f}x")
    if shutil.which("strace"):
        fsyncs_per_report(binary, env, args, tmp, script)


def psql(url, statement):
    return subprocess.run(["psql", url, "-X", "-q", "-t", "-A", "-c", statement], check=True, capture_output=True).stdout.decode().strip()


def pgbench_inserts(url, tmp, connections, seconds):
    """One-row INSERT transactions per second from pgbench, `connections` clients each committing
    every row on its own (a report's row: a random key, the document, the channel, the time)."""
    script = tmp / "insert.sql"
    script.write_text(f"INSERT INTO bench_reports VALUES (md5(random()::text || clock_timestamp()::text), '{DOC}', 'letter', now());\n")
    out = subprocess.run(["pgbench", "-n", "-c", str(connections), "-j", str(min(2, connections)), "-T", str(seconds),
                          "-f", str(script), url], capture_output=True, check=True).stdout.decode()
    if (failed := re.search(r"number of failed transactions: (\d+)", out)) and int(failed.group(1)):
        sys.exit("pgbench's inserts failed:\n" + out)
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if not found:
        sys.exit("pgbench's output has no rate (tps = … without initial connection time; pgbench 14 or later):\n" + out)
    return float(found.group(1))


def postgres_burst(binary, args, tmp):
    """B6: the same bursts with the server on PostgreSQL, each beside pgbench at its concurrency."""
    url = args.postgres.split("?")[0]
    # Its schema is dropped: only a database on this machine, as the test server is.
    if urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"--postgres empties the database it is given: only one on this machine (127.0.0.1), not {url}")
    if shutil.which("pgbench") is None:
        sys.exit("pgbench is missing (apt-get install postgresql-client)")
    env = demo_env(binary, tmp, database_url=args.postgres, VIGIL_TRUSTED_PROXIES="127.0.0.1")
    mode, fsync = psql(url, "SHOW synchronous_commit"), psql(url, "SHOW fsync")
    if mode != "on" or fsync != "on":
        sys.exit(f"synchronous_commit is {mode!r} and fsync {fsync!r}: B6 measures durable commits (both on)")
    psql(url, "CREATE TABLE bench_reports (id TEXT PRIMARY KEY, document TEXT NOT NULL, channel TEXT NOT NULL, at TIMESTAMPTZ NOT NULL)")
    version = psql(url, "SHOW server_version")
    script = tmp / "report.lua"
    script.write_text(WRK_SCRIPT)
    print(f"PostgreSQL {version}, synchronous_commit={mode}, fsync={fsync}; peer: pgbench, one INSERT a transaction, same connections")
    print(f"{'connections':>11} {'reports':>8} {'reports/s':>10} {'p50_ms':>7} {'p99_ms':>7} {'pgbench/s':>10} {'vs pgbench':>11}")

    def beside(connections, rate):
        peer = pgbench_inserts(url, tmp, connections, args.seconds)
        return f"{peer:>10,.0f} {rate / peer:>10.2f}x"
    bursts(binary, env, script, args, beside)


def bursts(binary, env, script, args, peer):
    """`vigil serve` on `env`: a warm-up that checks every report is accepted, then a wrk burst at
    1, 16 and --clients connections, each printed with `peer(connections, rate)`'s columns, then
    a check that every acknowledged report was counted."""
    with Serve(binary, env) as server:
        cookie, csrf, target = report_form(server.base, DOC)
        before = totals(server.base)
        errors = burst(server.port, cookie, csrf, target, 300, 16)  # warm-up and a correctness check
        if errors:
            sys.exit(f"{len(errors)} reports were refused: {sorted(set(errors))}")
        sent = 300
        for connections in (1, 16, args.clients):
            n, rate, p50, p99 = wrk_reports(server.base, script, cookie, csrf, target, connections, args.seconds, latency=True)
            sent += n
            print(f"{connections:>11} {n:>8} {rate:>10,.0f} {p50:>7.1f} {p99:>7.1f} {peer(connections, rate)}")
        counted = totals(server.base) - before
        # wrk does not count the requests still in flight when it stops; the server may have.
        print(f"counted {counted} reports; wrk saw {sent} acknowledged")
        if not sent <= counted <= sent + 1 + 16 + args.clients:  # at most one in flight per connection per run
            sys.exit("the count does not match the acknowledged reports")


def wrk_reports(base, script, cookie, csrf, target, connections, seconds, latency=False):
    """A wrk burst of report posts, each with its own key and client address; every one must be accepted."""
    wenv = dict(os.environ, BENCH_CSRF=urllib.parse.quote(csrf, safe=""), BENCH_COOKIE=cookie, BENCH_TARGET=target, BENCH_DOC=DOC,
                BENCH_RUN=uuid.uuid4().hex[:12])
    n, rate, p50, p99, out = wrk(["-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s",
                                  *(["--latency"] if latency else []), "-s", str(script), base], env=wenv)
    if "Non-2xx" in out:
        sys.exit("some reports were refused:\n" + out)
    return n, rate, p50, p99


def fsyncs_per_report(binary, env, args, tmp, script):
    """The same burst with the server's fsync calls counted (strace with a seccomp filter, so only
    those calls stop): how many durable commits the reports cost."""
    log = tmp / "strace.txt"
    with Serve(binary, env, prefix=["strace", "-f", "--seccomp-bpf", "-e", "trace=fsync,fdatasync", "-c", "-o", str(log), "--"]) as server:
        n, _, _, _ = wrk_reports(server.base, script, *report_form(server.base, DOC), args.clients, 5)
    calls = 0
    for line in log.read_text().splitlines():
        parts = line.split()
        if parts and parts[-1] in ("fsync", "fdatasync"):
            calls += int(parts[3])
    print(f"under strace, {args.clients} connections: {n} reports cost {calls} fsync calls ({calls / max(n, 1):.3f} per report;"
          f" one commit per report would need at least {n})")


WRK_SCRIPT = r"""
local csrf, cookie, target, doc = os.getenv("BENCH_CSRF"), os.getenv("BENCH_COOKIE"), os.getenv("BENCH_TARGET"), os.getenv("BENCH_DOC")
local run = os.getenv("BENCH_RUN")
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local counter = 0
function request()
  counter = counter + 1
  local key = string.format("wrk-%s-%d-%d", run, tid, counter)
  local ip = string.format("10.%d.%d.%d", tid, math.floor(counter / 256) % 256, counter % 256)
  if counter >= 65536 then ip = string.format("11.%d.%d.%d", tid, math.floor(counter / 65536) % 256, math.floor(counter / 256) % 256) end
  local body = "csrf=" .. csrf .. "&document=" .. doc .. "&channel=letter&key=" .. key .. "&targets%5B%5D=" .. target
  return wrk.format("POST", "/report", {["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = cookie,
                                         ["X-Forwarded-For"] = ip}, body)
end
"""


def totals(base):
    import json
    time.sleep(1.5)
    with urllib.request.urlopen(f"{base}/api/v1/totals") as r:
        return json.load(r)["documents"].get(DOC, {}).get("total", 0)


if __name__ == "__main__":
    main()
