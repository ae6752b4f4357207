#!/usr/bin/env python3
"""Renders the same urgent actions with Vigil (Pango + Cairo, in-process) and with WeasyPrint
(from the document's own web page and print stylesheet), side by side on this machine, and
prints the median milliseconds per document and the ratio.

    make bench            # builds in release mode first
    python3 bench/pdf_vs_weasyprint.py [--repeat N]
"""
import argparse, os, pathlib, re, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
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
    binary = ROOT / ".build/release/vigil"
    if not binary.exists():
        sys.exit("build first: swift build -c release (make bench does)")
    from weasyprint import HTML, __version__ as wp_version

    tmp = tempfile.mkdtemp(prefix="vigil-bench-")
    env = dict(os.environ, VIGIL_DATABASE_PATH=f"{tmp}/bench.sqlite", LOG_LEVEL="error")
    env.pop("DATABASE_URL", None)
    subprocess.run([str(binary), "migrate", "--yes"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([str(binary), "demo"], env=env, check=True, capture_output=True, cwd=ROOT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(binary), "serve", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
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
    finally:
        server.terminate()
        server.wait()


def pdf_pages(path):
    out = subprocess.run(["pdfinfo", path], capture_output=True).stdout.decode()
    m = re.search(r"Pages:\s+(\d+)", out)
    return int(m.group(1)) if m else 0


def pango_version():
    return subprocess.run(["pkg-config", "--modversion", "pango"], capture_output=True).stdout.decode().strip()


if __name__ == "__main__":
    main()
