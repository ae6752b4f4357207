#!/usr/bin/env python3
"""Renders the same urgent actions with Vigil (Pango + Cairo, in-process) and with WeasyPrint
(from the document's own web page and print stylesheet), side by side on this machine, and
prints the median milliseconds per document and the ratio.

    make bench            # builds in release mode first
    python3 bench/pdf_vs_weasyprint.py [--repeat N]
"""
import argparse, re, statistics, subprocess, time, urllib.request

from common import ROOT, Serve, demo_env, release_binary, scratch_dir

DOCS = {
    "ua-126-19-0-en": "/urgent-actions/126-19/initial",
    "ua-126-19-2-en": "/urgent-actions/126-19/outcome",
    "ua-77-26-0-ar": "/urgent-actions/77-26/initial",
    "ua-88-26-0-zh": "/urgent-actions/88-26/initial",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    binary = release_binary()
    from weasyprint import HTML, __version__ as wp_version

    tmp = scratch_dir()
    env = demo_env(binary, tmp)
    with Serve(binary, env) as server:
        base = server.base
        print(f"Vigil (release build, Pango {pango_version()}) vs WeasyPrint {wp_version}; median of {args.repeat} renders, ms per document")
        print(f"{'document':<18} {'pages':>5} {'vigil_ms':>9} {'weasyprint_ms':>14} {'ratio':>7}")
        for doc_id, path in DOCS.items():
            out = subprocess.run([str(binary), "render", doc_id, "--repeat", str(args.repeat), "-o", f"{tmp}/{doc_id}.pdf"],
                                 env=env, cwd=ROOT, capture_output=True, check=True).stdout.decode()
            vigil_ms = float(re.search(r"median_ms=([0-9.]+)", out).group(1))
            pages = pdf_pages(f"{tmp}/{doc_id}.pdf")
            html = urllib.request.urlopen(base + path).read().decode()
            HTML(string=html, base_url=base).write_pdf()  # warm up (fonts, CSS)
            times = []
            for _ in range(max(3, args.repeat // 3)):
                t = time.perf_counter()
                HTML(string=html, base_url=base).write_pdf()
                times.append((time.perf_counter() - t) * 1000)
            wp_ms = statistics.median(times)
            print(f"{doc_id:<18} {pages:>5} {vigil_ms:>9.2f} {wp_ms:>14.1f} {wp_ms / vigil_ms:>6.1f}x")


def pdf_pages(path):
    out = subprocess.run(["pdfinfo", path], capture_output=True).stdout.decode()
    m = re.search(r"Pages:\s+(\d+)", out)
    return int(m.group(1)) if m else 0


def pango_version():
    return subprocess.run(["pkg-config", "--modversion", "pango"], capture_output=True).stdout.decode().strip()


if __name__ == "__main__":
    main()
