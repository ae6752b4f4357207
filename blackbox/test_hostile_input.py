"""Hostile input (issue 14, item 9): a corpus of more than 500 hostile values, sent into every field
of every route — path parameters, query keys, form fields, JSON members, and the headers a browser
sends — as an anonymous visitor, as a logged-in supporter and as the newsroom (with a valid CSRF
token, so the value reaches the handler), and through the API with a write token; and into
`vigil import`.

Every answer is checked: no 5xx; the server alive (it is polled at /healthz, and its process must
not have exited); no unescaped echo (a value holding `<`, `"` or `'` never appears verbatim in an
HTML answer, nor one holding `<` in a feed); JSON answers are JSON; no header injected (no header
named `x`, no cookie that is not Vigil's, no `Location` off the site); nothing half-written (the
counts of cases, targets, documents and supporters change only on an answer that says it did
something, 2xx or 3xx). After the run, `PRAGMA integrity_check` is ok. An overlong address answers
414, 100 KB of headers 431.

Bounded by default (for `make test`, about three minutes here): every route and every field gets
one value of every family (chosen deterministically, so that different fields get different values
of a family). With VIGIL_HOSTILE_FULL=1 (for `make proof`): every value into every field. The
number of requests is printed. The routes are shared among three servers side by side, each on its
own database. SQLite always; PostgreSQL too when the test PostgreSQL is there (under
scripts/with-postgres.sh), unless VIGIL_HOSTILE_POSTGRES=0. VIGIL_HOSTILE_ONLY=REGEX runs only the routes it names,
VIGIL_HOSTILE_TRACE=1 prints each route as it finishes. The servers hash passwords at bcrypt's cost 4
(VIGIL_PASSWORD_COST): the run makes thousands of accounts.

The client sends a different X-Forwarded-For each request (the servers trust the loopback proxy),
so that the per-client rate limits let the values through; the per-account ones (a password asked
again: 5 a minute, 20 an hour) still answer 429 once spent, after the form's own checks.
"""
import base64
import hashlib
import html as htmllib
import json
import os
import re
import socket
import sqlite3
import subprocess
import time
import urllib.parse
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import BIN, ROOT, Server, Vigil, reset_postgres
from httpkit import Answer, Client, form_fields, totp

FULL = os.environ.get("VIGIL_HOSTILE_FULL") == "1"


def hostile_storages():
    """SQLite always; PostgreSQL too when a test server is there (`make test` starts one), unless
    VIGIL_HOSTILE_POSTGRES=0 (about three minutes each, bounded)."""
    found = ["sqlite"]
    if os.environ.get("VIGIL_TEST_POSTGRES_URL") and os.environ.get("VIGIL_HOSTILE_POSTGRES") != "0":
        found.append("postgres")
    return found


# --- The corpus -----------------------------------------------------------------------------------

class H:
    """One hostile value. `kind`: "text" (a str, lone surrogates allowed), "bytes" (raw bytes, not
    UTF-8: percent-encoded in addresses and forms, raw inside a JSON string) or "json" (a JSON
    fragment put where a value goes: an object where a string is expected, 1e309, 10,000 nested
    arrays; in a form or an address, its text)."""
    __slots__ = ("family", "kind", "value")

    def __init__(self, family, kind, value):
        self.family, self.kind, self.value = family, kind, value

    @property
    def key(self):
        return (self.kind, self.value)

    def raw(self):
        """The bytes a form field or an address segment carries (before percent-encoding)."""
        if self.kind == "bytes":
            return self.value
        return self.value.encode("utf-8", "surrogatepass")

    def json_fragment(self):
        if self.kind == "json":
            return self.value.encode("utf-8", "surrogatepass")
        if self.kind == "bytes":
            return b'"' + self.value + b'"'
        # Lone surrogates come out as "\ud800", the way a careless client sends them.
        return json.dumps(self.value, ensure_ascii=any(0xD800 <= ord(c) <= 0xDFFF for c in self.value)).encode()

    def text(self):
        return self.value if self.kind != "bytes" else None

    def short(self, n=60):
        v = self.value if self.kind != "bytes" else repr(self.value)
        v = v if isinstance(v, str) else repr(v)
        r = ascii(v[:n]) + (f"…({len(self.value)})" if len(self.value) > n else "")
        return f"{self.family}:{r}"


MARKUP = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "'><svg onload=alert(1)>", "'\u0301", '"\u0301',
    "</textarea><script>alert(1)</script>", "</title><script>alert(1)</script>", "{{mustache}}", "{{{triple}}}",
    "{{#each}}x{{/each}}", "{{! comment }}", "{{> partial}}", "${x}", "${7*7}", "#{7*7}", "<%= 7*7 %>", "{% raw %}",
    "javascript:alert(1)", '<a href="javascript:alert(1)">x</a>', "<!--", "-->", "]]>", "<![CDATA[x]]>",
    "&lt;script&gt;alert(1)&lt;/script&gt;", "&amp;&quot;&#39;", "&#x3C;script&#x3E;", '<iframe srcdoc="<script>alert(1)</script>">',
    "<style>*{display:none}</style>", '" autofocus onfocus="alert(1)', "' onmouseover='alert(1)", "[x](javascript:alert(1))",
    '![x](x" onerror="alert(1))', "<img src=x onerror=alert(1)//", "<svg><script>alert&#40;1&#41;</script>",
    'data:text/html,<script>alert(1)</script>', "<base href=//evil.example/>", '<meta http-equiv="refresh" content="0;url=//evil.example">',
    "<form action=//evil.example><button>x</button></form>", "<<script>>", "<scr<script>ipt>alert(1)</script>",
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>', "＜script＞alert(1)＜/script＞", "\ufe64script\ufe65",
    "<x onclick=alert(1)>click</x>", '<input value="x" onfocus=alert(1) autofocus>', "`<script>`", "<",
    ">", '"', "'", "&", "</", "<!DOCTYPE html>", "<?xml version=\"1.0\"?>", '<body onload="alert(1)">',
    "<a href='//evil.example'>x</a>", "</script><script>alert(1)</script>", "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "\"'><script>alert(document.cookie)</script>",
]
SQL = [
    "' OR 1=1 --", "'; DROP TABLE supporters; --", "%", "_", "%%", "%_%", "' OR '1'='1", '" OR ""="', "1; SELECT 1",
    "\\", "\\'", "1' UNION SELECT NULL--", "admin'--", "' AND sqlite_version()>'0", "0x27", "$$", "E'\\x27'",
    "';COPY x TO PROGRAM 'id';--", "[", "]", "?", "$1", ":name", "@p", "'; ATTACH DATABASE '/tmp/x' AS x; --",
    "1 OR 1=1", "') OR ('1'='1", "'||(SELECT 1)||'", "' ; SELECT pg_sleep(0) --", "\\x00", "%' --", "'--'",
    "ESCAPE '\\'", "_%_%_", "LIKE", "' COLLATE NOCASE --",
]
FTS = [
    '"', '""', "NEAR(", "NEAR(a b, -1)", "*", "^", "a*", "^a", "AND OR NOT", "AND", "OR", "NOT", "col:", "title:x",
    "{title body}:x", "(", ")", "a + b", "-", "a -b", "a & b", "!a", "a <-> b", "a:*", '"unterminated', 'NEAR("a" "b", 5)',
    "*:*", ":", "a OR", "NOT NOT", "((((((((((a))))))))))", '"a" AND "', "b:* | c", "a\tb", "  ", "Li AND Wei",
    "Li Wei*", "'Li Wei'", "Вэй", "李伟*", "NEAR/3", "a NEAR b", "!", "|", "&", "<->", "()", "''", "-a -b -c",
    "ts_rank", "setweight", "rank:1",
]
CRLF = [
    "a\r\nSet-Cookie: x=1", "a\r\nx: 1", "a\nx: 1", "a\rx: 1", "/\r\nx: 1", "%0d%0ax:1", "\r\n\r\n<html>",
    "a\u2028x: 1", "a\u0085x: 1", "https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example",
    "/%0d%0ax:1", "/\r\nLocation: //evil.example", "http:evil.example", "/\t/evil.example", "///evil.example",
    "/en/\r\nSet-Cookie: vigil-session=x", "javascript://%0aalert(1)", " //evil.example", "/%2f/evil.example",
    "/%5cevil.example", "https:/evil.example", "/en/account?x=\r\ny: 1",
]
TRAVERSAL = [
    "../../etc/passwd", "..\\..\\windows\\win.ini", "%2e%2e%2f", "..%c0%af", "..%2f", "....//", "/etc/passwd",
    "file:///etc/passwd", "..;/", ".", "..", "~", "~root", "../../../../../../proc/self/environ", ".vigil-secret",
    "../.vigil-secret", "../Resources/Views/layout", "%2e%2e/%2e%2e/etc/passwd", "..%252f..%252fetc%252fpasswd",
    "/dev/zero", "/proc/self/fd/0", "C:\\Windows\\system32", "\\\\?\\C:\\", "./././.", "...", "..%00/", "%00",
    "css/../../vigil.sqlite",
]
NUL = ["\x00", "a\x00b", "\x00<script>", "demo-li-wei\x00", "\x00\x00\x00", "\x7f", "\x1b[31mred", "\x08\x08"] + \
      [chr(c) for c in range(1, 32) if c not in (9, 10, 13)] + ["\t", "\n", "\r", "\u0080", "\u009f"]
UTF8 = [b"\xff\xfe", b"\xc3\x28", b"\xc0\x80", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80",
        b"\xbf", b"a\xffb", b"\xf4\x90\x80\x80", b"\xfe\xff", b"\xc0\xaf", b"\xe2\x82", b"\xc1\xbf", b"\xf0\x80\x80\xaf",
        b"\xfc\x80\x80\x80\x80\xaf", b"demo-li-wei\xff", b"\xef\xbb\xbf", b"\xff" * 64, b"<\xffscript>", b"\xed\xbf\xbf",
        b"\xe0\xa0", b"\xf0\x9f\x98", b"\x00\xff"]
SURROGATE = ["\ud800", "\udfff", "\udbff\udfff", "a\ud800b", "\udc00\ud800", "\ud800" * 10, "demo-li-wei\udfff", "<\ud800>"]
RTL = ["\u202e", "abc\u202edef", "\u202egpj.exe", "\u2066x\u2069", "\u200f", "\u061c", "Li \u202eieW", "\u202d\u202e\u202c",
       "نور حسن", "\u202etxt.fdp"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "a\u200bb", "demo\u200b-li-wei", "\u00ad", "\u180e",
              "\u034f", "\u3164", "\u00a0", "\u2028", "\u2029", "Z\u0335\u0321\u0322\u0327\u0328\u031b\u0300" * 20]
EMOJI = ["💥", "👩🏽‍🚀", "🇷🇺", "🏳️‍🌈", "\U0010ffff", "\uffff", "\ufffe", "İ", "ß", "ﬃ", "ﷺ", "𝕍𝕚𝕘𝕚𝕝", "dеmo-li-wei",
         "💥" * 500, "🧑‍🤝‍🧑" * 50, "\U000e0001", "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"]
NUMBER = ["1e309", "-0", "99999999999999999999999", "-1", "0", "1.5", "NaN", "Infinity", "-Infinity", "1e-400",
          "9223372036854775808", "-9223372036854775809", "0x10", "1_000", "٣", "１", "+1", "1e3", "00001", "0.0000001",
          "4294967296", "2147483648", "-2147483649", "1/0"]
TYPE = ["{}", '{"a":1}', "[]", '["x"]', "null", "true", "false", '""', '{"$ne":null}', "[[[[]]]]", '{"__proto__":{"x":1}}',
        '{"id":"a","id":"b"}', "[null]", '{"":""}']


def corpus():
    out, seen = [], set()

    def add(family, kind, value):
        h = H(family, kind, value)
        if h.key not in seen:
            seen.add(h.key)
            out.append(h)

    for family, values in [("markup", MARKUP), ("sql", SQL), ("fts5", FTS), ("crlf", CRLF), ("traversal", TRAVERSAL),
                           ("nul", NUL), ("surrogate", SURROGATE), ("rtl", RTL), ("zero-width", ZERO_WIDTH), ("emoji", EMOJI)]:
        for v in values:
            add(family, "text", v)
        # The same behind a valid prefix: past a first check that looks only at the start.
        for v in values:
            if len(v) < 200:
                add(family, "text", "demo-li-wei " + v)
    for v in UTF8:
        add("utf8", "bytes", v)
        add("utf8", "bytes", b"Li Wei " + v)
    for n in (10_000, 100_000, 1_000_000):
        for unit in ("a", "<", "é", "💥", "'\u0301"):
            add("overlong", "text", (unit * (n // len(unit.encode())))[: n])
    add("overlong", "text", ("<script>alert(1)</script>" * 400)[:10_000])
    for depth in (10_000, 1000, 100):
        add("deep", "json", "[" * depth + "]" * depth)
        add("deep", "json", '{"a":' * depth + "1" + "}" * depth)
    add("deep", "json", "[" * 10_000)  # unterminated
    for v in NUMBER:
        add("number", "json", v)
        add("number", "text", v)
    for v in TYPE:
        add("type", "json", v)
    return out


CORPUS = corpus()
FAMILIES = sorted({h.family for h in CORPUS})


def test_the_corpus_has_more_than_500_distinct_values_in_every_family():
    assert len(CORPUS) >= 500, len(CORPUS)
    assert len({h.key for h in CORPUS}) == len(CORPUS)
    assert set(FAMILIES) >= {"markup", "sql", "fts5", "crlf", "traversal", "nul", "utf8", "surrogate", "rtl", "zero-width",
                             "emoji", "overlong", "deep", "number", "type"}
    print(f"\ncorpus: {len(CORPUS)} values in {len(FAMILIES)} families:",
          ", ".join(f"{f} {sum(h.family == f for h in CORPUS)}" for f in FAMILIES))


def dangerous(h):
    """The text an unescaped echo of `h` would show: a value holding `<`, `"` or `'`, long enough
    not to be in every page anyway (None for the others)."""
    t = h.text()
    if t is None or h.kind == "json" and h.family != "type":
        return None
    if not any(c in t for c in "<\"'"):
        return None
    t = t[:300]
    if len(t.strip()) < 2:
        return None
    return t


# --- HTTP -----------------------------------------------------------------------------------------

def pct(b):
    return urllib.parse.quote_from_bytes(b if isinstance(b, bytes) else b.encode("utf-8", "surrogatepass"), safe="")


def raw_exchange(port, data, timeout=10):
    """Writes `data` on a new connection and reads the answer's status line, whatever happens to the rest."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass
        got = b""
        try:
            while b"\r\n" not in got:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
        m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
        return int(m.group(1)) if m else None
    finally:
        s.close()




# --- The site under test --------------------------------------------------------------------------

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
PASSWORD = "correct horse battery staple 9"
COOKIE_NAMES = re.compile(r"^(__Host-)?vigil[-_][a-z_-]+$")


class Identity:
    def __init__(self, name):
        self.name = name
        self.cookies = {}
        self.csrf = None
        self.bearer = None
        self.email = None
        self.password = PASSWORD

    def cookie_header(self):
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())


class Site:
    """A server on the demo data, with a confirmed supporter, a newsroom account with its second
    factor, an API write token, and one of everything a path names (a report, a follow, a
    session, a draft, a preview link, a token, a second newsroom account)."""

    def __init__(self, tmp, storage, shard=0):
        self.tmp = tmp
        self.storage = storage
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "VIGIL_DATABASE_PATH", "VIGIL_SMTP_URL", "VIGIL_SENDMAIL")}
        # bcrypt at its lowest cost: thousands of accounts are made, logged into and deleted here,
        # and what is tried is the handling of input, not the strength of a hash. At the served
        # cost (12) the full run spent most of its 97 minutes hashing.
        env.update(LOG_LEVEL="warning", VIGIL_SECRET_FILE=str(tmp / "secret"), VIGIL_PASSWORD_COST="4")
        if storage == "postgres":
            url = os.environ["VIGIL_TEST_POSTGRES_URL"]
            if shard:
                # Another database on the same test server for each further shard.
                base, _, query = url.partition("?")
                name = base.rsplit("/", 1)[1] + f"_hostile_{shard}"
                subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], capture_output=True, timeout=60)
                url = base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")
            reset_postgres(url)
            env["DATABASE_URL"] = url
            self.pg_url = url.split("?")[0]
        else:
            env["VIGIL_DATABASE_PATH"] = str(tmp / "vigil.sqlite")
        self.vigil = Vigil(env)
        self.server = Server(self.vigil, {"VIGIL_DEV_OUTBOX": "1", "VIGIL_TRUSTED_PROXIES": "127.0.0.1"})
        self.server.env["VIGIL_BASE_URL"] = self.vigil.env["VIGIL_BASE_URL"] = self.server.base
        self.port = self.server.port
        self.client = Client(self.port)
        self.ip_counter = 0
        self._db = None
        # Counts successful writes: what the test caches (a draft's revision, a form's fields) is stale after one.
        self.generation = 0
        self._cache = {}

    # Counting what requests wrote.
    COUNTED = ("cases", "targets", "documents", "supporters")

    def counts(self):
        sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {t})" for t in self.COUNTED)
        if self.storage == "sqlite":
            if self._db is None:
                self._db = sqlite3.connect(f"file:{self.vigil.env['VIGIL_DATABASE_PATH']}?mode=ro", uri=True, timeout=30,
                                           isolation_level=None, check_same_thread=False)
            return tuple(self._db.execute(sql).fetchone())
        if self._db is None:
            # One psql for the whole run, asked one line at a time.
            self._db = subprocess.Popen(["psql", self.pg_url, "-A", "-t", "-q", "-F", ",", "-v", "ON_ERROR_STOP=1"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._db.stdin.write(sql + ";\n")
        self._db.stdin.flush()
        line = self._db.stdout.readline()
        return tuple(int(x) for x in line.strip().split(","))

    def next_ip(self):
        """A different client address for each request (the server trusts the loopback proxy), so
        that rate limits, which are per client, let the hostile values through to the handlers."""
        self.ip_counter += 1
        n = self.ip_counter
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"

    # Plain requests for the set-up (through the same client).
    def go(self, who, method, path, form=None, headers=None, raw=None, ctype=None, xff=True):
        h = [("Host", f"127.0.0.1:{self.port}"), ("Accept-Language", "en")]
        if xff:
            h.append(("X-Forwarded-For", self.next_ip()))
        if who is not None and who.cookies:
            h.append(("Cookie", who.cookie_header()))
        if who is not None and who.bearer:
            h.append(("Authorization", "Bearer " + who.bearer))
        body = raw
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            ctype = ctype or "application/x-www-form-urlencoded"
        if ctype:
            h.append(("Content-Type", ctype))
        h.extend(headers or [])
        a = self.client.send(method, path, h, body)
        if who is not None:
            self.keep_cookies(who, a)
        return a

    def keep_cookies(self, who, a):
        for c in a.header("Set-Cookie"):
            name, _, rest = c.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in c or value == "":
                who.cookies.pop(name, None)
            else:
                who.cookies[name] = value

    def page(self, who, path):
        a = self.go(who, "GET", path)
        hops = 0
        while a.status in (301, 302, 303, 307) and hops < 5:
            loc = a.header("Location")[0]
            a = self.go(who, "GET", urllib.parse.urlsplit(loc)._replace(scheme="", netloc="").geturl())
            hops += 1
        return a

    def csrf_of(self, who, path):
        a = self.page(who, path)
        m = re.search(r'name="csrf" value="([^"]*)"', a.body.decode(errors="replace"))
        assert m, (path, a.status, a.body[:500])
        who.csrf = htmllib.unescape(m.group(1))
        return who.csrf

    def post(self, who, page, action, fields):
        csrf = self.csrf_of(who, page)
        return self.go(who, "POST", action, form=dict(fields, csrf=csrf))

    def mail_for(self, email, pattern):
        """The first match of `pattern` in the newest mail to `email` that has one."""
        for article in self.outbox().split("<article")[1:]:
            if f"To {email} " in article:
                m = re.search(pattern, article)
                if m:
                    return m.group(1)
        return None

    def outbox(self):
        a = self.go(None, "GET", "/dev/outbox", xff=False)
        assert a.status == 200, a.status
        return htmllib.unescape(a.body.decode(errors="replace"))

    def start(self):
        v = self.vigil
        v.run("migrate", "--yes")
        v.run("demo")
        # The ids the paths are filled with, as `vigil export` gives them.
        exported = json.loads(v.run("export").stdout)
        cases = {c["id"]: c for c in exported["cases"]}
        assert FILLS["case"] in cases and FILLS["target"] in {t["id"] for t in exported["targets"]}
        documents = [d["id"] for c in exported["cases"] for u in c.get("urgent_actions", []) if u["number"] == "126/19"
                     for d in u.get("documents", [])]
        assert FILLS["document"] in documents, documents
        self.token = re.search(r"\bvgl_\S+", v.run("token", "create", "--role", "publisher", "--scope", "write", "--label", "x")
                               .stdout.decode()).group(0)
        newsroom_email = "newsroom@example.org"
        out = v.run("user", "create", "--email", newsroom_email, "--role", "editor,publisher,admin", "--name", "Newsroom").stdout.decode()
        reset_link = re.search(r"(https?://\S+/password-reset\?token=\S+)", out).group(1)
        self.server.start()
        self.anon = Identity("anon")
        self.api = Identity("api")
        self.api.bearer = self.token
        self.supporter = Identity("supporter")
        self.newsroom = Identity("newsroom")
        self.newsroom.email = newsroom_email
        self.ids = {}
        self.setup_supporter()
        self.setup_newsroom(reset_link)
        self.setup_tokens()
        return self

    def stop(self):
        self.client.close()
        self.server.stop()
        if isinstance(self._db, subprocess.Popen):
            self._db.stdin.close()
            self._db.wait(30)
        elif self._db is not None:
            self._db.close()
        self._db = None

    # The supporter: signs up, confirms through the development outbox, logs in, reports an action, follows a case.
    @staticmethod
    def why(a):
        """The title and error list of a page, for an assertion's message."""
        text = a.body.decode("utf-8", "replace")
        found = re.findall(r"<title>([^<]*)</title>|<div class=\"errors[^>]*>(.*?)</div>", text, re.S)
        return a.status, [htmllib.unescape(re.sub(r"<[^>]+>", " ", x or y)).strip()[:300] for x, y in found]

    def sign_up(self, who, confirm=True):
        who.cookies.clear()
        who.csrf = None
        self.signups = getattr(self, "signups", 0) + 1
        who.email = f"supporter-{self.signups}-{int(time.time() * 1000) % 10**9}@example.org"
        a = self.post(who, "/en/signup", "/signup", {"email": who.email, "display_name": "Hostile tester", "password": who.password,
                                                     "language": "en", "country": ""})
        assert a.status == 200, self.why(a)
        token = self.mail_for(who.email, r"/verify\?token=([A-Za-z0-9_-]+)")
        assert token, f"no confirmation mail to {who.email}"
        if not confirm:
            return token
        a = self.post(who, "/verify?token=" + token, "/verify", {"token": token})
        assert a.status == 200, self.why(a)

    def log_in(self, who):
        who.cookies.clear()
        a = self.post(who, "/en/login", "/login", {"email": who.email, "password": who.password})
        return a.status == 303 and any(k.endswith("vigil-session") for k in who.cookies)

    def ensure_supporter(self):
        who = self.supporter
        a = self.go(who, "GET", "/en/account")
        if a.status == 200 and who.csrf and ('value="' + htmllib.escape(who.csrf)) in a.body.decode(errors="replace"):
            return
        if a.status == 200:
            self.csrf_of(who, "/en/account")
            return
        if not self.log_in(who):
            who.password = PASSWORD
            self.sign_up(who)
            assert self.log_in(who), "a new supporter logs in"
        self.csrf_of(who, "/en/account")

    def setup_supporter(self):
        who = self.supporter
        self.sign_up(who)
        assert self.log_in(who)
        # A second session of the same account, for the revoke form.
        other = Identity("other")
        other.email, other.password = who.email, who.password
        assert self.log_in(other)
        a = self.post(who, "/en/report?document=ua-126-19-0-en", "/report",
                      dict(form_fields(self.page(who, "/en/report?document=ua-126-19-0-en").body.decode(), r"^/report$")[1]))
        assert a.status in (200, 303), (a.status, a.body[:500])
        page = self.page(who, "/en/follow?case=demo-li-wei").body.decode()
        action, fields = form_fields(page, r"^/follow$")
        a = self.go(who, "POST", "/follow", form=dict(fields))
        assert a.status in (200, 303), (a.status, a.body[:800])
        account = self.page(who, "/en/account").body.decode()
        self.ids["session"] = re.findall(r"/account/sessions/(" + UUID + ")/revoke", account)
        self.ids["report"] = re.findall(r"/account/reports/(" + UUID + ")/undo", account)
        self.ids["follow"] = re.findall(r"/account/follows/(" + UUID + ")/remove", account)
        for k in ("session", "report", "follow"):
            assert self.ids[k], (k, account[:3000])
        # Mail links with tokens: a follow by e-mail (confirm, data, unsubscribe), a password reset,
        # a log-in link, an e-mail change.
        a = self.post(self.anon, "/en/follow?case=demo-nour-hassan", "/follow",
                      {"email": "follower@example.org", "frequency": "each", "consent": "1", "case": "demo-nour-hassan"})
        assert a.status == 200, (a.status, a.body[:800])
        a = self.post(self.anon, "/password-reset", "/password-reset", {"email": who.email})
        assert a.status in (200, 303), (a.status, a.body[:800])
        a = self.post(who, "/en/account", "/account/email", {"current": who.password, "email": "changed-" + who.email})
        box = self.outbox()
        self.tokens = {}
        for key, pattern in [("follow_confirm", r"/follow/confirm\?token=([^\s\"'<&]+)"), ("follow_data", r"/follow/data\?token=([^\s\"'<&]+)"),
                             ("unsubscribe", r"/unsubscribe\?token=([^\s\"'<&]+)"), ("password_reset", r"/password-reset\?token=([^\s\"'<&]+)"),
                             ("login_link", r"/login/link\?token=([^\s\"'<&]+)"), ("email_confirm", r"/account/email/confirm\?token=([^\s\"'<&]+)"),
                             ("verify", r"/verify\?token=([^\s\"'<&]+)")]:
            found = re.findall(pattern, box)
            self.tokens[key] = urllib.parse.unquote(found[-1]) if found else "no-such-token"

    # The newsroom: chooses its password, logs in, enrols its second factor.
    def setup_newsroom(self, link):
        who = self.newsroom
        path = urllib.parse.urlsplit(link)
        token = urllib.parse.parse_qs(path.query)["token"][0]
        a = self.post(who, path.path + "?" + path.query, "/password-reset/new", {"token": token, "password": who.password})
        assert a.status in (200, 303), (a.status, a.body[:500])
        a = self.post(who, "/en/login", "/login", {"email": who.email, "password": who.password})
        page = self.page(who, "/en/newsroom/second-factor").body.decode()
        self.totp_secret = re.search(r'<code class="secret"[^>]*>([^<]+)</code>', page).group(1)
        _, fields = form_fields(page, r"/newsroom/second-factor$")
        self.totp_step = int(time.time()) // 30
        fields = dict(fields, code=totp(self.totp_secret, self.totp_step), current=who.password)
        a = self.go(who, "POST", "/newsroom/second-factor", form=fields)
        assert a.status == 200 and "recovery" in a.body.decode(), (a.status, a.body[:1000])
        # A second account (for the roles and second-factor forms), an API token (for its revoke form).
        a = self.post(who, "/en/newsroom/accounts", "/newsroom/accounts",
                      {"name": "Second", "email": "second@example.org", "editor": "1", "current": who.password})
        assert a.status in (200, 303), (a.status, a.body[:800])
        page = self.page(who, "/en/newsroom/accounts").body.decode()
        # The second account's forms (never the newsroom's own: its roles must stay).
        at = page.find("second@example.org")
        self.ids["account"] = re.findall(r"/newsroom/accounts/(" + UUID + ")/roles", page[at:])[:1]
        assert self.ids["account"], page[:3000]
        a = self.post(who, "/en/newsroom/tokens", "/newsroom/tokens", {"label": "to revoke", "scope": "read", "current": who.password})
        assert a.status in (200, 303), (a.status, a.body[:800])
        page = self.page(who, "/en/newsroom/tokens").body.decode()
        self.ids["token"] = re.findall(r"/newsroom/tokens/(" + UUID + ")/revoke", page)
        # Drafts: a new urgent action for a published case; a published target opened as a draft.
        a = self.post(who, "/en/newsroom/drafts", "/newsroom/drafts", {"kind": "urgent_action", "case": "crimean-tatar-defenders-kuku",
                                                                      "language": "en"})
        loc = a.header("Location")
        assert a.status == 303 and loc and re.search(UUID, loc[0]), (a.status, a.body[:800])
        self.ids["draft"] = re.findall(UUID, loc[0])
        a = self.post(who, "/en/newsroom/drafts", "/newsroom/edit", {"kind": "target", "subject": "ru-prosecutor-general"})
        loc = a.header("Location")
        assert a.status == 303 and loc, (a.status, a.body[:800])
        self.ids["draft"] += re.findall(UUID, loc[0])
        draft = self.ids["draft"][0]
        page = self.page(who, f"/en/newsroom/drafts/{draft}").body.decode()
        action, fields = form_fields(page, r"/preview-links$")
        a = self.go(who, "POST", action, form=dict(fields, label="hostile"))
        assert a.status in (200, 303), (a.status, a.body[:800])
        self.ids["preview"] = re.findall(r"/preview/([A-Za-z0-9_~.%-]+)", a.body.decode())
        page = self.page(who, f"/en/newsroom/drafts/{draft}").body.decode()
        self.ids["preview_link"] = re.findall(r"/preview-links/([^/\"]+)/revoke", page)
        assert self.ids["preview_link"] and self.ids["preview"], page[:3000]

    def ensure_newsroom(self):
        who = self.newsroom
        a = self.go(who, "GET", "/en/newsroom")
        if a.status == 200:
            if who.csrf is None or htmllib.escape(who.csrf) not in a.body.decode(errors="replace"):
                self.csrf_of(who, "/en/newsroom")
            return
        if os.environ.get("VIGIL_HOSTILE_TRACE"):
            print(f"  (the newsroom's session is gone ({a.status}) after: {getattr(self, 'last_label', '')})", flush=True)
        who.cookies.clear()
        a = self.post(who, "/en/login", "/login", {"email": who.email, "password": who.password})
        for attempt in range(4):
            page = self.page(who, "/en/login/code").body.decode(errors="replace")
            if 'name="code"' not in page:
                break
            # A code is taken once: the next unused time step (the server takes one step ahead).
            step = max(int(time.time()) // 30, self.totp_step + 1)
            while step > int(time.time()) // 30 + 1:
                time.sleep(1)
            _, fields = form_fields(page, r"/login/code$")
            a = self.go(who, "POST", "/login/code", form=dict(fields, code=totp(self.totp_secret, step)))
            self.totp_step = step
            if a.status in (200, 303) and self.go(who, "GET", "/en/newsroom").status == 200:
                break
        self.csrf_of(who, "/en/newsroom")
        assert self.go(who, "GET", "/en/newsroom").status == 200, "the newsroom logs in again"

    def setup_tokens(self):
        """The API's own objects, as bodies to send back with one member changed."""
        self.importer = Identity("import")
        self.importer.bearer = re.search(r"\bvgl_\S+", self.vigil.run("token", "create", "--role", "publisher", "--scope", "import",
                                                                      "--label", "bundles").stdout.decode()).group(0)
        def get(path):
            a = self.go(self.api, "GET", path)
            assert a.status == 200, (path, a.status, a.body[:300])
            return json.loads(a.body)
        self.case = get("/api/v1/cases/demo-li-wei")
        self.target = get("/api/v1/targets/ru-prosecutor-general")
        self.document = get("/api/v1/urgent-actions/126-19/documents/ua-126-19-0-en")
        self.new_document = {k: v for k, v in get("/api/v1/urgent-actions/88-26/documents/ua-88-26-0-en").items()
                             if k not in ("id", "sequence", "corrections")}
        self.api_draft = get(f"/api/v1/drafts/{self.ids['draft'][0]}")
        # The new document's draft made complete, so that its steps (submit…) apply.
        content = dict(self.api_draft["content"], title="A hostile draft", body="Its body.")
        a = self.go(self.api, "PUT", f"/api/v1/drafts/{self.ids['draft'][0]}", raw=json.dumps(
            {"base_revision": self.api_draft["current_revision"], "content": content}).encode(), ctype="application/json")
        assert a.status == 200, (a.status, a.body[:500])
        self.api_draft = get(f"/api/v1/drafts/{self.ids['draft'][0]}")
        self.api_draft_id = self.ids["draft"][0]
        # The report form's key, for each identity that reports.
        self.report_key = {}
        for who in (self.anon, self.supporter):
            page = self.page(who, "/en/report?document=ua-126-19-0-en").body.decode()
            self.report_key[who.name] = dict(form_fields(page, r"^/report$")[1] or {}).get("key", "")

    def cached(self, key, make):
        """`make()`, made again only after a write succeeded."""
        hit = self._cache.get(key)
        if hit is None or hit[0] != self.generation:
            hit = (self.generation, make())
            self._cache[key] = hit
        return hit[1]

    def draft_revision(self, draft=0):
        def ask():
            a = self.go(self.api, "GET", f"/api/v1/drafts/{self.ids['draft'][draft]}")
            return json.loads(a.body).get("current_revision", 1) if a.status == 200 else 1
        return self.cached(("draft_revision", draft), ask)

    def json_body(self, name):
        """A body the route takes as it is (one member at a time is then made hostile)."""
        case = {k: v for k, v in self.case.items() if k != "urgent_actions"}
        if name == "apiCreateCase":
            people = [dict(p, id=f"hostile-new-person-{i}") for i, p in enumerate(case.get("people", []))]
            renamed = {p["id"]: q["id"] for p, q in zip(case.get("people", []), people)}
            timeline = [dict(e, people=[renamed.get(x, x) for x in e.get("people", [])]) for e in case.get("timeline", [])]
            return dict(case, id="hostile-new-case", people=people, timeline=timeline)
        if name == "apiReplaceCase":
            return self.case
        if name == "apiCreateUrgentAction":
            return {"documents": [dict(self.new_document, translation_of=None, sequence=0)]}
        if name == "apiCreateDocument":
            return {"id": "ua-77-26-1-en", "sequence": 1, "kind": "update", "language": "en", "published": "2026-11-29", "title": "An update",
                    "body": "Still held."}
        if name == "apiReplaceDocument":
            return self.document
        if name == "apiCreateTarget":
            return dict(self.target, id="hostile-new-target")
        if name == "apiReplaceTarget":
            return self.target
        if name == "apiBundles":
            return {"format": "vigil.bundle/1", "targets": [self.target], "cases": [self.case]}
        if name == "apiWithdrawUrgentAction":
            return {"reason": "A safety review"}
        if name == "apiRedactUrgentAction":
            return {"from": "Ana Morales", "to": "[name withheld]"}
        if name == "apiRepublishUrgentAction":
            return {}
        if name == "apiCreateDraft":
            return {"kind": "case", "content": dict(case, id="hostile-draft-case"), "comment": "From the hostile test"}
        if name == "apiOpenDraft":
            return {"kind": "target", "subject": "ru-supreme-court-chair"}
        if name == "apiSaveDraft":
            content = dict(self.api_draft["content"], title="A hostile draft", body="Its body.")
            return {"base_revision": self.draft_revision(), "content": content, "comment": "Saved by the hostile test"}
        if name == "apiDraftSteps":
            return {"step": "submit", "revision": self.draft_revision(), "comment": "Please review"}
        if name == "apiDraftRestore":
            return {"revision": 1, "base_revision": self.draft_revision()}
        raise KeyError(name)


# --- The routes -----------------------------------------------------------------------------------

def endpoint_query_keys():
    """`Endpoint.Name.queryKeys`, read from the source: the query keys each route takes."""
    src = (ROOT / "Sources/VigilServer/Routing/Endpoint.swift").read_text()
    body = src[src.index("var queryKeys: [String]"):]
    body = body[:body.index("default: return []")]
    keys = {}
    for m in re.finditer(r"case\s+((?:\.\w+\s*,\s*)*\.\w+)\s*:\s*(?://[^\n]*\n\s*)*return\s*\[([^\]]*)\]", body, re.S):
        for name in re.findall(r"\.(\w+)", m.group(1)):
            keys[name] = re.findall(r'"([^"]*)"', m.group(2))
    assert len(keys) > 20, keys
    return keys


# name, method, address (`{kind}` a parameter), who sends it first, body ("form", "json" or None).
# Localised pages are sent under /{lang}/. The withdraw, redact and republish routes work on 12/25,
# so that 126/19 stays published for the rest.
ROUTES = [
    ("home", "GET", "/", "anon", None), ("urgentActions", "GET", "/urgent-actions", "anon", None),
    ("urgentAction", "GET", "/urgent-actions/{number}", "anon", None),
    ("oldLetter", "GET", "/urgent-actions/{number}/{part}/{oldLetter}", "anon", None),
    ("oldTranslationLetter", "GET", "/urgent-actions/{number}/{part}/{language}/{oldLetter}", "anon", None),
    ("document", "GET", "/urgent-actions/{number}/{part}", "anon", None),
    ("download", "GET", "/urgent-actions/{number}/{file}", "anon", None),
    ("translation", "GET", "/urgent-actions/{number}/{part}/{language}", "anon", None),
    ("translationDownload", "GET", "/urgent-actions/{number}/{part}/{languageFile}", "anon", None),
    ("letter", "POST", "/urgent-actions/{number}/{part}/letter", "anon", "form"),
    ("translationLetter", "POST", "/urgent-actions/{number}/{part}/{language}/letter", "anon", "form"),
    ("kase", "GET", "/cases/{case}", "anon", None), ("outcomes", "GET", "/outcomes", "anon", None),
    ("pack", "GET", "/pack.pdf", "anon", None), ("feed", "GET", "/feed.atom", "anon", None), ("feeds", "GET", "/feeds", "anon", None),
    ("caseFeed", "GET", "/cases/{case}/feed.atom", "anon", None), ("countryFeed", "GET", "/countries/{country}/feed.atom", "anon", None),
    ("themeFeed", "GET", "/themes/{theme}/feed.atom", "anon", None), ("sitemap", "GET", "/sitemap.xml", "anon", None),
    ("robots", "GET", "/robots.txt", "anon", None), ("health", "GET", "/healthz", "anon", None), ("ready", "GET", "/readyz", "anon", None),
    ("stylesheet", "GET", "/css/site.css", "anon", None), ("printStylesheet", "GET", "/css/print.css", "anon", None),
    ("chooseLanguage", "GET", "/language", "anon", None),
    ("signupForm", "GET", "/signup", "anon", None), ("signup", "POST", "/signup", "anon", "form"),
    ("verifyForm", "GET", "/verify", "anon", None), ("verify", "POST", "/verify", "anon", "form"),
    ("loginForm", "GET", "/login", "anon", None), ("login", "POST", "/login", "anon", "form"),
    ("loginLinkForm", "GET", "/login/link", "anon", None), ("loginLink", "POST", "/login/link", "anon", "form"),
    ("account", "GET", "/account", "supporter", None),
    ("changeEmail", "POST", "/account/email", "supporter", "form"), ("changeLanguage", "POST", "/account/language", "supporter", "form"),
    ("confirmEmailForm", "GET", "/account/email/confirm", "supporter", None),
    ("passwordResetForm", "GET", "/password-reset", "anon", None), ("passwordReset", "POST", "/password-reset", "anon", "form"),
    ("reportForm", "GET", "/report", "anon", None), ("report", "POST", "/report", "anon", "form"),
    ("undoReport", "POST", "/account/reports/{report}/undo", "supporter", "form"),
    ("followForm", "GET", "/follow", "anon", None), ("follow", "POST", "/follow", "anon", "form"),
    ("removeFollow", "POST", "/account/follows/{follow}/remove", "supporter", "form"),
    ("unsubscribeForm", "GET", "/unsubscribe", "anon", None), ("unsubscribe", "POST", "/unsubscribe", "anon", "form"),
    ("followConfirmForm", "GET", "/follow/confirm", "anon", None), ("followConfirm", "POST", "/follow/confirm", "anon", "form"),
    ("followData", "GET", "/follow/data", "anon", None), ("followDataExport", "POST", "/follow/data/export.json", "anon", "form"),
    ("followDataDelete", "POST", "/follow/data/delete", "anon", "form"),
    ("privacy", "GET", "/privacy", "anon", None), ("accountExport", "GET", "/account/export.json", "supporter", None),
    ("accountDeleteForm", "GET", "/account/delete", "supporter", None),
    ("newsroom", "GET", "/newsroom", "newsroom", None), ("newsroomTimeZone", "POST", "/newsroom/time-zone", "newsroom", "form"),
    ("secondFactorForm", "GET", "/newsroom/second-factor", "newsroom", None),
    ("secondFactorEnrol", "POST", "/newsroom/second-factor", "newsroom", "form"),
    ("recoveryCodes", "POST", "/newsroom/second-factor/recovery-codes", "newsroom", "form"),
    ("loginCodeForm", "GET", "/login/code", "anon", None), ("loginCode", "POST", "/login/code", "anon", "form"),
    ("newsroomAccounts", "GET", "/newsroom/accounts", "newsroom", None), ("inviteAccount", "POST", "/newsroom/accounts", "newsroom", "form"),
    ("changeRoles", "POST", "/newsroom/accounts/{account}/roles", "newsroom", "form"),
    ("resetSecondFactor", "POST", "/newsroom/accounts/{account}/second-factor", "newsroom", "form"),
    ("editor", "GET", "/newsroom/tokens", "newsroom", None), ("createToken", "POST", "/newsroom/tokens", "newsroom", "form"),
    ("revokeToken", "POST", "/newsroom/tokens/{token}/revoke", "newsroom", "form"), ("oldEditor", "GET", "/editor", "newsroom", None),
    ("newsroomAudit", "GET", "/newsroom/audit", "newsroom", None), ("newsroomAuditCSV", "GET", "/newsroom/audit.csv", "newsroom", None),
    ("newsroomUrgentActions", "GET", "/newsroom/urgent-actions", "newsroom", None),
    ("newsroomUrgentAction", "GET", "/newsroom/urgent-actions/{number}", "newsroom", None),
    ("newsroomDrafts", "GET", "/newsroom/drafts", "newsroom", None), ("createDraft", "POST", "/newsroom/drafts", "newsroom", "form"),
    ("editPublished", "POST", "/newsroom/edit", "newsroom", "form"), ("newsroomDraft", "GET", "/newsroom/drafts/{draft}", "newsroom", None),
    ("saveDraft", "POST", "/newsroom/drafts/{draft}", "newsroom", "form"), ("draftStep", "POST", "/newsroom/drafts/{draft}/step", "newsroom", "form"),
    ("draftRestore", "POST", "/newsroom/drafts/{draft}/restore", "newsroom", "form"),
    ("draftCompare", "GET", "/newsroom/drafts/{draft}/compare", "newsroom", None),
    ("preview", "GET", "/preview/{preview}", "anon", None),
    ("createPreviewLink", "POST", "/newsroom/drafts/{draft}/preview-links", "newsroom", "form"),
    ("revokePreviewLink", "POST", "/newsroom/drafts/{draft}/preview-links/{preview_link}/revoke", "newsroom", "form"),
    ("devOutbox", "GET", "/dev/outbox", "anon", None),
    ("apiOpenAPI", "GET", "/api/v1/openapi.json", "api", None), ("apiCases", "GET", "/api/v1/cases", "api", None),
    ("apiCase", "GET", "/api/v1/cases/{case}", "api", None), ("apiCreateCase", "POST", "/api/v1/cases", "api", "json"),
    ("apiReplaceCase", "PUT", "/api/v1/cases/{case}", "api", "json"),
    ("apiCreateUrgentAction", "POST", "/api/v1/cases/{case}/urgent-actions", "api", "json"),
    ("apiUrgentActions", "GET", "/api/v1/urgent-actions", "api", None), ("apiUrgentAction", "GET", "/api/v1/urgent-actions/{number}", "api", None),
    ("apiUrgentActionTotals", "GET", "/api/v1/urgent-actions/{number}/totals", "api", None),
    ("apiUrgentActionDocuments", "GET", "/api/v1/urgent-actions/{number}/documents", "api", None),
    ("apiUrgentActionDocument", "GET", "/api/v1/urgent-actions/{number}/documents/{document}", "api", None),
    ("apiCreateDocument", "POST", "/api/v1/urgent-actions/{number}/documents", "api", "json"),
    ("apiReplaceDocument", "PUT", "/api/v1/urgent-actions/{number}/documents/{document}", "api", "json"),
    ("apiDocuments", "GET", "/api/v1/documents", "api", None), ("apiDocument", "GET", "/api/v1/documents/{document}", "api", None),
    ("apiTargets", "GET", "/api/v1/targets", "api", None), ("apiTarget", "GET", "/api/v1/targets/{target}", "api", None),
    ("apiCreateTarget", "POST", "/api/v1/targets", "api", "json"), ("apiReplaceTarget", "PUT", "/api/v1/targets/{target}", "api", "json"),
    ("apiExport", "GET", "/api/v1/export", "api", None), ("apiBundles", "POST", "/api/v1/bundles", "import", "json"),
    ("apiTotals", "GET", "/api/v1/totals", "api", None),
    ("apiDrafts", "GET", "/api/v1/drafts", "api", None), ("apiCreateDraft", "POST", "/api/v1/drafts", "api", "json"),
    ("apiOpenDraft", "POST", "/api/v1/drafts/open", "api", "json"), ("apiDraft", "GET", "/api/v1/drafts/{draft}", "api", None),
    ("apiSaveDraft", "PUT", "/api/v1/drafts/{draft}", "api", "json"),
    ("apiDraftRevision", "GET", "/api/v1/drafts/{draft}/revisions/{revision}", "api", None),
    ("apiDraftSteps", "POST", "/api/v1/drafts/{draft}/steps", "api", "json"),
    ("apiDraftRestore", "POST", "/api/v1/drafts/{draft}/restore", "api", "json"),
    ("apiDraftCompare", "GET", "/api/v1/drafts/{draft}/compare", "api", None),
    # Last: the ones that end a session, change who is logged in, or withdraw 12/25 (in this order: withdraw, redact, republish).
    ("withdrawUrgentAction", "POST", "/newsroom/urgent-actions/{victim}/withdraw", "newsroom", "form"),
    ("apiWithdrawUrgentAction", "POST", "/api/v1/urgent-actions/{victim}/withdraw", "api", "json"),
    ("redactUrgentAction", "POST", "/newsroom/urgent-actions/{victim}/redact", "newsroom", "form"),
    ("apiRedactUrgentAction", "POST", "/api/v1/urgent-actions/{victim}/redact", "api", "json"),
    ("republishUrgentAction", "POST", "/newsroom/urgent-actions/{victim}/republish", "newsroom", "form"),
    ("apiRepublishUrgentAction", "POST", "/api/v1/urgent-actions/{victim}/republish", "api", "json"),
    ("changePassword", "POST", "/account/password", "supporter", "form"),
    ("confirmEmail", "POST", "/account/email/confirm", "supporter", "form"),
    ("passwordNew", "POST", "/password-reset/new", "anon", "form"),
    ("revokeSession", "POST", "/account/sessions/{session}/revoke", "supporter", "form"),
    ("logoutEverywhere", "POST", "/account/logout-everywhere", "supporter", "form"),
    ("logout", "POST", "/logout", "supporter", "form"),
    ("accountDelete", "POST", "/account/delete", "supporter", "form"),
]
LOCALISED = {"home", "urgentActions", "urgentAction", "document", "translation", "kase", "outcomes", "feeds", "signupForm", "loginForm",
             "account", "reportForm", "followForm", "privacy", "accountDeleteForm", "newsroom", "secondFactorForm", "loginCodeForm",
             "newsroomAccounts", "editor", "newsroomAudit", "newsroomUrgentActions", "newsroomUrgentAction", "newsroomDrafts",
             "newsroomDraft", "draftCompare"}
# Routes after which the session used may be gone (or the account's address or password changed).
ENDS_SESSION = {"changePassword", "confirmEmail", "passwordNew", "revokeSession", "logoutEverywhere", "logout", "accountDelete",
                "login", "loginLink", "verify", "loginCode"}
FILLS = {"number": "126-19", "victim": "12-25", "part": "initial", "file": "initial.pdf", "language": "ru", "languageFile": "ru.pdf",
         "oldLetter": "letter", "case": "demo-li-wei", "country": "CN", "theme": "labour-rights", "document": "ua-126-19-0-en",
         "target": "ru-prosecutor-general", "revision": "1", "lang": "en"}
# Where a route needs other values than FILLS: letters are made for an open action (88/26, whose
# original is in Chinese and has an English translation); old letter links end in letter.pdf.
ROUTE_FILLS = {"apiCreateDocument": {"number": "77-26"}, "letter": {"number": "88-26"}, "translationLetter": {"number": "88-26", "language": "en"},
               "oldLetter": {"oldLetter": "letter.pdf"}, "oldTranslationLetter": {"oldLetter": "letter.pdf"}}
QUERY_DEFAULTS = {
    "chooseLanguage": {"to": "en", "next": "/en/"}, "feed": {"lang": "en"}, "caseFeed": {"lang": "en"},
    "urgentActions": {"q": "Li Wei"}, "pack": {"country": "CN", "paper": "a4"}, "download": {"paper": "a4"},
    "translationDownload": {"paper": "a4"}, "verifyForm": {"token": "{tok:verify}", "next": "/en/account", "lang": "en"},
    "loginLinkForm": {"token": "{tok:login_link}", "lang": "en"}, "confirmEmailForm": {"token": "{tok:email_confirm}", "lang": "en"},
    "passwordResetForm": {"token": "{tok:password_reset}", "lang": "en"}, "unsubscribeForm": {"token": "{tok:unsubscribe}", "lang": "en"},
    "unsubscribe": {"token": "{tok:unsubscribe}", "lang": "en"}, "followConfirmForm": {"token": "{tok:follow_confirm}", "lang": "en"},
    "followData": {"token": "{tok:follow_data}", "lang": "en"}, "reportForm": {"document": "ua-126-19-0-en"},
    "loginForm": {"next": "/en/account"}, "signupForm": {"next": "/en/account"}, "verify": {"next": "/en/account"},
    "followForm": {"case": "demo-li-wei"}, "apiCases": {"limit": "10"}, "apiUrgentActions": {"limit": "10"},
    "apiDocuments": {"limit": "10", "case": "demo-li-wei"}, "apiTargets": {"limit": "10"}, "apiExport": {"case": "demo-li-wei"},
    "apiDrafts": {"limit": "10"}, "apiDraftCompare": {"a": "1", "b": "1"}, "newsroomAudit": {"action": "login.success"},
    "newsroomAuditCSV": {"from": "2020-01-01"}, "newsroomUrgentActions": {"number": "126/19"}, "newsroomDrafts": {"state": "draft"},
    "draftCompare": {"a": "1", "b": "1"},
}
# The fields of each form (from Resources/Views), with values that pass; "{csrf}" is the sender's token.
FORMS = {
    "letter": [("lang", "en"), ("target", "cn-provincial-procurator"), ("language", "zh-Hans"), ("name", "Ann Example"), ("town", "Leeds"),
               ("initials", "1"), ("format", "pdf")],
    "translationLetter": [("lang", "en"), ("target", "cn-provincial-procurator"), ("language", "en"), ("name", "Ann Example"),
                          ("town", "Leeds"), ("initials", "1"), ("format", "docx")],
    "signup": [("csrf", "{csrf}"), ("lang", "en"), ("next", "/en/account"), ("email", "{fresh_email}"), ("display_name", "Ann Example"),
               ("country", "GB"), ("language", "en"), ("password", "{password}")],
    "verify": [("csrf", "{csrf}"), ("lang", "en"), ("token", "{tok:verify}")],
    "login": [("csrf", "{csrf}"), ("lang", "en"), ("next", "/en/account"), ("email", "{email}"), ("password", "{password}"), ("remember", "1")],
    "loginLink": [("csrf", "{csrf}"), ("lang", "en"), ("token", "{tok:login_link}")],
    "logout": [("csrf", "{csrf}"), ("lang", "en")], "revokeSession": [("csrf", "{csrf}"), ("lang", "en")],
    "logoutEverywhere": [("csrf", "{csrf}"), ("lang", "en")],
    "changePassword": [("csrf", "{csrf}"), ("lang", "en"), ("current", "{password}"), ("password", "{password}")],
    "changeEmail": [("csrf", "{csrf}"), ("lang", "en"), ("current", "{password}"), ("email", "new-{email}")],
    "changeLanguage": [("csrf", "{csrf}"), ("lang", "en"), ("language", "en")],
    "confirmEmail": [("csrf", "{csrf}"), ("lang", "en"), ("token", "{tok:email_confirm}")],
    "passwordReset": [("csrf", "{csrf}"), ("lang", "en"), ("email", "{supporter_email}")],
    "passwordNew": [("csrf", "{csrf}"), ("lang", "en"), ("token", "{tok:password_reset}"), ("password", "{password}")],
    "report": [("csrf", "{csrf}"), ("lang", "en"), ("document", "ua-126-19-0-en"), ("key", "{report_key}"),
               ("targets[]", "ru-prosecutor-general"), ("channel", "letter"), ("follow", "1"), ("email", "reporter@example.org"),
               ("confirm_again", "1")],
    "undoReport": [("csrf", "{csrf}"), ("lang", "en")], "removeFollow": [("csrf", "{csrf}"), ("lang", "en")],
    "follow": [("csrf", "{csrf}"), ("lang", "en"), ("case", "demo-li-wei"), ("email", "follower@example.org"), ("frequency", "each"),
               ("language", "en"), ("consent", "1")],
    "unsubscribe": [("token", "{tok:unsubscribe}"), ("lang", "en"), ("List-Unsubscribe", "One-Click")],
    "followConfirm": [("csrf", "{csrf}"), ("lang", "en"), ("token", "{tok:follow_confirm}")],
    "followDataExport": [("csrf", "{csrf}"), ("lang", "en"), ("token", "{tok:follow_data}")],
    "followDataDelete": [("csrf", "{csrf}"), ("lang", "en"), ("token", "{tok:follow_data}")],
    "accountDelete": [("csrf", "{csrf}"), ("lang", "en"), ("password", "{password}")],
    "newsroomTimeZone": [("csrf", "{csrf}"), ("lang", "en"), ("zone", "Europe/London")],
    "secondFactorEnrol": [("csrf", "{csrf}"), ("lang", "en"), ("pending", "x"), ("code", "123456"), ("current", "{password}")],
    "recoveryCodes": [("csrf", "{csrf}"), ("lang", "en"), ("current", "{password}")],
    "loginCode": [("csrf", "{csrf}"), ("lang", "en"), ("code", "123456")],
    "inviteAccount": [("csrf", "{csrf}"), ("lang", "en"), ("name", "Invited"), ("email", "{fresh_email}"), ("editor", "1"),
                      ("publisher", "1"), ("admin", "1"), ("current", "{password}")],
    "changeRoles": [("csrf", "{csrf}"), ("lang", "en"), ("editor", "1"), ("publisher", "1"), ("admin", "1"), ("current", "{password}")],
    "resetSecondFactor": [("csrf", "{csrf}"), ("lang", "en"), ("current", "{password}")],
    "createToken": [("csrf", "{csrf}"), ("lang", "en"), ("label", "made by the hostile test"), ("scope", "read"), ("current", "{password}")],
    "revokeToken": [("csrf", "{csrf}"), ("lang", "en")],
    "withdrawUrgentAction": [("csrf", "{csrf}"), ("lang", "en"), ("reason", "A safety review"), ("current", "{password}")],
    "redactUrgentAction": [("csrf", "{csrf}"), ("lang", "en"), ("from", "Ana Morales"), ("to", "[name withheld]"), ("current", "{password}")],
    "republishUrgentAction": [("csrf", "{csrf}"), ("lang", "en"), ("current", "{password}")],
    "createDraft": [("csrf", "{csrf}"), ("lang", "en"), ("kind", "urgent_action"), ("case", "crimean-tatar-defenders-kuku"), ("number", ""),
                    ("ua", "126/19"), ("original", "ua-126-19-0-en"), ("language", "en")],
    "editPublished": [("csrf", "{csrf}"), ("lang", "en"), ("kind", "target"), ("subject", "ru-prosecutor-general")],
    "draftRestore": [("csrf", "{csrf}"), ("lang", "en"), ("revision", "1"), ("base", "{draft_revision}")],
    "createPreviewLink": [("csrf", "{csrf}"), ("lang", "en"), ("label", "hostile"), ("days", "7")],
    "revokePreviewLink": [("csrf", "{csrf}"), ("lang", "en")],
}
# Read from the live draft page (the editing form's fields come from the draft's content).
PAGE_FORMS = {"saveDraft": r"/newsroom/drafts/[0-9a-f-]{36}$", "draftStep": r"/step$"}


def json_paths(value, path=()):
    """Every member of a JSON value (the first item of each array), the whole value's members first."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield path + (k,)
            yield from json_paths(v, path + (k,))
    elif isinstance(value, list) and value:
        yield path + (0,)
        yield from json_paths(value[0], path + (0,))


MARK = "\u0001hostile\u0001"


def json_with(value, path, h):
    """`value` as JSON bytes with the member at `path` replaced by the hostile value's fragment."""
    import copy
    v = copy.deepcopy(value)
    if path:
        node = v
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = MARK
    else:
        v = MARK
    text = json.dumps(v, ensure_ascii=False).encode()
    return text.replace(json.dumps(MARK).encode(), h.json_fragment())


# --- Sending and checking -------------------------------------------------------------------------

LEAKS = [b"root:x:0:0", b"SQLite format 3\x00", b"PRIVATE KEY", b"[boot loader]"]


class Run:
    """Sends probes to a started `Site` and checks every answer; failures are collected."""

    def __init__(self, site):
        self.site = site
        self.failures = []
        self.requests = 0
        self.statuses = {}
        self.escaped_echoes = 0
        self.fields = set()
        self.routes = set()
        self.last_counts = site.counts()
        self.fresh = 0
        self.by_family = {h.family: [x for x in CORPUS if x.family == h.family] for h in CORPUS}
        self.secret = (site.tmp / "secret").read_bytes().strip() if (site.tmp / "secret").exists() else None
        self.stored = [d for d in (dangerous(h) for h in CORPUS if h.family in ("markup", "type")) if d and "<" in d and len(d) >= 8]
        self.excluded = set()
        self.slow = []

    # Values that are in ordinary pages anyway cannot show an echo.
    def baseline(self, pages):
        texts = []
        for who, path in pages:
            a = self.site.page(who, path)
            texts.append(a.body.decode("utf-8", "replace"))
        for h in CORPUS:
            d = dangerous(h)
            if d and any(d in t for t in texts):
                self.excluded.add(d)
        self.stored = [d for d in self.stored if d not in self.excluded]

    def fill(self, text, who):
        s = self.site
        if "{" not in text:
            return text
        def one(m):
            key = m.group(1)
            if key == "csrf":
                return who.csrf or ""
            if key == "password":
                return who.password
            if key in ("email", "supporter_email"):
                return (who if key == "email" and who.email else s.supporter).email or ""
            if key == "fresh_email":
                self.fresh += 1
                return f"fresh-{self.fresh}-{s.port}@example.org"
            if key.startswith("tok:"):
                return s.tokens.get(key[4:], "no-such-token")
            if key == "report_key":
                return s.report_key.get(who.name, "")
            if key == "draft_revision":
                return str(s.draft_revision())
            if key == "draft2_revision":
                return str(s.draft_revision(1))
            return m.group(0)
        return re.sub(r"\{([a-z_:0-9]+)\}", one, text)

    def send(self, label, method, target, headers, body, values, who, route, close=False, timeout=60):
        s = self.site
        s.last_label = label
        self.requests += 1
        t0 = time.time()
        a = s.client.send(method, target, headers, body, timeout=timeout)
        took = time.time() - t0
        if took > 1:
            self.slow.append((took, a.status, self.describe(label, method, target, headers, body)))
        if close:
            s.client.close()
        self.statuses[a.status] = self.statuses.get(a.status, 0) + 1
        if method not in ("GET", "HEAD") and a.status is not None and 200 <= a.status < 400:
            s.generation += 1
        self.check(label, method, target, headers, body, values, a, route)
        if self.requests % 100 == 0:
            self.alive(label, method, target, body)
        return a

    def describe(self, label, method, target, headers, body):
        t = target if len(target) < 300 else target[:300] + f"…({len(target)})"
        b = body[:300] if body else b""
        if body and len(body) > 300:
            b += f"…({len(body)})".encode()
        hs = [(k, (v if len(v) < 200 else v[:200] + f"…({len(v)})") if isinstance(v, (str, bytes)) else v) for k, v in headers
              if k not in ("Host",)]
        return f"{label}\n    {method} {t}\n    headers {hs}\n    body {b!r}"

    def fail(self, label, method, target, headers, body, problem):
        self.failures.append(problem + "\n    " + self.describe(label, method, target, headers, body))

    def alive(self, label="", method="", target="", body=None):
        s = self.site
        if s.server.proc.poll() is not None:
            err = s.server.proc.stderr.read().decode(errors="replace")[-3000:]
            raise AssertionError(f"the server died (exit {s.server.proc.returncode}) after:\n{self.describe(label, method, target, [], body)}\n{err}")
        c = Client(s.port)
        try:
            a = c.send("GET", "/healthz", [("Host", f"127.0.0.1:{s.port}")], timeout=30)
        finally:
            c.close()
        if a.status != 200:
            raise AssertionError(f"/healthz answers {a.status} {a.error} after:\n{self.describe(label, method, target, [], body)}")

    def check(self, label, method, target, headers, body, values, a, route):
        s = self.site
        if a.status is None:
            # A huge body may be cut short by the server's answer and close; anything else is a failure.
            self.alive(label, method, target, body)
            if not (body and len(body) >= 1_000_000):
                self.fail(label, method, target, headers, body, f"no answer ({a.error})")
            return
        if a.status >= 500:
            self.fail(label, method, target, headers, body, f"{a.status}: {a.body[:300]!r}")
        # Headers: nothing injected, no cookie but Vigil's, no redirect off the site.
        for k, v in a.headers:
            if k.strip().lower() in ("x", "y") or "\r" in v or "\n" in v:
                self.fail(label, method, target, headers, body, f"injected header {k}: {v!r}")
        for c in a.header("Set-Cookie"):
            name = c.split("=", 1)[0].strip()
            if not COOKIE_NAMES.match(name):
                self.fail(label, method, target, headers, body, f"a cookie that is not Vigil's: {c!r}")
        for loc in a.header("Location"):
            u = urllib.parse.urlsplit(loc)
            if (u.netloc and u.netloc != f"127.0.0.1:{s.port}") or loc.startswith(("//", "/\\")) or re.search(r"[\x00-\x1f\\\\]", loc) \
                    or u.scheme not in ("", "http"):
                self.fail(label, method, target, headers, body, f"redirect off the site: Location {loc!r}")
        # The body.
        ctype = a.ctype
        if any(leak in a.body for leak in LEAKS) or (self.secret and self.secret in a.body):
            self.fail(label, method, target, headers, body, f"a file leaked: {a.body[:200]!r}")
        if "json" in ctype and a.body and method != "HEAD":
            try:
                json.loads(a.body)
            except ValueError as e:
                self.fail(label, method, target, headers, body, f"not JSON ({e}): {a.body[:200]!r}")
        if "html" in ctype or "xml" in ctype:
            text = a.body.decode("utf-8", "replace")
            is_html = "html" in ctype
            for h in values:
                d = dangerous(h)
                if not d or d in self.excluded or (not is_html and "<" not in d):
                    continue
                if d in text:
                    at = text.index(d)
                    self.fail(label, method, target, headers, body,
                              f"unescaped echo of {h.short()} in {ctype}: …{text[max(0, at - 120):at + len(d) + 40]!r}…")
                elif htmllib.escape(d).replace("&#x27;", "&#39;") in text:
                    self.escaped_echoes += 1
            for d in self.stored:
                if d in text and not any(d == dangerous(h) for h in values):
                    at = text.index(d)
                    self.fail(label, method, target, headers, body,
                              f"a stored value shown unescaped ({d[:60]!r}) in {ctype}: …{text[max(0, at - 120):at + len(d) + 40]!r}…")
        # Nothing half-written: the counts move only with an answer that says something was done.
        now = s.counts()
        if now != self.last_counts and not 200 <= a.status < 400:
            self.fail(label, method, target, headers, body,
                      f"{a.status} but {dict(zip(s.COUNTED, self.last_counts))} became {dict(zip(s.COUNTED, now))}")
        self.last_counts = now

    def resync(self):
        self.last_counts = self.site.counts()

    def merge(self, other):
        self.failures += other.failures
        self.requests += other.requests
        for k, v in other.statuses.items():
            self.statuses[k] = self.statuses.get(k, 0) + v
        self.escaped_echoes += other.escaped_echoes
        self.fields |= other.fields
        self.routes |= other.routes
        self.slow += other.slow


ROUTE_BY_NAME = {r[0]: r for r in ROUTES}


class Req:
    __slots__ = ("method", "path", "query", "raw_query", "body", "ctype", "headers", "close", "values", "label", "timeout")

    def target(self):
        q = self.raw_query if self.raw_query is not None else "&".join(pct(k) + "=" + pct(v) for k, v in self.query)
        return self.path + ("?" + q if q else "")


def urlencode_pairs(pairs):
    return "&".join(pct(k) + "=" + pct(v) for k, v in pairs).encode()


class Probes:
    """The requests for one route as one identity: the route as it passes, then each field with
    hostile values, then the request-level mutations."""

    def __init__(self, run):
        self.run = run
        self.site = run.site
        self.query_keys = endpoint_query_keys()

    def who(self, name):
        return {"anon": self.site.anon, "supporter": self.site.supporter, "newsroom": self.site.newsroom, "api": self.site.api,
                "import": self.site.importer}[name]

    def segments(self, name):
        _, method, pattern, _, _ = ROUTE_BY_NAME[name]
        segs = [("param", p[1:-1]) if p.startswith("{") else ("lit", p) for p in pattern.strip("/").split("/") if p]
        if name in LOCALISED:
            segs = [("param", "lang")] + segs
        return segs

    def fill_param(self, kind):
        ids = self.site.ids
        table = {"session": ids["session"][0], "report": ids["report"][0], "follow": ids["follow"][0], "account": ids["account"][0],
                 "token": ids["token"][0], "draft": ids["draft"][0], "draft2": ids["draft"][1], "preview_link": ids["preview_link"][0], "preview": ids["preview"][0]}
        return (table.get(kind) or FILLS[kind]).encode()

    def fields(self, name, who):
        """(kind, [(key, bytes)]) of the body: "form" pairs or "json" (an object)."""
        if name in PAGE_FORMS:
            # The page's fields as they first were (not with what a hostile save left in them), its
            # revision as it now is.
            key = ("draft page", name, who.name)
            draft = 0
            if key not in self.site._cache:
                page = self.site.page(who, f"/en/newsroom/drafts/{self.site.ids['draft'][draft]}").body.decode(errors="replace")
                self.site._cache[key] = form_fields(page, PAGE_FORMS[name])[1] or []
            fields = [(k, ("{draft2_revision}" if draft else "{draft_revision}") if k in ("base_revision", "revision") else v)
                      for k, v in self.site._cache[key] if k != "csrf"] + [("csrf", "{csrf}")]
            if name == "saveDraft":
                fields = [(k, v or ("Hostile" if k.endswith("title") else v)) for k, v in fields]
            return [(k, self.run.fill(v, who).encode()) for k, v in fields]
        return [(k, self.run.fill(v, who).encode()) for k, v in FORMS.get(name, [])]

    def make(self, name, who, over=None):
        """The request for route `name` as `who`, with `over` = (where, key, H) replacing one field."""
        _, method, _, _, body_kind = ROUTE_BY_NAME[name]
        r = Req()
        r.method, r.raw_query, r.close, r.timeout = method, None, False, 30
        r.values = [over[2]] if over else []
        r.label = f"{name} as {who.name}" + (f", {over[0]} {over[1]!s} = {over[2].short()}" if over else "")
        parts = []
        for kind, text in self.segments(name):
            if kind == "lit":
                parts.append(text)
            elif over and over[0] == "path" and over[1] == text:
                parts.append(pct(over[2].raw()))
            else:
                parts.append(pct(ROUTE_FILLS.get(name, {}).get(text, "").encode() or self.fill_param(text)))
        r.path = "/" + "/".join(parts) + ("/" if name == "home" else "")
        query = [(k.encode(), self.run.fill(v, who).encode()) for k, v in QUERY_DEFAULTS.get(name, {}).items()]
        if over and over[0] == "query":
            query = [(k, v) for k, v in query if k != over[1].encode()] + [(over[1].encode(), over[2].raw())]
        r.query = query
        r.headers = [("Host", f"127.0.0.1:{self.site.port}"), ("Accept-Language", "en"), ("X-Forwarded-For", self.site.next_ip()),
                     ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")]
        if who.cookies:
            r.headers.append(("Cookie", who.cookie_header()))
        if who.bearer:
            r.headers.append(("Authorization", "Bearer " + who.bearer))
        r.body, r.ctype = None, None
        if body_kind == "form":
            pairs = self.fields(name, who)
            if over and over[0] == "form":
                pairs = [(k, over[2].raw() if k == over[1] else v) for k, v in pairs]
            r.body, r.ctype = urlencode_pairs(pairs), "application/x-www-form-urlencoded"
        elif body_kind == "json":
            obj = self.site.json_body(name)
            r.body = json_with(obj, over[1], over[2]) if over and over[0] == "json" else json.dumps(obj, ensure_ascii=False).encode()
            r.ctype = "application/json"
        return r

    def field_list(self, name, who):
        """Every field of the route: ("path", kind), ("query", key), ("form", name) or ("json", path)."""
        _, method, _, _, body_kind = ROUTE_BY_NAME[name]
        out = [("path", text) for kind, text in self.segments(name) if kind == "param"]
        keys = list(self.query_keys.get(name, [])) + [k for k in QUERY_DEFAULTS.get(name, {}) if k not in self.query_keys.get(name, [])]
        out += [("query", k) for k in keys]
        if body_kind == "form":
            seen = []
            for k, _ in self.fields(name, who):
                if k not in seen:
                    seen.append(k)
            out += [("form", k) for k in seen]
        elif body_kind == "json":
            out += [("json", p) for p in json_paths(self.site.json_body(name))]
            out.append(("json", ()))  # the whole body
        return out

    def pick(self, name, field, family, n=1):
        values = self.run.by_family[family]
        start = zlib.crc32(f"{name}|{field}|{family}".encode()) % len(values)
        return [values[(start + i * 7) % len(values)] for i in range(min(n, len(values)))]


def mutations(p, name, who):
    """Request-level hostile variants of the route's ordinary request, by family."""
    _, method, pattern, _, body_kind = ROUTE_BY_NAME[name]
    site = p.site
    out = []

    def m(family, label, fn, close=False):
        out.append((family, label, fn, close))

    def set_header(r, k, v):
        r.headers = [(a, b) for a, b in r.headers if a.lower() != k.lower()] + ([(k, v)] if v is not None else [])

    # Content types.
    def json_to_form(r):
        if r.body is not None and r.ctype and "form" in r.ctype:
            r.body = json.dumps(dict(urllib.parse.parse_qsl(r.body.decode(errors="replace")))).encode()
        r.ctype = "application/json"
    def form_to_json(r):
        if r.ctype == "application/json":
            try:
                obj = json.loads(r.body)
                r.body = urllib.parse.urlencode({k: json.dumps(v) for k, v in obj.items()} if isinstance(obj, dict) else {"a": "1"}).encode()
            except ValueError:
                r.body = b"a=1"
        r.ctype = "application/x-www-form-urlencoded"
    def multipart_broken(r):
        r.ctype = "multipart/form-data; boundary=XyZ"
        r.body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + (r.body or b"") + b"\r\n--AbC--\r\n"
    def multipart_no_boundary(r):
        r.ctype = "multipart/form-data"
        r.body = b"--\r\n\r\n" + (r.body or b"")
    def multipart_huge_boundary(r):
        r.ctype = "multipart/form-data; boundary=" + "b" * 5000
        r.body = b"--" + b"b" * 5000 + b"\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx"
    def no_ctype(r):
        r.ctype = None
        if r.body is None:
            r.body = b"a=1"
    def ctype(value, body=None):
        def f(r):
            r.ctype = value
            if body is not None:
                r.body = body(r)
        return f
    m("content-type", "JSON to a form route", json_to_form)
    m("content-type", "a form to a JSON route", form_to_json)
    m("content-type", "multipart with a broken boundary", multipart_broken)
    m("content-type", "multipart without a boundary", multipart_no_boundary)
    m("content-type", "multipart with a 5 KB boundary", multipart_huge_boundary)
    m("content-type", "no content type", no_ctype)
    m("content-type", "text/plain", ctype("text/plain"))
    m("content-type", "a charset that is markup", lambda r: setattr(r, "ctype", (r.ctype or "application/x-www-form-urlencoded") + '; charset="<script>"'))
    m("content-type", "UTF-16 JSON", ctype("application/json; charset=utf-16", lambda r: (r.body or b"{}").decode("utf-8", "replace").encode("utf-16")))
    m("content-type", "XML", ctype("application/xml", lambda r: b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'))
    m("content-type", "a content type of 10 KB", ctype("application/x-www-form-urlencoded; a=" + "b" * 10_000))
    m("content-type", "a content type that is not one", ctype("\u00e9\u00e9/\u00e9\u00e9".encode("latin-1")))
    # Bodies.
    m("body", "percent signs that decode to nothing", lambda r: setattr(r, "body", (r.body or b"") + b"&a=%&b=%zz&%ff=1&c=%u0041&=&&"))
    m("body", "fields without =", lambda r: setattr(r, "body", b"csrf&lang&token&email"))
    m("body", "each field 1,000 times", lambda r: setattr(r, "body", b"&".join([r.body or b"a=1"] * 1000)))
    m("body", "JSON with trailing garbage", lambda r: setattr(r, "body", (r.body or b"{}") + b"}}garbage"))
    m("body", "JSON with a BOM", lambda r: setattr(r, "body", b"\xef\xbb\xbf" + (r.body or b"{}")))
    m("body", "an empty body", lambda r: setattr(r, "body", b""))
    m("body", "a body of NUL bytes", lambda r: setattr(r, "body", b"\x00" * 4096))
    m("body", "a body of 2 MB", lambda r: setattr(r, "body", b"a=" + b"x" * 2_000_000))
    m("body", "10,000 nested arrays", lambda r: setattr(r, "body", b"[" * 10_000 + b"]" * 10_000))
    m("body", "a JSON number too big", lambda r: setattr(r, "body", b"1e309"))
    m("body", "a lone surrogate in JSON", lambda r: setattr(r, "body", b'{"csrf":"\\ud800","reason":"\\udfff","title":"\\ud800"}'))
    # Cookies.
    def cookies(value):
        return lambda r: set_header(r, "Cookie", value)
    session = "vigil-session"
    m("cookie", "vigil-session=%00", cookies(f"{session}=%00"))
    m("cookie", "a 5 KB session cookie", cookies(f"{session}=" + "A" * 5000))
    m("cookie", "300 cookies", cookies("; ".join(f"c{i}=v{i}" for i in range(300))))
    m("cookie", "a CSRF cookie of markup", cookies("vigil-csrf=<script>alert(1)</script>; vigil-session=\"><img>"))
    m("cookie", "the session cookie twice", lambda r: set_header(r, "Cookie", "vigil-session=AAAA; " + (dict(r.headers).get("Cookie") or "")))
    m("cookie", "a cookie without =", cookies("vigil-session"))
    m("cookie", "cookie bytes that are not UTF-8", cookies(b"vigil-session=\xff\xfe; vigil-csrf=\xc0\x80"))
    m("cookie", "a quoted cookie", cookies('vigil-session="a;b"; vigil-csrf="'))
    m("cookie", "a session cookie of SQL", cookies(f"{session}=' OR 1=1 --; vigil-csrf=%27%3B%20DROP%20TABLE%20sessions"))
    m("cookie", "a pending cookie of junk", cookies("vigil-pending=" + "x." * 100))
    # Accept-Language.
    def al(value):
        return lambda r: set_header(r, "Accept-Language", value)
    m("accept-language", "*;q=abc", al("*;q=abc"))
    m("accept-language", "10 KB", al(("en-GB;q=0.9, " * 800)[:10_000]))
    m("accept-language", "q=1e309 and -1", al("en;q=1e309, ar;q=-1, ru;q=NaN"))
    m("accept-language", "markup", al("<script>alert(1)</script>"))
    m("accept-language", "bytes that are not UTF-8", al(b"\xff\xfe;q=1"))
    m("accept-language", "only separators", al(",,,;;;==,"))
    m("accept-language", "a tag of 100 characters", al("x-" + "a" * 100))
    m("accept-language", "500 languages", al(", ".join(f"l{i:03d}" for i in range(500))))
    m("accept-language", "an empty one", al(""))
    # Query strings.
    key = (p.query_keys.get(name) or ["a"])[0]
    def q(raw):
        return lambda r: setattr(r, "raw_query", raw)
    m("query", "?a=%", q("a=%"))
    m("query", "?a[]=1&a[]=2", q(f"{key}[]=1&{key}[]=2&a[b]=c"))
    m("query", "a key 1,000 times", q("&".join([f"{key}=1"] * 1000)))
    m("query", "?%ff=1", q("%ff=1&%c0%80=%c3%28"))
    m("query", "?=&&=", q("=&&=&"))
    m("query", "a key without =", q(key))
    m("query", "?a=%zz", q(f"{key}=%zz&b=%u0041"))
    m("query", "?%00=1", q(f"%00=1&{key}=%00"))
    m("query", "?a=1;b=2", q(f"{key}=1;b=2"))
    m("query", "a query of 7 KB", q(f"{key}=" + "a" * 7000))
    m("query", "a query with + and spaces", q(f"{key}=+++%20%20+"))
    # Headers.
    m("header", "X-Forwarded-For of markup", lambda r: set_header(r, "X-Forwarded-For", "<script>, 999.1.1.1, ::ffff:1.2.3.4, [::1]:80"))
    m("header", "Forwarded of junk", lambda r: set_header(r, "Forwarded", 'for="<script>";proto=javascript;host=evil.example'))
    m("header", "Host evil.example", lambda r: set_header(r, "Host", "evil.example"))
    m("header", "Host of markup", lambda r: set_header(r, "Host", "<script>alert(1)</script>"))
    m("header", "no Host", lambda r: set_header(r, "Host", None))
    m("header", "If-None-Match of markup", lambda r: set_header(r, "If-None-Match", '"<script>", W/"x", *'))
    m("header", "If-Modified-Since of junk", lambda r: set_header(r, "If-Modified-Since", "yesterday at noon"))
    m("header", "Range of junk", lambda r: set_header(r, "Range", "bytes=999999999999999999999-, -0, a-b"))
    m("header", "Origin null", lambda r: set_header(r, "Origin", "null"))
    m("header", "User-Agent of 10 KB", lambda r: set_header(r, "User-Agent", "Mozilla/5.0 " + "x" * 10_000))
    m("header", "X-HTTP-Method-Override", lambda r: set_header(r, "X-HTTP-Method-Override", "DELETE"))
    m("header", "Authorization of junk", lambda r: set_header(r, "Authorization", "Bearer vgl_<script>' OR 1=1 --"))
    m("header", "Authorization Basic", lambda r: set_header(r, "Authorization", "Basic " + base64.b64encode(b"\xff:\x00").decode()))
    m("header", "Expect: 100-continue", lambda r: set_header(r, "Expect", "100-continue"))
    m("header", "Transfer-Encoding and Content-Length", lambda r: (set_header(r, "Transfer-Encoding", "chunked"),
                                                                    setattr(r, "body", r.body or b"a=1")), close=True)
    m("header", "a header of bytes that are not UTF-8", lambda r: set_header(r, "X-Hostile", b"\xff\xfe\xc0\x80"))
    # Methods the route does not take.
    taken = {mm for n, mm, pp, _, _ in ROUTES if pp == pattern}
    for other in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW"]:
        if other not in taken:
            # After CONNECT the connection is a tunnel (NIO reads no further request on it): a new one follows.
            m("method", other, (lambda o: lambda r: setattr(r, "method", o))(other), close=other == "CONNECT")
    m("method", "HEAD", lambda r: setattr(r, "method", "HEAD"))
    m("method", "GET with a body", lambda r: (setattr(r, "method", "GET"), setattr(r, "body", b"a=1&csrf=x"),
                                              setattr(r, "ctype", "application/x-www-form-urlencoded")))
    return out


# --- The run --------------------------------------------------------------------------------------

def registered_shapes(site):
    """(method, address with :p1…) of every route `vigil routes` prints."""
    out = site.vigil.run("routes").stdout.decode()
    return {(m, p) for m, p in re.findall(r"\|\s*([A-Z]+)\s*\|\s*(/\S*)\s*\|", out)}


def shape(pattern):
    n = 0
    parts = []
    for p in pattern.strip("/").split("/"):
        if p.startswith("{"):
            n += 1
            parts.append(f":p{n}")
        elif p:
            parts.append(p)
    return "/" + "/".join(parts)


def secondaries(name, primary):
    if name.startswith("api"):
        return [w for w in ("anon", "api") if w != primary]
    # The newsroom's session is not ended on purpose: its next log-in waits for a new code.
    return [w for w in ("anon", "supporter", "newsroom") if w != primary and not (w == "newsroom" and name in ENDS_SESSION)]


def prepare(site, run, name):
    """A fresh single-use token for the routes that take one (the earlier one is used, or a later
    mail replaced it)."""
    try:
        if name in ("verifyForm", "verify"):
            site.tokens["verify"] = site.sign_up(Identity("unconfirmed"), confirm=False)
        elif name in ("passwordResetForm", "passwordNew"):
            site.post(site.anon, "/password-reset", "/password-reset", {"email": site.supporter.email})
            site.tokens["password_reset"] = site.mail_for(site.supporter.email, r"/password-reset\?token=([^\s\"'<&]+)") or "no-such-token"
        elif name in ("confirmEmailForm", "confirmEmail"):
            # A new account: the change of address asks for the password, which the account's
            # earlier requests may have asked too often this hour.
            site.sign_up(site.supporter)
            site.ensure_supporter()
            new = "changed-" + site.supporter.email
            site.post(site.supporter, "/en/account", "/account/email", {"current": site.supporter.password, "email": new})
            site.tokens["email_confirm"] = site.mail_for(new, r"/account/email/confirm\?token=([^\s\"'<&]+)") or "no-such-token"
    finally:
        run.resync()


def ensure(site, run, who):
    if who is site.supporter:
        site.ensure_supporter()
    elif who is site.newsroom:
        site.ensure_newsroom()
    elif who is site.anon and not who.csrf:
        site.csrf_of(who, "/en/login")
    run.resync()


def hostile_run(site, full, routes=ROUTES):
    started = time.time()
    run = Run(site)
    probes = Probes(run)
    for who in (site.anon, site.supporter, site.newsroom):
        ensure(site, run, who)
    run.baseline([(site.anon, "/en/"), (site.anon, "/en/urgent-actions/126-19/initial"), (site.anon, "/en/cases/demo-li-wei"),
                  (site.supporter, "/en/account"), (site.newsroom, f"/en/newsroom/drafts/{site.ids['draft'][0]}"),
                  (site.newsroom, "/en/newsroom/urgent-actions/126-19"), (site.anon, "/en/report?document=ua-126-19-0-en"),
                  (site.anon, "/en/signup"), (site.newsroom, "/en/newsroom/accounts"), (site.newsroom, "/en/newsroom/audit")])
    per_route = []

    def send(r, name, who):
        a = run.send(r.label, r.method, r.target(), r.headers + ([("Content-Type", r.ctype)] if r.ctype else []), r.body, r.values, who,
                     name, close=r.close, timeout=r.timeout)
        if name in ENDS_SESSION and a.status is not None and 200 <= a.status < 400 and who in (site.supporter, site.newsroom):
            ensure(site, run, who)
        # A write to the draft answers with its new revision: no need to ask for it.
        if a.status == 200 and ("draft" in name.lower() or "Step" in name) and f"/{site.ids['draft'][0]}" in r.path:
            found = re.search(rb'name="base_revision" value="(\d+)"', a.body) or re.search(rb'"current_revision"\s*:\s*(\d+)', a.body)
            if found:
                site._cache[("draft_revision", 0)] = (site.generation, int(found.group(1)))
        return a

    only = os.environ.get("VIGIL_HOSTILE_ONLY")
    for index, (name, method, pattern, primary, body_kind) in enumerate(routes):
        if only and not re.search(only, name):
            continue
        t0, n0 = time.time(), run.requests
        prepare(site, run, name)
        who = probes.who(primary)
        ensure(site, run, who)
        fields = probes.field_list(name, who)
        run.routes.add(name)
        ordinary = send(probes.make(name, who), name, who)
        for field in fields:
            run.fields.add((name, field))
            values = CORPUS if full else [probes.pick(name, field, f)[0] for f in FAMILIES]
            for h in values:
                send(probes.make(name, who, (field[0], field[1], h)), name, who)
        # The other identities: values of a few families (in turn from route to route; every family
        # when full), each into a field in turn.
        for other in secondaries(name, primary):
            w = probes.who(other)
            ensure(site, run, w)
            their = probes.field_list(name, w)
            if not their:
                continue
            families = FAMILIES if full else [FAMILIES[(zlib.crc32(name.encode()) + index * 4 + i) % len(FAMILIES)] for i in range(4)]
            for i, f in enumerate(families):
                field = their[(zlib.crc32(f"{name}|{other}".encode()) + i) % len(their)]
                for h in probes.pick(name, field, f, 3 if full else 1):
                    send(probes.make(name, w, (field[0], field[1], h)), name, w)
        # Request-level mutations: every one when full, else one of each family.
        muts = mutations(probes, name, who)
        if not full:
            chosen = {}
            for mu in muts:
                chosen.setdefault(mu[0], []).append(mu)
            muts = [group[zlib.crc32(name.encode()) % len(group)] for group in chosen.values()]
        for family, label, fn, close in muts:
            for w in ([who] + [probes.who(o) for o in secondaries(name, primary)] if full else [who]):
                ensure(site, run, w)
                r = probes.make(name, w)
                r.label = f"{name} as {w.name}, {family}: {label}"
                fn(r)
                r.close = r.close or close
                send(r, name, w)
        run.alive(name)
        per_route.append((name, ordinary.status, run.requests - n0, time.time() - t0))
        if os.environ.get("VIGIL_HOSTILE_TRACE"):
            print(f"  {name}: ordinary {ordinary.status}, {len(fields)} fields, {run.requests - n0} requests, {time.time() - t0:.1f} s, "
                  f"{len(run.failures)} failures so far", flush=True)
    revisit(site, run)
    return run, per_route, time.time() - started


def revisit(site, run):
    """What the hostile values left behind shows escaped on the pages that show it."""
    for who, path in [(site.anon, "/en/"), (site.anon, "/en/cases/demo-li-wei"), (site.anon, "/en/urgent-actions/126-19/initial"),
                      (site.anon, "/en/cases/hostile-new-case"), (site.anon, "/en/urgent-actions"), (site.anon, "/feed.atom"),
                      (site.anon, "/en/urgent-actions?q=%3Cscript%3E"), (site.anon, "/en/outcomes"),
                      (site.newsroom, "/en/newsroom/audit"), (site.newsroom, "/en/newsroom/drafts"),
                      (site.newsroom, f"/en/newsroom/drafts/{site.ids['draft'][0]}"), (site.newsroom, "/en/newsroom/accounts"),
                      (site.newsroom, "/en/newsroom/tokens"), (site.newsroom, "/en/newsroom/urgent-actions/12-25"),
                      (site.supporter, "/en/account")]:
        ensure(site, run, who)
        r = Probes(run).make("home", who)
        run.send(f"after the run: {path}", "GET", path, r.headers, None, [], who, "after")


def raw_paths(site, run):
    """Addresses sent as they are (not percent-encoded by the test): traversal and odd spellings."""
    for target in ["/cases/../../etc/passwd", "/cases/..%c0%af..%c0%afetc%c0%afpasswd", "/css/..%2f..%2fvigil.sqlite",
                   "/css/../vigil.sqlite", "//etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/en/../../../etc/passwd", "/.vigil-secret",
                   "/vigil.sqlite", "/Resources/Data/demo.json", "/../Package.swift", "/css/%2e%2e/%2e%2e/.vigil-secret",
                   "/css/..%5c..%5cvigil.sqlite", "/css/site.css%00.html", "/css/site.css/..", "/css/", "/css/..%00/",
                   "/en/cases/demo-li-wei/../../../../etc/passwd", "/api/v1/../../etc/passwd", "/api/v1/cases/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                   "/%ff%fe", "/%c0%80", "/%", "/%zz", "/en/%", "/api/v1/%ff", "/urgent-actions/126-19/initial.pdf%00",
                   "/urgent-actions/126-19/..%2f..%2f..%2fetc%2fpasswd.pdf", "*", "/en/?" + "&".join(["a=1"] * 1000),
                   "/en/urgent-actions?q=%", "/en/urgent-actions?page=-1", "/en/urgent-actions?page=99999999999999999999",
                   "/api/v1/cases?limit=-1", "/api/v1/cases?limit=1e309", "/api/v1/cases?cursor=%ff%fe",
                   "http://127.0.0.1/en/", "http://evil.example/en/"]:
        run.send("raw address", "GET", target, [("Host", f"127.0.0.1:{site.port}")], None, [], site.anon, "raw")
    run.alive("raw addresses")


def limits(site):
    """An overlong address answers 414, 100 KB of headers 431 (and the server goes on)."""
    host = f"Host: 127.0.0.1:{site.port}\r\n".encode()
    status = raw_exchange(site.port, b"GET /en/urgent-actions?q=" + b"a" * 240_000 + b" HTTP/1.1\r\n" + host + b"\r\n")
    assert status == 414, f"a 240 KB address answers {status}"
    status = raw_exchange(site.port, b"GET /en/ HTTP/1.1\r\n" + host + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(100)) + b"\r\n")
    assert status == 431, f"100 KB of headers answer {status}"
    status = raw_exchange(site.port, b"GET /en/ HTTP/1.1\r\n" + host + b"Cookie: vigil-session=" + b"a" * 100_000 + b"\r\n\r\n")
    assert status == 431, f"a 100 KB cookie answers {status}"
    status = raw_exchange(site.port, b"GET /en/ HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
    assert status is None or status < 500, status
    status = raw_exchange(site.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)))  # a TLS hello
    assert status is None or status < 500, status
    for target in [b"/en/\x00", b"/en/\xc3\xa9", b"/en/\xff\xfe", b"/en/ /", b"/en/\r/"]:
        status = raw_exchange(site.port, b"GET " + target + b" HTTP/1.1\r\n" + host + b"\r\n")
        assert status is None or status < 500, (target, status)


def integrity(site):
    if site.storage == "sqlite":
        con = sqlite3.connect(site.vigil.env["VIGIL_DATABASE_PATH"], timeout=30)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            con.close()


@pytest.fixture(params=hostile_storages())
def site(request, tmp_path):
    s = Site(tmp_path, request.param)
    try:
        s.start()
        yield s
    finally:
        s.stop()


# Seconds each route took in a bounded run (debug build, three servers side by side), to share
# the routes out evenly: bcrypt makes the log-in and sign-up forms slow, drafts and bundles are big.
WEIGHTS = {"signup": 53, "login": 52, "saveDraft": 45, "apiBundles": 44, "apiReplaceCase": 20, "apiCreateDraft": 16,
           "apiReplaceDocument": 14, "apiReplaceTarget": 9, "createDraft": 8, "apiSaveDraft": 6, "changeEmail": 6, "apiCreateTarget": 6,
           "createPreviewLink": 6, "apiCreateCase": 5, "apiCreateUrgentAction": 5, "newsroomAuditCSV": 5, "redactUrgentAction": 5,
           "newsroomAudit": 5, "draftStep": 4, "revokePreviewLink": 4, "letter": 4, "newsroomDraft": 4, "translationLetter": 4}
VICTIM = {"withdrawUrgentAction", "apiWithdrawUrgentAction", "redactUrgentAction", "apiRedactUrgentAction", "republishUrgentAction",
          "apiRepublishUrgentAction"}


def shards(storage, n=3):
    """The routes shared out among `n` servers on their own databases, side by side (one client
    waiting for each answer, and each write for its fsync, leave the cores idle), the heaviest
    first to the least loaded. Each server takes its routes in the order of ROUTES; the withdraw,
    redact and republish routes go together to one, the routes that end a supporter's session
    together (last) to one."""
    groups = {}
    for r in ROUTES:
        key = "victim" if r[0] in VICTIM else "enders" if r[0] in ENDS_SESSION and r[3] == "supporter" else r[0]
        groups.setdefault(key, []).append(r)
    load, out = [0.0] * n, [[] for _ in range(n)]
    for key, rs in sorted(groups.items(), key=lambda kv: -sum(WEIGHTS.get(r[0], 1.5) for r in kv[1])):
        i = load.index(min(load))
        out[i] += rs
        load[i] += sum(WEIGHTS.get(r[0], 1.5) for r in rs)
    return [sorted(rs, key=ROUTES.index) for rs in out]


def test_every_hostile_value_into_every_field_of_every_route(site, tmp_path):
    shapes = registered_shapes(site)
    ours = {(m, shape(p)) for _, m, p, _, _ in ROUTES}
    assert shapes - ours == set(), f"routes the test does not know (add them to ROUTES): {sorted(shapes - ours)}"
    parts = shards(site.storage)
    sites = [site]
    try:
        for i in range(1, len(parts)):
            (tmp_path / f"shard-{i}").mkdir()
        with ThreadPoolExecutor(len(parts)) as pool:
            sites += list(pool.map(lambda i: Site(tmp_path / f"shard-{i}", site.storage, i).start(), range(1, len(parts))))
        with ThreadPoolExecutor(len(parts)) as pool:
            results = list(pool.map(lambda a: hostile_run(a[0], FULL, a[1]), zip(sites, parts)))
        run = results[0][0]
        for other, _, _ in results[1:]:
            run.merge(other)
        per_route = [x for r in results for x in r[1]]
        elapsed = max(r[2] for r in results)
        for s in sites[1:]:
            s.stop()
            integrity(s)
            for (asked, before) in s.client.hangs:
                run.failures.append(f"no answer within the client's timeout to {asked} on a kept-alive connection; the request "
                                    f"before it on that connection: {before}")
    finally:
        for s in sites[1:]:
            s.stop()
    raw_paths(site, run)
    limits(site)
    run.alive("the end")
    for (asked, before) in site.client.hangs:
        run.failures.append(f"no answer within the client's timeout to {asked} on a kept-alive connection; the request before it "
                            f"on that connection: {before}")
    site.stop()
    integrity(site)
    n_fields = len(run.fields)
    assert len(run.routes) == len(ROUTES) or os.environ.get("VIGIL_HOSTILE_ONLY")
    print(f"\nhostile input ({'full' if FULL else 'bounded'}, {site.storage}): {len(CORPUS)} values in {len(FAMILIES)} families; "
          f"{len(run.routes)} routes, {n_fields} fields; {run.requests} requests in {elapsed:.0f} s "
          f"({run.requests / max(elapsed, 0.001):.0f}/s); escaped echoes seen: {run.escaped_echoes}")
    print("answers:", dict(sorted(((k if k is not None else 0), v) for k, v in run.statuses.items())))
    slow = sorted(per_route, key=lambda x: -x[3])[:8]
    print("slowest routes:", ", ".join(f"{n} {t:.1f}s/{c}" for n, _, c, t in slow))
    for took, status, what in sorted(run.slow, key=lambda x: -x[0])[:15]:
        print(f"slow: {took:.1f} s, {status}: {what}")
    passing = [n for n, st, _, _ in per_route if st is not None and st >= 400]
    print("routes whose ordinary request was refused (the values still reach their first checks):", passing)
    assert run.escaped_echoes > 0, "some values come back on a page (a search, a form shown again), escaped"
    assert not run.failures, f"{len(run.failures)} failures:\n\n" + "\n\n".join(run.failures[:60])


# --- vigil import ---------------------------------------------------------------------------------

FREE_TEXT = {"additional_information", "address", "body", "by", "channel_notes", "charges", "court", "en", "ar", "de", "es", "ru", "zh-Hans",
             "fr", "letter", "name", "name_original", "organisation", "pronouns", "region", "role", "summary", "text", "title", "fax", "twitter"}


def with_strings(value, values, only_free_text, key=None, counter=None):
    """A copy of a bundle with its string members replaced, in turn, by `values` (only the
    free-text ones when `only_free_text`: titles, names, bodies…, not ids, dates or codes)."""
    counter = counter if counter is not None else [0]
    if isinstance(value, dict):
        return {k: with_strings(v, values, only_free_text, k, counter) for k, v in value.items()}
    if isinstance(value, list):
        return [with_strings(v, values, only_free_text, key, counter) for v in value]
    if isinstance(value, str) and key != "format" and (not only_free_text or key in FREE_TEXT):
        h = values[counter[0] % len(values)]
        counter[0] += 1
        return h
    return value


def bundle_bytes(value):
    """JSON bytes of a bundle whose leaves may be hostile values (each put in as its fragment)."""
    if isinstance(value, H):
        return value.json_fragment()
    if isinstance(value, dict):
        return b"{" + b",".join(json.dumps(k).encode() + b":" + bundle_bytes(v) for k, v in value.items()) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(bundle_bytes(v) for v in value) + b"]"
    return json.dumps(value, ensure_ascii=False).encode()


def hostile_bundles(tmp):
    """(name, path) of every bundle `vigil import` is given."""
    demo = json.loads((ROOT / "Resources/Data/demo.json").read_text())
    out = []

    def file(name, data):
        path = tmp / f"bundle-{len(out):04d}.json"
        path.write_bytes(data)
        out.append((name, path))

    by_family = {f: [h for h in CORPUS if h.family == f] for f in FAMILIES}
    if FULL:
        for i, h in enumerate(CORPUS):
            file(f"every string = {h.short()}", bundle_bytes(with_strings(demo, [h], False)))
            file(f"every free text = {h.short()}", bundle_bytes(with_strings(demo, [h], True)))
    else:
        for f in FAMILIES:
            # Values of at most 100 KB (the megabyte ones would make bundles of hundreds of MB; the
            # 50 MB of junk below is the big file).
            values = [h for h in by_family[f] if len(h.value) <= 100_000]
            file(f"every string from {f}", bundle_bytes(with_strings(demo, values, False)))
            file(f"every free text from {f}", bundle_bytes(with_strings(demo, values[::-1], True)))
            short = [h for h in values if len(h.value) <= 40 and h.kind != "json"]
            if short:
                file(f"every free text from {f}, short values", bundle_bytes(with_strings(demo, short, True)))
    file("10,000 nested arrays", b"[" * 10_000 + b"]" * 10_000)
    file("10,000 nested arrays as the cases", b'{"format":"vigil.bundle/1","cases":' + b"[" * 10_000 + b"]" * 10_000 + b"}")
    file("100,000 nested objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    raw = json.dumps(demo, ensure_ascii=False).encode()
    file("invalid UTF-8 in a title", raw.replace(b'"Prosecutor General"', b'"Prosecutor \xff\xfe General\xc0\x80"', 1))
    file("a lone surrogate in a title", raw.replace(b'"Prosecutor General"', b'"Prosecutor \\ud800 General"', 1))
    file("UTF-16", json.dumps(demo).encode("utf-16"))
    file("a BOM", b"\xef\xbb\xbf" + raw)
    file("an empty file", b"")
    file("whitespace", b" \n\t\r " * 100)
    file("a JSON array", b"[]")
    file("a JSON array of a bundle", b"[" + raw + b"]")
    file("null", b"null")
    file("a string", b'"vigil.bundle/1"')
    file("1e309", b"1e309")
    file("an unknown format", raw.replace(b'"vigil.bundle/1"', b'"vigil.bundle/999"'))
    file("trailing garbage", raw + b"}garbage")
    file("truncated", raw[: len(raw) // 2])
    file("duplicate keys", b'{"format":"vigil.bundle/1","format":"x","cases":[],"cases":{}}')
    file("an object where the cases go", b'{"format":"vigil.bundle/1","cases":{"id":"x"},"targets":"x"}')
    file("huge numbers", raw.replace(b'"sequence": 0', b'"sequence": 1e309').replace(b'"sequence": 1', b'"sequence": 99999999999999999999999')
         .replace(b'"sequence": 2', b'"sequence": -0'))
    cases = []
    for i in range(10_000):
        h = CORPUS[i % len(CORPUS)]
        cases.append({"id": H("id", h.kind, h.value + (str(i) if h.kind == "text" else str(i).encode())) if h.kind != "json" else H("id", "json", h.value),
                      "title": f"Case {i}", "countries": ["RU"]})
    file("10,000 cases of hostile ids", bundle_bytes({"format": "vigil.bundle/1", "cases": cases}))
    # 50 MB of junk, the same junk every run.
    junk = tmp / "junk.json"
    with open(junk, "wb") as f:
        block = hashlib.sha512(b"vigil").digest()
        for i in range(50 * 1024 * 1024 // (len(block) * 1024)):
            f.write(b"".join(hashlib.sha512(block + i.to_bytes(4, "big") + j.to_bytes(2, "big")).digest() for j in range(1024)))
    out.append(("50 MB of junk", junk))
    out.append(("a file that is not there", tmp / "no-such-file.json"))
    out.append(("a directory", tmp))
    return out


def test_vigil_import_refuses_hostile_bundles_with_a_message_and_writes_nothing(sqlite_vigil, tmp_path):
    v = Vigil(dict(sqlite_vigil.env, VIGIL_SECRET_FILE=str(tmp_path / "secret")))
    v.run("migrate", "--yes")
    v.run("demo")
    db = v.env["VIGIL_DATABASE_PATH"]

    def fingerprint():
        """Every row of every table (stricter than the export, and quicker to take)."""
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return hashlib.sha256("\n".join(con.iterdump()).encode("utf-8", "surrogatepass")).hexdigest()
        finally:
            con.close()

    pages = ["/en/", "/en/cases/demo-li-wei", "/en/cases/crimean-tatar-defenders-kuku", "/en/urgent-actions/126-19/initial",
             "/en/urgent-actions/126-19/initial/ru", "/en/urgent-actions/77-26/initial", "/en/outcomes", "/feed.atom", "/en/urgent-actions"]
    candidates = {d for d in (dangerous(h) for h in CORPUS) if d and "<" in d and len(d) >= 8}
    server = Server(v).start()
    try:
        for path in pages:
            text = server.request("GET", path)[1].decode("utf-8", "replace")
            candidates = {d for d in candidates if d not in text}
    finally:
        server.stop()
    export_before = v.run("export").stdout
    before = fingerprint()
    started = time.time()
    accepted, refused, messages, took = [], [], {}, {}
    failures = []
    bundles = hostile_bundles(tmp_path)
    for name, path in bundles:
        t0 = time.time()
        p = subprocess.run([BIN, "import", str(path), "--no-alerts"], env=v.env, capture_output=True, timeout=300)
        took[name] = time.time() - t0
        err = p.stderr.decode("utf-8", "replace")
        out = p.stdout.decode("utf-8", "replace")
        if p.returncode < 0 or "Fatal error" in err or "Stack dump" in err or "Backtrace" in err:
            failures.append(f"{name}: crashed (exit {p.returncode}): {err[-1500:]}")
            continue
        after = fingerprint()
        if p.returncode == 0:
            accepted.append(name)
            before = after
            continue
        refused.append(name)
        message = (err.strip() or out.strip())
        messages[name] = message[:300]
        if not message:
            failures.append(f"{name}: refused (exit {p.returncode}) without a word")
        if after != before:
            failures.append(f"{name}: refused (exit {p.returncode}) but the database changed")
            before = after
    if not accepted:
        assert v.run("export").stdout == export_before, "nothing accepted, and the export is as it was"
    # What was accepted shows escaped on the site.
    server = Server(v).start()
    try:
        for path in pages:
            status, body = server.request("GET", path)
            assert status < 500, (path, status)
            text = body.decode("utf-8", "replace")
            for d in candidates:
                if d in text:
                    at = text.index(d)
                    failures.append(f"{path}: an imported value shown unescaped: …{text[max(0, at - 100):at + len(d) + 30]!r}…")
    finally:
        server.stop()
    elapsed = time.time() - started
    print(f"\nvigil import: {len(bundles)} hostile bundles in {elapsed:.0f} s: {len(accepted)} accepted, {len(refused)} refused")
    print("  accepted:", accepted)
    print("  slowest:", sorted(((round(t, 1), n) for n, t in took.items()), reverse=True)[:5])
    for name in list(messages)[:12]:
        print(f"  refused {name}: {messages[name][:160]!r}")
    assert not failures, "\n".join(failures[:40])
