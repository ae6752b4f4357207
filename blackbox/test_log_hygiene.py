"""Log hygiene (issue 14, item 13): sentinel secrets planted through every flow that handles one,
then looked for in the logs and in the database.

`vigil serve` runs at LOG_LEVEL=trace (the most verbose: Vapor logs each request at debug and
trace, PostgresNIO each message), once with text log lines and once with JSON lines
(VIGIL_LOG_FORMAT=json, when the server knows it), on SQLite and, when VIGIL_TEST_POSTGRES_URL is
set, on PostgreSQL; its standard output and error go to files. A supporter signs up, confirms the
address from the development outbox, logs in with a wrong and a right password, reports an
action; a visitor reports one and follows from the report form, and follows a case by e-mail
(confirmation link, data link); the supporter resets the password from the mailed link, changes
it, changes the address, exports and deletes the account. The newsroom: `vigil user create` (its
set-password link), the password chosen, a log-in, TOTP enrolment (the secret read from the
page, the codes computed here), a log-in with the next code and one with a recovery code, new
recovery codes, a wrong password at re-authentication, an API token made in the newsroom and two
with `vigil token create` (a write and a published update with one, a write refused for a read
token and for an unknown one), an invitation, a preview link. The update's alert carries an
unsubscribe link, which is used. Last, sign-ups with one address at once (on PostgreSQL they
meet the unique index).

Then none of the sentinels — every password, address and name, token, link token, TOTP secret,
code and recovery code, cookie value, CSRF token — may appear in the server's logs, as written,
percent-encoded or HTML-escaped, nor in a hexadecimal dump (of a request body, of a row), where
even 8 characters in a row of its random part count; nor in the log lines of the commands
(`vigil user create` and `vigil token create` print their link and token to their operator on
standard output, on purpose: only their log lines are checked). In the database: what is stored
hashed or sealed (passwords, API tokens, session and CSRF cookies, recovery codes, preview links,
the TOTP secret) never appears as written, anywhere in its bytes; the mailed link tokens only in
the mail outbox (the mail must carry them); addresses are expected.
"""
import base64
import hashlib
import hmac
import html as htmllib
import json
import os
import re
import sqlite3
import struct
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest

from conftest import BIN, Vigil, free_port, reset_postgres, storages
from httpkit import Client, form_fields

# A log line of the console's text format: `[ label ] [ LEVEL ] message …`.
TEXT_LOG_LINE = re.compile(r"^\[ [^\]]+ \] \[ (TRACE|DEBUG|INFO|NOTICE|WARNING|ERROR|CRITICAL) \]")


def log_formats():
    """text, and json when the built server knows VIGIL_LOG_FORMAT (it refuses a value it does not know)."""
    try:
        p = subprocess.run([BIN, "export"], env=dict(os.environ, VIGIL_LOG_FORMAT="no-such-format",
                                                     VIGIL_DATABASE_PATH="/nonexistent/x.sqlite"), capture_output=True, timeout=60)
    except OSError:
        return ["text"]
    return ["text", "json"] if b"VIGIL_LOG_FORMAT" in p.stderr else ["text"]


# --- TOTP (RFC 6238 over RFC 4226 HOTP, SHA-1, 6 digits, 30 s) --------------------------------------

def hotp(key, counter, digits=6):
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return str((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 10 ** digits).zfill(digits)


def totp(secret, step):
    raw = secret.replace(" ", "").upper()
    return hotp(base64.b32decode(raw + "=" * (-len(raw) % 8)), step)


def test_hotp_matches_rfc_4226():
    key = b"12345678901234567890"
    assert [hotp(key, i) for i in range(4)] == ["755224", "287082", "359152", "969429"]


# --- Sentinels ------------------------------------------------------------------------------------

# Where a secret may be stored: "never" (hashed, sealed or not kept: not in the database's bytes),
# "mail" (a link token: only in the mail outbox, whose messages carry it), "data" (an address or a
# name: expected in the database), "none" (a short code: looked for in the logs only).
class Sentinels:
    def __init__(self):
        self.items = {}

    def add(self, kind, value, stored):
        if value and value not in self.items:
            assert len(value) >= 6, (kind, value)
            self.items[value] = (kind, stored)
        return value

    def fresh(self, kind, stored, fmt):
        return self.add(kind, fmt.format(uuid.uuid4().hex), stored)

    def count(self, kind):
        return sum(1 for k, _ in self.items.values() if k == kind)

    @staticmethod
    def forms(value):
        """The ways a value may be written in a log: as is, percent-encoded (a query, a form body),
        HTML-escaped."""
        found = {htmllib.escape(value): "HTML-escaped", urllib.parse.quote(value, safe=""): "percent-encoded",
                 urllib.parse.quote_plus(value): "percent-encoded"}
        found[value] = "as written"
        return found

    @staticmethod
    def core(value):
        """The random part of a value: the hex of a made-up sentinel, or the whole of a token."""
        m = re.search(r"[0-9a-f]{32}", value)
        return m.group(0) if m else value

    def found_in(self, line):
        """[(kind, how)] of the sentinels in a log line. Besides the line itself, any run of
        hexadecimal in it is decoded (how a body is dumped; percent-decoded too, as a form body),
        and there even 8 characters in a row of a sentinel's random part count: a dump may show
        only the first and last 32 bytes (of a request's body, of a row PostgreSQL sent)."""
        dumped = ""
        for run in re.findall(r"[0-9a-fA-F]{24,}", line):
            raw = bytes.fromhex(run[:len(run) // 2 * 2]).decode("latin-1")
            dumped += raw + "\n" + urllib.parse.unquote_plus(raw) + "\n"
        hits = []
        for value, (kind, _) in self.items.items():
            how = None
            for form, named in self.forms(value).items():
                if form.isdigit():
                    # A six-digit code: only standing alone (not inside a number, a time or an id).
                    if re.search(r"(?<![0-9A-Za-z.:_-])" + form + r"(?![0-9A-Za-z])", line):
                        how = named
                elif form in line:
                    how = named
                if how:
                    break
            if not how and dumped:
                core = self.core(value)
                if value in dumped:
                    how = "in a hex dump"
                elif len(core) >= 8 and any(core[i:i + 8] in dumped for i in range(len(core) - 7)):
                    how = "in part, in a hex dump"
            if how:
                hits.append((kind, how))
        return hits


# --- The site -------------------------------------------------------------------------------------

class Browser:
    """One person's cookies and CSRF tokens on one keep-alive connection; every cookie value and
    CSRF token it is given becomes a sentinel."""

    def __init__(self, site, client=None, address=None):
        self.site, self.cookies = site, {}
        self.client = client or site.client
        # A client address of its own (the server trusts the loopback proxy): rate limits are per client.
        self.forwarded = [("X-Forwarded-For", address)] if address else []

    def go(self, method, path, form=None, headers=()):
        s = self.site
        h = [("Host", f"127.0.0.1:{s.port}"), ("Accept-Language", "en"), ("User-Agent", "log-hygiene-test")]
        if self.cookies:
            h.append(("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items())))
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            h.append(("Content-Type", "application/x-www-form-urlencoded"))
        a = self.client.send(method, path, h + self.forwarded + list(headers), body)
        assert a.status is not None, (method, path, a.error)
        for c in a.header("Set-Cookie"):
            name, _, rest = c.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in c or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
                if len(value) >= 16:
                    s.sentinels.add("cookie", value, "never")
        return a

    def page(self, path):
        a = self.go("GET", path)
        hops = 0
        while a.status in (301, 302, 303, 307) and hops < 5:
            loc = urllib.parse.urlsplit(a.header("Location")[0])
            a = self.go("GET", loc.path + ("?" + loc.query if loc.query else ""))
            hops += 1
        text = a.body.decode(errors="replace")
        for token in re.findall(r'name="csrf" value="([^"]+)"', text):
            self.site.sentinels.add("csrf", htmllib.unescape(token), "never")
        return a

    def post(self, page, action, fields):
        """Opens `page` and sends its form `action` (the form's own fields, then `fields`)."""
        text = self.page(page).body.decode(errors="replace")
        _, found = form_fields(text, "^" + re.escape(action) + "$")
        assert found is not None, (page, action, text[:2000])
        return self.go("POST", action, form=dict(found, **fields))


class Site:
    def __init__(self, tmp, storage, fmt):
        self.tmp, self.storage, self.fmt = tmp, storage, fmt
        self.sentinels = Sentinels()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "VIGIL_DATABASE_PATH", "VIGIL_SMTP_URL", "VIGIL_SENDMAIL", "VIGIL_LOG_FORMAT")}
        env.update(LOG_LEVEL="trace", VIGIL_SECRET_FILE=str(tmp / "secret"), VIGIL_DEV_OUTBOX="1", VIGIL_BASE_URL=self.base,
                   VIGIL_TRUSTED_PROXIES="127.0.0.1")
        if fmt == "json":
            env["VIGIL_LOG_FORMAT"] = "json"
        if storage == "postgres":
            self.pg_url = os.environ["VIGIL_TEST_POSTGRES_URL"]
            reset_postgres(self.pg_url)
            env["DATABASE_URL"] = self.pg_url
        else:
            self.db_path = tmp / "vigil.sqlite"
            env["VIGIL_DATABASE_PATH"] = str(self.db_path)
        self.vigil = Vigil(env)
        self.commands = []  # (what, stdout, stderr) of each command run
        self.proc = None
        self.client = None
        self.out_path, self.err_path = tmp / "serve.stdout", tmp / "serve.stderr"

    def command(self, *args):
        p = self.vigil.run(*args)
        self.commands.append((" ".join(args[:2]), p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")))
        return p.stdout.decode()

    def start(self):
        self.out, self.err = open(self.out_path, "wb"), open(self.err_path, "wb")
        self.proc = subprocess.Popen([BIN, "serve", "--hostname", "127.0.0.1", "--port", str(self.port)], env=self.vigil.env,
                                     stdout=self.out, stderr=self.err)
        self.client = Client(self.port)
        deadline = time.time() + 30
        while True:
            assert self.proc.poll() is None, "the server exited: " + self.err_path.read_text(errors="replace")[-2000:]
            a = self.client.send("GET", "/healthz", [("Host", f"127.0.0.1:{self.port}")])
            if a.status == 200:
                return
            assert time.time() < deadline, "the server did not start"
            time.sleep(0.2)

    def stop(self):
        if self.client:
            self.client.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.out.close()
            self.err.close()

    def outbox_tokens(self, path):
        """Every token of the links to `path` in the development outbox."""
        a = Browser(self).go("GET", "/dev/outbox")
        assert a.status == 200, a.status
        text = htmllib.unescape(a.body.decode(errors="replace"))
        return [urllib.parse.unquote(t) for t in re.findall(re.escape(path) + r"\?token=([^\s\"'<&]+)", text)]

    def new_outbox_token(self, path, before):
        new = [t for t in self.outbox_tokens(path) if t not in before]
        assert len(new) == 1, (path, new)
        self.sentinels.add("link token " + path, new[0], "mail")
        return new[0]


def ok(a, *statuses):
    assert a.status in (statuses or (200, 303)), (a.status, a.body[:1500])
    return a


# --- The supporter --------------------------------------------------------------------------------

def racing_sign_ups(site, rounds=2, n=6):
    """Several sign-ups with one new address at once: on PostgreSQL all but one may meet the
    address's unique index (and answer 500); whatever happens, no log line names the address."""
    statuses = []
    for r in range(rounds):
        email = site.sentinels.fresh("address", "data", "{}.sentinel-race@example.org")
        password = site.sentinels.fresh("password", "never", "sentinel-race-pw-{}")
        people = [Browser(site, Client(site.port), f"10.77.{r}.{i + 1}") for i in range(n)]
        forms = []
        for who in people:
            page = who.page("/en/signup").body.decode()
            forms.append(dict(form_fields(page, "^/signup$")[1], email=email, display_name="Sentinel Race", password=password, language="en"))
        barrier = threading.Barrier(n)

        def sign_up(who, form):
            barrier.wait()
            statuses.append(who.go("POST", "/signup", form=form).status)

        threads = [threading.Thread(target=sign_up, args=pair) for pair in zip(people, forms)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for who in people:
            who.client.close()
    assert set(statuses) <= {200, 500} and 200 in statuses, statuses
    return statuses.count(500)


def supporter_flows(site):
    S = site.sentinels
    email = S.fresh("address", "data", "{}.sentinel@example.org")
    name = S.fresh("name", "data", "{} Sentinel Name")
    passwords = [S.fresh("password", "never", "sentinel-pw-{}") for _ in range(3)]
    who = Browser(site)
    before = site.outbox_tokens("/verify")
    ok(who.post("/en/signup", "/signup", {"email": email, "display_name": name, "password": passwords[0], "language": "en"}), 200)
    token = site.new_outbox_token("/verify", before)
    ok(who.page("/verify?token=" + urllib.parse.quote(token) + "&lang=en"), 200)
    ok(who.post("/verify?token=" + urllib.parse.quote(token) + "&lang=en", "/verify", {"token": token}), 200)

    wrong = S.fresh("password", "never", "sentinel-wrong-pw-{}")
    ok(who.post("/en/login", "/login", {"email": email, "password": wrong}), 401)
    ok(who.post("/en/login", "/login", {"email": email, "password": passwords[0]}), 303)
    assert ok(who.page("/en/account"), 200)

    # An action reported by the supporter, and one by a visitor who follows by e-mail from the report form.
    page = who.page("/en/report?document=ua-77-26-0-en").body.decode()
    ok(who.go("POST", "/report", form=dict(form_fields(page, r"^/report$")[1])))
    visitor = Browser(site)
    reporter = S.fresh("address", "data", "{}.sentinel-reporter@example.org")
    page = visitor.page("/en/report?document=ua-77-26-0-en").body.decode()
    ok(visitor.go("POST", "/report", form=dict(form_fields(page, r"^/report$")[1], follow="1", email=reporter)))

    # Following a case by e-mail: the confirmation link, then the data page's link.
    follower = S.fresh("address", "data", "{}.sentinel-follower@example.org")
    before = site.outbox_tokens("/follow/confirm")
    ok(visitor.post("/en/follow?case=demo-li-wei", "/follow", {"email": follower, "frequency": "each", "consent": "1"}), 200)
    token = site.new_outbox_token("/follow/confirm", before)
    ok(visitor.post("/follow/confirm?token=" + urllib.parse.quote(token) + "&lang=en", "/follow/confirm", {"token": token}))
    data_tokens = site.outbox_tokens("/follow/data")
    assert data_tokens, "the confirmation mail links to the follow's data"
    for t in data_tokens:
        S.add("link token /follow/data", t, "mail")
    data_page = "/follow/data?token=" + urllib.parse.quote(data_tokens[-1]) + "&lang=en"
    ok(visitor.post(data_page, "/follow/data/export.json", {"token": data_tokens[-1]}), 200)

    # A password reset from the mailed link.
    before = site.outbox_tokens("/password-reset")
    ok(Browser(site).post("/password-reset", "/password-reset", {"email": email}))
    token = site.new_outbox_token("/password-reset", before)
    reset_page = "/password-reset?token=" + urllib.parse.quote(token) + "&lang=en"
    ok(Browser(site).post(reset_page, "/password-reset/new", {"token": token, "password": passwords[1]}))
    who.cookies.clear()
    ok(who.post("/en/login", "/login", {"email": email, "password": passwords[1]}), 303)
    ok(who.post("/en/account", "/account/password", {"current": passwords[1], "password": passwords[2]}), 200)

    # A new address, confirmed from the mailed link.
    new_email = S.fresh("address", "data", "{}.sentinel-new@example.org")
    before = site.outbox_tokens("/account/email/confirm")
    ok(who.post("/en/account", "/account/email", {"current": passwords[2], "email": new_email}), 200)
    token = site.new_outbox_token("/account/email/confirm", before)
    ok(who.post("/account/email/confirm?token=" + urllib.parse.quote(token) + "&lang=en", "/account/email/confirm", {"token": token}))

    # The account's data, then its erasure.
    a = ok(who.go("GET", "/account/export.json"), 200)
    assert new_email.encode() in a.body
    ok(who.post("/en/account/delete", "/account/delete", {"password": passwords[2]}))
    assert who.go("GET", "/en/account").status != 200


# --- The newsroom ---------------------------------------------------------------------------------

def unsubscribe(site):
    """The alert of the update the API published carries an unsubscribe link: opened, then used as
    a mail program does (one click, RFC 8058)."""
    deadline = time.time() + 20
    while not (tokens := site.outbox_tokens("/unsubscribe")):
        assert time.time() < deadline, "no alert with an unsubscribe link in the outbox"
        time.sleep(0.5)
    for t in tokens:
        site.sentinels.add("link token /unsubscribe", t, "mail")
    visitor = Browser(site)
    ok(visitor.page("/unsubscribe?token=" + urllib.parse.quote(tokens[-1]) + "&lang=en"), 200)
    ok(visitor.go("POST", "/unsubscribe?token=" + urllib.parse.quote(tokens[-1]), form={"List-Unsubscribe": "One-Click"}), 200, 303)


def newsroom_commands(site):
    """Before the server starts: the first account and two API tokens, made on the command line."""
    S = site.sentinels
    site.newsroom_email = S.fresh("address", "data", "{}.sentinel-newsroom@example.org")
    out = site.command("user", "create", "--email", site.newsroom_email, "--role", "editor,publisher,admin", "--name", "Sentinel Newsroom")
    link = re.search(r"(https?://\S+/password-reset\?token=\S+)", out).group(1)
    site.set_password_token = S.add("link token (vigil user create)", urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0], "mail")
    site.write_token = S.add("API token", re.search(r"\bvgl_\S+", site.command("token", "create", "--role", "publisher", "--scope", "write",
                                                                             "--label", "log hygiene")).group(0), "never")
    site.read_token = S.add("API token", re.search(r"\bvgl_\S+", site.command("token", "create", "--role", "publisher", "--scope", "read",
                                                                            "--label", "log hygiene")).group(0), "never")


def newsroom_flows(site):
    S = site.sentinels
    password = S.fresh("password", "never", "sentinel-newsroom-pw-{}")
    email = site.newsroom_email
    token = site.set_password_token
    ok(Browser(site).post("/password-reset?token=" + urllib.parse.quote(token) + "&lang=en", "/password-reset/new",
                          {"token": token, "password": password}))
    nr = Browser(site)
    ok(nr.post("/en/login", "/login", {"email": email, "password": password}), 303)

    # The second factor: the secret from the enrolment page, a code computed here.
    page = ok(nr.page("/en/newsroom/second-factor"), 200).body.decode()
    secret = htmllib.unescape(re.search(r'<code class="secret"[^>]*>([^<]+)</code>', page).group(1))
    S.add("TOTP secret", secret, "never")
    S.add("TOTP secret", secret.replace(" ", ""), "never")
    _, fields = form_fields(page, r"/newsroom/second-factor$")
    fields = dict(fields)
    S.add("pending enrolment", fields.get("pending"), "never")
    step = int(time.time()) // 30
    code = S.add("TOTP code", totp(secret, step), "none")
    a = ok(nr.go("POST", "/newsroom/second-factor", form=dict(fields, code=code, current=password)), 200)
    codes = [htmllib.unescape(c) for c in re.findall(r"<li><code>([^<]+)</code></li>", a.body.decode())]
    assert len(codes) == 10, a.body[:2000]
    for c in codes:
        S.add("recovery code", c, "never")

    def log_in(second):
        b = Browser(site)
        ok(b.post("/en/login", "/login", {"email": email, "password": password}), 303)
        page = ok(b.page("/en/login/code"), 200).body.decode()
        ok(b.go("POST", "/login/code", form=dict(form_fields(page, r"/login/code$")[1], code=second)), 303)
        assert b.go("GET", "/en/newsroom").status == 200
        return b

    # Again with the next code (the one just used is never taken twice), and with a recovery code.
    ok(nr.post("/en/newsroom/tokens", "/logout", {}))
    nr = log_in(S.add("TOTP code", totp(secret, step + 1), "none"))
    nr = log_in(codes[0])

    # New recovery codes; a wrong password where the newsroom asks for it again.
    a = ok(nr.post("/en/newsroom/second-factor", "/newsroom/second-factor/recovery-codes", {"current": password}), 200)
    fresh = [htmllib.unescape(c) for c in re.findall(r"<li><code>([^<]+)</code></li>", a.body.decode())]
    assert len(fresh) == 10
    for c in fresh:
        S.add("recovery code", c, "never")
    wrong = S.fresh("password", "never", "sentinel-newsroom-wrong-{}")
    a = nr.post("/en/newsroom/tokens", "/newsroom/tokens", {"label": "refused", "scope": "read", "current": wrong})
    assert a.status in (401, 403, 422), (a.status, a.body[:800])

    # A token made in the newsroom, shown once.
    a = ok(nr.post("/en/newsroom/tokens", "/newsroom/tokens", {"label": "log hygiene", "scope": "write", "current": password}), 200)
    web_token = S.add("API token", re.search(r'<code class="token" id="token">([^<]+)</code>', a.body.decode()).group(1), "never")

    # An invitation (its set-password link is mailed).
    invited = S.fresh("address", "data", "{}.sentinel-invited@example.org")
    before = site.outbox_tokens("/password-reset")
    ok(nr.post("/en/newsroom/accounts", "/newsroom/accounts", {"name": "Sentinel Invited", "email": invited, "editor": "1",
                                                             "current": password}))
    site.new_outbox_token("/password-reset", before)

    # The API: a write, a write refused for its scope, one refused for an unknown token, a read with the newsroom's token.
    api = Browser(site)
    target = "/api/v1/targets/ru-prosecutor-general"
    a = ok(api.go("GET", target, headers=[("Authorization", "Bearer " + site.write_token)]), 200)
    body = a.body
    put = [("Authorization", "Bearer " + site.write_token), ("Content-Type", "application/json")]
    ok(site.client.send("PUT", target, [("Host", f"127.0.0.1:{site.port}")] + put, body), 200)
    # An update of UA 88/26 (Li Wei's, whom the visitor follows by e-mail): its alert is mailed.
    a = ok(site.client.send("GET", "/api/v1/urgent-actions/88-26", [("Host", f"127.0.0.1:{site.port}")] + put), 200)
    seq = 1 + max(d["sequence"] for d in json.loads(a.body)["documents"])
    update = {"id": f"ua-88-26-{seq}-en", "sequence": seq, "kind": "update", "language": "en", "published": "2026-11-30", "title": "Sentinel update",
              "body": "Li Wei has been seen by a lawyer."}
    ok(site.client.send("POST", "/api/v1/urgent-actions/88-26/documents", [("Host", f"127.0.0.1:{site.port}")] + put,
                        json.dumps(update).encode()), 200, 201)
    a = site.client.send("PUT", target, [("Host", f"127.0.0.1:{site.port}"), ("Authorization", "Bearer " + site.read_token),
                                         ("Content-Type", "application/json")], body)
    assert a.status == 403, (a.status, a.body[:500])
    unknown = S.fresh("API token", "never", "vgl_sentinel{}")
    a = site.client.send("PUT", target, [("Host", f"127.0.0.1:{site.port}"), ("Authorization", "Bearer " + unknown),
                                         ("Content-Type", "application/json")], body)
    assert a.status == 401, (a.status, a.body[:500])
    ok(api.go("GET", "/api/v1/drafts?limit=1", headers=[("Authorization", "Bearer " + web_token)]), 200)

    # A preview link of a new draft, opened by a reviewer.
    a = ok(nr.post("/en/newsroom/drafts", "/newsroom/drafts", {"kind": "urgent_action", "case": "crimean-tatar-defenders-kuku",
                                                             "language": "en"}), 303)
    draft = urllib.parse.urlsplit(a.header("Location")[0]).path
    page = ok(nr.page(draft), 200).body.decode()
    action, fields = form_fields(page, r"/preview-links$")
    a = ok(nr.go("POST", action, form=dict(fields, label="Sentinel reviewer")))
    if a.status == 303:
        a = nr.page(urllib.parse.urlsplit(a.header("Location")[0]).path)
    previews = re.findall(r"/preview/([A-Za-z0-9_~.%-]+)", a.body.decode())
    assert previews, a.body[:2000]
    preview = S.add("preview token", urllib.parse.unquote(previews[0]), "never")
    ok(Browser(site).go("GET", "/preview/" + urllib.parse.quote(preview)), 200)
    ok(nr.post("/en/newsroom/tokens", "/logout", {}))


# --- What is stored -------------------------------------------------------------------------------

def database_text(site):
    """(all of the database, the database but the mail outbox's rows), as text."""
    if site.storage == "sqlite":
        raw = b"".join(p.read_bytes() for p in (site.db_path, site.db_path.with_name(site.db_path.name + "-wal")) if p.exists())
        con = sqlite3.connect(f"file:{site.db_path}?mode=ro", uri=True)
        try:
            dump = "\n".join(line for line in con.iterdump() if not line.startswith('INSERT INTO "mail_outbox"'))
        finally:
            con.close()
        return raw.decode("latin-1"), dump
    url = site.pg_url.split("?")[0]
    whole = subprocess.run(["pg_dump", "--data-only", url], capture_output=True, check=True, timeout=120).stdout.decode(errors="replace")
    but = subprocess.run(["pg_dump", "--data-only", "--exclude-table-data=mail_outbox", url], capture_output=True, check=True,
                         timeout=120).stdout.decode(errors="replace")
    return whole, but


def origin_of(line):
    """Where a log line comes from: the source file a text line names, else its label and the start of its message."""
    where = re.search(r"\(([\w./+-]+\.swift:\d+)\)\s*$", line)
    if where:
        return where.group(1)
    try:
        event = json.loads(line)
        return f"{event.get('label')}: {str(event.get('message'))[:40]}"
    except ValueError:
        return line[:60]


# --- The test -------------------------------------------------------------------------------------

def hygiene_runs():
    return [(s, f) for s in storages() for f in log_formats()]


@pytest.mark.parametrize("storage,fmt", hygiene_runs(), ids=lambda v: v)
def test_no_secret_reaches_a_log_or_is_stored_in_the_clear(tmp_path, storage, fmt):
    started = time.time()
    site = Site(tmp_path, storage, fmt)
    site.command("migrate", "--yes")
    site.command("demo")
    newsroom_commands(site)
    site.start()
    try:
        supporter_flows(site)
        newsroom_flows(site)
        unsubscribe(site)
        refused_races = racing_sign_ups(site)
    finally:
        site.stop()
    S = site.sentinels

    # The server's own output, all of it: text lines go to standard output, JSON lines to standard error.
    served = site.out_path.read_text(errors="replace") + site.err_path.read_text(errors="replace")
    lines = served.splitlines()
    assert len(lines) > 200, served[-3000:]
    if fmt == "json":
        for line in site.err_path.read_text(errors="replace").splitlines():
            json.loads(line)  # every line is one JSON object
    assert "security event=login.failure" in served and "security event=token.write" in served, served[-3000:]
    leaks = {}  # where a line comes from (the source a text line names, or its message's start): [(kinds, line)]

    def leak(origin, hits, line):
        leaks.setdefault(origin, []).append((sorted({f"{kind} ({how})" for kind, how in hits}), line))

    for line in lines:
        hits = S.found_in(line)
        if hits:
            leak("vigil serve: " + origin_of(line), hits, line)
    # The commands: everything on standard error, and the log lines on standard output (text lines
    # share it with what the command prints for its operator: the link, the token).
    command_lines = 0
    for what, out, err in site.commands:
        logged = err.splitlines() + [l for l in out.splitlines() if TEXT_LOG_LINE.match(l)]
        command_lines += len(logged)
        for line in logged:
            hits = S.found_in(line)
            if hits:
                leak(f"vigil {what}: " + origin_of(line), hits, line)

    whole, outside_outbox = database_text(site)
    stored = []
    for value, (kind, where) in S.items.items():
        if where == "never" and value in whole:
            stored.append(f"{kind} {value!r} is in the database as written")
        if where == "mail" and value in outside_outbox:
            stored.append(f"{kind} {value!r} is in the database outside the mail outbox")
    # (The scan reads what was written: addresses are there, and mailed links in the outbox — but
    # not those of the erased account, whose mail goes with it.)
    assert any(v in whole for v, (k, w) in S.items.items() if w == "data"), "the addresses are in the database"
    assert site.set_password_token in whole, "the mailed links are in the outbox"

    kinds = sorted({k for k, _ in S.items.values()})
    print(f"\n[{storage}, {fmt}] {len(S.items)} sentinels checked ("
          + ", ".join(f"{k}: {S.count(k)}" for k in kinds) + f"); {len(lines)} server log lines, {command_lines} command log lines; "
          f"{refused_races} racing sign-ups answered 500; {time.time() - started:.1f} s")
    assert not leaks and not stored, (f"secrets in {sum(map(len, leaks.values()))} log lines:\n" + "\n".join(
        f"- {origin}: {len(found)} lines; {', '.join(sorted({k for kinds, _ in found for k in kinds}))}\n  e.g. {found[0][1][:300]}"
        for origin, found in leaks.items()) + "\n" + "\n".join(stored))
