#!/usr/bin/env bash
# Builds pgquay with AddressSanitizer and UBSan in build/ and runs every test suite.
#
# Runs on a fresh Debian 12 machine, as root (what CI does, with stdin closed) or as a normal
# user, from any directory. Missing Debian packages are installed first (as a normal user through
# `sudo -n`, otherwise the script says what to install and stops). The last line printed is
# always "N passed, M failed", counting individual test cases; the exit status is 0 only when
# M is 0 and N is above 0.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly BUILD_DIR="$REPO_ROOT/build"
readonly REQUIRED_PACKAGES=(
  meson ninja-build pkg-config g++
  liburing-dev libssl-dev libinih-dev libgtest-dev libpq-dev nlohmann-json3-dev
  postgresql-15 postgresql-client-15 util-linux procps
)
# Installed when the distribution has them.
readonly OPTIONAL_PACKAGES=(libgmock-dev)

say() { printf '== %s\n' "$*"; }

# Ends the run with the summary line CI reads: a failure before any test ran is one failed case.
give_up() {
  say "$*"
  echo "0 passed, 1 failed"
  exit 1
}

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

missing_from() {
  local package
  for package in "$@"; do
    is_installed "$package" || echo "$package"
  done
}

# Optional packages the package lists know about (no network: this only reads apt's cache).
installable_from() {
  local package
  for package in "$@"; do
    if apt-cache show "$package" >/dev/null 2>&1; then echo "$package"; fi
  done
}

ensure_packages() {
  local -a missing optional as_root
  mapfile -t missing < <(missing_from "${REQUIRED_PACKAGES[@]}")
  mapfile -t optional < <(missing_from "${OPTIONAL_PACKAGES[@]}")
  mapfile -t optional < <(installable_from "${optional[@]}")
  local -a wanted=("${missing[@]}" "${optional[@]}")
  ((${#wanted[@]} > 0)) || return 0

  if ((EUID == 0)); then
    as_root=(env)
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n env)
  else
    say "missing Debian packages: ${wanted[*]}"
    say "install them with: sudo apt-get install -y ${wanted[*]}"
    exit 1
  fi

  say "installing: ${wanted[*]}"
  "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  # A fresh machine's package lists were empty above: look for the optional ones again.
  mapfile -t optional < <(missing_from "${OPTIONAL_PACKAGES[@]}")
  mapfile -t optional < <(installable_from "${optional[@]}")
  "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" "${optional[@]}" || return 1
}

configure() {
  local -a options=(-Dbuildtype=debug "-Db_sanitize=address,undefined")
  if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
    # A build/ from another meson version cannot always be reconfigured: start it afresh then.
    meson setup --reconfigure "${options[@]}" "$BUILD_DIR" ||
      meson setup --wipe "${options[@]}" "$BUILD_DIR"
  else
    meson setup "${options[@]}" "$BUILD_DIR"
  fi
}

# meson reads each gtest executable's XML after it exits; one left by an earlier run would stand
# in for a test that crashed before writing its own. Same for the logs the summary reads.
remove_stale_results() {
  meson introspect --tests "$BUILD_DIR" | python3 -c '
import json, os, sys
build = sys.argv[1]
for test in json.load(sys.stdin):
    if test["protocol"] == "gtest":
        path = os.path.join(test["workdir"] or build, test["name"] + ".xml")
        if os.path.exists(path):
            os.remove(path)
' "$BUILD_DIR" || return 1
  rm -f "$BUILD_DIR"/meson-logs/testlog.{json,junit.xml,txt}
}

run_tests() {
  # UBSan findings and leaks fail the test that caused them, with a stack trace.
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:print_summary=1"
  export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1"
  meson test -C "$BUILD_DIR" --no-rebuild --print-errorlogs --num-processes 2 || true
}

# Prints "N passed, M failed" from meson's logs: GoogleTest cases from the junit XML, one case for
# any other test, and at least one failed case for a test executable that failed (crash, sanitizer
# report at exit, timeout) without a failed case of its own.
summarize() {
  python3 - "$BUILD_DIR/meson-logs" <<'EOF'
import json, os, sys
import xml.etree.ElementTree as ET

logs = sys.argv[1]
failing = {"FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS", "INTERRUPT"}

tests = []
if os.path.exists(os.path.join(logs, "testlog.json")):
    with open(os.path.join(logs, "testlog.json")) as f:
        tests = [json.loads(line) for line in f if line.strip()]
suites = []
try:
    suites = list(ET.parse(os.path.join(logs, "testlog.junit.xml")).getroot().iter("testsuite"))
except (OSError, ET.ParseError):
    pass

passed = failed = 0
for test in tests:
    # meson names a gtest executable's suites "<project>.<full test name>.<gtest suite>".
    prefix = test["name"].split(":", 1)[0] + "." + test["name"] + "."
    cases = [case for suite in suites if suite.get("name", "").startswith(prefix)
             for case in suite.iter("testcase")]
    if cases:
        bad = sum(1 for c in cases if c.find("failure") is not None or c.find("error") is not None)
        good = sum(1 for c in cases if c.get("status", "run") == "run"
                   and c.find("skipped") is None
                   and c.find("failure") is None and c.find("error") is None)
    else:
        bad = int(test["result"] in failing)
        good = int(test["result"] == "OK")
    if test["result"] in failing and bad == 0:
        bad = 1
    passed += good
    failed += bad
print(f"{passed} passed, {failed} failed")
EOF
}

main() {
  cd "$REPO_ROOT"
  exec </dev/null  # nothing here may wait for a terminal
  ensure_packages || give_up "installing Debian packages failed"
  configure || give_up "meson setup failed"
  ninja -C "$BUILD_DIR" || give_up "build failed"
  remove_stale_results || give_up "meson introspect failed"
  run_tests
  local summary
  summary="$(summarize)"
  echo "$summary"
  [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]] || exit 1
  ((BASH_REMATCH[2] == 0 && BASH_REMATCH[1] > 0))
}

main "$@"
