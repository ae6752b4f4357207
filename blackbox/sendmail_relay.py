#!/usr/bin/env python3
"""A sendmail-compatible program for the tests: `sendmail_relay.py -i -f FROM -- TO...` reads a
message on standard input and relays it to the SMTP test server (VIGIL_TEST_SMTP_PLAIN), so a
message Vigil pipes to "sendmail" arrives where the other tests read mail. Exit codes follow
sysexits.h, as a real sendmail's do."""
import smtplib, os, sys

def main(argv):
    sender, rcpts, i = None, [], 0
    while i < len(argv):
        a = argv[i]
        if a == "-f":
            sender = argv[i + 1]; i += 2; continue
        if a == "--":
            rcpts += argv[i + 1:]; break
        if a.startswith("-"):
            i += 1; continue
        rcpts.append(a); i += 1
    if not sender or not rcpts:
        print("usage: sendmail_relay.py -i -f FROM -- TO", file=sys.stderr)
        return 64  # EX_USAGE
    data = sys.stdin.buffer.read()
    if b"\r\n" in data:
        print("sendmail input must use local line endings", file=sys.stderr)
        return 65  # EX_DATAERR
    host, port = os.environ["VIGIL_TEST_SMTP_PLAIN"].rsplit(":", 1)
    try:
        with smtplib.SMTP(host, int(port), timeout=20) as s:
            s.sendmail(sender, rcpts, data.replace(b"\n", b"\r\n"))
    except OSError as e:
        print(f"relay failed: {e}", file=sys.stderr)
        return 75  # EX_TEMPFAIL
    return 0

sys.exit(main(sys.argv[1:]))
