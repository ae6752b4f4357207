#!/usr/bin/env python3
"""B12: `vigil import` of a large archive, and start to first served page (issue 15, item 2 and 6).

A deterministic synthetic archive of N cases (`vigil demo --synthetic N`) is exported to a
vigil.bundle/1 file; that file is then imported into an empty SQLite database with
`vigil import --no-alerts`, timed, with its peak resident memory (from wait4's rusage). Then
`vigil serve` starts on the imported database and the time from its start to the first answer of
the home page (rendered, nothing cached) is taken, and its resident memory after the home page,
the feed, the sitemap, the list and 200 document pages.

Beside each import, a writer tries SQLite's write lock every 100 ms (`BEGIN IMMEDIATE` with no
busy timeout, as another process's report or log-in would, then `ROLLBACK`): the longest stretch
it was refused is how long the server's writers would have waited (they give up after 10 s).

    python3 bench/import_archive.py [--cases N] [--binary PATH] [--baseline PATH] [--bundle FILE]

--baseline: another vigil binary (an older build) to import the same bundle, side by side.

--api: the bundle is also posted to `POST /api/v1/bundles` of a running server (each binary's),
while a client of that server tries a log-in every 100 ms (a write: its rate-limit rows, through
the server's write gate) and a search every 100 ms (a read, never cached: a new word each time),
each on its own connection: the longest of each while the import runs, beside the median of the
same before it, is how long the server's own writers and readers waited for the import.
"""
import argparse, http.client, json, os, re, sqlite3, statistics, subprocess, sys, tempfile, threading, time, urllib.parse, urllib.request

from common import ROOT, Serve, archive_env, load_archive, rss_mb, scratch_dir


def run_measured(cmd, env):
    """Runs `cmd`; returns (seconds, its peak RSS in MB from wait4's rusage, its output)."""
    t = time.perf_counter()
    with open(os.devnull, "rb") as stdin, tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, cwd=os.path.dirname(env["VIGIL_DATABASE_PATH"]))
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{text[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, text.strip().splitlines()[-1] if text.strip() else ""


class LockProbe(threading.Thread):
    """Tries the database's write lock every 100 ms until stopped; `longest` is the longest
    stretch, in seconds, it was refused."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        self.done, self.longest, self.refused_since = threading.Event(), 0.0, None

    def run(self):
        while not self.done.is_set():
            now = time.perf_counter()
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.execute("ROLLBACK")
                self.stretch_ends(now)
            except sqlite3.OperationalError:
                if self.refused_since is None:
                    self.refused_since = now
            self.done.wait(0.1)
        self.stretch_ends(time.perf_counter())
        self.conn.close()

    def stretch_ends(self, now):
        if self.refused_since is not None:
            self.longest = max(self.longest, now - self.refused_since)
            self.refused_since = None

    def stop(self):
        self.done.set()
        self.join()
        return self.longest


def import_into(binary, bundle, work, name):
    """Returns the environment, the import's seconds, its peak RSS, its last line of output, and
    the longest time writers were locked out meanwhile."""
    env = archive_env(work, name, log="warning")
    subprocess.run([binary, "migrate", "--yes"], env=env, check=True, capture_output=True, cwd=os.path.dirname(env["VIGIL_DATABASE_PATH"]))
    return (env,) + import_again(binary, bundle, env)


def import_again(binary, bundle, env):
    """Imports the bundle into the database of `env` as it is: the import's seconds, its peak RSS,
    its last line of output, and the longest time writers were locked out meanwhile."""
    probe = LockProbe(env["VIGIL_DATABASE_PATH"])
    probe.start()
    try:
        seconds, peak, out = run_measured([binary, "import", "--no-alerts", bundle], env)
    finally:
        locked = probe.stop()
    return seconds, peak, out, locked


class RequestProbe(threading.Thread):
    """Sends `request(conn, n)` every 100 ms on one keep-alive connection until stopped, keeping
    each answer's time; a failed request is counted and the connection made again."""

    def __init__(self, port, request):
        super().__init__(daemon=True)
        self.port, self.request = port, request
        self.done, self.times, self.failed, self.mark = threading.Event(), [], 0, None

    def run(self):
        conn, n = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120), 0
        while not self.done.is_set():
            n += 1
            t = time.perf_counter()
            try:
                self.request(conn, n)
                self.times.append((t, time.perf_counter() - t))
            except (OSError, http.client.HTTPException, ValueError):
                self.failed += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.done.wait(0.1)

    def split(self, at, until):
        """(median before `at`, longest from `at` to `until`), in ms."""
        before = [d for t, d in self.times if t < at]
        during = [d for t, d in self.times if at <= t <= until] + [d for t, d in self.times if t < at and t + d > at]
        # "none": no request was sent or answered while the import ran (a toy archive).
        return (f"{statistics.median(before) * 1000:.0f}" if before else "none"), (f"{max(during) * 1000:.0f}" if during else "none")


def api_import(binary, bundle, work, name):
    """Posts the bundle to a server's API while a log-in probe and a search probe run; returns the
    import's seconds, for the log-ins and the searches (median before, longest during) in ms, how
    many probe requests failed, and the server's peak RSS (MB) before and after the import."""
    env = archive_env(work, name, log="warning")
    env.update(VIGIL_MAX_BODY_BYTES=str(os.path.getsize(bundle) + (1 << 20)), VIGIL_TRUSTED_PROXIES="127.0.0.1")
    cwd = os.path.dirname(env["VIGIL_DATABASE_PATH"])
    subprocess.run([binary, "migrate", "--yes"], env=env, check=True, capture_output=True, cwd=cwd)
    out = subprocess.run([binary, "token", "create", "--role", "publisher", "--scope", "import", "--label", "bench"],
                         env=env, check=True, capture_output=True, cwd=cwd).stdout.decode()
    token = re.search(r"\bvgl_\S+", out).group(0)
    with Serve(binary, env, cwd=cwd) as server:
        with urllib.request.urlopen(server.base + "/en/login") as r:
            page = r.read().decode()
            cookie = "; ".join(c.split(";")[0] for c in r.headers.get_all("Set-Cookie"))
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)

        def login(conn, n):
            body = urllib.parse.urlencode({"csrf": csrf, "email": f"probe-{n}@example.org", "password": "not the password"})
            conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
                                                  "X-Forwarded-For": f"10.9.{n >> 8 & 255}.{n & 255}"})
            r = conn.getresponse()
            r.read()
            if r.status != 401:
                raise ValueError(f"log-in answered {r.status}")

        def search(conn, n):
            conn.request("GET", f"/en/urgent-actions?q=probe{n}")
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise ValueError(f"search answered {r.status}")

        probes = [RequestProbe(server.port, login), RequestProbe(server.port, search)]
        for p in probes:
            p.start()
        time.sleep(3)
        peak_before = rss_mb(server.proc.pid, "VmHWM")
        with open(bundle, "rb") as f:
            data = f.read()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1200)
        start = time.perf_counter()
        conn.request("POST", "/api/v1/bundles", data, {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        answer = r.read()
        end = time.perf_counter()
        peak_after = rss_mb(server.proc.pid, "VmHWM")
        time.sleep(1)
        for p in probes:
            p.done.set()
            p.join()
        if r.status != 200:
            sys.exit(f"the API answered {r.status}: {answer[:2000]!r}")
        return end - start, probes[0].split(start, end), probes[1].split(start, end), sum(p.failed for p in probes), (peak_before, peak_after)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "vigil"))
    ap.add_argument("--baseline", help="an older vigil binary to import the same bundle")
    ap.add_argument("--api", action="store_true", help="also post the bundle to a server's API, with log-ins and searches beside it")
    ap.add_argument("--bundle", help="keep the exported archive in this file, and use it if it is there already "
                                     "(making 10,000 cases takes minutes; --cases must say how many it holds)")
    a = ap.parse_args()
    # The commands run in the scratch directory: paths given relative to here still hold.
    a.binary, a.baseline, a.bundle = (os.path.abspath(p) if p else p for p in (a.binary, a.baseline, a.bundle))
    work = str(scratch_dir())
    bundle = a.bundle or os.path.join(work, "archive.json")
    if not os.path.exists(bundle):
        source = archive_env(work, "source", log="warning")
        load_archive(a.binary, source, cases=a.cases)
        with open(bundle + ".part", "wb") as f:
            subprocess.run([a.binary, "export"], env=source, check=True, stdout=f, cwd=work)
        os.replace(bundle + ".part", bundle)
    size = os.path.getsize(bundle)
    print(f"archive: {a.cases:,} cases, bundle {size / 1e6:.0f} MB; binary {a.binary}")
    print(f"{'import':<34} {'seconds':>9} {'cases/s':>9} {'peak RSS':>10} {'writers locked out':>19}")
    env, seconds, peak, out, locked = import_into(a.binary, bundle, work, "imported")
    print(f"{'vigil import (this build)':<34} {seconds:>9.1f} {a.cases / seconds:>9.0f} {peak:>7.0f} MB {locked:>17.1f} s   {out}")
    if a.baseline:
        _, base_seconds, base_peak, base_out, base_locked = import_into(a.baseline, bundle, work, "baseline")
        print(f"{'vigil import (baseline)':<34} {base_seconds:>9.1f} {a.cases / base_seconds:>9.0f} {base_peak:>7.0f} MB "
              f"{base_locked:>17.1f} s   {base_out}")
        print(f"ratio: this build imports {base_seconds / seconds:.1f}x as fast as the baseline")
    # The same bundle again into the database it was imported into (an operator finishing a split
    # import, or loading an archive twice): every case is stored, none changes.
    again_seconds, again_peak, again_out, again_locked = import_again(a.binary, bundle, env)
    print(f"{'imported again (this build)':<34} {again_seconds:>9.1f} {a.cases / again_seconds:>9.0f} {again_peak:>7.0f} MB "
          f"{again_locked:>17.1f} s   {again_out}")
    if a.baseline:
        base_env = archive_env(work, "baseline", log="warning")
        b_seconds, b_peak, b_out, b_locked = import_again(a.baseline, bundle, base_env)
        print(f"{'imported again (baseline)':<34} {b_seconds:>9.1f} {a.cases / b_seconds:>9.0f} {b_peak:>7.0f} MB {b_locked:>17.1f} s   {b_out}")
        print(f"ratio: this build imports an archive again {b_seconds / again_seconds:.1f}x as fast as the baseline")
    print(f"database after import: {os.path.getsize(env['VIGIL_DATABASE_PATH']) / 1e6:.0f} MB")
    if a.api:
        print(f"{'posted to the API':<34} {'seconds':>9} {'log-in ms: before, longest during':>36} {'search ms: before, longest during':>36}")
        for label, binary in [("this build", a.binary)] + ([("baseline", a.baseline)] if a.baseline else []):
            seconds, (login_before, login_during), (search_before, search_during), failed, peaks = api_import(binary, bundle, work, "api-" + label)
            print(f"{'POST /api/v1/bundles (' + label + ')':<34} {seconds:>9.1f} {login_before:>17} {login_during:>18} "
                  f"{search_before:>17} {search_during:>18}   server peak RSS {peaks[0]:.0f} -> {peaks[1]:.0f} MB"
                  + (f"   ({failed} probe requests failed)" if failed else ""))

    with Serve(a.binary, env, ready=None, cwd=work) as server:
        base, proc, started = server.base, server.proc, server.started
        while True:
            try:
                with urllib.request.urlopen(base + "/en/", timeout=60) as r:
                    r.read()
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - started > 120:
                    sys.exit("the server did not start")
                time.sleep(0.01)
        first = time.perf_counter() - started
        print(f"start to the first home page (rendered): {first * 1000:.0f} ms")
        for path in ["/feed.atom", "/sitemap.xml", "/en/urgent-actions", "/api/v1/urgent-actions?limit=100"]:
            urllib.request.urlopen(base + path, timeout=600).read()
        page = json.loads(urllib.request.urlopen(base + "/api/v1/documents?limit=100", timeout=600).read())
        hrefs = []
        while page["data"] and len(hrefs) < 200:
            hrefs += [d["urgent_action"].replace("/", "-") for d in page["data"]]
            if not page["next_cursor"]:
                break
            page = json.loads(urllib.request.urlopen(base + f"/api/v1/documents?limit=100&cursor={page['next_cursor']}", timeout=600).read())
        for n in hrefs[:200]:
            urllib.request.urlopen(base + f"/en/urgent-actions/{n}", timeout=600).read()
        print(f"server RSS after the listings and {min(len(hrefs), 200)} urgent action pages: {rss_mb(proc.pid):.0f} MB")


if __name__ == "__main__":
    main()
