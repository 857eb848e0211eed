# shellcheck shell=bash
# Shared by contrib/quickstart.sh and contrib/bench/bench.sh: Debian packages, the release build,
# a throwaway PostgreSQL 15, pgquay and process bookkeeping. Sourced, never run.
#
# Conventions: every function returns non-zero on failure instead of exiting, except die();
# the caller sets WORK_DIR (a private temporary directory) before starting any server. Servers
# run as the `postgres` user when the script runs as root (PostgreSQL and pgbouncer refuse root),
# otherwise as the calling user. Everything listens on 127.0.0.1 only.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly REPO_ROOT
readonly BUILD_DIR="${PGQUAY_BUILD_DIR:-$REPO_ROOT/build-release}"
readonly PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
# shellcheck disable=SC2034  # used by the scripts that source this file
readonly BASE_PACKAGES=(
  meson ninja-build pkg-config g++
  liburing-dev libssl-dev libinih-dev nlohmann-json3-dev libpq-dev
  postgresql-15 postgresql-client-15
)

# libpq settings from the caller's environment would change where and how the scripts connect.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGSERVICEFILE PGOPTIONS PGSSLMODE \
  PGREQUIRESSL PGGSSENCMODE PGTARGETSESSIONATTRS PGPASSWORD PGPASSFILE PGCONNECT_TIMEOUT
export PGCONNECT_TIMEOUT=10

say() { printf '== %s\n' "$*"; }
warn() { printf '== warning: %s\n' "$*" >&2; }

# Prints the message and exits; the caller's EXIT trap stops the servers.
die() {
  printf '== error: %s\n' "$*" >&2
  exit 1
}

# Prints the last lines of each existing file, for the reader of a failure.
show_tail() {
  local file
  for file in "$@"; do
    [[ -s "$file" ]] || continue
    printf -- '-- last lines of %s:\n' "$file" >&2
    tail -n 20 "$file" >&2 || true
  done
}

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

# Installs the missing Debian packages among "$@": with apt-get as root, through `sudo -n` when
# that works without a password, else prints the command to run and fails.
ensure_packages() {
  local -a missing=() as_root
  local package
  for package in "$@"; do
    is_installed "$package" || missing+=("$package")
  done
  ((${#missing[@]} > 0)) || return 0
  if ((EUID == 0)); then
    as_root=(env)
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n env)
  else
    say "missing Debian packages: ${missing[*]}"
    say "install them with: sudo apt-get install -y ${missing[*]}"
    return 1
  fi
  say "installing: ${missing[*]}"
  "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" </dev/null || return 1
}

# Builds the pooler in $BUILD_DIR (release, no tests) and prints the binary's path. $PGQUAY_BIN
# names a binary built elsewhere instead.
build_pgquay() {
  if [[ -n "${PGQUAY_BIN:-}" ]]; then
    [[ -x "$PGQUAY_BIN" ]] || { warn "PGQUAY_BIN=$PGQUAY_BIN is not an executable"; return 1; }
    say "using PGQUAY_BIN=$PGQUAY_BIN" >&2
    printf '%s\n' "$PGQUAY_BIN"
    return 0
  fi
  # werror off: warnings are enforced by test/check.sh's debug build; at -O3 GCC 12 reports
  # false positives (-Wrestrict in inlined std::string code) that must not stop a user's build.
  local -a options=(-Dbuildtype=release -Dtests=false -Dwerror=false)
  say "building pgquay (release build in $BUILD_DIR)" >&2
  {
    if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
      # A build dir from another meson version cannot always be reconfigured: start afresh then.
      meson setup --reconfigure "${options[@]}" "$BUILD_DIR" "$REPO_ROOT" ||
        meson setup --wipe "${options[@]}" "$BUILD_DIR" "$REPO_ROOT"
    else
      meson setup "${options[@]}" "$BUILD_DIR" "$REPO_ROOT"
    fi
  } >"$BUILD_DIR.setup.log" 2>&1 || {
    show_tail "$BUILD_DIR.setup.log"
    warn "meson setup failed (full log: $BUILD_DIR.setup.log)"
    return 1
  }
  rm -f "$BUILD_DIR.setup.log"
  # Only the pooler: the other programs are not needed here.
  ninja -C "$BUILD_DIR" src/pgquay >&2 || { warn "building src/pgquay failed"; return 1; }
  printf '%s\n' "$BUILD_DIR/src/pgquay"
}

# The user that runs the servers.
service_user() {
  if ((EUID == 0)); then echo postgres; else id -un; fi
}

# Runs "$@" as the service user, in WORK_DIR (PostgreSQL's tools fail in a directory they cannot
# read, such as /root) with HOME=WORK_DIR. Uses exec all the way down, so a command started in
# the background keeps the pid the caller sees in $!.
as_service_user() {
  cd "$WORK_DIR" || return 1
  if ((EUID == 0)); then
    HOME="$WORK_DIR" exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    HOME="$WORK_DIR" exec "$@"
  fi
}

# Creates WORK_DIR under /tmp (or $TMPDIR for a normal user), owned by the service user.
make_work_dir() {
  local prefix="$1" base="/tmp"
  ((EUID == 0)) || base="${TMPDIR:-/tmp}"
  WORK_DIR="$(mktemp -d "$base/$prefix.XXXXXX")" || return 1
  if ((EUID == 0)); then
    id postgres >/dev/null 2>&1 || { warn "user postgres does not exist (package postgresql-15)"; return 1; }
    chown postgres: "$WORK_DIR" || return 1
  fi
}

# Prints a free TCP port on 127.0.0.1: $1 when it is free, else (or when $1 is 0) one the kernel
# picks.
free_port() {
  python3 - "$1" <<'EOF'
import socket, sys
preferred = int(sys.argv[1])
for port in ([preferred] if preferred else []) + [0]:
    s = socket.socket()
    # As servers do: a port whose old connections linger in TIME_WAIT is free for a listener.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        continue
    print(s.getsockname()[1])
    s.close()
    break
EOF
}

# Whether pid $1 runs (exists and is not a zombie).
alive() {
  local pid="$1" stat=""
  [[ -n "$pid" ]] || return 1
  { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
  stat="${stat##*) }"
  [[ "${stat%% *}" != Z ]]
}

# Pids of the processes in session $1 (a server started with setsid and its children). Only
# shell builtins in the loop: a fork per process would make a scan of a busy machine take seconds.
session_pids() {
  local sid="$1" path stat fields
  for path in /proc/[0-9]*/stat; do
    { read -r stat <"$path"; } 2>/dev/null || continue
    read -r -a fields <<<"${stat##*) }"
    # After the command name: state ppid pgrp session ...
    [[ "${fields[3]:-}" == "$sid" ]] && echo "${path//[^0-9]/}"
  done
  return 0
}

# Waits up to $2 tenths of a second for pid $1 to end.
wait_gone() {
  local pid="$1" tenths="$2" i
  for ((i = 0; i < tenths; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  ! alive "$pid"
}

# Stops a server started with start_in_session: SIGTERM, up to 10 s, then SIGKILL; then any process
# left in its session (workers whose client is gone) the same way. Reaps our child.
stop_session() {
  local pid="$1" rest
  [[ -n "$pid" ]] || return 0
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 100 || kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  mapfile -t rest < <(session_pids "$pid")
  if ((${#rest[@]} > 0)); then
    kill -TERM "${rest[@]}" 2>/dev/null || true
    sleep 1
    mapfile -t rest < <(session_pids "$pid")
    ((${#rest[@]} == 0)) || kill -KILL "${rest[@]}" 2>/dev/null || true
  fi
}

# Starts "$@" as the service user in a session of its own (so a Ctrl-C in the terminal reaches
# only this script, which then stops the server in order), output to $1. Sets STARTED_PID.
start_in_session() {
  local output="$1"
  shift
  (as_service_user setsid "$@") </dev/null >"$output" 2>&1 &
  STARTED_PID=$!
}

# Throwaway PostgreSQL 15 in $WORK_DIR/data on a free loopback port; sets PG_PORT.
# $1 = max_connections; further arguments are extra postgresql.conf lines.
pg_start() {
  local max_connections="$1" attempt
  shift
  (as_service_user "$PG_BIN/initdb" -D "$WORK_DIR/data" -U postgres -A trust -E UTF8 \
    --no-locale --no-sync --no-instructions) >"$WORK_DIR/initdb.log" 2>&1 || {
    show_tail "$WORK_DIR/initdb.log"
    warn "initdb failed"
    return 1
  }
  {
    printf '\n# Throwaway server written by %s\n' "$(basename "$0")"
    printf "listen_addresses = '127.0.0.1'\n"
    printf "unix_socket_directories = '%s'\n" "$WORK_DIR"
    printf 'max_connections = %s\n' "$max_connections"
    printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
    printf 'logging_collector = off\n'
    local line
    for line in "$@"; do printf '%s\n' "$line"; done
  } >>"$WORK_DIR/data/postgresql.conf"
  # A port taken between free_port and the postmaster's bind makes the start fail: try again.
  for attempt in 1 2 3; do
    PG_PORT="$(free_port 0)" || return 1
    if (as_service_user "$PG_BIN/pg_ctl" -D "$WORK_DIR/data" -l "$WORK_DIR/postgres.log" -w \
      -t 60 -o "-p $PG_PORT" start) >"$WORK_DIR/pg_ctl.log" 2>&1; then
      return 0
    fi
    warn "PostgreSQL did not start on port $PG_PORT (attempt $attempt)"
  done
  show_tail "$WORK_DIR/pg_ctl.log" "$WORK_DIR/postgres.log"
  return 1
}

# Fast shutdown; SIGQUIT (immediate) to the postmaster if that does not work.
pg_stop() {
  [[ -n "${WORK_DIR:-}" && -f "$WORK_DIR/data/postmaster.pid" ]] || return 0
  local pid
  pid="$(head -n 1 "$WORK_DIR/data/postmaster.pid" 2>/dev/null)"
  (as_service_user "$PG_BIN/pg_ctl" -D "$WORK_DIR/data" -m fast -w -t 30 stop) >/dev/null 2>&1 ||
    true
  if alive "$pid"; then
    kill -QUIT "$pid" 2>/dev/null || true
    wait_gone "$pid" 50 || kill -KILL "$pid" 2>/dev/null || true
  fi
}

# Writes $WORK_DIR/<name>.conf and <name>_hba.conf for a pgquay on 127.0.0.1:$2 in front of the
# PostgreSQL on $PG_PORT; further arguments are extra [pgquay] lines (log_level among them).
write_pgquay_conf() {
  local name="$1" port="$2"
  shift 2
  mkdir -p "$WORK_DIR/$name" || return 1
  {
    printf '# Written by %s\n[pgquay]\n' "$(basename "$0")"
    printf 'host = 127.0.0.1\nport = %s\n' "$port"
    printf 'unix_socket_dir = %s\n' "$WORK_DIR/$name"
    printf 'log_type = file\nlog_path = %s\n' "$WORK_DIR/$name.log"
    local line
    for line in "$@"; do printf '%s\n' "$line"; done
    printf '\n[primary]\nhost = 127.0.0.1\nport = %s\n' "$PG_PORT"
  } >"$WORK_DIR/$name.conf" || return 1
  printf '# TYPE  DATABASE  USER  ADDRESS  METHOD\nhost    all       all   all      trust\n' \
    >"$WORK_DIR/${name}_hba.conf" || return 1
  ((EUID != 0)) || chown -R postgres: "$WORK_DIR/$name"
}

# Waits until something answers PostgreSQL's protocol on 127.0.0.1:$2 while pid $1 lives.
wait_listening() {
  local pid="$1" port="$2" i
  for ((i = 0; i < 150; i++)); do
    alive "$pid" || return 1
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -t 2 && return 0
    sleep 0.1
  done
  return 1
}

# Starts pgquay with $WORK_DIR/<name>.conf and <name>_hba.conf (see write_pgquay_conf); $1 = name,
# $2 = port, $3 = binary. Sets STARTED_PID.
pgquay_start() {
  local name="$1" port="$2" binary="$3"
  start_in_session "$WORK_DIR/$name.out" "$binary" -c "$WORK_DIR/$name.conf" \
    -a "$WORK_DIR/${name}_hba.conf"
  if ! wait_listening "$STARTED_PID" "$port"; then
    show_tail "$WORK_DIR/$name.out" "$WORK_DIR/$name.log"
    warn "pgquay ($name) did not start on port $port"
    return 1
  fi
}

# Copies the pooler where the service user can run it (the checkout may be in a private home).
install_binary() {
  local source="$1"
  install -D -m 0755 "$source" "$WORK_DIR/bin/pgquay" || return 1
  printf '%s\n' "$WORK_DIR/bin/pgquay"
}
