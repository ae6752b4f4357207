"""Operations (issue 14): Vigil installed and run as an operator would.

- the `make dist` tarball, unpacked elsewhere, runs from / with the data elsewhere; so does a
  `make install` tree; a binary copied alone still migrates and says what it lacks to serve;
- `vigil backup` while the server takes writes, `vigil restore` into an empty place: every write
  acknowledged before the backup began is in it, and the restored site serves;
- SIGTERM: a request in flight is answered whole, the process exits 0, new connections are refused;
- `vigil secret rotate` locks nobody out, and `drop-previous` after the next log-in neither;
- mail queued while the relay is down is delivered once when it is back, across a restart;
- bounces and complaints that come back by mail suppress their address, forged ones nobody.
"""
import html
import http.cookiejar
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import BIN, Server, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def base_env(tmp, **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "VIGIL_DATABASE_PATH", "VIGIL_SECRET_FILE", "VIGIL_SECRET_KEY", "VIGIL_HOME")}
    env.update(VIGIL_DATABASE_PATH=str(tmp / "data" / "vigil.sqlite"), LOG_LEVEL="warning")
    env.update(extra)
    (tmp / "data").mkdir(parents=True, exist_ok=True)
    return env


def run(binary, *args, env, cwd="/", check=True):
    r = subprocess.run([binary, *args], env=env, cwd=cwd, capture_output=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"vigil {' '.join(args)} failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    return r


def serve(binary, env, cwd="/"):
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--hostname", "127.0.0.1", "--port", str(port)], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("server exited: " + proc.stderr.read().decode()[-2000:])
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not become ready")


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def get(base, path, headers=None):
    req = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def check_site(binary, env):
    """Migrate, load the demo and serve from /, then read the pages a visitor reads first."""
    run(binary, "migrate", "--yes", env=env)
    run(binary, "demo", "--if-empty", env=env)
    proc, base = serve(binary, env)
    try:
        status, body, _ = get(base, "/en/")
        assert status == 200 and "Li Wei" in body.decode(), body[:300]
        status, css, headers = get(base, "/css/site.css")
        assert status == 200 and len(css) > 1000 and "text/css" in headers.get("Content-Type", "")
        status, body, _ = get(base, "/api/v1/openapi.json")
        assert status == 200 and json.loads(body)["openapi"].startswith("3.")
        status, body, _ = get(base, "/readyz")
        assert status == 200 and json.loads(body)["status"] == "ready"
        status, pdf, _ = get(base, "/pack.pdf")
        assert status == 200 and pdf.startswith(b"%PDF"), "the documents render from the installed fonts and templates"
    finally:
        stop(proc)
    data = os.path.dirname(env["VIGIL_DATABASE_PATH"])
    secret = os.path.join(data, ".vigil-secret")
    assert os.path.exists(secret), "the secret is made beside the database, not in the working directory"
    assert mode(secret) == 0o600 and mode(env["VIGIL_DATABASE_PATH"]) == 0o600, "the data is its owner's only"


def test_the_dist_tarball_runs_from_anywhere(tmp_path):
    out = subprocess.run([os.path.join(ROOT, "scripts/dist.sh"), BIN, str(tmp_path / "out")],
                         capture_output=True, check=True, timeout=300).stdout.decode().strip()
    assert re.search(r"/vigil-\d+\.\d+\.\d+-linux-[a-z0-9_]+\.tar\.gz$", out), out
    with tarfile.open(out) as tar:
        names = tar.getnames()
        top = names[0].split("/")[0]
        for want in ["bin/vigil", "LICENSE", "README.md", "share/vigil/Resources/Views/layout", "share/vigil/Resources/Locales/ar.json",
                     "share/vigil/Resources/Data/demo.json", "share/vigil/Public/css/site.css",
                     "share/vigil/systemd/vigil.service", "share/vigil/vigil.env.example", "share/doc/vigil/SECURITY.md"]:
            assert f"{top}/{want}" in names, want
        assert all(m.uid == 0 and m.gid == 0 for m in tar.getmembers())
        tar.extractall(tmp_path / "unpacked", filter="tar")
    binary = str(tmp_path / "unpacked" / top / "bin" / "vigil")
    check_site(binary, base_env(tmp_path))


def test_an_installed_tree_runs_from_anywhere_and_a_lone_binary_says_what_it_lacks(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run([os.path.join(ROOT, "scripts/install.sh"), BIN, str(prefix)], capture_output=True, check=True, timeout=300)
    check_site(str(prefix / "bin" / "vigil"), base_env(tmp_path))

    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(BIN, alone / "vigil")
    env = base_env(tmp_path / "alone", )
    # Commands that render nothing run without the resources.
    run(str(alone / "vigil"), "migrate", "--yes", env=env)
    assert run(str(alone / "vigil"), "version", env=env).stdout.decode().startswith("vigil ")
    r = run(str(alone / "vigil"), "serve", "--port", str(free_port()), env=env, check=False)
    assert r.returncode != 0 and b"Cannot find Vigil's resources" in r.stderr and b"VIGIL_HOME" in r.stderr
    # VIGIL_HOME names them.
    env["VIGIL_HOME"] = str(prefix / "share" / "vigil")
    run(str(alone / "vigil"), "demo", "--if-empty", env=env)
    env["VIGIL_HOME"] = str(tmp_path)
    r = run(str(alone / "vigil"), "demo", env=env, check=False)
    assert r.returncode != 0 and b"VIGIL_HOME" in r.stderr


def api_writer(base, token, stop_at, acknowledged, failures):
    """Creates targets one after another until `stop_at` is set; records each acknowledged id with its time."""
    n = 0
    while not stop_at.is_set():
        n += 1
        ident = f"load-{threading.get_ident() % 10000}-{n}"
        body = json.dumps({"id": ident, "title": "Minister", "organisation": "Ministry", "country": "FR",
                           "address": ["1 rue de l'Exemple", "Paris"], "languages": ["fr"],
                           "salutation": {"fr": "Monsieur le Ministre"}}).encode()
        req = urllib.request.Request(base + "/api/v1/targets", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                if r.status in (200, 201):
                    acknowledged.append((time.monotonic(), ident))
        except urllib.error.HTTPError as e:
            failures.append((e.code, e.read()[:200]))
        except OSError as e:
            failures.append(("os", str(e)))


def test_backup_while_serving_then_restore_into_an_empty_place(tmp_path):
    env = base_env(tmp_path)
    run(BIN, "migrate", "--yes", env=env)
    run(BIN, "demo", env=env)
    token = run(BIN, "token", "create", "--role", "publisher", "--scope", "write", "--label", "backup test", env=env).stdout.decode().split()[0]
    proc, base = serve(BIN, env)
    acknowledged, failures, stop_at = [], [], threading.Event()
    writers = [threading.Thread(target=api_writer, args=(base, token, stop_at, acknowledged, failures)) for _ in range(4)]
    try:
        for w in writers:
            w.start()
        time.sleep(2)
        began = time.monotonic()
        backup = tmp_path / "backup.sqlite"
        r = run(BIN, "backup", str(backup), env=env)
        ended = time.monotonic()
        out = r.stdout.decode()
        assert "integrity ok" in out and ".vigil-secret" in out, out
        time.sleep(1)
    finally:
        stop_at.set()
        for w in writers:
            w.join()
        stop(proc)
    assert not failures, failures[:3]
    before = {ident for at, ident in acknowledged if at < began}
    after = {ident for at, ident in acknowledged if at > ended}
    assert len(before) > 10 and after, (len(before), len(after))
    assert mode(backup) == 0o600
    # A second backup to the same name is refused; nothing is replaced.
    r = run(BIN, "backup", str(backup), env=env, check=False)
    assert r.returncode != 0 and b"exists" in r.stderr

    # Restore elsewhere, with the secret copied as the docs say.
    restored = tmp_path / "restored"
    renv = base_env(restored)
    r = run(BIN, "restore", str(backup), env=renv)
    assert b"no server secret" in r.stdout, r.stdout
    shutil.copy(tmp_path / "data" / ".vigil-secret", restored / "data" / ".vigil-secret")
    r = run(BIN, "restore", str(backup), env=renv, check=False)
    assert r.returncode != 0 and b"already holds a database" in r.stderr, "never over a database"
    integrity = subprocess.run(["sqlite3", renv["VIGIL_DATABASE_PATH"], "PRAGMA integrity_check;"], capture_output=True).stdout
    assert integrity.strip() == b"ok"
    ids = {row for row in subprocess.run(["sqlite3", renv["VIGIL_DATABASE_PATH"], "SELECT id FROM targets WHERE id LIKE 'load-%';"],
                                         capture_output=True, check=True).stdout.decode().split()}
    assert before <= ids, f"{len(before - ids)} writes acknowledged before the backup began are missing"
    assert not (after & ids), "a write acknowledged after the backup ended cannot be in it"
    proc, base = serve(BIN, renv)
    try:
        assert get(base, "/en/")[0] == 200
        assert get(base, "/api/v1/targets/" + sorted(before)[0])[0] == 200
    finally:
        stop(proc)

    # Junk and newer schemas are refused before anything is written.
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 10)
    r = run(BIN, "restore", str(junk), env=base_env(tmp_path / "r2"), check=False)
    assert r.returncode != 0 and b"not an SQLite database" in r.stderr
    assert not (tmp_path / "r2" / "data" / "vigil.sqlite").exists()
    newer = tmp_path / "newer.sqlite"
    shutil.copy(backup, newer)
    subprocess.run(["sqlite3", str(newer), "INSERT INTO _fluent_migrations (id, name, batch, created_at, updated_at) "
                    "VALUES ('00000000-0000-0000-0000-000000000001', 'VigilServer.FromTheFuture', 99, NULL, NULL);"], check=True)
    r = run(BIN, "restore", str(newer), env=base_env(tmp_path / "r3"), check=False)
    assert r.returncode != 0 and b"newer Vigil" in r.stderr
    assert not (tmp_path / "r3" / "data" / "vigil.sqlite").exists()


def test_sigterm_finishes_the_request_in_flight_and_exits_cleanly(tmp_path):
    env = base_env(tmp_path)
    run(BIN, "migrate", "--yes", env=env)
    run(BIN, "demo", env=env)
    proc, base = serve(BIN, env)
    port = int(base.rsplit(":", 1)[1])
    try:
        # A letter-writing pack of every action takes a while to render in a debug build.
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /pack.pdf HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAccept-Language: en\r\n\r\n")
        time.sleep(0.05)
        proc.send_signal(15)
        chunks = []
        sock.settimeout(60)
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
        sock.close()
        answer = b"".join(chunks)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        assert body.startswith(b"%PDF") and body.rstrip().endswith(b"%%EOF"), "the answer in flight arrives whole"
        assert proc.wait(40) == 0, proc.stderr.read().decode()[-2000:]
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        stop(proc)


class Browser:
    """Cookies and the CSRF field, as a browser keeps them."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def open(self, path, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers={"Accept-Language": "en"})
        try:
            with self.opener.open(req, timeout=60) as r:
                return r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers

    def post(self, form_path, action, fields):
        status, page, headers = self.open(form_path)
        while status in (301, 302, 303, 307):
            form_path = headers["Location"]
            status, page, headers = self.open(form_path)
        csrf = html.unescape(re.search(r'name="csrf" value="([^"]*)"', page).group(1))
        return self.open(action, dict(fields, csrf=csrf))


def log_in(base, email, password):
    status, page, headers = Browser(base).post("/en/login", "/login", {"email": email, "password": password})
    return status, headers.get("Location", "")


def test_rotating_the_secret_locks_nobody_out(tmp_path):
    env = base_env(tmp_path)
    run(BIN, "migrate", "--yes", env=env)
    invite = run(BIN, "user", "create", "--email", "ed@example.org", "--role", "editor", env=env).stdout.decode()
    link = re.search(r"https?://\S+", invite).group(0)
    path = urllib.parse.urlsplit(link)
    password = "correct horse battery staple"
    proc, base = serve(BIN, env)
    try:
        b = Browser(base)
        token = urllib.parse.parse_qs(path.query)["token"][0]
        status, _, _ = b.post(path.path + "?" + path.query, "/password-reset/new", {"token": token, "password": password})
        assert status in (200, 303), status
        assert log_in(base, "ed@example.org", password)[0] == 303
        assert log_in(base, "ed@example.org", password + "x")[0] == 401
    finally:
        stop(proc)
    secret = tmp_path / "data" / ".vigil-secret"
    first_key = secret.read_text().split()
    assert len(first_key) == 1

    out = run(BIN, "secret", "rotate", env=env).stdout.decode()
    assert "new key" in out and "Restart" in out
    keys = secret.read_text().split()
    assert len(keys) == 2 and keys[1] == first_key[0] and mode(secret) == 0o600
    status = run(BIN, "secret", "status", env=env).stdout.decode()
    assert "0 under the current key, 1 under a previous key" in status, status
    r = run(BIN, "secret", "drop-previous", env=env, check=False)
    assert r.returncode != 0 and b"still need a previous key" in r.stderr, "nobody is locked out by mistake"

    proc, base = serve(BIN, env)
    try:
        assert log_in(base, "ed@example.org", password + "x")[0] == 401
        assert log_in(base, "ed@example.org", password)[0] == 303, "the password made before the rotation still works"
    finally:
        stop(proc)
    status = run(BIN, "secret", "status", env=env).stdout.decode()
    assert "1 under the current key, 0 under a previous key" in status, "the log-in moved the hash to the new key"
    run(BIN, "secret", "drop-previous", env=env)
    assert secret.read_text().split() == keys[:1]
    proc, base = serve(BIN, env)
    try:
        assert log_in(base, "ed@example.org", password)[0] == 303
    finally:
        stop(proc)


def sqlite(db, sql):
    return subprocess.run(["sqlite3", db, sql], capture_output=True, check=True).stdout.decode().strip()


def start_sink(mail_dir, port):
    """The SMTP test server on `port`, storing into `mail_dir`; returns once it listens."""
    sink = subprocess.Popen([sys.executable, os.path.join(ROOT, "blackbox", "smtp_sink.py"), str(mail_dir), str(port), str(free_port())],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return sink


def test_mail_queued_while_the_relay_is_down_is_delivered_once_after_a_restart(tmp_path):
    smtp_port = free_port()
    env = base_env(tmp_path, VIGIL_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", VIGIL_MAIL_FROM="Vigil <vigil@example.org>")
    db = env["VIGIL_DATABASE_PATH"]
    run(BIN, "migrate", "--yes", env=env)
    addresses = [f"outage{i}@example.org" for i in range(5)]
    for a in addresses:
        run(BIN, "user", "create", "--email", a, "--role", "editor", env=env)
    # The relay is down: every message is tried, fails, and waits for its next attempt.
    proc, base = serve(BIN, env)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and sqlite(db, "SELECT count(*) FROM mail_outbox WHERE attempts >= 1") != "5":
            time.sleep(0.3)
        assert sqlite(db, "SELECT count(*) FROM mail_outbox WHERE attempts >= 1 AND status = 'pending' AND last_error IS NOT NULL") == "5"
    finally:
        stop(proc)
    assert proc.returncode == 0
    # The relay comes back while Vigil is stopped; an hour passes (the back-off); Vigil starts again.
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    sink = start_sink(mail_dir, smtp_port)
    try:
        sqlite(db, "UPDATE mail_outbox SET next_attempt_at = next_attempt_at - 3600")
        proc, base = serve(BIN, env)
        try:
            deadline = time.time() + 60
            while time.time() < deadline and len(list(mail_dir.glob("*.rcpt"))) < 5:
                time.sleep(0.3)
            time.sleep(6)  # beyond one more mail interval: a second send would show now
            recipients = sorted(open(p).read().splitlines()[1] for p in mail_dir.glob("*.rcpt"))
            assert recipients == sorted(addresses), recipients
            assert sqlite(db, "SELECT count(*) FROM mail_outbox WHERE status = 'sent'") == "5"
        finally:
            stop(proc)
    finally:
        sink.terminate()
        sink.wait(10)


def dsn(envelope_to, recipient, action="failed", status="5.1.1"):
    """A delivery status notification (RFC 3464) as Postfix writes one."""
    return f"""Return-Path: <>
Delivered-To: {envelope_to}
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {envelope_to}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"

--BOUND
Content-Type: text/plain

Your message could not be delivered.

--BOUND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--BOUND--
""".replace("\n", "\r\n").encode()


def arf(return_path, recipient):
    """A complaint (RFC 5965) from a provider's feedback loop, with the original's headers."""
    return f"""From: fbl@provider.example
To: abuse@example.org
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="P"

--P
Content-Type: text/plain

This is an abuse report.

--P
Content-Type: message/feedback-report

Feedback-Type: abuse
Version: 1

--P
Content-Type: text/rfc822-headers

Return-Path: <{return_path}>
From: Vigil <vigil@example.org>
To: {recipient}
Subject: Invitation

--P--
""".encode()


def test_bounces_and_complaints_that_come_back_by_mail_suppress_their_address_and_forgeries_do_not(tmp_path):
    smtp_port = free_port()
    env = base_env(tmp_path, VIGIL_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", VIGIL_MAIL_FROM="Vigil <vigil@example.org>",
                   VIGIL_MAIL_BOUNCE_ADDRESS="bounces@example.org")
    run(BIN, "migrate", "--yes", env=env)
    people = ["ana.gone@example.org", "bo.complains@example.org", "cy.stays@example.org"]
    for a in people:
        run(BIN, "user", "create", "--email", a, "--role", "editor", env=env)
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    # The relay listens before Vigil starts (a refused first try waits a minute to retry).
    sink = start_sink(mail_dir, smtp_port)
    try:
        proc, _ = serve(BIN, env)
        try:
            deadline = time.time() + 120
            while time.time() < deadline and len(list(mail_dir.glob("*.rcpt"))) < 3:
                time.sleep(0.3)
        finally:
            stop(proc)
    finally:
        sink.terminate()
        sink.wait(10)
    # Each message's envelope sender is the bounce address with a tag that does not show its recipient.
    senders = {}
    for p in mail_dir.glob("*.rcpt"):
        lines = open(p).read().splitlines()
        senders[lines[1]] = lines[0]
    assert sorted(senders) == sorted(people)
    for to, sender in senders.items():
        assert re.fullmatch(r"bounces\+[0-9a-f]{20}@example\.org", sender), sender
        assert to.split("@")[0] not in sender
    assert len(set(senders.values())) == 3

    def bounce(message, *args):
        r = subprocess.run([BIN, "mail", "bounce", *args], input=message, env=env, capture_output=True, timeout=120, cwd="/")
        out = r.stdout.decode() + r.stderr.decode()
        assert r.returncode == 0, out
        assert "@" not in out, f"the mail server's log would name an address: {out}"
        return out

    def status():
        return run(BIN, "mail", "status", env=env).stdout.decode()

    ana, bo, cy = people
    # Forgeries first: Ana's tag on a report about Cy; a report with no tag; Cy's own tag but only
    # a delay; an automatic reply.
    assert "0 addresses suppressed" in bounce(dsn(senders[ana], cy))
    assert "0 addresses suppressed" in bounce(dsn("bounces@example.org", cy))
    assert "not failed for good" in bounce(dsn(senders[cy], cy, action="delayed", status="4.4.1"))
    reply = f"To: {senders[cy]}\r\nFrom: {cy}\r\nAuto-Submitted: auto-replied\r\nSubject: Away\r\n\r\nBack on Monday.\r\n".encode()
    assert "Not a report" in bounce(reply)
    assert "Suppressed addresses: none." in status()
    # The real ones: a hard bounce for Ana (the recipient as Postfix passes it), a complaint by Bo.
    assert "A bounce: 1 address suppressed (1 newly)" in bounce(dsn("postmaster@example.org", ana), "--recipient", senders[ana])
    assert "A complaint: 1 address suppressed (1 newly)" in bounce(arf(senders[bo], bo))
    assert "Suppressed addresses: bounce 1, complaint 1." in status()
    # The same bounce again changes nothing.
    assert "(0 newly)" in bounce(dsn("postmaster@example.org", ana), "--recipient", senders[ana])
    # Without a bounce address the command refuses rather than trust an untagged report.
    plain = {k: v for k, v in env.items() if k != "VIGIL_MAIL_BOUNCE_ADDRESS"}
    r = subprocess.run([BIN, "mail", "bounce"], input=dsn(senders[cy], cy), env=plain, capture_output=True, timeout=120, cwd="/")
    assert r.returncode != 0 and b"VIGIL_MAIL_BOUNCE_ADDRESS is not set" in r.stdout + r.stderr
    assert "bounce 1, complaint 1" in status()


def test_a_command_prints_its_answer_on_standard_output_and_its_log_on_standard_error(tmp_path):
    env = base_env(tmp_path, LOG_LEVEL="info")
    run(BIN, "migrate", "--yes", env=env)
    r = run(BIN, "token", "create", "--role", "publisher", "--scope", "write", "--label", "script", env=env)
    out, err = r.stdout.decode(), r.stderr.decode()
    # A script takes the first line: the token, not a log line.
    assert re.fullmatch(r"vgl_[A-Za-z0-9_-]{43}", out.splitlines()[0]), out
    assert "token.created" in err and "token.created" not in out
