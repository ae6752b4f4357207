#!/usr/bin/env python3
"""B7: search at the size of an archive, beside the same FTS5 query run directly (issue 15).

For each size a deterministic synthetic archive of N cases (`vigil demo --synthetic N`) is made in
an empty SQLite database and `vigil serve` started on it. Then K distinct searches are timed two
ways, one after the other for each query:

  vigil   GET /en/urgent-actions?q=… over one keep-alive connection (http.client), the whole answer;
  direct  the full-text statement Vigil runs on SQLite (`SearchIndex.hits`: bm25 with its weights,
          snippet, LIMIT 500; the page runs it as the subquery of one statement that joins, orders,
          groups and cuts the hits), with the same MATCH string (each word a quoted prefix term),
          run with Python's sqlite3 on the same database file opened read-only, fetching every row.

p50 and p95 of both are printed, and p95 vigil - p95 direct against the goal (<= 5 ms).

With --postgres URL (an empty database on this machine, whose schema is dropped first) the archive
is made and served on PostgreSQL, and the peer is what Vigil sends there for a page: the tsvector
statement (`ts_rank`, LIMIT 500, no headline) and `ts_headline` for the first 20 hits (a page makes
headlines for the entries it shows only), each timed by psql (`\timing`, one session, results
fetched and dropped) after the pages: the peer's time of a query is the sum of its two.

    scripts/with-postgres.sh sh -c 'python3 bench/search_vs_direct.py --postgres "$VIGIL_TEST_POSTGRES_URL"'

Uncached: the search page is kept in the page cache under its query (as checked, so `a+b` and
`a%20b` are one entry) and there is no parameter or setting that passes it by. So every query is a
distinct string, and every answer must say `X-Cache: MISS` (the script stops if one does not).
The queries are drawn from the archive itself (seeded, so every run asks the same): 70% people's
names as the archive spells them ("Olga Petrova 57", "Ольга Петрова 57", "李伟 12": the name and
its case's number), 20% a word of the synthetic documents with a year ("torture 2013"), 10% one
word alone ("Petrova", "detained": thousands of hits, ranked before the 500 are kept).

An uncached search page does more than the FTS5 statement: the statement it runs joins the hits
to their documents (to filter, order and group translations) and gives back the page's 20; it
then reads those 20 with their actions, cases, countries and outcomes, and the filters' choices
(facets, kept), and renders the page. The difference is all of that;
a third line times searches that find nothing ("zqx1"…), the cost of the page around the results.

    python3 bench/search_vs_direct.py [--binary PATH] [--cases N ...] [--queries K]

The synthetic archive has about 4.2 documents a case (4.2 N - 80): --cases 2400 (the default)
makes about 10,000 documents; --cases 2400 23830 measures 10,000 and 100,000 (the larger archive
takes many minutes to make).
"""
import argparse, http.client, os, random, re, shutil, sqlite3, statistics, subprocess, sys, time, urllib.parse

from common import Serve, archive_env, load_archive, release_binary, scratch_dir

START, STOP = "\x02", "\x03"
# SearchIndex.hits on SQLite, as it is sent (start and stop bound).
FTS = ("SELECT document_id, -bm25(documents_fts, 0.0, 10.0, 5.0, 1.0, 5.0, 2.0) AS rank, "
       "snippet(documents_fts, -1, ?, ?, '…', 16) AS snip "
       "FROM documents_fts WHERE documents_fts MATCH ? ORDER BY rank DESC LIMIT 500")
WORDS = ["detained", "torture", "peaceful", "family", "release", "activism", "writing", "Prosecutor"]


def terms(q):
    """SearchIndex.terms: the words of a query, at most 12."""
    words = "".join(c if c.isalnum() or c in "-'’" else " " for c in q).split()
    return [w.strip("-'’") for w in words if w.strip("-'’")][:12]


def match(q):
    """The MATCH string SearchIndex.ftsMatch makes of the words: `"word"*` each."""
    return " ".join('"' + w.replace('"', "") + '"*' for w in terms(q))


def ts_query(q):
    """The to_tsquery text SearchIndex.tsQuery makes of the words: each a prefix, all of them."""
    return " & ".join(w.replace("'", "") + ":*" for w in terms(q))


def literal(text):
    return "'" + text.replace("'", "''") + "'"


# SearchIndex.hits and SearchIndex.snippets on PostgreSQL, as a page sends them.
PG_HITS = ("SELECT document_search.document_id AS document_id, ts_rank(document_search.tsv, to_tsquery('simple', {q})) AS rank, "
           "NULL AS snip FROM document_search WHERE document_search.tsv @@ to_tsquery('simple', {q}) ORDER BY rank DESC LIMIT 500")
PG_HEADLINES = ("SELECT document_id, ts_headline('simple', document_search.content, to_tsquery('simple', {q}), "
                "'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=30, MinWords=10') AS snip FROM document_search "
                "WHERE document_id IN ({ids}) AND tsv @@ to_tsquery('simple', {q})")


def psql(url, script, *flags):
    r = subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", *flags], input=script.encode(), capture_output=True)
    if r.returncode != 0:
        sys.exit("psql failed:\n" + r.stderr.decode()[-3000:])
    return r.stdout.decode()


def queries(people, k, seed=15):
    """`k` distinct queries (and five more to warm up with), drawn from the archive's names."""
    rng = random.Random(seed)
    names = sorted({n for n in people if n})
    singles = sorted({w for n in names for w in n.split() if not any(c.isdigit() for c in w)} | set(WORDS))
    years = [f"{w} {y}" for w in WORDS for y in range(2000, 2027)]
    for pool in (names, singles, years):
        rng.shuffle(pool)
    chosen = singles[:k // 10] + years[:k // 5]
    chosen += names[:k + 5 - len(chosen)]
    if len(chosen) < k + 5:
        sys.exit(f"this archive gives only {len(chosen) - 5} distinct queries: ask fewer, or more cases")
    warm, timed = chosen[-5:], chosen[:-5]
    rng.shuffle(timed)
    return warm, timed


def search(conn, q):
    """Milliseconds of one uncached search page, read whole."""
    t = time.perf_counter()
    conn.request("GET", "/en/urgent-actions?" + urllib.parse.urlencode({"q": q}))
    answer = conn.getresponse()
    answer.read()
    took = (time.perf_counter() - t) * 1000
    if answer.status != 200 or answer.getheader("X-Cache") != "MISS":
        sys.exit(f"?q={q} answered {answer.status}, X-Cache: {answer.getheader('X-Cache')}: not an uncached search")
    return took


def percentiles(xs):
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return q[49], q[94]


def report(index, direct_label, hits, vigil, direct, empty):
    """The lines a size prints, the same for both databases."""
    (v50, v95), (d50, d95), (e50, e95) = percentiles(vigil), percentiles(direct), percentiles(empty)
    print(f"  {len(vigil)} distinct queries, each rendered (X-Cache: MISS); {index} hits a query: median "
          f"{statistics.median(hits):.0f}, max {max(hits)} (LIMIT 500)")
    print(f"  {'':<44} {'p50':>9} {'p95':>9}")
    print(f"  {'vigil: GET /en/urgent-actions?q=, keep-alive':<44} {v50:>6.2f} ms {v95:>6.2f} ms")
    print(f"  {'direct: ' + direct_label:<44} {d50:>6.2f} ms {d95:>6.2f} ms")
    print(f"  {'vigil: a search that finds nothing':<44} {e50:>6.2f} ms {e95:>6.2f} ms")
    print(f"  p95 vigil - p95 direct: {v95 - d95:.2f} ms (goal <= 5 ms: {'met' if v95 - d95 <= 5 else 'NOT met'})")


def measure(binary, cases, k):
    work = scratch_dir()
    env = dict(archive_env(work), VIGIL_TODAY="2026-11-30")
    _, loaded = load_archive(binary, env, cases=cases)
    try:
        with Serve(binary, env, cwd=work) as server:
            con = sqlite3.connect(f"file:{urllib.parse.quote(env['VIGIL_DATABASE_PATH'])}?mode=ro", uri=True)
            documents = con.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            print(f"archive: {cases:,} cases, {documents:,} documents, database "
                  f"{os.path.getsize(env['VIGIL_DATABASE_PATH']) / 1e6:.0f} MB, made in {loaded:.1f} s")
            warm, timed = queries([n for row in con.execute("SELECT name, name_original FROM people") for n in row], k)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
            vigil, direct, hits = [], [], []
            for i, q in enumerate(warm + timed):
                took = search(conn, q)
                t = time.perf_counter()
                rows = con.execute(FTS, (START, STOP, match(q))).fetchall()
                took_direct = (time.perf_counter() - t) * 1000
                if i >= len(warm):
                    vigil.append(took); direct.append(took_direct); hits.append(len(rows))
            # The page around the results: a search that finds nothing (no FTS5 work to speak of).
            empty = [search(conn, f"zqx{i}") for i in range(max(2, min(k, 50)))]
            conn.close()
            con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("FTS5", "the FTS5 statement, sqlite3 " + sqlite3.sqlite_version, hits, vigil, direct, empty)


def measure_postgres(binary, cases, k, database_url):
    """B7 on PostgreSQL: the archive made and served there, beside the statements run by psql."""
    url = database_url.split("?")[0]
    if urllib.parse.urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"--postgres empties the database it is given: only one on this machine (127.0.0.1), not {url}")
    psql(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    work = scratch_dir()
    env = dict(archive_env(work), VIGIL_TODAY="2026-11-30", DATABASE_URL=database_url)
    try:
        _, loaded = load_archive(binary, env, cases=cases)
        # Settled, as a server that has run a while is: the new rows vacuumed (else autovacuum does
        # it during the timings: the page that finds nothing took 12 ms instead of 4.6), measured,
        # and written out.
        psql(url, "VACUUM ANALYZE;")
        psql(url, "CHECKPOINT;")
        version = psql(url, "SHOW server_version", "-t", "-A").strip()
        documents = int(psql(url, "SELECT COUNT(*) FROM documents", "-t", "-A"))
        print(f"archive: {cases:,} cases, {documents:,} documents, PostgreSQL {version}, made in {loaded:.1f} s")
        # The same queries as on SQLite, drawn from the archive's names.
        warm, timed = queries(psql(url, "SELECT name FROM people UNION SELECT name_original FROM people "
                                        "WHERE name_original IS NOT NULL", "-t", "-A").splitlines(), k)
        with Serve(binary, env, cwd=work) as server:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
            vigil = [search(conn, q) for q in warm + timed][len(warm):]
            empty = [search(conn, f"zqx{i}") for i in range(max(2, min(k, 50)))]
            conn.close()
        # The first 20 hits of each (untimed), then the two statements of each, timed by psql.
        script = "".join(f"\\echo ----\n{PG_HITS.format(q=literal(ts_query(q)))};\n" for q in warm + timed)
        found = [[line.split("\t")[0] for line in block.splitlines() if line]
                 for block in psql(url, script, "-t", "-A", "-F", "\t").split("----")[1:]]
        pages = [rows[:20] for rows in found]
        script = "\\timing on\n\\o /dev/null\n"
        for q, page in zip(warm + timed, pages):
            script += PG_HITS.format(q=literal(ts_query(q))) + ";\n"
            script += PG_HEADLINES.format(q=literal(ts_query(q)), ids=",".join(literal(i) for i in page) or "NULL") + ";\n"
        times = [float(x) for x in re.findall(r"^Time: ([0-9.]+) ms", psql(url, script), re.M)]
        if len(times) != 2 * len(pages):
            sys.exit(f"psql timed {len(times)} statements, not {2 * len(pages)}")
        direct = [times[2 * i] + times[2 * i + 1] for i in range(len(pages))][len(warm):]
        hits = [len(rows) for rows in found][len(warm):]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("tsvector", "tsvector + 20 headlines, psql", hits, vigil, direct, empty)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary")
    ap.add_argument("--cases", type=int, nargs="+", default=[2400], help="archive sizes in cases (about 4.2 documents each)")
    ap.add_argument("--queries", type=int, default=200, help="distinct searches timed at each size")
    ap.add_argument("--postgres", metavar="URL", help="make and serve the archive on this PostgreSQL database (emptied first)")
    a = ap.parse_args()
    binary = release_binary(a.binary and os.path.abspath(a.binary))
    print(f"binary {binary}")
    for cases in a.cases:
        if a.postgres:
            measure_postgres(binary, cases, a.queries, a.postgres)
        else:
            measure(binary, cases, a.queries)


if __name__ == "__main__":
    main()
