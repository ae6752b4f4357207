"""The archive benchmarks at a toy size, so that `make bench`'s scripts cannot rot between runs:
each runs end to end against the binary under test and prints its table. No timing is asserted."""
import os, re, subprocess, sys

import pytest

from conftest import BIN, ROOT


def run_bench(tmp, script, *args):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["BENCH_DIR"] = str(tmp)
    r = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--binary", str(BIN), *args],
                       capture_output=True, text=True, timeout=900, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def test_import_archive_runs_end_to_end(tmp_path):
    out = run_bench(tmp_path, "import_archive.py", "--cases", "12", "--baseline", str(BIN), "--api")
    assert "vigil import (this build)" in out and "vigil import (baseline)" in out
    # Posted to each server's API, with a log-in and a search beside it: both answered; and the
    # server's peak RSS before and after.
    posted = re.findall(r"^POST /api/v1/bundles \((this build|baseline)\)\s+[0-9.]+(\s+(\d+|none)){4}\s+server peak RSS \d+ -> \d+ MB$", out, re.M)
    assert len(posted) == 2, out
    assert "start to the first home page" in out and "server RSS" in out
    # The longest stretch a writer beside each import was locked out, in seconds.
    assert len(re.findall(r"MB\s+[0-9.]+ s\s+Imported:", out)) == 4, out
    # Every record of the archive was created, by both binaries; imported again, none changed.
    first = [line for line in out.splitlines() if line.startswith("vigil import (") and "Imported:" in line]
    assert len(first) == 2 and all("0 updated, 0 unchanged" in line for line in first), out
    again = [line for line in out.splitlines() if line.startswith("imported again (") and "Imported:" in line]
    assert len(again) == 2 and all("Imported: 0 created, 0 updated, " in line and " 0 unchanged" not in line for line in again), out
    assert "imports an archive again" in out


def test_report_burst_runs_end_to_end(tmp_path):
    """B5: reports on SQLite beside one durable commit per row; every acknowledged report counted."""
    out = run_bench(tmp_path, "report_burst.py", "--seconds", "1", "--clients", "4")
    assert len(re.findall(r"\d\.\d\dx$", out, re.M)) == 3, out
    assert "counted" in out


@pytest.mark.skipif(not os.environ.get("VIGIL_TEST_POSTGRES_URL"), reason="needs the test PostgreSQL server")
def test_report_burst_on_postgres_runs_end_to_end(tmp_path):
    """B6: the same bursts with the server on PostgreSQL, each beside pgbench's one-row inserts."""
    out = run_bench(tmp_path, "report_burst.py", "--seconds", "1", "--clients", "4", "--postgres", os.environ["VIGIL_TEST_POSTGRES_URL"])
    assert "synchronous_commit=on" in out
    assert len(re.findall(r"\d\.\d\dx$", out, re.M)) == 3, out


def test_cached_page_under_reports_runs_end_to_end(tmp_path):
    """B10: the cached page alone and beside reports and letter PDFs; every report counted, every
    letter a PDF the server counted as rendered (the script stops otherwise)."""
    out = run_bench(tmp_path, "cached_page_under_reports.py", "--seconds", "1", "--runs", "1", "--connections", "2", "--rate", "20",
                    "--pdf-rate", "5")
    assert "run 1: alone" in out and "under 20 reports/s and 5 PDFs/s" in out and "the page answers 200" in out, out
    assert re.search(r"^  1 load .* [0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +\d+ +\d+ +\d+ ", out, re.M), out


def test_archive_pages_runs_end_to_end(tmp_path):
    out = run_bench(tmp_path, "archive_pages.py", "--cases", "12")
    assert "Atom feed" in out and "sitemap" in out
    assert re.search(r"^deep pages: the list has [0-9,]+ pages, the feed [0-9,]+$", out, re.M), out


def test_pages_vs_nginx_runs_end_to_end(tmp_path):
    """B1, B2 (304 to If-None-Match, checked before it is timed) and B4 (the API list) beside nginx."""
    out = run_bench(tmp_path, "pages_vs_nginx.py", "--seconds", "1", "--connections", "4")
    assert "API list, 100 (JSON)" in out and "the document again, 304" in out
    assert len(re.findall(r"\d\.\d\dx$", out, re.M)) == 7, out


def test_search_vs_direct_runs_end_to_end(tmp_path):
    """B7: uncached searches (every answer a page-cache miss) beside the same FTS5 statement."""
    out = run_bench(tmp_path, "search_vs_direct.py", "--cases", "12", "--queries", "20")
    assert "archive: 12 cases" in out and "20 distinct queries, each rendered (X-Cache: MISS)" in out
    assert re.search(r"vigil: GET /en/urgent-actions\?q=.*\s[0-9.]+ ms\s+[0-9.]+ ms$", out, re.M), out
    assert re.search(r"direct: the FTS5 statement.*\s[0-9.]+ ms\s+[0-9.]+ ms$", out, re.M), out
    assert re.search(r"p95 vigil - p95 direct: -?[0-9.]+ ms \(goal <= 5 ms: (met|NOT met)\)", out), out


@pytest.mark.skipif(not os.environ.get("VIGIL_TEST_POSTGRES_URL"), reason="needs the test PostgreSQL server")
def test_search_vs_direct_on_postgres_runs_end_to_end(tmp_path):
    """B7 on PostgreSQL: the archive served there, beside the tsvector statement and the page's
    headlines timed by psql."""
    out = run_bench(tmp_path, "search_vs_direct.py", "--cases", "12", "--queries", "20", "--postgres", os.environ["VIGIL_TEST_POSTGRES_URL"])
    assert "archive: 12 cases" in out and "PostgreSQL" in out and "20 distinct queries, each rendered (X-Cache: MISS)" in out
    assert re.search(r"vigil: GET /en/urgent-actions\?q=.*\s[0-9.]+ ms\s+[0-9.]+ ms$", out, re.M), out
    assert re.search(r"direct: tsvector \+ 20 headlines, psql\s+[0-9.]+ ms\s+[0-9.]+ ms$", out, re.M), out
    assert re.search(r"p95 vigil - p95 direct: -?[0-9.]+ ms \(goal <= 5 ms: (met|NOT met)\)", out), out


def test_letter_docx_vs_python_docx_runs_end_to_end(tmp_path):
    """B9: the appeal letter as DOCX by Vigil and by python-docx (checked to read alike first)."""
    out = run_bench(tmp_path, "letter_docx_vs_python_docx.py", "--repeat", "3")
    rows = re.findall(r"^ua-\S+\s+\d+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+x$", out, re.M)
    assert len(rows) == 4, out


def test_uncached_documents_runs_end_to_end(tmp_path):
    """B3: document pages rendered on demand (each checked to be a miss), then cached."""
    out = run_bench(tmp_path, "uncached_documents.py", "--cases", "12", "--pages", "5", "--clients", "2")
    assert re.search(r"^uncached \(rendered\)\s+[0-9.]+ ms", out, re.M), out
    assert re.search(r"^cached \(peer, same pages\)\s+[0-9.]+ ms", out, re.M), out
    assert re.search(r"p99 uncached: [0-9.]+ ms \(goal <= 25 ms: (met|NOT met)\)", out), out
    assert re.search(r"uncached rate, 2 clients at once: \d+ pages/s", out), out


def test_memory_soak_runs_end_to_end(tmp_path):
    """B11: RSS sampled under wrk's mixed load (pages, searches, listings, API lists)."""
    out = run_bench(tmp_path, "memory_soak.py", "--cases", "12", "--seconds", "6")
    assert re.search(r"load: wrk, 16 connections, 6 s: [0-9,]+ requests", out), out
    assert re.search(r"RSS under load: max \d+ MB \(goal <= 250 MB: (met|NOT met)\)", out), out
    cache = re.search(r"the page cache's own count of its bytes at the end: ([0-9.]+) MB", out)
    # Pages rendered under the load are in the cache by then: the count is read, not missing.
    assert cache and float(cache.group(1)) > 0, out
    assert re.search(r"RSS samples \(s, MB RSS/cache\): 5:\d+/\d+", out), out
