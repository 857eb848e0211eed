#!/usr/bin/env bash
# Benchmark (not a test): pgbench directly against PostgreSQL, through pgbouncer and through
# pgquay with its io_uring and its epoll event loop.
#
#   contrib/bench/bench.sh [--mode session|transaction] [--duration SECONDS] [--rounds N] [--quick]
#                          [--scale N] [--output FILE]
#
#   --mode      session (default): pgquay pipeline = session, pgbouncer pool_mode = session, pools
#               of 110 connections; transaction: pipeline = transaction and pool_mode =
#               transaction over 20 server connections, 100 and 500 clients
#   --duration  length of each pgbench run (default 10, with --quick 3)
#   --rounds    how often the whole matrix runs; every cell reports the median (default 1)
#   --quick     3-second runs and fewer cells, for a smoke check of the numbers
#   --scale     pgbench scale factor (default 10)
#   --output    also write the markdown report to FILE
#
# Workloads (session): select-only (-S) with the simple and the prepared protocol at 1/8/32/100
# clients, TPC-B at 8/32 clients, select-only with a new connection per transaction (-C) at 8/32.
# Workloads (transaction): select-only and TPC-B, simple and prepared, at 100 and 500 clients.
# Targets run interleaved (each cell runs every target before the next cell starts, in an order
# that rotates), so drift on a shared machine hits all of them alike. pgquay's and pgbouncer's
# memory is the sum of PSS over their processes, sampled halfway through the runs with 100 or
# more clients.
#
# Prints progress on stderr and a markdown report (for doc/PERFORMANCE.md) on stdout. Everything
# listens on 127.0.0.1 and is removed at the end; as root the servers run as `postgres`.
# Missing Debian packages (pgbouncer among them) are installed as in contrib/quickstart.sh.
# PGQUAY_BIN=/path/to/pgquay skips the build.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

readonly TARGETS=(direct pgbouncer io_uring epoll)
# Set from --mode in main: session or transaction; the server connections per pooler (session:
# the largest client count plus some slack; transaction: far fewer than the clients).
MODE=session
POOL_SIZE=110
MAX_CLIENTS=100

WORK_DIR=""
BOUNCER_PID=""
URING_PID=""
EPOLL_PID=""
PGBENCH_PID=""
declare -A PORT=() SESSION=() USABLE=()

log() { printf '== %s\n' "$*" >&2; }

usage() {
  sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

cleanup() {
  local status=$?
  trap '' INT TERM
  trap - EXIT
  if [[ -n "$WORK_DIR" ]]; then
    log "stopping servers, removing $WORK_DIR"
    [[ -z "$PGBENCH_PID" ]] || kill -TERM "$PGBENCH_PID" 2>/dev/null || true
    stop_session "$URING_PID"
    stop_session "$EPOLL_PID"
    stop_session "$BOUNCER_PID"
    pg_stop
    rm -rf "$WORK_DIR"
  fi
  exit "$status"
}

# Cells: "workload label|pgbench options|clients".
cells() {
  local quick="$1" c w
  if [[ "$MODE" == transaction ]]; then
    for c in 100 500; do
      for w in "select-only, simple|-S -M simple" "select-only, prepared|-S -M prepared" \
        "TPC-B, simple|-M simple" "TPC-B, prepared|-M prepared"; do
        ((quick == 0)) || [[ "$w" != *prepared* || "$w" == select* ]] || continue
        printf '%s|%s\n' "$w" "$c"
      done
    done
    return
  fi
  if ((quick)); then
    printf '%s\n' "select-only, simple|-S -M simple|8" "select-only, simple|-S -M simple|32" \
      "select-only, simple|-S -M simple|100" "select-only, prepared|-S -M prepared|32" \
      "TPC-B|-M simple|8" "select-only, connect per transaction|-S -M simple -C|8"
    return
  fi
  for c in 1 8 32 100; do printf 'select-only, simple|-S -M simple|%s\n' "$c"; done
  for c in 1 8 32 100; do printf 'select-only, prepared|-S -M prepared|%s\n' "$c"; done
  for c in 8 32; do printf 'TPC-B|-M simple|%s\n' "$c"; done
  for c in 8 32; do printf 'select-only, connect per transaction|-S -M simple -C|%s\n' "$c"; done
}

# Sum of PSS (KiB) and number of processes in session $1.
session_memory() {
  local sid="$1" pid key value total=0 count=0
  local -a pids
  mapfile -t pids < <(session_pids "$sid")
  for pid in "${pids[@]}"; do
    # Builtins only, as in session_pids; a process that has just exited is skipped.
    while read -r key value _; do
      if [[ "$key" == Pss: ]]; then
        total=$((total + value))
        count=$((count + 1))
        break
      fi
    done 2>/dev/null <"/proc/$pid/smaps_rollup" || true
  done
  printf '%s %s\n' "$total" "$count"
}

# One pgbench run; appends "cell target round tps" to results.tsv (tps "fail" when pgbench
# failed) and, at 100 clients through a pooler, "cell target round kib processes" to memory.tsv.
run_cell() {
  local cell="$1" target="$2" round="$3" workload="$4" clients="$5" duration="$6"
  local threads=2 out="$WORK_DIR/pgbench.out" tps status=0
  local -a flags
  read -r -a flags <<<"$workload"
  ((clients > 1)) || threads=1
  if [[ -z "${USABLE[$target]:-}" ]]; then
    printf '%s\t%s\t%s\tn/a\n' "$cell" "$target" "$round" >>"$WORK_DIR/results.tsv"
    return 0
  fi
  timeout --kill-after=5 $((duration * 3 + 60)) "$PG_BIN/pgbench" -n "${flags[@]}" -c "$clients" \
    -j "$threads" -T "$duration" -h 127.0.0.1 -p "${PORT[$target]}" -U postgres bench \
    >"$out" 2>&1 &
  PGBENCH_PID=$!
  if ((clients >= 100)) && [[ -n "${SESSION[$target]:-}" ]]; then
    sleep $(((duration + 1) / 2))
    printf '%s\t%s\t%s\t%s\n' "$cell" "$target" "$round" \
      "$(session_memory "${SESSION[$target]}" | tr ' ' '\t')" >>"$WORK_DIR/memory.tsv"
  fi
  wait "$PGBENCH_PID" || status=$?
  PGBENCH_PID=""
  tps="$(awk '/^tps = / { print $3; exit }' "$out")"
  if ((status != 0)) || [[ -z "$tps" ]]; then
    log "pgbench failed through $target (status $status): $workload -c $clients"
    tail -n 5 "$out" >&2 || true
    tps=fail
    if [[ -n "${SESSION[$target]:-}" ]] && ! alive "${SESSION[$target]}"; then
      log "$target is gone: its remaining cells are skipped"
      unset "USABLE[$target]"
    fi
  fi
  printf '%s\t%s\t%s\t%s\n' "$cell" "$target" "$round" "$tps" >>"$WORK_DIR/results.tsv"
  log "  $target: ${tps} tps"
}

start_pgbouncer() {
  local port="$1"
  mkdir -p "$WORK_DIR/pgbouncer"
  printf '"postgres" ""\n' >"$WORK_DIR/pgbouncer_users.txt"
  cat >"$WORK_DIR/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $WORK_DIR/pgbouncer
auth_type = trust
auth_file = $WORK_DIR/pgbouncer_users.txt
pool_mode = $MODE
default_pool_size = $POOL_SIZE
max_client_conn = 1000
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
EOF
  ((EUID != 0)) || chown -R postgres: "$WORK_DIR/pgbouncer"
  start_in_session "$WORK_DIR/pgbouncer.log" /usr/sbin/pgbouncer "$WORK_DIR/pgbouncer.ini"
  BOUNCER_PID="$STARTED_PID"
  wait_listening "$BOUNCER_PID" "$port" || {
    show_tail "$WORK_DIR/pgbouncer.log"
    return 1
  }
}

# Starts one pgquay with event loop $1; sets the pid variable named $2.
start_pgquay() {
  local backend="$1" pid_var="$2" binary="$3" port
  port="$(free_port 0)"
  write_pgquay_conf "pgquay-$backend" "$port" "pipeline = $MODE" "ev_backend = $backend" \
    "max_connections = $POOL_SIZE" "log_level = warn" || return 1
  pgquay_start "pgquay-$backend" "$port" "$binary" || return 1
  printf -v "$pid_var" '%s' "$STARTED_PID"
  PORT[$backend]="$port"
  SESSION[$backend]="$STARTED_PID"
}

# Checks that a target answers a query before it is measured.
probe() {
  local target="$1"
  if timeout 30 "$PG_BIN/psql" -X -A -t -h 127.0.0.1 -p "${PORT[$target]}" -U postgres -d bench \
    -c 'select 1' >/dev/null 2>"$WORK_DIR/probe.err"; then
    USABLE[$target]=1
  else
    log "$target does not answer, its cells are left empty: $(head -n 1 "$WORK_DIR/probe.err")"
  fi
}

# The report's header lines about the machine and the software; run before the first round, so
# the load average is the one the measurements started with. $1 = the pgquay binary.
machine_description() {
  local binary="$1" cpu memory source
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  memory="$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
  if source="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null)"; then
    git -C "$REPO_ROOT" diff --quiet HEAD 2>/dev/null || source="$source with local changes"
    source="built from $source"
  else
    source="source commit unknown"
  fi
  [[ -z "${PGQUAY_BIN:-}" ]] || source="PGQUAY_BIN=$PGQUAY_BIN, checkout at ${source#built from }"
  printf -- '- machine: %s, %s CPUs, %s RAM, Linux %s, Debian %s\n' "${cpu:-unknown CPU}" \
    "$(nproc)" "$memory" "$(uname -r)" "$(cat /etc/debian_version 2>/dev/null || echo '?')"
  printf -- '- load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf -- '- %s; %s; %s (%s)\n' "$("$PG_BIN/postgres" --version)" \
    "$(/usr/sbin/pgbouncer --version | head -n 1)" "$("$binary" -V 2>/dev/null || echo pgquay)" \
    "$source"
}

# The markdown report from results.tsv and memory.tsv.
report() {
  local duration="$1" rounds="$2" scale="$3"
  echo "### pgbench, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  cat "$WORK_DIR/machine.md"
  printf -- '- load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf -- '- %s s per run, %s round(s) (median shown), pgbench scale %s, TCP on 127.0.0.1, ' \
    "$duration" "$rounds" "$scale"
  printf 'pgbench -j 2 (-j 1 for one client); pools of %s server connections; ' "$POOL_SIZE"
  printf 'pgquay: pipeline = %s; pgbouncer: pool_mode = %s\n' "$MODE" "$MODE"
  echo
  python3 - "$WORK_DIR/results.tsv" "$WORK_DIR/memory.tsv" "$WORK_DIR/cells.tsv" <<'EOF'
import os, statistics, sys

results_path, memory_path, cells_path = sys.argv[1:4]
targets = ["direct", "pgbouncer", "io_uring", "epoll"]
names = {"direct": "direct", "pgbouncer": "pgbouncer", "io_uring": "pgquay io_uring",
         "epoll": "pgquay epoll"}

def read_rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]

def median_of(values):
    numbers = [float(v) for v in values if v not in ("fail", "n/a")]
    if numbers:
        return statistics.median(numbers)
    return None

cells = read_rows(cells_path)  # cell id, label, options, clients
runs = {}
by_round = {}
for cell, target, rnd, tps in read_rows(results_path):
    runs.setdefault((cell, target), []).append(tps)
    if tps not in ("fail", "n/a"):
        by_round[(cell, target, rnd)] = float(tps)

def tps_of(cell, target):
    values = runs.get((cell, target), [])
    value = median_of(values)
    if value is None:
        return None, ("n/a" if all(v == "n/a" for v in values) else "fail")
    return value, f"{value:,.0f}"

def ratio(cell, target, base):
    # The median of the per-round ratios: the targets of one round ran back to back, so pairing
    # them cancels most of the drift between rounds on a shared machine.
    pairs = [by_round[(c, t, r)] / by_round[(c, base, r)]
             for (c, t, r) in by_round if c == cell and t == target
             and by_round.get((c, base, r))]
    return f"{statistics.median(pairs):.2f}" if pairs else "–"

print("| Workload | Clients | direct | pgbouncer | pgquay io_uring | pgquay epoll "
      "| pgquay/pgbouncer (io_uring · epoll) | pgquay/direct (io_uring · epoll) |")
print("|---|--:|--:|--:|--:|--:|--:|--:|")
for cell, label, _options, clients in cells:
    values = {t: tps_of(cell, t) for t in targets}
    print(f"| {label} | {clients} | " + " | ".join(values[t][1] for t in targets)
          + f" | {ratio(cell, 'io_uring', 'pgbouncer')} · {ratio(cell, 'epoll', 'pgbouncer')}"
          + f" | {ratio(cell, 'io_uring', 'direct')} · {ratio(cell, 'epoll', 'direct')} |")
print()
print("TPS = transactions per second (higher is better), median over the rounds; a ratio is the "
      "median of the per-round ratios (above 1.00: pgquay is faster).")

memory = read_rows(memory_path)
if memory:
    labels = {cell: f"{label}, {clients} clients" for cell, label, _o, clients in cells}
    grouped = {}
    clients_of = {cell: int(clients) for cell, _label, _o, clients in cells}
    for cell, target, _round, kib, count in memory:
        grouped.setdefault((cell, target), []).append((int(kib), int(count)))
    print()
    print("Memory during the runs with 100 or more clients (sum of PSS over all processes of the "
          "pooler, from /proc/<pid>/smaps_rollup; median over rounds):")
    print()
    print("| Workload | Pooler | Processes | PSS total | PSS per client |")
    print("|---|---|--:|--:|--:|")
    order = {cell: i for i, (cell, *_rest) in enumerate(cells)}
    for (cell, target), samples in sorted(
            grouped.items(), key=lambda kv: (order.get(kv[0][0], 0), targets.index(kv[0][1]))):
        kib = statistics.median(s[0] for s in samples)
        count = statistics.median(s[1] for s in samples)
        print(f"| {labels.get(cell, cell)} | {names[target]} | {count:.0f} | "
              f"{kib / 1024:.1f} MiB | {kib / clients_of.get(cell, 100):.0f} KiB |")
EOF
}

main() {
  local duration="" rounds=1 quick=0 scale=10 output=""
  while (($# > 0)); do
    case "$1" in
      --duration | -T) duration="${2:?--duration needs a number of seconds}"; shift ;;
      --rounds | -r) rounds="${2:?--rounds needs a number}"; shift ;;
      --scale | -s) scale="${2:?--scale needs a number}"; shift ;;
      --output | -o) output="${2:?--output needs a file name}"; shift ;;
      --quick) quick=1 ;;
      --mode | -m) MODE="${2:?--mode needs session or transaction}"; shift ;;
      -h | --help) usage; return 0 ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
  done
  if [[ -z "$duration" ]]; then
    duration=10
    ((quick == 0)) || duration=3
  fi
  [[ "$duration" =~ ^[1-9][0-9]{0,3}$ ]] || die "--duration: 1 to 9999 seconds"
  [[ "$rounds" =~ ^[1-9][0-9]?$ ]] || die "--rounds: 1 to 99"
  [[ "$scale" =~ ^[1-9][0-9]{0,3}$ ]] || die "--scale: 1 to 9999"
  case "$MODE" in
    session) ;;
    transaction) POOL_SIZE=20 MAX_CLIENTS=500 ;;
    *) die "--mode: session or transaction" ;;
  esac
  # Direct clients, plus every pooler's full pool held at once, plus superuser slots.
  local pg_max_connections=$((MAX_CLIENTS + 3 * POOL_SIZE + 20))
  exec </dev/null

  ensure_packages "${BASE_PACKAGES[@]}" pgbouncer >&2 || die "missing Debian packages"
  local built
  built="$(build_pgquay)" || die "build failed"

  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  make_work_dir pgquay-bench || die "cannot create a temporary directory"
  local binary
  binary="$(install_binary "$built")" || die "cannot copy $built to $WORK_DIR"
  machine_description "$built" >"$WORK_DIR/machine.md"

  log "starting PostgreSQL 15 (max_connections = $pg_max_connections)"
  pg_start "$pg_max_connections" "shared_buffers = 256MB" || die "PostgreSQL did not start"
  PORT[direct]="$PG_PORT"
  "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c 'create database bench' || die "create database failed"
  log "pgbench -i -s $scale (directly)"
  "$PG_BIN/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$PG_PORT" -U postgres bench \
    >"$WORK_DIR/init.log" 2>&1 || { show_tail "$WORK_DIR/init.log"; die "pgbench -i failed"; }

  PORT[pgbouncer]="$(free_port 0)"
  start_pgbouncer "${PORT[pgbouncer]}" || die "pgbouncer did not start"
  SESSION[pgbouncer]="$BOUNCER_PID"
  start_pgquay io_uring URING_PID "$binary" || warn "pgquay with io_uring did not start"
  start_pgquay epoll EPOLL_PID "$binary" || warn "pgquay with epoll did not start"
  local target
  for target in "${TARGETS[@]}"; do
    [[ -z "${PORT[$target]:-}" ]] || probe "$target"
  done
  # Warm PostgreSQL's cache so the first target measured is not penalised.
  "$PG_BIN/pgbench" -n -S -c 4 -j 2 -T 3 -h 127.0.0.1 -p "$PG_PORT" -U postgres bench \
    >/dev/null 2>&1 || true

  local -a cell_list
  mapfile -t cell_list < <(cells "$quick")
  : >"$WORK_DIR/cells.tsv"
  : >"$WORK_DIR/results.tsv"
  local i round label workload clients offset k n=${#TARGETS[@]}
  for i in "${!cell_list[@]}"; do
    IFS='|' read -r label workload clients <<<"${cell_list[$i]}"
    printf '%s\t%s\t%s\t%s\n' "$i" "$label" "$workload" "$clients" >>"$WORK_DIR/cells.tsv"
  done
  log "${#cell_list[@]} cells x ${#TARGETS[@]} targets x $rounds round(s) x $duration s"
  for ((round = 1; round <= rounds; round++)); do
    for i in "${!cell_list[@]}"; do
      IFS='|' read -r label workload clients <<<"${cell_list[$i]}"
      log "round $round/$rounds: $label, $clients clients ($workload)"
      offset=$(((round + i) % n))
      for ((k = 0; k < n; k++)); do
        run_cell "$i" "${TARGETS[$(((offset + k) % n))]}" "$round" "$workload" "$clients" "$duration"
      done
    done
  done

  if [[ -n "$output" ]]; then
    report "$duration" "$rounds" "$scale" | tee "$output"
  else
    report "$duration" "$rounds" "$scale"
  fi
}

main "$@"
