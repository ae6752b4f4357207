#!/usr/bin/env python3
"""B11: the server's resident memory under a mixed load at the size of an archive, and whether it
grows over a soak. A synthetic archive of N cases (or a vigil.bundle/1 file given with --bundle,
imported) is served by `vigil serve` with the default page cache (128 MB); wrk then asks, from 16
connections for --seconds, in turn: document pages drawn from the sitemap (thousands of distinct
pages: renders, then hits), searches of distinct words (each a render, kept on the cache's shelf
for queries), filtered lists, the home page, feeds and API lists. The process's RSS
(/proc/PID/status VmRSS) is read every 5 s.

    python3 bench/memory_soak.py [--cases N] [--bundle FILE] [--seconds S] [--binary PATH]

Goal (issue 15): at 10,000 cases, RSS under load <= 250 MB, and no growth over a 10-minute soak.
"""
import argparse, os, random, re, subprocess, sys, threading, time, urllib.request

from common import ROOT, Serve, archive_env, free_port, load_archive, rss_mb, scratch_dir, sitemap_paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--bundle", help="import this vigil.bundle/1 file instead of making the archive")
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "vigil"))
    a = ap.parse_args()
    work = scratch_dir()
    env = archive_env(work)
    load_archive(a.binary, env, cases=a.cases, bundle=a.bundle)
    # The server's own count of the page cache's bytes, read beside RSS.
    metrics = f"127.0.0.1:{free_port()}"
    env["VIGIL_METRICS_ADDRESS"] = metrics

    def cache_mb():
        text = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10).read().decode()
        found = re.search(r"^vigil_page_cache_bytes ([0-9.e+]+)$", text, re.M)
        if not found:
            raise RuntimeError("the metrics listener gave no vigil_page_cache_bytes")
        return float(found.group(1)) / 1024 / 1024

    with Serve(a.binary, env, ready="/readyz", cwd=work) as server:
        proc, base = server.proc, server.base
        idle = rss_mb(proc.pid)
        rng = random.Random(11)
        pages = sitemap_paths(base, lambda p: "/urgent-actions/" in p or "/cases/" in p)
        rng.shuffle(pages)
        pages = pages[:30_000]
        words = ["release", "prison", "trial", "court", "minister", "health", "torture", "journalist", "student", "lawyer",
                 "Kuku", "Hassan", "2019", "2021", "detention", "protest", "union", "women", "appeal", "sentence"]
        # Distinct searches that find something: the pairs and triples of common words.
        combos = [f"{a}+{b}" for i, a in enumerate(words) for b in words[i + 1:]]
        combos += [f"{a}+{b}+{c}" for i, a in enumerate(words) for j, b in enumerate(words[i + 1:], i + 1) for c in words[j + 1:]]
        rng.shuffle(combos)
        searches = [f"/en/urgent-actions?q={q}" for q in combos[:3000]]
        fixed = ["/en/", "/en/urgent-actions", "/en/urgent-actions?status=open", "/feed.atom", "/feed.atom?page=2",
                 "/api/v1/urgent-actions?limit=100", "/api/v1/cases?limit=50", "/en/outcomes"]
        mix = []
        for i in range(max(len(pages), 1)):
            mix.append(pages[i % len(pages)] if pages else "/en/")
            if i % 4 == 0:
                mix.append(searches[(i // 4) % len(searches)])
            if i % 10 == 0:
                mix.append(fixed[(i // 10) % len(fixed)])
        script = os.path.join(work, "mix.lua")
        with open(script, "w") as f:
            f.write("paths = {\n" + ",\n".join('"%s"' % p.replace('"', "") for p in mix) + "\n}\n")
            # Each wrk thread starts at its own place in the mix, so that they do not ask for the
            # same page at the same moment (the second would find the first's render).
            f.write("threads = 0\nfunction setup(thread)\n  thread:set(\"offset\", threads * math.floor(#paths / 2))\n"
                    "  threads = threads + 1\nend\n"
                    "counter = 0\nfunction init(args)\n  counter = offset or 0\nend\n"
                    "request = function()\n  counter = counter + 1\n"
                    "  return wrk.format(\"GET\", paths[(counter % #paths) + 1])\nend\n")
        samples, done = [], threading.Event()

        failed = []

        def sample():
            start = time.perf_counter()
            while not done.wait(5):
                try:
                    samples.append((time.perf_counter() - start, rss_mb(proc.pid), cache_mb()))
                except Exception as e:  # reported once wrk is done, not lost with the thread
                    failed.append(e)
                    return
        t = threading.Thread(target=sample, daemon=True)
        t.start()
        out = subprocess.run(["wrk", "-t2", "-c16", f"-d{a.seconds}s", "-s", script, base], capture_output=True, check=True).stdout.decode()
        done.set()
        t.join()
        if failed:
            sys.exit(f"sampling stopped: {failed[0]}")
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        print(f"archive: {a.cases:,} cases; {len(pages):,} pages, {len(searches):,} distinct searches and "
              f"{len(fixed)} listings in the mix; binary {a.binary}")
        print(f"load: wrk, 16 connections, {a.seconds} s: {requests:,} requests, {rate:,.0f}/s"
              f"{f', {non2xx.group(1)} not 2xx/3xx' if non2xx else ''}")
        if not samples:
            samples.append((a.seconds, rss_mb(proc.pid), cache_mb()))
        rss = [m for _, m, _ in samples]
        minute = max(1, len(samples) // max(1, a.seconds // 60))
        first = max(rss[:minute]) if rss else 0
        last = max(rss[-minute:]) if rss else 0
        print(f"RSS idle after start: {idle:.0f} MB")
        print(f"RSS under load: max {max(rss):.0f} MB (goal <= 250 MB: {'met' if max(rss) <= 250 else 'NOT met'})")
        print(f"RSS, highest in the first minute and in the last minute: "
              f"{first:.0f} MB -> {last:.0f} MB ({last - first:+.0f} MB)")
        print(f"the page cache's own count of its bytes at the end: {samples[-1][2]:.1f} MB (VIGIL_CACHE_MB: "
              f"{env.get('VIGIL_CACHE_MB', '128')})")
        print("RSS samples (s, MB RSS/cache): " + " ".join(f"{s:.0f}:{m:.0f}/{c:.0f}" for s, m, c in samples[::max(1, len(samples) // 20)]))


if __name__ == "__main__":
    main()
