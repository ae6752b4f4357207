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
import argparse, os, random, re, subprocess, sys, tempfile, threading, time, urllib.request

from common import free_port, scratch_dir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sitemap_paths(base, want):
    index = urllib.request.urlopen(base + "/sitemap.xml", timeout=120).read().decode()
    parts = re.findall(r"<loc>([^<]+)</loc>", index) if "<sitemapindex" in index else [None]
    paths = []
    for part in parts:
        text = urllib.request.urlopen(part.replace("&amp;", "&"), timeout=120).read().decode() if part else index
        paths += ["/" + loc.split("/", 3)[3] for loc in re.findall(r"<loc>([^<]+)</loc>", text)]
        if len(paths) >= want:
            break
    return paths[:want]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--bundle", help="import this vigil.bundle/1 file instead of making the archive")
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "vigil"))
    a = ap.parse_args()
    work = str(scratch_dir())
    env = dict({k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, VIGIL_DATABASE_PATH=os.path.join(work, "vigil.sqlite"),
               VIGIL_SECRET_FILE=os.path.join(work, "secret"), LOG_LEVEL="error")
    subprocess.run([a.binary, "migrate", "--yes"], env=env, check=True, capture_output=True, cwd=work)
    load = [a.binary, "import", "--no-alerts", os.path.abspath(a.bundle)] if a.bundle else [a.binary, "demo", "--synthetic", str(a.cases)]
    r = subprocess.run(load, env=env, capture_output=True, cwd=work)
    if r.returncode != 0:
        sys.exit(r.stdout.decode()[-3000:] + r.stderr.decode()[-3000:])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([a.binary, "serve", "--hostname", "127.0.0.1", "--port", str(port)], env=env, cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("vigil serve did not become ready")
        idle = rss_mb(proc.pid)
        rng = random.Random(11)
        pages = [p for p in sitemap_paths(base, 30_000) if "/urgent-actions/" in p or "/cases/" in p]
        rng.shuffle(pages)
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

        def sample():
            start = time.perf_counter()
            while not done.wait(5):
                samples.append((time.perf_counter() - start, rss_mb(proc.pid)))
        t = threading.Thread(target=sample, daemon=True)
        t.start()
        out = subprocess.run(["wrk", "-t2", "-c16", f"-d{a.seconds}s", "-s", script, base], capture_output=True, check=True).stdout.decode()
        done.set()
        t.join()
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        print(f"archive: {a.cases:,} cases; {len(pages):,} pages, {len(searches):,} distinct searches and "
              f"{len(fixed)} listings in the mix; binary {a.binary}")
        print(f"load: wrk, 16 connections, {a.seconds} s: {requests:,} requests, {rate:,.0f}/s"
              f"{f', {non2xx.group(1)} not 2xx/3xx' if non2xx else ''}")
        if not samples:
            samples.append((a.seconds, rss_mb(proc.pid)))
        rss = [m for _, m in samples]
        minute = max(1, len(samples) // max(1, a.seconds // 60))
        first = max(rss[:minute]) if rss else 0
        last = max(rss[-minute:]) if rss else 0
        print(f"RSS idle after start: {idle:.0f} MB")
        print(f"RSS under load: max {max(rss):.0f} MB (goal <= 250 MB: {'met' if max(rss) <= 250 else 'NOT met'})")
        print(f"RSS, highest in the first minute and in the last minute: "
              f"{first:.0f} MB -> {last:.0f} MB ({last - first:+.0f} MB)")
        print("RSS samples (s, MB): " + " ".join(f"{s:.0f}:{m:.0f}" for s, m in samples[::max(1, len(samples) // 20)]))
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
