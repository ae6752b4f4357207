#!/usr/bin/env bash
# Starts the SMTP test server (blackbox/smtp_sink.py, aiosmtpd) on 127.0.0.1, runs the given command
# with VIGIL_TEST_SMTP_* pointing at it, then stops it.
set -euo pipefail
DIR=$(mktemp -d /tmp/vigil-smtp.XXXXXX)
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
PLAIN=${VIGIL_TEST_SMTP_PORT:-$(free_port)}
TLS=${VIGIL_TEST_SMTP_TLS_PORT:-$(free_port)}
python3 "$(dirname "$0")/../blackbox/smtp_sink.py" "$DIR/mail" "$PLAIN" "$TLS" > "$DIR/log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q "SMTP test server" "$DIR/log" 2>/dev/null && break; sleep 0.1; done
grep -q "SMTP test server" "$DIR/log" || { cat "$DIR/log"; echo "the SMTP test server did not start"; exit 1; }
cat "$DIR/log"
export VIGIL_TEST_SMTP_DIR="$DIR/mail" VIGIL_TEST_SMTP_PLAIN="127.0.0.1:$PLAIN" VIGIL_TEST_SMTP_TLS="127.0.0.1:$TLS"
"$@"
