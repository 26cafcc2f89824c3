#!/usr/bin/env bash
# Start a private PostgreSQL server (own data directory and port, run as a non-root user), run a
# command with OPENZONE_DATABASE_URL pointing at a fresh database, then stop the server.
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail
# A free port unless one is given, so that several runs can share the machine.
PORT="${OPENZONE_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
[ -x "$BIN/initdb" ] || { echo "PostgreSQL is not installed (scripts/system-deps.sh ci)" >&2; exit 1; }
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
  RUN_AS=(runuser -u postgres --)
fi
DATA="$(mktemp -d /tmp/openzone-pg.XXXXXX)"
chmod 755 "$DATA"
[ "$(id -u)" -eq 0 ] && chown postgres "$DATA"
cleanup() {
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA/db" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap cleanup EXIT
"${RUN_AS[@]}" "$BIN/initdb" -D "$DATA/db" -U openzone --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DATA/db" -l "$DATA/server.log" -w \
  -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
"${RUN_AS[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U openzone openzone_test
export OPENZONE_DATABASE_URL="postgresql+psycopg://openzone@127.0.0.1:$PORT/openzone_test"
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT"
"$@"
