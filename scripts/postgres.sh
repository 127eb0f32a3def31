#!/usr/bin/env bash
# A private PostgreSQL 15 server under a directory of its own, for tests and benchmarks
# (never Debian's default cluster, which needs systemd).
#
#   scripts/postgres.sh start DIR [PORT]   initdb if needed, start, create database `sluice`;
#                                          PORT 0 or absent: a free port. Prints the URL.
#   scripts/postgres.sh stop DIR [MODE]    shutdown by the postmaster's PID, MODE fast (the
#                                          default: a clean checkpoint) or immediate (no
#                                          checkpoint: for a throw-away cluster, as tests
#                                          use); no-op if not running.
#   scripts/postgres.sh url DIR            prints the URL of the server under DIR.
#
# Both start and stop are idempotent: starting a running server prints its URL, stopping a
# stopped one does nothing. DIR holds data/ (the cluster), sock/ (its unix socket), port,
# url and log. As root the server runs as the `postgres` user (runuser), so DIR and every
# directory above it must be traversable by that user: use a temp dir, not one under /root.
# Authentication is `trust` and the server listens on 127.0.0.1 only.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

usage() { echo "usage: $0 start DIR [PORT] | stop DIR [fast|immediate] | url DIR" >&2; exit 2; }

# Runs a command as the cluster's owner, from / (postgres must be able to read its cwd).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

is_running() {  # is_running DIR: true when the postmaster in DIR/data is alive
  local pidfile=$1/data/postmaster.pid pid
  [ -f "$pidfile" ] || return 1
  pid=$(head -n1 "$pidfile" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

port_in_use() {  # port_in_use PORT: a TCP socket uses it locally (from /proc/net/tcp{,6})
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" 'NR > 1 && substr($2, length($2) - 4) == p {found=1}
                    END {exit !found}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

free_port() {
  local p i
  for i in $(seq 200); do
    # Below the kernel's ephemeral range (32768-60999): an outgoing connection cannot take
    # it between this check and the server's bind.
    p=$((20000 + RANDOM % 12000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  echo "no free port found" >&2
  return 1
}

url_of() { echo "postgres://postgres@127.0.0.1:$(cat "$1/port")/sluice"; }

cmd=${1:-}
[ -n "$cmd" ] && [ -n "${2:-}" ] || usage
if [ "$cmd" = start ]; then
  mkdir -p "$2"
elif [ ! -d "$2" ]; then
  [ "$cmd" = stop ] && exit 0
  echo "no server under $2" >&2
  exit 1
fi
DIR=$(cd "$2" && pwd)

case "$cmd" in
  start)
    if is_running "$DIR"; then
      url_of "$DIR"
      exit 0
    fi
    port=${3:-0}
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
      rm -rf "$DIR/data"
      mkdir -p "$DIR/data" "$DIR/sock"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR" "$DIR/data" "$DIR/sock"
      chmod 700 "$DIR/data"
      if ! as_owner test -x "$DIR"; then
        echo "$DIR is not reachable by the postgres user (is it under /root?)" >&2
        exit 1
      fi
      as_owner "$PG_BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
        { cat "$DIR/initdb.log" >&2; exit 1; }
      cat >>"$DIR/data/postgresql.conf" <<CONF
# scripts/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/sock'
max_connections = 300
fsync = on
synchronous_commit = on
log_min_messages = warning
CONF
    fi
    mkdir -p "$DIR/sock"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR" "$DIR/sock"
    # A fixed port is used as given; with port 0 a few free ports are tried in case another
    # process takes the one picked between the check and the bind.
    for attempt in 1 2 3 4 5; do
      p=$port
      [ "$p" = 0 ] && p=$(free_port)
      echo "$p" >"$DIR/port"
      if as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 \
        -o "-p $p" start >/dev/null 2>&1; then
        break
      fi
      if [ "$port" != 0 ] || [ "$attempt" = 5 ]; then
        echo "postgres did not start; last lines of $DIR/log:" >&2
        tail -n 20 "$DIR/log" >&2 || true
        exit 1
      fi
    done
    [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR/log" 2>/dev/null || true
    if ! as_owner "$PG_BIN/psql" -h "$DIR/sock" -p "$p" -U postgres -d postgres -tAq \
      -c "SELECT 1 FROM pg_database WHERE datname = 'sluice'" | grep -q 1; then
      as_owner "$PG_BIN/createdb" -h "$DIR/sock" -p "$p" -U postgres sluice
    fi
    url_of "$DIR" | tee "$DIR/url"
    ;;
  stop)
    if is_running "$DIR"; then
      mode=${3:-fast}
      case "$mode" in fast|immediate) ;; *) usage ;; esac
      as_owner "$PG_BIN/pg_ctl" -D "$DIR/data" -m "$mode" -w -t 120 stop >/dev/null
    fi
    ;;
  url)
    [ -f "$DIR/port" ] || { echo "no server under $DIR" >&2; exit 1; }
    url_of "$DIR"
    ;;
  *) usage ;;
esac
