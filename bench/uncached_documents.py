#!/usr/bin/env python3
"""B3: document pages rendered on demand at the size of an archive. A deterministic synthetic
archive of N cases (`vigil demo --synthetic N`, or a vigil.bundle/1 file given with --bundle,
imported) is served; the urgent-action document pages its sitemap lists are sampled (seeded), and
each is fetched once — rendered, since nothing is cached after start (every answer is checked to
say `X-Cache: MISS`) — then once more from the page cache, its peer in the same run (B1 is that
cached page against nginx). Latencies are taken one request at a time, then the uncached rate
with several clients at once on pages not fetched before.

    python3 bench/uncached_documents.py [--cases N] [--pages M] [--clients C] [--binary PATH] [--bundle FILE]

Goal (issue 15): p99 of an uncached document page ≤ 25 ms at 10,000 cases.
"""
import argparse, os, random, re, statistics, sys, threading, time, urllib.request

from common import ROOT, Serve, archive_env, load_archive, scratch_dir, sitemap_paths

DOCUMENT = re.compile(r"^/en/urgent-actions/\d+-\d+/(initial|update-\d+|outcome)(/[a-z]{2,3})?$")


def get(base, path):
    """Seconds, bytes and the X-Cache header of one answer."""
    t = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=60) as r:
        body = r.read()
        cache = r.headers.get("X-Cache", "")
    return time.perf_counter() - t, len(body), cache


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--pages", type=int, default=1000, help="pages timed one at a time")
    ap.add_argument("--clients", type=int, default=4, help="clients at once for the rate")
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "vigil"))
    ap.add_argument("--bundle", help="import this vigil.bundle/1 file instead of making the archive (faster at 10,000 cases)")
    a = ap.parse_args()
    if a.pages < 1 or a.clients < 1:
        sys.exit("--pages and --clients are at least 1")
    work = scratch_dir()
    env = archive_env(work)
    load_archive(a.binary, env, cases=a.cases, bundle=a.bundle)
    with Serve(a.binary, env, ready="/readyz", cwd=work) as server:
        base = server.base
        # Drawn from every file of the sitemap: actions of every year and number.
        paths = sitemap_paths(base, DOCUMENT.match)
        rng = random.Random(15)
        rng.shuffle(paths)
        timed, rest = paths[:a.pages], paths[a.pages:]
        if len(timed) < a.pages:
            sys.exit(f"the sitemap lists only {len(paths)} document pages")
        print(f"archive: {a.cases:,} cases, database {os.path.getsize(env['VIGIL_DATABASE_PATH']) / 1e6:.0f} MB; "
              f"{len(paths):,} document pages taken from the sitemap; binary {a.binary}")
        misses, hits, sizes = [], [], []
        for path in timed:
            seconds, size, cache = get(base, path)
            if cache != "MISS":
                sys.exit(f"{path} was not rendered (X-Cache: {cache!r}): not an uncached measurement")
            misses.append(seconds * 1000)
            sizes.append(size)
        for path in timed:
            seconds, _, cache = get(base, path)
            if cache not in ("HIT", ""):
                sys.exit(f"{path} second answer says X-Cache: {cache!r}")
            hits.append(seconds * 1000)
        print(f"{len(timed)} pages, one request at a time, median {statistics.median(sizes) / 1000:.1f} kB")
        print(f"{'':<34} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
        for label, values in [("uncached (rendered)", misses), ("cached (peer, same pages)", hits)]:
            print(f"{label:<34} {percentile(values, 50):>5.1f} ms {percentile(values, 95):>5.1f} ms "
                  f"{percentile(values, 99):>5.1f} ms {max(values):>5.1f} ms")
        p99 = percentile(misses, 99)
        print(f"p99 uncached: {p99:.1f} ms (goal <= 25 ms: {'met' if p99 <= 25 else 'NOT met'})")
        # The rate: several clients, each page fetched once (all misses).
        queue, lock, errors = list(rest[:max(a.pages, 200)]), threading.Lock(), []

        def client():
            while True:
                with lock:
                    if not queue:
                        return
                    path = queue.pop()
                try:
                    _, _, cache = get(base, path)
                    if cache != "MISS":
                        errors.append(path)
                except OSError as e:
                    errors.append(f"{path}: {e}")
        count = len(queue)
        if count < a.clients:
            sys.exit(f"only {count} pages left for the rate with {a.clients} clients: a larger archive is needed")
        threads = [threading.Thread(target=client) for _ in range(a.clients)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t
        if errors:
            sys.exit(f"{len(errors)} answers were not uncached renders: {errors[:3]}")
        print(f"uncached rate, {a.clients} clients at once: {count / elapsed:.0f} pages/s ({count} pages in {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
