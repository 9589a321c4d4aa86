#!/usr/bin/env bash
# One command to run every test: installs what is missing, builds, runs unit, protocol, client and
# multi-process tests (meson test), and prints a closing "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test || exit 1
ninja -C build || exit 1

meson test -C build --print-errorlogs --num-processes 1 "$@" | tee build/test-summary.txt
status=${PIPESTATUS[0]}
ok=$(sed -nE 's/^Ok: +([0-9]+).*/\1/p' build/test-summary.txt | tail -1)
fail=$(sed -nE 's/^Fail: +([0-9]+).*/\1/p' build/test-summary.txt | tail -1)
timeout=$(sed -nE 's/^Timeout: +([0-9]+).*/\1/p' build/test-summary.txt | tail -1)
echo "${ok:-0} passed, $(( ${fail:-0} + ${timeout:-0} )) failed"
exit "$status"
