"""Observability (issue 14, item 6) against the built binary: `/metrics` on its own listener
(VIGIL_METRICS_ADDRESS), never on the public one; JSON log lines (VIGIL_LOG_FORMAT=json) that
carry each request's id, which the response sends back as X-Request-Id."""
import json, os, re, subprocess, time, urllib.error, urllib.parse, urllib.request

import pytest

from conftest import BIN, Vigil, free_port

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_exposition(text):
    """A small parser of the Prometheus text format 0.0.4: {(name, frozenset(labels)): value}, and
    the types. Fails on any line it cannot read, a sample without a TYPE, or a histogram whose
    buckets are not cumulative up to +Inf == _count."""
    assert text.endswith("\n")
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert re.match(r"^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$", line), line
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, f"{name} typed twice"
            types[name] = kind
            continue
        assert line and not line.startswith("#"), repr(line)
        m = SAMPLE.match(line)
        assert m, f"cannot parse {line!r}"
        name, label_text, value = m.groups()
        labels = {}
        if label_text:
            pos = 0
            while pos < len(label_text):
                lm = LABEL.match(label_text, pos)
                assert lm, f"bad labels in {line!r}"
                labels[lm.group(1)] = lm.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
                pos = lm.end()
        family = name
        if name not in types:
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert types.get(family) == "histogram", f"{name} has no TYPE"
        v = float(value)  # "+Inf", "NaN" parse too
        samples[(name, frozenset(labels.items()))] = v
    for family, kind in types.items():
        if kind != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == family + "_bucket":
                rest = frozenset((k, x) for k, x in labels if k != "le")
                series.setdefault(rest, []).append((float(dict(labels)["le"]), v))
        for rest, buckets in series.items():
            buckets.sort()
            counts = [c for _, c in buckets]
            assert counts == sorted(counts), f"{family} buckets not cumulative"
            assert buckets[-1][0] == float("inf")
            assert samples[(family + "_count", rest)] == buckets[-1][1]
            assert (family + "_sum", rest) in samples
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def get(url, headers=None, method="GET"):
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def wait_ready(proc, base):
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.fixture
def env(tmp_path):
    e = {k: v for k, v in os.environ.items()
         if k not in ("DATABASE_URL", "VIGIL_METRICS_ADDRESS", "VIGIL_LOG_FORMAT", "VIGIL_SECRET_KEY")}
    e["VIGIL_DATABASE_PATH"] = str(tmp_path / "vigil.sqlite")
    e["VIGIL_SECRET_FILE"] = str(tmp_path / "secret")
    e["LOG_LEVEL"] = "warning"
    vigil = Vigil(e)
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    return e


def test_metrics_on_their_own_listener_and_json_log_lines(env, tmp_path):
    port, metrics_port = free_port(), free_port()
    env = dict(env, LOG_LEVEL="trace", VIGIL_LOG_FORMAT="json", VIGIL_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}")
    base, metrics = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"
    out, err = open(tmp_path / "stdout", "wb"), open(tmp_path / "stderr", "wb")
    proc = subprocess.Popen([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(port)], env=env, stdout=out, stderr=err)
    try:
        wait_ready(proc, base)
        # A page twice: rendered, then from the cache.
        page = "/en/urgent-actions/77-26/initial"
        s1, h1, _ = get(base + page)
        s2, h2, _ = get(base + page)
        assert (s1, s2) == (200, 200) and h1["X-Cache"] == "MISS" and h2["X-Cache"] == "HIT"
        ids = [h1["X-Request-Id"], h2["X-Request-Id"]]
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", i) for i in ids) and ids[0] != ids[1]
        # A client's own id is not believed (no trusted proxy here); a hostile one neither.
        for sent in ("client-chosen", "x" * 100):
            _, h, _ = get(base + "/healthz", headers={"X-Request-Id": sent})
            assert h["X-Request-Id"] != sent and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", h["X-Request-Id"])
        status, headers, body = get(base + "/urgent-actions/77-26/initial.pdf")
        assert status == 200 and body.startswith(b"%PDF")
        # A report, through the group commit.
        with urllib.request.urlopen(base + "/report?document=ua-77-26-0-en", timeout=30) as r:
            form = r.read().decode()
            cookie = r.headers.get("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        token = token.replace("&#43;", "+").replace("&#x2B;", "+").replace("&#61;", "=").replace("&#x3D;", "=")
        token = token.replace("&#47;", "/").replace("&#x2F;", "/")
        data = urllib.parse.urlencode({"csrf": token, "document": "ua-77-26-0-en", "channel": "letter",
                                       "key": "metrics-report-0001", "targets[]": "eg-public-prosecutor"}).encode()
        req = urllib.request.Request(base + "/report", data=data, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200 and "thanks=new" in r.url
        # A sign-up: its address and password must reach no log line.
        with urllib.request.urlopen(base + "/signup", timeout=30) as r:
            form = r.read().decode()
            cookie = r.headers.get("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        token = token.replace("&#43;", "+").replace("&#x2B;", "+").replace("&#61;", "=").replace("&#x3D;", "=")
        token = token.replace("&#47;", "/").replace("&#x2F;", "/")
        data = urllib.parse.urlencode({"csrf": token, "email": "secret.person@example.org", "display_name": "Secret Person",
                                       "password": "a long and private passphrase"}).encode()
        req = urllib.request.Request(base + "/signup", data=data, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
        # Never on the public listener.
        assert get(base + "/metrics")[0] == 404
        assert get(base + "/en/metrics")[0] == 404

        status, headers, body = get(metrics + "/metrics")
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = body.decode()
        samples, types = parse_exposition(text)
        assert value(samples, "vigil_build_info", version=re.search(r'version="([^"]+)"', text).group(1)) == 1
        assert abs(value(samples, "vigil_process_start_time_seconds") - time.time()) < 600
        # Swift concurrency on Dispatch's threads unless asked for (docs/operations.md, "Install").
        assert value(samples, "vigil_concurrency_on_event_loops") == 0
        assert value(samples, "vigil_http_requests_total", route="document", status="200") == 2
        assert value(samples, "vigil_http_requests_total", route="download", status="200") == 1
        assert value(samples, "vigil_http_requests_total", route="report", status="303") == 1
        assert value(samples, "vigil_http_requests_total", route="unmatched", status="404") >= 2
        assert value(samples, "vigil_http_request_duration_seconds_count", route="document") == 2
        assert value(samples, "vigil_http_request_duration_seconds_bucket", route="document", le="10") == 2
        assert types["vigil_http_request_duration_seconds"] == "histogram"
        assert value(samples, "vigil_page_cache_hits_total") >= 1
        assert value(samples, "vigil_page_cache_misses_total") >= 2
        assert value(samples, "vigil_page_cache_bytes") > 0
        assert value(samples, "vigil_document_render_seconds_count", kind="pdf", document="urgent_action") == 1
        assert value(samples, "vigil_report_batch_size_count") == 1
        assert value(samples, "vigil_report_batch_commit_seconds_count") == 1
        assert value(samples, "vigil_report_batch_acquire_seconds_count") == 1
        assert value(samples, "vigil_mail_outbox_pending") >= 1, "the sign-up's confirmation waits in the outbox"
        assert value(samples, "vigil_http_requests_in_flight") == 0
        # No address, path or id in any label.
        for (name, labels), _ in samples.items():
            for k, v in labels:
                assert "/" not in v and "@" not in v and "77-26" not in v, (name, k, v)
        # The listener answers only GET /metrics.
        assert get(metrics + "/")[0] == 404
        assert get(metrics + "/metrics/x")[0] == 404
        assert get(metrics + "/metrics", method="POST")[0] == 404
        assert get(metrics + "/metrics?debug=1")[0] == 200
    finally:
        proc.terminate()
        proc.wait(30)
        out.close()
        err.close()
    assert proc.returncode == 0
    lines = (tmp_path / "stderr").read_text().splitlines()
    assert lines, "the server logged nothing"
    seen_ids = set()
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert set(entry) == {"time", "level", "label", "message", "metadata"}, entry
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
        assert entry["level"] in ("trace", "debug", "info", "notice", "warning", "error", "critical")
        # A request's own line (debug): method, route name, status; never its path.
        if re.fullmatch(r"(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|OTHER) [A-Za-z]+ \d{3}", entry["message"]):
            assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", entry["metadata"].get("request-id", "")), entry
            assert re.fullmatch(r"\d+\.\d", entry["metadata"]["duration_ms"])
            seen_ids.add(entry["metadata"]["request-id"])
        assert "@" not in line and "secret.person" not in line and "private passphrase" not in line, "no address or password"
        assert "77-26" not in line and "metrics-report" not in line, "no path and no report key in a log line"
    assert set(ids) <= seen_ids, "each request's log line carries the id its response sent"
    assert any(f"Metrics on http://127.0.0.1:{metrics_port}/metrics" in json.loads(l)["message"] for l in lines)
    # Every log line went to standard error.
    assert (tmp_path / "stdout").read_text().strip() == ""


def test_a_malformed_metrics_address_stops_the_start_and_a_public_one_is_warned_about(env, tmp_path):
    for bad in ("9464", "127.0.0.1", "http://127.0.0.1:9464", "127.0.0.1:99999"):
        p = subprocess.run([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(free_port())],
                           env=dict(env, VIGIL_METRICS_ADDRESS=bad), capture_output=True, timeout=60)
        assert p.returncode != 0 and b"VIGIL_METRICS_ADDRESS must be host:port" in p.stderr, (bad, p.stderr[-500:])
    p = subprocess.run([BIN, "serve"], env=dict(env, VIGIL_LOG_FORMAT="yaml"), capture_output=True, timeout=60)
    assert p.returncode != 0 and b"VIGIL_LOG_FORMAT" in p.stderr
    # A non-loopback address is served, with a warning in the log.
    port, metrics_port = free_port(), free_port()
    proc = subprocess.Popen([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(port)],
                            env=dict(env, VIGIL_LOG_FORMAT="json", VIGIL_METRICS_ADDRESS=f"0.0.0.0:{metrics_port}"),
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "stderr", "wb"))
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}")
        assert get(f"http://127.0.0.1:{metrics_port}/metrics")[0] == 200
    finally:
        proc.terminate()
        proc.wait(30)
    warnings = [json.loads(l) for l in (tmp_path / "stderr").read_text().splitlines()]
    assert any(w["level"] == "warning" and "not a loopback address" in w["message"] for w in warnings), warnings
    # A port already taken stops the start.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        p = subprocess.run([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(free_port())],
                           env=dict(env, VIGIL_METRICS_ADDRESS=f"127.0.0.1:{taken}"), capture_output=True, timeout=60)
        assert p.returncode != 0 and b"metrics listener" in p.stderr


def test_tasks_run_on_the_event_loops_when_asked(env, tmp_path):
    """VIGIL_TASKS_ON_EVENT_LOOPS=1: the hook is set and a task is seen running on an event loop."""
    port, metrics_port = free_port(), free_port()
    env = dict(env, VIGIL_TASKS_ON_EVENT_LOOPS="1", VIGIL_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}")
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=open(tmp_path / "stdout", "wb"), stderr=open(tmp_path / "stderr", "wb"))
    try:
        wait_ready(proc, base)
        assert get(base + "/en/urgent-actions/77-26/initial")[0] == 200
        samples, _ = parse_exposition(get(f"http://127.0.0.1:{metrics_port}/metrics")[2].decode())
        assert value(samples, "vigil_concurrency_on_event_loops") == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
