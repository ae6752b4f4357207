#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server on 127.0.0.1 (data in a temporary directory), runs the
# given command with VIGIL_TEST_POSTGRES_URL pointing at it, then stops the server and removes
# its data. Tests never touch any other database.
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)"; exit 1; }
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
PORT=${VIGIL_TEST_PG_PORT:-$(free_port)}
DIR=$(mktemp -d /tmp/vigil-pg.XXXXXX)
RUN=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$DIR"
  RUN=(runuser -u postgres --)
fi
cleanup() {
  "${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
"${RUN[@]}" "$PGBIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# max_connections: the Swift suite runs a few hundred applications at once, each with its own
# pool; it peaked at 425-438 connections, and a refused one fails a test.
"${RUN[@]}" "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=on -c max_connections=1000" start >/dev/null
"${RUN[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres vigil_test
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') running on 127.0.0.1:$PORT for the tests"
export VIGIL_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/vigil_test?sslmode=disable"
"$@"
