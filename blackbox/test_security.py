"""Black-box checks of the security review (issue 9) against the built binary: the development
mail viewer, form sizes, the page cache under hostile traffic, logs, and PostgreSQL with two
processes after a report."""
import json, os, re, subprocess, threading, time, urllib.parse, urllib.request

import pytest

from conftest import BIN, Server, Vigil, free_port, reset_postgres


def form_post(server, path, fields, cookies=None, headers=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if cookies:
        h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    h.update(headers or {})
    return server.request("POST", path, raw=urllib.parse.urlencode(fields).encode(), headers=h)


def csrf_and_cookie(server, path):
    """Opens a form page as a browser would: its CSRF token and the anonymous cookie it set."""
    with urllib.request.urlopen(server.base + path, timeout=30) as r:
        html = r.read().decode()
        cookie = r.headers.get("Set-Cookie", "")
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1).replace("&#43;", "+").replace("&#x2B;", "+")
    token = token.replace("&#61;", "=").replace("&#x3D;", "=").replace("&#47;", "/").replace("&#x2F;", "/")
    name, value = cookie.split(";")[0].split("=", 1)
    return token, {name: value}


def test_a_plain_serve_has_no_mail_viewer_and_the_takeover_fails_at_its_first_step(sqlite_vigil, server_factory):
    server = server_factory(sqlite_vigil).start()
    status, _ = server.request("GET", "/dev/outbox")
    assert status == 404


def test_the_mail_viewer_when_turned_on_answers_only_loopback_without_a_proxy(sqlite_vigil, tmp_path):
    sqlite_vigil.run("migrate", "--yes")
    log = open(tmp_path / "log", "wb")
    env = dict(sqlite_vigil.env, VIGIL_DEV_OUTBOX="1")
    server = Server(Vigil(env))
    server.proc = subprocess.Popen([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(server.port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(server)
        assert server.request("GET", "/dev/outbox")[0] == 200
        assert server.request("GET", "/dev/outbox", headers={"X-Forwarded-For": "203.0.113.1"})[0] == 404
        assert server.request("GET", "/dev/outbox", headers={"Forwarded": "for=203.0.113.1"})[0] == 404
    finally:
        server.stop()
        log.close()
    # Start-up says the viewer is on.
    assert "VIGIL_DEV_OUTBOX is on" in (tmp_path / "log").read_text(errors="replace")


def wait_healthy(server):
    deadline = time.time() + 30
    while time.time() < deadline:
        assert server.proc.poll() is None, "server exited"
        try:
            urllib.request.urlopen(server.base + "/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


def test_the_viewer_refuses_to_start_beside_a_mail_transport(sqlite_vigil):
    env = dict(sqlite_vigil.env, VIGIL_DEV_OUTBOX="1", VIGIL_SMTP_URL="smtp://127.0.0.1:2525")
    p = subprocess.run([BIN, "serve", "--port", str(free_port())], env=env, capture_output=True, timeout=60)
    assert p.returncode != 0 and b"VIGIL_DEV_OUTBOX" in p.stderr


def test_forms_take_kilobytes_and_huge_log_ins_do_not_grow_the_database(sqlite_vigil, server_factory):
    server = server_factory(sqlite_vigil).start()
    db = sqlite_vigil.env["VIGIL_DATABASE_PATH"]
    before = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
    token, cookie = csrf_and_cookie(server, "/login")
    statuses = set()
    for _ in range(20):
        status, _ = form_post(server, "/login", {"csrf": token, "email": "a" * 1_000_000 + "@example.org", "password": "x"}, cookie)
        statuses.add(status)
    assert statuses == {413}
    # Just under the form limit: refused without a row written.
    status, _ = form_post(server, "/login", {"csrf": token, "email": "a" * 60_000 + "@example.org", "password": "x"}, cookie)
    assert status == 401
    after = sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
    assert after - before < 100_000, (before, after)


def test_hostile_traffic_does_not_make_a_cached_pdf_render_again(sqlite_vigil, server_factory):
    """200 refused log-ins and 200 report posts while a cached PDF is fetched: it is rendered once."""
    sqlite_vigil.run("migrate", "--yes")
    sqlite_vigil.run("demo")
    server = server_factory(sqlite_vigil).start()
    pdf = "/urgent-actions/126-19/initial.pdf"
    caches = []

    def fetch():
        req = urllib.request.Request(server.base + pdf)
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status == 200
            r.read()
            caches.append(r.headers.get("X-Cache"))

    fetch()
    login_token, login_cookie = csrf_and_cookie(server, "/login")
    report_token, report_cookie = csrf_and_cookie(server, "/report?document=ua-77-26-0-en")
    stop = threading.Event()

    def fetcher():
        while not stop.is_set():
            fetch()
            time.sleep(0.05)

    t = threading.Thread(target=fetcher)
    t.start()
    try:
        for i in range(200):
            form_post(server, "/login", {"csrf": login_token, "email": f"nobody{i % 3}@example.org", "password": "wrong password"}, login_cookie)
            form_post(server, "/report", {"csrf": report_token, "document": "ua-77-26-0-en", "channel": "letter",
                                          "key": f"hostile-report-{i:04d}", "targets[]": "eg-public-prosecutor"}, report_cookie)
    finally:
        stop.set()
        t.join()
    fetch()
    assert caches[0] == "MISS"
    assert caches[1:] and all(c == "HIT" for c in caches[1:]), caches
    # The document page shows counts, so it does follow the reports.
    status, body = server.request("GET", "/urgent-actions/77-26/initial/en")
    assert status == 200 and b"actions reported for UA 77/26" in body


def test_no_log_line_carries_an_address_or_a_bound_value(sqlite_vigil, tmp_path):
    sqlite_vigil.run("migrate", "--yes")
    port = free_port()
    log = open(tmp_path / "log", "wb")
    env = dict(sqlite_vigil.env, LOG_LEVEL="trace")
    proc = subprocess.Popen([BIN, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(Vigil(env))
    server.port, server.base, server.proc = port, f"http://127.0.0.1:{port}", proc
    try:
        wait_healthy(server)
        token, cookie = csrf_and_cookie(server, "/signup")
        form_post(server, "/signup", {"csrf": token, "email": "secret.person@example.org", "display_name": "Secret Person",
                                      "password": "a long and private passphrase"}, cookie)
        token, cookie = csrf_and_cookie(server, "/login")
        form_post(server, "/login", {"csrf": token, "email": "secret.person@example.org", "password": "a long and private passphrase"}, cookie)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    text = (tmp_path / "log").read_text(errors="replace")
    assert "security event=login.failure" in text, text[-2000:]
    assert "secret.person" not in text and "private passphrase" not in text and "$2b$" not in text


def test_two_processes_on_postgresql_keep_answering_after_a_report(tmp_path):
    url = os.environ.get("VIGIL_TEST_POSTGRES_URL")
    assert url, "make test starts a PostgreSQL server and sets VIGIL_TEST_POSTGRES_URL"
    reset_postgres(url)
    env = {k: v for k, v in os.environ.items() if k != "VIGIL_DATABASE_PATH"}
    env.update(DATABASE_URL=url, LOG_LEVEL="warning", VIGIL_SECRET_KEY="k" * 48)
    vigil = Vigil(env)
    vigil.run("migrate", "--yes")
    vigil.run("demo")
    a, b = Server(vigil).start(), Server(vigil).start()
    try:
        token, cookie = csrf_and_cookie(a, "/report?document=ua-77-26-0-en")
        status, _ = form_post(a, "/report", {"csrf": token, "document": "ua-77-26-0-en", "channel": "letter",
                                             "key": "two-processes-report-1", "targets[]": "eg-public-prosecutor"}, cookie)
        assert status in (200, 303)
        deadline = time.time() + 5
        while True:
            answers = {}
            for s in (a, b):
                for path in ("/", "/urgent-actions/77-26/initial/en", "/api/v1/urgent-actions/77-26/totals", "/api/v1/totals"):
                    answers[(s.port, path)] = s.request("GET", path)
            assert all(st == 200 for st, _ in answers.values()), {k: v[0] for k, v in answers.items()}
            totals = [json.loads(answers[(s.port, "/api/v1/urgent-actions/77-26/totals")][1])["total"] for s in (a, b)]
            pages = [b"1 action reported for UA 77/26" in answers[(s.port, "/urgent-actions/77-26/initial/en")][1] for s in (a, b)]
            if totals == [1, 1] and all(pages):
                break
            assert time.time() < deadline, (totals, pages)
            time.sleep(0.2)
    finally:
        a.stop()
        b.stop()
