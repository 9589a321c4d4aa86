#!/usr/bin/env bash
# One command to run every test: installs what is missing, builds, runs unit, actor, protocol,
# client and multi-process tests, then runs the tests that exercise our own C++ directly once more
# under AddressSanitizer + UndefinedBehaviorSanitizer. Ends with one "N passed, N failed" line.
#   GSIO_SANITIZE=0 scripts/test.sh   skips the sanitizer pass
#   scripts/test.sh <meson test args> passes them to the main run (e.g. a test name)
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || exit 1

passed=0
failed=0
status=0

# Runs `meson test` in build dir $1 with the remaining arguments and adds up its results.
run_suite() {
  local dir=$1
  shift
  meson test -C "$dir" --print-errorlogs --num-processes 1 "$@" | tee "$dir/test-summary.txt"
  local rc=${PIPESTATUS[0]}
  local ok fail timeout
  ok=$(sed -nE 's/^Ok: +([0-9]+).*/\1/p' "$dir/test-summary.txt" | tail -1)
  fail=$(sed -nE 's/^Fail: +([0-9]+).*/\1/p' "$dir/test-summary.txt" | tail -1)
  timeout=$(sed -nE 's/^Timeout: +([0-9]+).*/\1/p' "$dir/test-summary.txt" | tail -1)
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0} + ${timeout:-0}))
  ((rc == 0)) || status=$rc
}

ninja -C build || exit 1
run_suite build "$@"

if [[ "${GSIO_SANITIZE:-1}" != 0 && $# -eq 0 ]]; then
  echo "== sanitizer pass (ASan + UBSan) =="
  if [[ ! -f build-asan/build.ninja ]]; then
    # Line tables only (-g1: reports keep file:line) and without UBSan's vptr check (a call on an
    # object of the wrong dynamic type; ASan reports the use-after-free behind most such calls):
    # Beast's composed operations compile a quarter faster (ws_client.cpp: 100 s instead of 133 s
    # here), which keeps the whole test command nearer its 30-minute budget.
    meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
      -Dcpp_args="-g1 -fno-sanitize=vptr" || exit 1
  fi
  # Only what the suites below run: the benchmark driver is built (and warning-checked) above.
  ninja -C build-asan tests/ledger-tests tests/net-tests tests/client-tests tests/fuzz-replay tests/actor-tests \
    tests/protocol-test-server src/bin/gsio-node src/bin/gsio-relay src/bin/gsio || exit 1
  # A small quarantine keeps ASan's own memory use modest for the multi-process tests.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=32
  export GSIO_SANITIZED=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/ubsan.supp
  # The run above simulates 2,000 seeded networks, open and private; 120 of each walk the same
  # code paths under the sanitizers at a tenth of the cost.
  export GSIO_SIM_SEEDS=120
  run_suite build-asan --no-rebuild ledger net-codec net-clients fuzz-replay actors protocol-conformance relay nats \
    node-node-api node-bad-input console tls node-durability network members metrics cli ts-client python-client
fi

echo "$passed passed, $failed failed"
exit "$status"
