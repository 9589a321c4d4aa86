#!/usr/bin/env bash
# Installs what gsio-net needs on Debian 12, then configures the build directory.
#   scripts/setup.sh            build dependencies
#   scripts/setup.sh --test     also the test dependencies (Python Socket.IO client, npm packages,
#                               Chromium for the web UI tests)
# Both build the web UI (web/dist) and the TypeScript client with scripts/build-web.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(g++ meson ninja-build cmake pkg-config libcaf-dev libboost1.81-dev rapidjson-dev
            libcrypto++-dev libsqlite3-dev doctest-dev libedit-dev libssl-dev libnats-dev nats-server)
test_pkgs=(python3-socketio python3-requests python3-websocket python3-aiohttp systemd prometheus tmux openssl
           chromium)
# Node.js may come from outside Debian (with its own npm); install Debian's only when none is present.
# Not only for tests: the web UI that every node serves is built with npm.
command -v node >/dev/null || build_pkgs+=(nodejs npm)

want=("${build_pkgs[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=(); [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ "${1:-}" == "--test" ]]; then
  command -v npm >/dev/null || { echo "setup: npm is missing (it ships with Node.js)" >&2; exit 1; }
  (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

# The web UI (web/dist) and the TypeScript client it is built from.
if command -v npm >/dev/null; then
  scripts/build-web.sh
else
  echo "setup: npm is missing, so the web UI (web/dist) is not built" >&2
fi

if [[ ! -f build/build.ninja ]]; then
  meson setup build --buildtype=release
fi
