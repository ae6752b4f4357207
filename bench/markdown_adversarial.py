#!/usr/bin/env python3
"""Times VigilCore's Markdown.parse (cmark, mapped into our blocks) on adversarial and ordinary
input, side by side with the `cmark` command-line program on the same files: the physical limit
of parsing CommonMark here (it parses and writes HTML to /dev/null; its time includes starting the
process). Prints the median milliseconds of several runs, MB/s and the ratio.

    make bench            # installs cmark, then runs this with the other benchmarks
    python3 bench/markdown_adversarial.py [--runs N] [--sizes 1,4] [--no-build]
"""
import argparse, pathlib, shutil, statistics, subprocess, sys, tempfile, time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bench/markdown"
BINARY = PACKAGE / ".build/release/markdown-bench"

PROSE = (
    "## Torture and other ill-treatment\n\n"
    "On 12 November 2019 the **Southern District Military Court** in Rostov-on-Don sentenced *Emir-Usein Kuku* "
    "and five other men to between 7 and 19 years in a strict-regime penal colony, after a trial that "
    "[fell short of international standards](https://www.example.org/news/2019/11/kuku-trial). Their lawyers "
    "say the charges rest on `secret witnesses`; read the full statement at https://www.example.org/statement.\n"
    "They have appealed.\n\n"
    "- **Muslim Aliyev**: 19 years\n- **Enver Bekirov**: 18 years\n- **Vadim Siruk**: 12 years\n\n"
    "> We are grateful to everyone who has supported us.\n> Your letters give us strength.\n\n"
)

INPUTS = {
    "[ x N": lambda n: "[" * n,
    "` x N": lambda n: "`" * n,
    "*a x N": lambda n: "*a" * (n // 2),
    "[a]( x N": lambda n: "[a](" * (n // 4),
    "prose": lambda n: (PROSE * (n // len(PROSE) + 1))[:n],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="1,4", help="input sizes in MB, comma-separated")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not shutil.which("cmark"):
        sys.exit("cmark is not installed (make bench installs it; or apt-get install cmark)")
    if not args.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--package-path", str(PACKAGE), "--scratch-path", str(PACKAGE / ".build")],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    sizes = [int(s) for s in args.sizes.split(",")]
    version = subprocess.run(["cmark", "--version"], capture_output=True, text=True).stdout.split("-")[0].strip()

    with tempfile.TemporaryDirectory(prefix="vigil-markdown-") as tmp:
        files = []
        for mb in sizes:
            for i, (name, make) in enumerate(INPUTS.items()):
                path = pathlib.Path(tmp) / f"{mb}mb-{i}.md"
                path.write_text(make(mb << 20), encoding="utf-8")
                files.append((name, mb, path))
        out = subprocess.run([str(BINARY), "--runs", str(args.runs), *[str(p) for _, _, p in files]],
                             capture_output=True, text=True, check=True).stdout
        vigil = {}
        for line in out.splitlines():
            path, size, lo, median, hi, *_ = line.split()
            vigil[path] = (int(size), float(lo), float(median), float(hi))

        print(f"Markdown.parse (VigilCore, release) vs {version} command line; median of {args.runs} runs (min-max), ms")
        print(f"{'input':<9} {'MB':>2} {'vigil_ms':>24} {'MB/s':>6} {'cmark_ms':>24} {'MB/s':>6} {'vigil/cmark':>11}")
        for name, mb, path in files:
            size, lo, median, hi = vigil[str(path)]
            c_lo, c_median, c_hi = cmark_times(path, args.runs)
            print(f"{name:<9} {mb:>2} {timing(lo, median, hi):>24} {mbps(size, median):>6.1f} "
                  f"{timing(c_lo, c_median, c_hi):>24} {mbps(size, c_median):>6.1f} {median / c_median:>10.2f}x")


def cmark_times(path, runs):
    subprocess.run(["cmark", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(["cmark", str(path)], stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    return min(times), statistics.median(times), max(times)


def timing(lo, median, hi):
    return f"{median:.1f} ({lo:.1f}-{hi:.1f})"


def mbps(size, ms):
    return size / (1 << 20) / (ms / 1000)


if __name__ == "__main__":
    main()
