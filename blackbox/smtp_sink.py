#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd): stores every message it accepts as DIR/<n>.eml.

    smtp_sink.py DIR PLAIN_PORT TLS_PORT

PLAIN_PORT takes mail without authentication or TLS. TLS_PORT requires STARTTLS (self-signed
certificate made at start) and AUTH PLAIN or LOGIN as vigil / "correct horse".
"""
import asyncio, itertools, pathlib, ssl, subprocess, sys, tempfile

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

counter = itertools.count(1)


class Sink:
    def __init__(self, directory, label):
        self.directory = pathlib.Path(directory)
        self.label = label

    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        path = self.directory / f"{n:05d}-{self.label}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(path)
        (self.directory / f"{n:05d}-{self.label}.rcpt").write_text(
            "\n".join([envelope.mail_from, *envelope.rcpt_tos, f"authenticated={bool(getattr(session, 'authenticated', False))}",
                       f"tls={session.ssl is not None}"]))
        if any(r.startswith("reject") for r in envelope.rcpt_tos):
            return "550 5.1.1 no such mailbox"
        return "250 OK stored"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"vigil" and auth_data.password == b"correct horse"
    return AuthResult(success=ok, handled=False)


def main():
    directory, plain_port, tls_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    pathlib.Path(directory).mkdir(parents=True, exist_ok=True)
    certdir = tempfile.mkdtemp(prefix="smtp-cert-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", f"{certdir}/key.pem", "-out", f"{certdir}/cert.pem"], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(f"{certdir}/cert.pem", f"{certdir}/key.pem")
    plain = Controller(Sink(directory, "plain"), hostname="127.0.0.1", port=plain_port)
    secure = Controller(Sink(directory, "tls"), hostname="127.0.0.1", port=tls_port, tls_context=context,
                        require_starttls=True, authenticator=authenticator, auth_required=True, auth_require_tls=True)
    plain.start()
    secure.start()
    print(f"SMTP test server on 127.0.0.1:{plain_port} (plain) and :{tls_port} (STARTTLS + AUTH)", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        plain.stop()
        secure.stop()


if __name__ == "__main__":
    main()
