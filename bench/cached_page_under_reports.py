#!/usr/bin/env python3
"""B10: a cached document page that shows the action-report totals (UA 77/26, initial, in English: an
action open on the demo's date), loaded by wrk while action reports arrive at a steady rate (200 a
second) and PDFs render at another (20 a second), side by side with the same page and the same
load alone. Prints requests per second, latency and the ratio (goal: ≥ 0.8×).

The page depends on the report totals, which the page cache re-reads at most once a second: while
reports arrive, it renders again about once a second and serves the cached bytes in between. The
reports are real form posts (CSRF token, idempotency key, an official, a channel), each from its
own client address through the trusted-proxy header (so that the per-address limit of 120 a minute
stays out of the way), paced by a schedule (report i is due at start + i / rate) over keep-alive
connections, each answered only after its commit.

The PDFs are appeal letters, the documents a supporter makes on the day an action goes out and the
only ones rendered on every request (an urgent action's own PDF is rendered once and then served
from the cache): form posts to the letter address of UA 77/26 in English and in Arabic, signed with
names in Latin, Cyrillic, Arabic and Chinese script, on A4 and US letter paper, paced the same way
on their own connections. Each answer must be a PDF; the server's render metric (a metrics listener
is started) counts the renders of each phase and their mean time on the render pool.

A sampler fetches the page every 50 ms in both phases and counts `X-Cache: HIT|MISS` and the
distinct ETags it saw (one per render it caught). Phases alternate (page alone, page under load, …)
so that drift on the machine hits both alike. Afterwards every acknowledged report must be counted
(totals API) and the page must show the new total.

    make bench
    python3 bench/cached_page_under_reports.py [--seconds S] [--runs N] [--rate R] [--pdf-rate P] [--connections C] [--binary PATH]

--pdf-rate 0 measures under reports only (as this benchmark did before 2026-12-02); --rate 0 under
PDFs only. For a quick check against a debug build: --binary .build/debug/vigil (or VIGIL_BENCH_BINARY).
"""
import argparse, http.client, json, os, pathlib, re, shutil, statistics, sys, threading, time, urllib.parse, urllib.request, uuid

from common import Serve, demo_env, free_port, release_binary, report_form, scratch_dir, wrk

DOC = "ua-77-26-0-en"
PAGE = "/en/urgent-actions/77-26/initial"
# The letter forms of the page's action, in its two languages, and who signs.
LETTERS = ["/urgent-actions/77-26/initial/letter", "/urgent-actions/77-26/initial/ar/letter"]
SIGNERS = [("Ann Example", "Leeds"), ("Анна Пример", "Казань"), ("آمنة مثال", "الرباط"), ("王小明", "台北")]
SHOWN_TOTAL = re.compile(r"([0-9][0-9,.\u202f\u00a0]*) actions? reported for UA")


class Sampler(threading.Thread):
    """Fetches the page every `interval` seconds until stopped; counts X-Cache values, statuses and ETags."""

    def __init__(self, port, interval=0.05):
        super().__init__(daemon=True)
        self.port, self.interval = port, interval
        self.stop = threading.Event()
        self.cache = {}
        self.statuses = {}
        self.etags = []

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        next_at = time.monotonic()
        while not self.stop.is_set():
            try:
                conn.request("GET", PAGE)
                r = conn.getresponse()
                r.read()
                self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                x = r.getheader("X-Cache", "none")
                self.cache[x] = self.cache.get(x, 0) + 1
                etag = r.getheader("ETag")
                if etag and (not self.etags or self.etags[-1] != etag):
                    self.etags.append(etag)
            except (OSError, http.client.HTTPException) as e:
                self.statuses[type(e).__name__] = self.statuses.get(type(e).__name__, 0) + 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            next_at += self.interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))
        conn.close()

    def summary(self):
        n = sum(self.cache.values())
        bad = {k: v for k, v in self.statuses.items() if k != 200}
        return {"samples": n, "hit": self.cache.get("HIT", 0), "miss": self.cache.get("MISS", 0),
                "other": n - self.cache.get("HIT", 0) - self.cache.get("MISS", 0), "etags": len(set(self.etags)), "errors": bad}


class Paced(threading.Thread):
    """Sends `rate` requests a second for `seconds` from `workers` keep-alive connections: request i
    is due at start + i / rate (a worker that is late sends at once, so the schedule catches up).
    No request starts after the window: a server that cannot keep up shows as a lower achieved rate.
    A subclass says what request i is (`request`) and whether its answer is the one expected (`ok`)."""

    def __init__(self, port, rate, seconds, first_address, workers):
        super().__init__(daemon=True)
        self.port, self.rate, self.seconds, self.first = port, rate, seconds, first_address
        self.workers = workers
        self.n = int(rate * seconds)
        self.lock = threading.Lock()
        self.next = 0
        self.acked = 0
        self.errors = {}
        self.latencies = []
        self.lateness = []
        self.elapsed = 0.0

    def run(self):
        self.start_at = time.monotonic() + 0.05
        threads = [threading.Thread(target=self.worker) for _ in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.elapsed = time.monotonic() - self.start_at

    @property
    def achieved(self):
        """Acknowledged requests per second of the window."""
        return self.acked / self.seconds

    def address(self, i):
        """Request i's own client address (sent as X-Forwarded-For), so per-address limits stay out of the way."""
        a = self.first + i
        return f"10.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}"

    def worker(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while True:
            with self.lock:
                i = self.next
                self.next += 1
            if i >= self.n or time.monotonic() >= self.start_at + self.seconds:
                break
            due = self.start_at + i / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            path, body, headers = self.request(i)
            t = time.monotonic()
            try:
                conn.request("POST", path, body, dict(headers, **{"X-Forwarded-For": self.address(i)}))
                r = conn.getresponse()
                answer = r.read()
                status = True if self.ok(r, answer) else f"{r.status} {r.getheader('Content-Type')}"
            except (OSError, http.client.HTTPException) as e:
                status = type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            done = time.monotonic()
            with self.lock:
                if status is True:
                    self.acked += 1
                    self.latencies.append((done - t) * 1000)
                    self.lateness.append(max(0.0, t - due) * 1000)
                else:
                    self.errors[status] = self.errors.get(status, 0) + 1
        conn.close()


class Reporter(Paced):
    """Action reports of the page's document, each with its own idempotency key, answered 303 after the commit."""

    def __init__(self, port, form, rate, seconds, first_address, workers=32):
        super().__init__(port, rate, seconds, first_address, workers)
        self.form = form

    def request(self, i):
        cookie, csrf, target = self.form
        body = urllib.parse.urlencode({"csrf": csrf, "document": DOC, "channel": "letter", "key": f"bench-{uuid.uuid4()}",
                                       "targets[]": target})
        return "/report", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}

    def ok(self, r, answer):
        return r.status == 303


class LetterMaker(Paced):
    """Appeal letters as PDFs (each rendered for its signer), in turn in the action's languages,
    signers' scripts and paper sizes."""

    def __init__(self, port, rate, seconds, first_address, workers=8):
        super().__init__(port, rate, seconds, first_address, workers)

    def request(self, i):
        name, town = SIGNERS[i % len(SIGNERS)]
        body = urllib.parse.urlencode({"name": f"{name} {i}", "town": town, "format": "pdf",
                                       "paper": "letter" if i % 3 == 0 else "a4"})
        return LETTERS[i % len(LETTERS)], body, {"Content-Type": "application/x-www-form-urlencoded"}

    def ok(self, r, answer):
        return r.status == 200 and r.getheader("Content-Type", "").startswith("application/pdf") and answer.startswith(b"%PDF-")


def renders(metrics):
    """(count, seconds) of the letter PDFs rendered so far, from the server's render metric."""
    text = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10).read().decode()
    found = {"count": 0.0, "sum": 0.0}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        for part in found:
            if name.startswith(f"vigil_document_render_seconds_{part}{{") and 'document="letter"' in name and 'kind="pdf"' in name:
                found[part] = float(value)
    return found["count"], found["sum"]


def pct(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def load_page(base, seconds, connections):
    """wrk on the page; returns (requests, req/s, p50 ms, p99 ms)."""
    n, rate, p50, p99, out = wrk(["-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s", "--latency",
                                  base + PAGE])
    if "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"{PAGE} answered with errors:\n{out}")
    return n, rate, p50, p99


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` so far (Linux /proc)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def total(base):
    with urllib.request.urlopen(f"{base}/api/v1/totals") as r:
        return json.load(r)["documents"].get(DOC, {}).get("total", 0)


def shown_total(base):
    """The page's status and the total it shows (None if the sentence is not found)."""
    with urllib.request.urlopen(base + PAGE) as r:
        status, page = r.status, r.read().decode()
    m = SHOWN_TOTAL.search(page)
    return status, int(re.sub(r"\D", "", m.group(1))) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rate", type=float, default=200, help="action reports a second (0: none)")
    ap.add_argument("--pdf-rate", type=float, default=20, help="letter PDFs a second (0: none)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--binary", default=os.environ.get("VIGIL_BENCH_BINARY"))
    args = ap.parse_args()
    binary = release_binary(os.path.abspath(args.binary) if args.binary else None)
    if not shutil.which("wrk"):
        sys.exit("needs wrk (make bench installs it)")
    tmp = scratch_dir()
    metrics = f"127.0.0.1:{free_port()}"
    env = demo_env(binary, tmp, VIGIL_TRUSTED_PROXIES="127.0.0.1", VIGIL_METRICS_ADDRESS=metrics)
    load_label = " and ".join(x for x in (f"{args.rate:g} reports/s" if args.rate else "", f"{args.pdf_rate:g} PDFs/s" if args.pdf_rate else "") if x)
    if not load_label:
        sys.exit("nothing to load the server with: --rate and --pdf-rate are both 0")
    with Serve(binary, env) as server:
        form = report_form(server.base, DOC)
        # Warm-up: the page rendered and cached, the report and letter paths exercised, wrk's connections opened once.
        for _ in range(20):
            urllib.request.urlopen(server.base + PAGE).read()
        before = total(server.base)
        # Reports come from 10.0.0.0 up, letters from 10.128.0.0 up: every request its own address.
        next_address, next_letter_address = 0, 1 << 23
        acked = 0
        for kind in ("reports", "letters"):
            warm = (Reporter(server.port, form, rate=args.rate or 50, seconds=1, first_address=next_address) if kind == "reports"
                    else LetterMaker(server.port, rate=args.pdf_rate or 10, seconds=1, first_address=next_letter_address))
            warm.run()
            if warm.errors or not warm.acked:
                sys.exit(f"warm-up {kind} were refused: {warm.errors}")
            if kind == "reports":
                next_address += warm.n
                acked += warm.acked
            else:
                next_letter_address += warm.n
        load_page(server.base, 2, args.connections)
        time.sleep(1.1)  # the totals settle, so that phase A starts on a cached page

        print(f"{binary}; page {PAGE}; wrk -t{min(2, args.connections)} -c{args.connections}, {args.seconds} s per run;"
              f" under load: {load_label} (reports from 32 paced keep-alive clients, letters from 8); page sampled every 50 ms")
        print(f"{'run':>3} {'phase':<6} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'reports/s':>9} {'rep p99':>7} {'late p99':>8}"
              f" {'PDFs/s':>6} {'PDF p50':>7} {'PDF p99':>7} {'render ms':>9} {'HIT':>5} {'MISS':>5} {'etags':>5} {'vigil cpu':>9} {'py cpu':>6}")
        a_rates, b_rates, ratios, behind = [], [], [], []
        for run in range(1, args.runs + 1):
            for phase in ("alone", "load"):
                sampler = Sampler(server.port)
                pacers = []
                if phase == "load":
                    if args.rate:
                        pacers.append(Reporter(server.port, form, rate=args.rate, seconds=args.seconds, first_address=next_address))
                        next_address += pacers[-1].n
                    if args.pdf_rate:
                        pacers.append(LetterMaker(server.port, rate=args.pdf_rate, seconds=args.seconds, first_address=next_letter_address))
                        next_letter_address += pacers[-1].n
                    for pacer in pacers:
                        pacer.start()
                sampler.start()
                r0 = renders(metrics)
                t0, srv0, py0 = time.monotonic(), cpu_seconds(server.proc.pid), time.process_time()
                _, rate, p50, p99 = load_page(server.base, args.seconds, args.connections)
                wall = time.monotonic() - t0
                srv_cpu, py_cpu = (cpu_seconds(server.proc.pid) - srv0) / wall * 100, (time.process_time() - py0) / wall * 100
                sampler.stop.set()
                sampler.join()
                s = sampler.summary()
                if s["errors"]:
                    sys.exit(f"the sampler saw errors: {s['errors']}")
                rep_cols, pdf_cols = f"{'':>9} {'':>7} {'':>8}", f"{'':>6} {'':>7} {'':>7} {'':>9}"
                for pacer in pacers:
                    pacer.join()
                    if pacer.errors:
                        sys.exit(f"{type(pacer).__name__}: requests were refused or failed: {pacer.errors}")
                    want = args.rate if isinstance(pacer, Reporter) else args.pdf_rate
                    if pacer.achieved < 0.95 * want:
                        behind.append(f"run {run}: {pacer.achieved:.0f} {'reports' if isinstance(pacer, Reporter) else 'PDFs'}/s")
                    if isinstance(pacer, Reporter):
                        acked += pacer.acked
                        rep_cols = f"{pacer.achieved:>9.1f} {pct(pacer.latencies, 99):>7.1f} {pct(pacer.lateness, 99):>8.1f}"
                    else:
                        count, secs = (b - a for a, b in zip(r0, renders(metrics)))
                        if count < pacer.acked:
                            sys.exit(f"{pacer.acked} letters were answered but the server counted {count:.0f} renders")
                        pdf_cols = (f"{pacer.achieved:>6.1f} {pct(pacer.latencies, 50):>7.1f} {pct(pacer.latencies, 99):>7.1f}"
                                    f" {secs / count * 1000 if count else float('nan'):>9.2f}")
                if phase == "load":
                    b_rates.append(rate)
                    ratios.append(rate / a_rates[-1])
                else:
                    a_rates.append(rate)
                print(f"{run:>3} {phase:<6} {rate:>9,.0f} {p50:>7.2f} {p99:>7.2f} {rep_cols} {pdf_cols} {s['hit']:>5} {s['miss']:>5} {s['etags']:>5}"
                      f" {srv_cpu:>8.0f}% {py_cpu:>5.0f}%"
                      + (f"  (other X-Cache: {s['other']})" if s["other"] else ""))
                time.sleep(1.1)  # the totals settle between phases

        counted = total(server.base) - before
        status, shown = shown_total(server.base)
        after = total(server.base)
        print(f"counted {counted} reports; the clients saw {acked} acknowledged; the page answers {status} and shows {shown}"
              f" (totals API: {after})")
        if counted != acked:
            sys.exit("the count does not match the acknowledged reports")
        if status != 200 or shown != after:
            sys.exit("the page does not show the current total")

    for run, (a, b, r) in enumerate(zip(a_rates, b_rates, ratios), 1):
        print(f"run {run}: alone {a:,.0f} req/s, under {load_label} {b:,.0f} req/s, ratio {r:.2f}×")
    if behind:
        print(f"the server did not keep up with {load_label} beside wrk ({', '.join(behind)}): those runs measure a lighter load")
    ratio = statistics.median(ratios)
    print(f"goal ≥ 0.8×: {'met' if ratio >= 0.8 and not behind else 'NOT met'}")
    label = "_".join(x for x in (f"{args.rate:g}_reports_per_s" if args.rate else "", f"{args.pdf_rate:g}_pdfs_per_s" if args.pdf_rate else "") if x)
    print(f"cached_page_under_reports: alone={statistics.median(a_rates):,.0f} req/s"
          f" under_{label}={statistics.median(b_rates):,.0f} req/s"
          f" ratio={ratio:.2f}× (range {min(ratios):.2f}–{max(ratios):.2f})")


if __name__ == "__main__":
    main()
