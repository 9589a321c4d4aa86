#!/usr/bin/env bash
# One command to run gsio-net: installs what is missing, builds, then
#   scripts/run.sh                 starts one node on port 3000 with its data in ./data
#                                  (extra arguments go to gsio-node, see `gsio-node --help`)
#   scripts/run.sh --cluster [N]   starts a relay on 8787 and N nodes (default 3) on 3000, 3001, ...
#                                  under ./cluster (see deploy/cluster.sh for status, cut, heal, stop)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ninja -C build src/bin/gsio-node src/bin/gsio-relay
if [[ "${1:-}" == "--cluster" ]]; then
  exec deploy/cluster.sh start "${2:-3}"
fi
exec build/src/bin/gsio-node --port 3000 --data-dir ./data "$@"
