"""Crashes (issue 14, item 11): writes at concurrency 50 while the server is killed with SIGKILL at
random moments and started again, on SQLite and on PostgreSQL; and on PostgreSQL once more with
PostgreSQL itself crashed among the kills (`pg_ctl stop -m immediate`: no checkpoint, recovery
from its WAL at the next start) and started again while the writes flow.

Fifty client threads share a budget of logical writes of two kinds:
- action reports, the web form's POST /report (CSRF token, an idempotency key chosen by the
  client, one to two officials, a channel), each from its own client address through a trusted
  proxy header so that the per-address rate limit does not interfere. Acknowledged = 303 to the
  thanks page (`thanks=new`, or `thanks=seen` when a retry finds it already counted);
- API writes, PUT /api/v1/targets/{id} (idempotent by id): new officials, and later versions of
  a client's own officials (so that the check is "the acknowledged content", not only "a row").
Any failure (connection refused or reset, a response cut short, a 5xx) leaves the write's fate
unknown to the client: it retries with the same key / the same body, or now and then gives up
(a supporter closing the tab), which makes that write "abandoned": there at most once.

After the last write the server is killed once more, and with nothing graceful in between:
- every acknowledged report is there exactly once, with all its officials (one row per official),
  and every acknowledged target has the acknowledged content (or a version sent after it whose
  fate is unknown);
- no report, official or version appears that was never sent; an abandoned report is there with
  all its officials or not at all;
- the per-document counters equal the rows they count (they are written in the same transaction);
- every official written has its audit entry, and the audit chain verifies;
- SQLite: `PRAGMA integrity_check` is ok and `PRAGMA foreign_key_check` is empty; PostgreSQL: no
  duplicate keys, and amcheck finds every B-tree index consistent with its table;
- the server starts again on what the crashes left and serves the written officials;
- liveness: every request is answered within 45 s and the run never goes 60 s without an
  acknowledgement (a server that hangs fails the test at once, after the durability checks);
  after PostgreSQL's crashes the server stops on SIGTERM within 30 s, with status 0.

Bounded (inside `make test`): 1,000 writes, 5 kills (+ the final one), on PostgreSQL 2 crashes of
PostgreSQL too. VIGIL_CRASH_FULL=1: 10,000 writes, 20 kills, on PostgreSQL 6 crashes of
PostgreSQL. VIGIL_CRASH_SEED=N repeats a run's random choices (the seed is printed). The figures
are printed at the end (`pytest -s` or `-rP` shows them). The full run:

    VIGIL_CRASH_FULL=1 scripts/with-postgres.sh env VIGIL_BIN=$PWD/.build/debug/vigil \
        python3 -m pytest -s blackbox/test_crash_survival.py
"""
import http.client
import os
import random
import re
import shlex
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest

from conftest import BIN, Server, Vigil, reset_postgres

FULL = os.environ.get("VIGIL_CRASH_FULL") == "1"
WRITES = 10_000 if FULL else 1_000
KILLS = 20 if FULL else 5
PG_CRASHES = 6 if FULL else 2
CLIENTS = 50
# Liveness: every request is answered within this long (the pool's own wait for a connection is
# 30 s), and some write is acknowledged at least this often. Beyond it the server has hung.
ANSWER_WITHIN = 45
STALL = 60

# Demo documents that name officials (one names two); the officials are read from their forms.
DOCUMENTS = ["ua-126-19-1-en", "ua-77-26-0-en", "ua-88-26-0-en"]
CHANNELS = ["letter", "email", "fax", "call", "social-post", "web-form"]


class CrashServer(Server):
    """A Server whose log goes to a file: nobody reads a pipe while the writes run, and a full
    pipe would stop the server (PostgreSQL's outages make it log)."""

    def __init__(self, vigil, log_path, extra_env=None):
        super().__init__(vigil, extra_env)
        self.log_path = log_path

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(self.port)],
                                     env=self.env, stdout=log, stderr=log)
        log.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited on start: " + self.log_tail())
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    c.close()
                    return self
                c.close()
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not start: " + self.log_tail())

    def log_tail(self, n=3000):
        try:
            return open(self.log_path, "rb").read()[-n:].decode(errors="replace")
        except OSError:
            return ""


class PostgresCrasher:
    """Stops the test's PostgreSQL with `pg_ctl stop -m immediate` and starts it again with the
    options it was started with (read from postmaster.opts), as the user that owns its data."""

    def __init__(self, url):
        self.url = url.split("?")[0]
        self.data = psql(self.url, "SHOW data_directory")
        opts = shlex.split(open(os.path.join(self.data, "postmaster.opts")).read())
        self.pg_ctl = os.path.join(os.path.dirname(opts[0]), "pg_ctl")
        rest, i = [], 1
        while i < len(opts):
            if opts[i] == "-D":
                i += 2
                continue
            rest.append(opts[i])
            i += 1
        self.options = " ".join(shlex.quote(o) for o in rest)
        parent_log = os.path.join(os.path.dirname(self.data.rstrip("/")), "log")
        self.log = parent_log if os.path.exists(parent_log) else os.path.join(self.data, "crash-test.log")
        st = os.stat(self.data)
        self.run_as = []
        if os.getuid() == 0 and st.st_uid != 0:
            import pwd
            self.run_as = ["runuser", "-u", pwd.getpwuid(st.st_uid).pw_name, "--"]

    def stop(self):
        subprocess.run([*self.run_as, self.pg_ctl, "-D", self.data, "-m", "immediate", "stop"], check=True,
                       capture_output=True, timeout=60)

    def start(self):
        subprocess.run([*self.run_as, self.pg_ctl, "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", self.options, "start"],
                       check=True, capture_output=True, timeout=90)

    def running(self):
        return subprocess.run([*self.run_as, self.pg_ctl, "-D", self.data, "status"], capture_output=True).returncode == 0


def psql(url, sql):
    out = subprocess.run(["psql", url, "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode().strip()


def rows(text):
    return [line.split("\t") for line in text.splitlines() if line]


class Ledger:
    """What the clients sent and what they were told: the truth the database is checked against."""

    def __init__(self):
        self.lock = threading.Lock()
        # key -> {"document", "channel", "targets", "state": "acked" | "abandoned"}
        self.reports = {}
        # target id -> {"versions": [title, ...] in the order sent, "acked": index of the last acknowledged, or -1,
        #               "country"}
        self.targets = {}
        self.requests = 0
        self.failures = {}
        self.retries = 0
        self.acked = 0
        self.abandoned = 0
        self.recovered = 0  # acknowledgements lost in a crash, the write found by its retry
        self.unexpected = []

    def fail(self, kind):
        with self.lock:
            self.failures[kind] = self.failures.get(kind, 0) + 1


class Client(threading.Thread):
    """One of the fifty: a keep-alive connection, rebuilt after any failure."""

    def __init__(self, run, n):
        super().__init__(daemon=True)
        self.run_ = run
        self.n = n
        self.rng = random.Random(run.seed * 1000 + n)
        self.conn = None
        self.asked = None  # (when, what) of the request waiting for its answer
        self.mine = []  # target ids whose last write this client got acknowledged

    def request(self, method, path, body, headers):
        """(status, location) or raises OSError / http.client.HTTPException."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.run_.server.port, timeout=300)
        with self.run_.ledger.lock:
            self.run_.ledger.requests += 1
        self.asked = (time.time(), f"{method} {path}")
        try:
            self.conn.request(method, path, body, headers)
            r = self.conn.getresponse()
            r.read()
        finally:
            self.asked = None
        return r.status, r.getheader("Location") or ""

    def attempt(self, method, path, body, headers, acknowledged):
        """Sends until acknowledged (True) or the client gives up (False)."""
        ledger = self.run_.ledger
        first = True
        while not self.run_.abort.is_set():
            if not first:
                with ledger.lock:
                    ledger.retries += 1
            first_try, first = first, False
            try:
                status, location = self.request(method, path, body, headers)
            except ConnectionRefusedError:
                ledger.fail("refused")
                status = None
            except (OSError, http.client.HTTPException) as e:
                ledger.fail(type(e).__name__)
                status = None
            if status is None:
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
            elif acknowledged(status, location):
                self.answer = (status, location, first_try)
                return True
            elif status >= 500:
                ledger.fail(f"http {status}")
            else:
                with ledger.lock:
                    ledger.unexpected.append(f"{method} {path} -> {status} {location}")
                return False
            # Fate unknown: retry with the same key and body (on a new connection: possibly
            # another event loop of the server), or now and then give up.
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            if self.rng.random() < 0.1:
                return False
            time.sleep(self.rng.uniform(0.02, 0.1))
        return False

    def report(self, seq):
        run, ledger = self.run_, self.run_.ledger
        document = self.rng.choice(list(run.documents))
        named = run.documents[document]
        chosen = sorted(self.rng.sample(named, self.rng.randint(1, len(named))))
        channel = self.rng.choice(CHANNELS)
        key = f"crash-{run.seed}-{seq}-{uuid.uuid4().hex[:8]}"
        with ledger.lock:
            ledger.reports[key] = {"document": document, "channel": channel, "targets": chosen, "state": "sent"}
        body = urllib.parse.urlencode([("csrf", run.csrf), ("document", document), ("channel", channel), ("key", key)]
                                      + [("targets[]", t) for t in chosen])
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": run.cookie,
                   "X-Forwarded-For": f"10.{(seq >> 16) & 255}.{(seq >> 8) & 255}.{seq & 255}"}
        ok = self.attempt("POST", "/report", body, headers,
                          lambda s, loc: s == 303 and ("thanks=new" in loc or "thanks=seen" in loc))
        with ledger.lock:
            ledger.reports[key]["state"] = "acked" if ok else "abandoned"
            if ok:
                ledger.acked += 1
                # A retry told "seen": an earlier attempt had committed, its answer lost in the crash.
                ledger.recovered += not self.answer[2] and "thanks=seen" in self.answer[1]
            else:
                ledger.abandoned += 1

    def target(self, seq):
        run, ledger = self.run_, self.run_.ledger
        if self.mine and self.rng.random() < 0.4:
            tid = self.rng.choice(self.mine)   # a later version of one of this client's officials
        else:
            tid = f"crash-{run.seed}-{seq}"
        title = f"Official {seq} of client {self.n}"
        with ledger.lock:
            entry = ledger.targets.setdefault(tid, {"versions": [], "acked": -1, "country": self.rng.choice(["FR", "DE", "RU"])})
            entry["versions"].append(title)
            index = len(entry["versions"]) - 1
            country = entry["country"]
        body = ('{"title": "%s", "country": "%s", "email": "office-%d@example.org"}' % (title, country, seq)).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {run.token}"}
        ok = self.attempt("PUT", f"/api/v1/targets/{tid}", body, headers, lambda s, loc: s in (200, 201))
        with ledger.lock:
            if ok:
                entry["acked"] = index
                ledger.acked += 1
                # A new official answered 200 (not 201) on a retry: an earlier attempt had committed.
                ledger.recovered += index == 0 and not self.answer[2] and self.answer[0] == 200
            else:
                ledger.abandoned += 1
        # Only an official whose last write is known is written again (an abandoned write's fate is open).
        if ok and tid not in self.mine:
            self.mine.append(tid)
        if not ok and tid in self.mine:
            self.mine.remove(tid)

    def run(self):
        try:
            while not self.run_.abort.is_set():
                seq = self.run_.next_write()
                if seq is None:
                    return
                if self.rng.random() < 0.6:
                    self.report(seq)
                else:
                    self.target(seq)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.run_.errors.append(f"client {self.n}: {e!r}")
        finally:
            if self.conn is not None:
                self.conn.close()


class CrashRun:
    def __init__(self, vigil, storage, tmp_path, pg_crashes=0):
        self.vigil, self.storage, self.tmp = vigil, storage, tmp_path
        self.pg_crash_goal = pg_crashes
        self.abort = threading.Event()
        self.seed = int(os.environ.get("VIGIL_CRASH_SEED") or random.randrange(1, 1_000_000))
        self.rng = random.Random(self.seed)
        self.ledger = Ledger()
        self.errors = []
        self.sequence = 0
        self.seq_lock = threading.Lock()
        self.kills = 0
        self.graceful_stops = 0
        self.pg_crashes = 0
        self.restart_seconds = []
        self.pg = PostgresCrasher(os.environ["VIGIL_TEST_POSTGRES_URL"]) if pg_crashes else None
        self.pg_url = os.environ["VIGIL_TEST_POSTGRES_URL"].split("?")[0] if storage == "postgres" else None

    def next_write(self):
        with self.seq_lock:
            if self.sequence >= WRITES:
                return None
            self.sequence += 1
            return self.sequence

    def prepare(self):
        self.vigil.run("migrate", "--yes")
        self.vigil.run("demo")
        self.token = self.vigil.run("token", "create", "--role", "publisher").stdout.decode().split()[0]
        self.server = CrashServer(self.vigil, self.tmp / "server.log", {"VIGIL_TRUSTED_PROXIES": "127.0.0.1"}).start()
        # One browser's CSRF cookie and token (the token is keyed by the server secret, which
        # outlives the crashes), and the officials each document names.
        self.documents = {}
        for document in DOCUMENTS:
            c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            headers = {"Cookie": self.cookie} if self.documents else {}
            c.request("GET", f"/en/report?document={document}", headers=headers)
            r = c.getresponse()
            page = r.read().decode()
            assert r.status == 200, (document, r.status)
            if not self.documents:
                self.cookie = "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
                self.csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            self.documents[document] = re.findall(r'name="targets\[\]" value="([^"]+)"', page)
            assert self.documents[document], document
            c.close()

    def schedule(self):
        """Moments to strike, as counts of finished writes (acknowledged or given up): one in each equal
        slice of the run, at a random place in it, the kills and PostgreSQL's crashes shuffled together."""
        events = ["kill"] * KILLS + ["pg"] * self.pg_crash_goal
        self.rng.shuffle(events)
        span = WRITES * 0.95
        return [(int(span * (i + self.rng.uniform(0.15, 0.85)) / len(events)), e) for i, e in enumerate(events)]

    def disrupt(self, done):
        for at, event in self.schedule():
            while self.ledger.acked + self.ledger.abandoned < at and not done.is_set():
                time.sleep(0.002)
            if done.is_set():
                return
            time.sleep(self.rng.uniform(0, 0.03))  # somewhere inside whatever is being committed
            if event == "kill":
                self.server.kill9()
                self.kills += 1
                t = time.time()
                self.server.start()
                self.restart_seconds.append(time.time() - t)
            else:
                self.pg.stop()
                self.pg_crashes += 1
                time.sleep(self.rng.uniform(0.2, 1.0))
                self.pg.start()

    def go(self):
        started = time.time()
        clients = [Client(self, n) for n in range(CLIENTS)]
        done = threading.Event()
        failure = []

        def disruptor():
            try:
                self.disrupt(done)
            except BaseException as e:  # noqa: BLE001
                failure.append(repr(e))

        d = threading.Thread(target=disruptor, daemon=True)
        for c in clients:
            c.start()
        d.start()
        last, last_change = -1, time.time()
        try:
            while any(c.is_alive() for c in clients):
                time.sleep(0.2)
                if self.ledger.acked != last:
                    last, last_change = self.ledger.acked, time.time()
                if failure:
                    raise AssertionError(f"disrupting failed: {failure[0]}\n{self.server.log_tail()}")
                now = time.time()
                waiting = sorted((now - a[0], a[1]) for c in clients if (a := c.asked) is not None)
                hung = [w for w in waiting if w[0] > ANSWER_WITHIN]
                if hung or now - last_change > STALL:
                    raise AssertionError(
                        f"the server stopped answering: {len(hung)} of {len(waiting)} requests in flight unanswered for more "
                        f"than {ANSWER_WITHIN} s (oldest {hung[-1][0] if hung else 0:.0f} s: {hung[-1][1] if hung else '-'}); "
                        f"last acknowledgement {now - last_change:.0f} s ago, {self.ledger.acked} acknowledged of {WRITES}; "
                        f"kills {self.kills}, PostgreSQL crashes {self.pg_crashes}; failures {self.ledger.failures}\n"
                        f"server log:\n{self.server.log_tail()}")
        except BaseException:
            self.abort.set()
            raise
        finally:
            self.writing_seconds = time.time() - started
            done.set()
            d.join(120)
            if self.pg and not self.pg.running():
                self.pg.start()
        assert not failure, failure
        assert not self.errors, self.errors[:5]
        if self.pg_crash_goal:
            # After PostgreSQL's crashes, a graceful stop: nothing left waiting on a connection
            # PostgreSQL dropped may hold it up (it once waited for ever).
            self.server.proc.send_signal(signal.SIGTERM)
            try:
                code = self.server.proc.wait(30)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"after PostgreSQL's crashes, SIGTERM did not stop the server within 30 s\n"
                                     f"{self.server.log_tail()}") from None
            assert code == 0, f"the server stopped with status {code} on SIGTERM\n{self.server.log_tail()}"
            self.graceful_stops += 1
        else:
            # The last crash: no graceful stop before the checks.
            self.server.kill9()
            self.kills += 1

    # MARK: - Checks

    def stored(self):
        """(report rows as (key, document, target, channel), counters {(document, channel): n},
        targets {id: (title, country)}, audited target ids)."""
        if self.storage == "sqlite":
            db = sqlite3.connect(self.vigil.env["VIGIL_DATABASE_PATH"])
            q = lambda sql: [tuple(map(str, r)) for r in db.execute(sql).fetchall()]  # noqa: E731
        else:
            q = lambda sql: [tuple(r) for r in rows(psql(self.pg_url, sql))]  # noqa: E731
        reports = q("SELECT idempotency_key, document_id, COALESCE(target_id, ''), channel FROM action_reports")
        counters = {(d, c): int(n) for d, c, n in q("SELECT document_id, channel, count FROM report_counters")}
        targets = {i: (t, c) for i, t, c in q("SELECT id, title, COALESCE(country, '') FROM targets WHERE id LIKE 'crash-%'")}
        audited = {}
        for (subject,) in q("SELECT subject FROM audit_log WHERE action = 'target.replace'"):
            audited[subject.removeprefix("target:")] = audited.get(subject.removeprefix("target:"), 0) + 1
        return reports, counters, targets, audited

    def check(self):
        ledger = self.ledger
        reports, counters, targets, audited = self.stored()
        problems = []

        # Reports: one row per (key, official, channel) sent; exactly once when acknowledged,
        # all or nothing when abandoned, nothing that was never sent.
        by_key = {}
        for key, document, target, channel in reports:
            base, _, rest = key.partition(":")
            by_key.setdefault(base, []).append((key, document, target, channel))
        duplicates = len(reports) - len({r[0] for r in reports})
        if duplicates:
            problems.append(f"{duplicates} report keys stored more than once")
        found = lost = abandoned_found = abandoned_absent = 0
        for key, sent in ledger.reports.items():
            expected = sorted((f"{key}:{t}:{sent['channel']}", sent["document"], t, sent["channel"]) for t in sent["targets"])
            got = sorted(by_key.pop(key, []))
            if sent["state"] == "acked":
                if got == expected:
                    found += 1
                else:
                    lost += 1
                    problems.append(f"acknowledged report {key}: expected {expected}, stored {got}")
            else:
                if got == expected:
                    abandoned_found += 1
                elif not got:
                    abandoned_absent += 1
                else:
                    problems.append(f"abandoned report {key} stored in part or wrongly: expected {expected} or nothing, stored {got}")
        for key, got in by_key.items():
            problems.append(f"report never sent is stored: {got}")

        # Counters count exactly the rows (same transaction).
        counted = {}
        for _, document, _, channel in reports:
            counted[(document, channel)] = counted.get((document, channel), 0) + 1
        for k in set(counted) | {k for k, n in counters.items() if n}:
            if counters.get(k, 0) != counted.get(k, 0):
                problems.append(f"counter {k} = {counters.get(k, 0)} but {counted.get(k, 0)} reports")

        # Officials: the last acknowledged version, or the one abandoned version sent after it (an
        # official whose write was abandoned is never written again); nothing never sent. An earlier
        # acknowledged version was overwritten by a later acknowledged one ("superseded").
        t_found = t_superseded = t_abandoned_found = t_abandoned_absent = 0
        for tid, sent in ledger.targets.items():
            row = targets.pop(tid, None)
            versions, acked = sent["versions"], sent["acked"]
            after = versions[acked + 1:]
            assert len(after) <= 1, (tid, sent)
            stored = row[0] if row else None
            if row and row[1] != sent["country"]:
                problems.append(f"official {tid}: country {row[1]} was never sent (sent {sent['country']})")
            if acked >= 0:
                t_superseded += acked
                if stored == versions[acked]:
                    t_found += 1
                    t_abandoned_absent += len(after)
                elif after and stored == after[0]:
                    t_found += 1
                    t_abandoned_found += 1
                else:
                    lost += 1
                    problems.append(f"acknowledged official {tid}: expected {versions[acked]!r}"
                                    f"{' or ' + repr(after[0]) if after else ''}, stored {row}")
            elif row is None:
                t_abandoned_absent += 1
            elif stored == versions[0]:
                t_abandoned_found += 1
            else:
                problems.append(f"abandoned official {tid}: expected {versions[0]!r} or nothing, stored {row}")
            if row and audited.get(tid, 0) == 0:
                problems.append(f"official {tid} is stored without its audit entry")
        for tid, row in targets.items():
            problems.append(f"official never sent is stored: {tid} {row}")

        self.figures = dict(found=found + t_found + t_superseded, found_reports=found, found_officials=t_found,
                            superseded=t_superseded, lost=lost, duplicates=duplicates,
                            audit_entries=sum(n for tid, n in audited.items() if tid in ledger.targets),
                            abandoned_found=abandoned_found + t_abandoned_found,
                            abandoned_absent=abandoned_absent + t_abandoned_absent,
                            report_rows=len(reports), officials=len(ledger.targets))
        return problems

    def check_storage(self):
        problems = []
        if self.storage == "sqlite":
            db = sqlite3.connect(self.vigil.env["VIGIL_DATABASE_PATH"])
            integrity = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
            if integrity != ["ok"]:
                problems.append(f"PRAGMA integrity_check: {integrity[:10]}")
            fk = db.execute("PRAGMA foreign_key_check").fetchall()
            if fk:
                problems.append(f"PRAGMA foreign_key_check: {fk[:10]}")
            db.close()
        else:
            dups = psql(self.pg_url, "SELECT idempotency_key, count(*) FROM action_reports GROUP BY 1 HAVING count(*) > 1 "
                                     "UNION ALL SELECT id, count(*) FROM targets GROUP BY 1 HAVING count(*) > 1")
            if dups:
                problems.append(f"duplicate keys: {dups[:500]}")
            # amcheck: every B-tree index agrees with its table (heapallindexed) — PostgreSQL's integrity check.
            psql(self.pg_url, "CREATE EXTENSION IF NOT EXISTS amcheck")
            bad = psql(self.pg_url, """
                SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE a.amname = 'btree' AND n.nspname = 'public' AND NOT i.indisvalid""")
            if bad:
                problems.append(f"invalid indexes: {bad}")
            psql(self.pg_url, """
                SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE a.amname = 'btree' AND n.nspname = 'public'""")
        verify = self.vigil.run("audit", "verify", check=False)
        if verify.returncode != 0 or b"chain intact" not in verify.stdout:
            problems.append(f"audit verify: {verify.stdout.decode()} {verify.stderr.decode()[-1000:]}")
        return problems

    def check_served(self):
        """The server starts on what the crashes left and serves what was acknowledged."""
        t = time.time()
        self.server.start()
        self.restart_seconds.append(time.time() - t)
        problems = []
        acked = [tid for tid, s in self.ledger.targets.items() if s["acked"] >= 0]
        for tid in self.rng.sample(acked, min(20, len(acked))):
            c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            c.request("GET", f"/api/v1/targets/{tid}")
            r = c.getresponse()
            r.read()
            if r.status != 200:
                problems.append(f"GET /api/v1/targets/{tid} after the crashes: {r.status}")
            c.close()
        self.server.stop()
        return problems

    def print_figures(self):
        l, f = self.ledger, self.figures
        restarts = self.restart_seconds
        print(f"\n[crash {self.storage}] seed {self.seed}: {self.sequence} writes attempted{'' if self.sequence == WRITES else f' (of {WRITES}: stopped)'} ({len(l.reports)} reports with "
              f"{sum(len(r['targets']) for r in l.reports.values())} officials, {f['officials']} officials by PUT "
              f"in {sum(len(t['versions']) for t in l.targets.values())} versions) by {CLIENTS} clients in "
              f"{self.writing_seconds:.1f} s; {l.requests} requests, {l.retries} retries, failures {dict(sorted(l.failures.items()))}")
        print(f"[crash {self.storage}] acknowledged {l.acked}, found {f['found']} ({f['found_reports']} reports, "
              f"{f['found_officials']} officials' latest versions, {f['superseded']} earlier versions overwritten by a later "
              f"acknowledged one), lost {f['lost']}, duplicates {f['duplicates']}; {l.recovered} retries found their write "
              f"already committed (answer lost in a crash); abandoned {l.abandoned} (found whole "
              f"{f['abandoned_found']}, absent {f['abandoned_absent']}); {f['report_rows']} report rows; "
              f"{f['audit_entries']} audit entries for {sum(len(t['versions']) for t in l.targets.values())} PUTs")
        print(f"[crash {self.storage}] kill -9 survived: {self.kills} (restart {min(restarts):.2f}-{max(restarts):.2f} s)"
              + (f"; PostgreSQL crashed and restarted: {self.pg_crashes}" if self.pg else "")
              + (f"; then stopped by SIGTERM, exit 0" if self.graceful_stops else "")
              + f"; run time {time.time() - self.t0:.1f} s")


def crash_run(vigil, storage, tmp_path, pg_crashes=0):
    # The secret named, whatever the working directory holds (CSRF tokens must outlive the crashes).
    vigil.env.setdefault("VIGIL_SECRET_FILE", str(tmp_path / "secret"))
    run = CrashRun(vigil, storage, tmp_path, pg_crashes)
    run.t0 = time.time()
    run.prepare()
    stopped = None
    try:
        run.go()
    except AssertionError as e:
        stopped = str(e)  # the server stopped answering: still check what it had acknowledged
    finally:
        # A hung server ignores SIGTERM (its graceful stop waits for the report batch): SIGKILL.
        if run.server.proc and run.server.proc.poll() is None:
            run.server.kill9()
    problems = run.check() + run.check_storage() + run.check_served()
    run.print_figures()
    assert not stopped, stopped + ("\nand: " + "\n".join(problems[:20]) if problems else "\n(nothing acknowledged was lost)")
    assert not run.ledger.unexpected, run.ledger.unexpected[:10]
    assert run.kills >= KILLS + (0 if pg_crashes else 1)
    assert run.pg_crashes >= pg_crashes
    assert not problems, "\n".join(problems[:40])


def test_acknowledged_writes_survive_kill_9_at_concurrency_50(vigil, request, tmp_path):
    crash_run(vigil, request.node.callspec.params["vigil"], tmp_path)


@pytest.mark.skipif(not os.environ.get("VIGIL_TEST_POSTGRES_URL"), reason="needs the test PostgreSQL (make test starts it)")
def test_acknowledged_writes_survive_postgresql_crashing_under_them(tmp_path):
    """The same, on PostgreSQL, with PostgreSQL itself crashed (`pg_ctl stop -m immediate`) and
    started again among the kills: the server reconnects, answers every request, loses nothing."""
    url = os.environ["VIGIL_TEST_POSTGRES_URL"]
    reset_postgres(url)
    env = {k: v for k, v in os.environ.items() if k != "VIGIL_DATABASE_PATH"}
    env.update(DATABASE_URL=url, LOG_LEVEL="warning")
    crash_run(Vigil(env), "postgres", tmp_path, PG_CRASHES)
