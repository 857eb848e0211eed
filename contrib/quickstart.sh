#!/usr/bin/env bash
# Builds pgquay, starts a throwaway PostgreSQL 15 and pgquay in front of it, runs psql and a short
# pgbench through pgquay and prints how to connect. Then waits for Ctrl-C and removes everything.
#
#   contrib/quickstart.sh [--no-wait]
#
# Runs on a fresh Debian 12 as root or as a normal user, from any directory. Missing Debian
# packages are installed with apt-get (as root, or through `sudo -n`); otherwise the script prints
# what to install and stops. As root, PostgreSQL and pgquay run as the `postgres` user.
# --no-wait, or a stdin that is not a terminal: stop and clean up right after the benchmark.
# Nothing listens beyond 127.0.0.1. PGQUAY_BIN=/path/to/pgquay skips the build.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly PGBENCH_CLIENTS=8 PGBENCH_THREADS=2 PGBENCH_SECONDS=10
WORK_DIR=""
PGQUAY_PID=""

usage() {
  sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

cleanup() {
  local status=$?
  trap '' INT TERM  # a second Ctrl-C must not interrupt the clean-up
  trap - EXIT
  if [[ -n "$WORK_DIR" ]]; then
    ((status == 0 || status == 130 || status == 143)) ||
      show_tail "$WORK_DIR/pgquay.out" "$WORK_DIR/pgquay.log" "$WORK_DIR/postgres.log"
    say "stopping pgquay and PostgreSQL, removing $WORK_DIR"
    stop_session "$PGQUAY_PID"
    pg_stop
    rm -rf "$WORK_DIR"
  fi
  exit "$status"
}

# Runs a client with a time limit: a misbehaving pooler must not hang the script.
client() {
  local seconds="$1"
  shift
  timeout --foreground --kill-after=5 "$seconds" "$@"
}

main() {
  local wait_for_ctrl_c=1
  while (($# > 0)); do
    case "$1" in
      --no-wait) wait_for_ctrl_c=0 ;;
      -h | --help)
        usage
        return 0
        ;;
      *) die "unknown argument '$1' (usage: contrib/quickstart.sh [--no-wait])" ;;
    esac
    shift
  done
  [[ -t 0 ]] || wait_for_ctrl_c=0

  ensure_packages "${BASE_PACKAGES[@]}" || die "missing Debian packages"
  local built
  built="$(build_pgquay)" || die "build failed"

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  make_work_dir pgquay-quickstart || die "cannot create a temporary directory"
  local binary
  binary="$(install_binary "$built")" || die "cannot copy $built to $WORK_DIR"

  say "starting PostgreSQL 15 as user $(service_user) (data in $WORK_DIR/data)"
  pg_start 100 || die "PostgreSQL did not start"
  say "PostgreSQL listens on 127.0.0.1:$PG_PORT"

  local port
  port="$(free_port 2345)" || die "no free port"
  write_pgquay_conf pgquay "$port" "max_connections = 40" "log_level = info" || die "cannot write pgquay.conf"
  say "starting pgquay on 127.0.0.1:$port (config $WORK_DIR/pgquay.conf)"
  pgquay_start pgquay "$port" "$binary" || die "pgquay did not start"
  PGQUAY_PID="$STARTED_PID"

  local -a conn=(-h 127.0.0.1 -p "$port" -U postgres)
  say "psql -c 'select version()' through pgquay:"
  client 30 "$PG_BIN/psql" -X -A -t -P pager=off "${conn[@]}" -d postgres -c 'select version()' ||
    die "psql through pgquay failed"

  say "pgbench -i -s 1 through pgquay"
  client 120 "$PG_BIN/pgbench" -i -s 1 -q "${conn[@]}" postgres >"$WORK_DIR/pgbench-init.log" 2>&1 || {
    show_tail "$WORK_DIR/pgbench-init.log"
    die "pgbench -i through pgquay failed"
  }

  say "pgbench -S -c $PGBENCH_CLIENTS -j $PGBENCH_THREADS -T $PGBENCH_SECONDS through pgquay"
  client $((PGBENCH_SECONDS + 60)) "$PG_BIN/pgbench" -S -c "$PGBENCH_CLIENTS" -j "$PGBENCH_THREADS" \
    -T "$PGBENCH_SECONDS" "${conn[@]}" postgres >"$WORK_DIR/pgbench.log" 2>&1 || {
    show_tail "$WORK_DIR/pgbench.log"
    die "pgbench through pgquay failed"
  }
  grep -E '^(number of transactions actually processed|number of failed transactions|latency average|initial connection time|tps)\b' \
    "$WORK_DIR/pgbench.log" | sed 's/^/   /'

  say "pgquay is running. Connect with:"
  echo
  echo "    psql -h 127.0.0.1 -p $port -U postgres postgres"
  echo
  say "pgquay log: $WORK_DIR/pgquay.log; PostgreSQL itself: 127.0.0.1:$PG_PORT"
  ((wait_for_ctrl_c)) || return 0

  say "press Ctrl-C to stop pgquay and PostgreSQL and remove $WORK_DIR"
  local status=0
  wait "$PGQUAY_PID" || status=$?
  PGQUAY_PID=""
  die "pgquay exited by itself (status $status)"
}

main "$@"
