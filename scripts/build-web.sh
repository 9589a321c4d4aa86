#!/usr/bin/env bash
# Builds the TypeScript client (clients/ts/dist) and the web UI that gsio-node serves (web/dist),
# from npm packages pinned by the package-lock.json files; nothing is fetched at run time.
#   scripts/build-web.sh    (scripts/setup.sh runs it whenever npm is present)
set -euo pipefail
cd "$(dirname "$0")/.."

for dir in clients/ts web; do
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
done
