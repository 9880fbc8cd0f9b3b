#!/usr/bin/env bash
# Install (Debian's `postgresql` package) and start a local PostgreSQL server for the store
# and checkpointer tests, then print the line that exports its URL:
#
#   eval "$(.ci/postgres.sh)"      # sets SHOPOPS_TEST_PG_URL for the tests
#
# Progress goes to stderr; stdout carries only the export line. Where no server can be had
# (no apt, no root, no network) it prints nothing and exits 0: the PostgreSQL tests then skip
# with a reason. Idempotent: a server already running is reused.
set -uo pipefail

PGPORT="${SHOPOPS_PG_PORT:-5432}"
PGPASS="${SHOPOPS_PG_PASSWORD:-shopops}"
PGDB="${SHOPOPS_PG_DB:-shopops_test}"
log() { echo "postgres.sh: $*" >&2; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -n -u postgres "$@"; fi
}

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null; then log "no apt-get: PostgreSQL tests will skip"; exit 0; fi
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  log "installing postgresql (apt-get)"
  if ! { $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive \
         $SUDO apt-get install -y -qq postgresql >&2; }; then
    log "apt-get install postgresql failed: PostgreSQL tests will skip"; exit 0
  fi
fi

BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
VER="$(basename "$(dirname "$BIN")")"
if command -v pg_lsclusters >/dev/null; then
  if ! pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | grep -q "^$VER main$"; then
    log "creating cluster $VER/main"
    pg_createcluster "$VER" main -p "$PGPORT" >&2 || { log "pg_createcluster failed"; exit 0; }
  fi
  if ! pg_lsclusters -h | awk -v v="$VER" '$1==v && $2=="main" {print $4}' | grep -q online; then
    log "starting cluster $VER/main"
    pg_ctlcluster "$VER" main start >&2 || { log "could not start the server"; exit 0; }
  fi
  PGPORT="$(pg_lsclusters -h | awk -v v="$VER" '$1==v && $2=="main" {print $3}')"
else
  log "pg_lsclusters missing: PostgreSQL tests will skip"; exit 0
fi

for _ in $(seq 1 30); do
  as_postgres "$BIN/pg_isready" -q -h localhost -p "$PGPORT" && break
  sleep 1
done
as_postgres psql -q -p "$PGPORT" -c "ALTER USER postgres PASSWORD '$PGPASS';" >&2 \
  || { log "could not set the password"; exit 0; }
if ! as_postgres psql -tA -p "$PGPORT" -c "SELECT 1 FROM pg_database WHERE datname='$PGDB'" \
     | grep -q 1; then
  as_postgres psql -q -p "$PGPORT" -c "CREATE DATABASE $PGDB;" >&2
fi
log "ready on localhost:$PGPORT (database $PGDB)"
echo "export SHOPOPS_TEST_PG_URL=postgresql://postgres:$PGPASS@localhost:$PGPORT/$PGDB"
