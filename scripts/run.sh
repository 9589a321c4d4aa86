#!/usr/bin/env bash
# One command to run a gsio-node: installs what is missing, builds, starts a node on port 3000
# with its data in ./data. Extra arguments go to gsio-node (see `gsio-node --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ninja -C build src/bin/gsio-node
exec build/src/bin/gsio-node --port 3000 --data-dir ./data "$@"
