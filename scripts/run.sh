#!/usr/bin/env bash
# One command to run gsio-net: installs what is missing, builds, then
#   scripts/run.sh                 starts one node on port 3000 with its data in ./data
#                                  (extra arguments go to gsio-node, see `gsio-node --help`)
#   scripts/run.sh --cluster [N]   starts a relay on 8787 and N nodes (default 3) on 3000, 3001, ...
#                                  under ./cluster (see deploy/cluster.sh for status, cut, heal, stop)
#   scripts/run.sh --cluster N --relays R
#                                  R relays (8787, 8788, ...) on a 3-server NATS cluster (4222-4224),
#                                  the nodes spread over them (cut-relay I, cut-nats I, restart-...)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ninja -C build src/bin/gsio-node src/bin/gsio-relay
if [[ "${1:-}" == "--cluster" ]]; then
  nodes=${2:-3}
  relays=1
  if [[ "${3:-}" == "--relays" ]]; then
    relays=${4:?--relays needs a number}
  elif [[ -n "${3:-}" ]]; then
    echo "run: unknown argument '$3' (scripts/run.sh --cluster N [--relays R])" >&2
    exit 2
  fi
  exec deploy/cluster.sh start "$nodes" "$relays"
fi
exec build/src/bin/gsio-node --port 3000 --data-dir ./data "$@"
