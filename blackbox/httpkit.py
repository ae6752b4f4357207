"""A small HTTP client for the black-box tests that send exactly the bytes they mean (a
keep-alive connection through http.client, no normalising of targets or headers), and a reader of
an HTML form's fields as a browser would send them; and the one-time codes of a second factor."""
import base64
import hashlib
import hmac
import html as htmllib
import http.client
import re
import socket
import struct


class Answer:
    def __init__(self, status, headers, body, error=None):
        self.status, self.headers, self.body, self.error = status, headers, body, error

    def header(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def ctype(self):
        h = self.header("Content-Type")
        return h[0].lower() if h else ""


class Client:
    """One keep-alive connection; sends exactly the bytes it is given."""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.previous = None  # the last request sent on this connection
        self.hangs = []  # (what was asked, what came before it on the connection) for answers that never came

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def send(self, method, target, headers=(), body=None, timeout=60):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                self.previous = None
            c = self.conn
            sent, before = False, None
            try:
                c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    c.putheader(k, v)
                if body is not None:
                    c.putheader("Content-Length", str(len(body)))
                c.endheaders()
                if body:
                    try:
                        c.send(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # the server answered before reading it all (413): read that answer
                sent = True
                before, self.previous = self.previous, (method, target[:200], [k for k, _ in headers], len(body or b""))
                r = c.getresponse()
                data = r.read()
                answer = Answer(r.status, r.getheaders(), data)
                if r.will_close:
                    self.close()
                return answer
            except ValueError:
                self.close()  # a request http.client will not write: the caller's mistake
                raise
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.HTTPException,
                    socket.timeout, ConnectionRefusedError, OSError) as e:
                if isinstance(e, socket.timeout):
                    self.hangs.append(((method, target[:200]), before if sent else self.previous))
                self.close()
                # A kept-alive connection the server had closed: once more on a new one.
                if attempt == 0 and not isinstance(e, socket.timeout) and not (sent and body and len(body) > 1_000_000):
                    continue
                return Answer(None, [], b"", error=f"{type(e).__name__}: {e}")



def form_fields(page, action_re):
    """The fields of the first form whose action matches `action_re`: (action, [(name, value)])
    with the values a browser would send (checked boxes and radios, selected options, the first
    submit button's name)."""
    for m in re.finditer(r"<form\b([^>]*)>(.*?)</form>", page, re.S):
        act = re.search(r'action="([^"]*)"', m.group(1))
        if not act or not re.search(action_re, htmllib.unescape(act.group(1))):
            continue
        fields, radios = [], set()
        for t in re.finditer(r"<(textarea|select)\b([^>]*)>(.*?)</\1>|<(input|button)\b([^>]*)>", m.group(2), re.S):
            tag, attrs, inner = (t.group(1), t.group(2), t.group(3)) if t.group(1) else (t.group(4), t.group(5), "")
            name = re.search(r'\bname="([^"]*)"', attrs)
            if not name:
                continue
            name = htmllib.unescape(name.group(1))
            value = re.search(r'\bvalue="([^"]*)"', attrs)
            value = htmllib.unescape(value.group(1)) if value else ""
            typ = (re.search(r'\btype="([^"]*)"', attrs) or [None, "text" if tag != "button" else "submit"])[1]
            if tag == "textarea":
                value = htmllib.unescape(inner)
                value = value[1:] if value.startswith("\n") else value
            elif tag == "select":
                opts = re.findall(r'<option value="([^"]*)"([^>]*)>', inner)
                chosen = [v for v, a in opts if "selected" in a] or [v for v, _ in opts[:1]]
                value = htmllib.unescape(chosen[0]) if chosen else ""
            elif typ in ("checkbox",) and "checked" not in attrs:
                continue
            elif typ == "radio":
                if name in radios:
                    continue
                radios.add(name)
            elif tag == "button" or typ == "submit":
                if any(n == name for n, _ in fields):
                    continue
            fields.append((name, value))
        return htmllib.unescape(act.group(1)), fields
    return None, None


def totp(secret, step):
    """The RFC 6238 code (SHA-1, 6 digits) of `secret` (base32, spaces allowed) for the time step `step`."""
    raw = secret.replace(" ", "").upper()
    key = base64.b32decode(raw + "=" * (-len(raw) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)
