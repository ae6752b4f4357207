#!/usr/bin/env python3
"""The site's listings at the size of a real archive: `vigil demo --synthetic N` loads a
deterministic synthetic archive of N cases into an empty SQLite database (people, timelines, three
to five documents each in several scripts, officials, action reports), then the home page, the
Atom feed, the sitemap and the list are each fetched twice — the first answer renders (nothing is
cached after start), the second comes from the page cache — and their sizes and times printed.
Then the deep pages of the list and of the feed (page 50, 1,000, the last), which a crawler walks
and which a change of content sends back to be rendered.

    python3 bench/archive_pages.py [--cases N] [--binary PATH] [--bundle FILE]

--bundle: import this vigil.bundle/1 file instead of making the archive (faster at 10,000 cases).

At 2,000 cases issue 15's reviewers found a 1 MB home page and a 3.5 s feed.
"""
import argparse, os, re, time, urllib.error, urllib.request

from common import ROOT, Serve, archive_env, load_archive, scratch_dir


def fetch(base, path):
    """Seconds and bytes of one answer; None for a page this archive is too small to have (404)."""
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=600) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None, 0
        raise
    return time.perf_counter() - t, len(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "vigil"))
    ap.add_argument("--bundle", help="import this vigil.bundle/1 file instead of making the archive")
    a = ap.parse_args()
    work = scratch_dir()
    env = archive_env(work, log="warning")
    made, loaded = load_archive(a.binary, env, cases=a.cases, bundle=a.bundle)
    print(f"archive: {made}")
    print(f"  {loaded:.1f} s in all, database {os.path.getsize(env['VIGIL_DATABASE_PATH']) / 1e6:.0f} MB; binary {a.binary}")
    with Serve(a.binary, env, ready="/readyz", cwd=work) as server:
        base = server.base
        print(f"{'page':<28} {'bytes':>10} {'first (renders)':>16} {'second (cached)':>16}")
        for label, path in [("home", "/en/"), ("Atom feed", "/feed.atom"), ("Atom feed, page 2", "/feed.atom?page=2"),
                            ("sitemap", "/sitemap.xml"), ("list", "/en/urgent-actions"), ("list, open", "/en/urgent-actions?status=open")]:
            first, size = fetch(base, path)
            if first is None:
                print(f"{label:<28} {'(none at this size)':>10}")
                continue
            second, _ = fetch(base, path)
            print(f"{label:<28} {size:>10,} {first * 1000:>13.0f} ms {second * 1000:>13.1f} ms")
        # How many pages each has: the list says "Page 1 / N", the feed links its last page.
        with urllib.request.urlopen(base + "/en/urgent-actions", timeout=600) as r:
            shown = re.search(r"Page 1 / ([0-9,]+)", r.read().decode())
        with urllib.request.urlopen(base + "/feed.atom", timeout=600) as r:
            last = re.search(r'<link rel="last" href="[^"]*?page=(\d+)"', r.read().decode())
        pages = {"list": int(shown.group(1).replace(",", "")) if shown else 1, "Atom feed": int(last.group(1)) if last else 1}
        print(f"deep pages: the list has {pages['list']:,} pages, the feed {pages['Atom feed']:,}")
        for label, path in [("list", "/en/urgent-actions?page={}"), ("Atom feed", "/feed.atom?page={}")]:
            for n in sorted({p for p in (50, 1000, pages[label]) if 2 < p <= pages[label]}):
                first, size = fetch(base, path.format(n))
                second, _ = fetch(base, path.format(n))
                print(f"{f'{label}, page {n:,}':<28} {size:>10,} {first * 1000:>13.0f} ms {second * 1000:>13.1f} ms")


if __name__ == "__main__":
    main()
