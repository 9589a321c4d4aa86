#!/usr/bin/env bash
# A gsio-net cluster on one machine: one gsio-relay and N gsio-node processes on 127.0.0.1, with
# their ports, data directories, logs and pids under one folder (default ./cluster).
#
#   deploy/cluster.sh start [N]    build if needed, start a relay and N nodes (default 3), wait
#                                  until all are healthy and linked, print their URLs
#   deploy/cluster.sh status       each process: pid, URL, and for nodes height / tip / peers
#   deploy/cluster.sh cut I        suspend node I's relay link (the node keeps serving clients)
#   deploy/cluster.sh heal I       resume it
#   deploy/cluster.sh stop         stop everything (SIGTERM, then SIGKILL after 10 s)
#   deploy/cluster.sh logs [I]     tail the relay's log, or node I's
#
# Environment: GSIO_CLUSTER_DIR (folder), GSIO_BUILD_DIR (binaries), GSIO_RELAY_PORT (8787),
# GSIO_BASE_PORT (first node port, 3000), GSIO_TOKEN (network token, default none).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${GSIO_CLUSTER_DIR:-$PWD/cluster}"
build="${GSIO_BUILD_DIR:-$root/build}"
relay_port="${GSIO_RELAY_PORT:-8787}"
base_port="${GSIO_BASE_PORT:-3000}"
token="${GSIO_TOKEN:-}"

die() { echo "cluster: $*" >&2; exit 1; }

# GET http://127.0.0.1:PORT/PATH without curl: bash's /dev/tcp is always there.
http_get() {
  local port=$1 path=$2
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
  local body
  body=$(timeout 2 cat <&3 | sed '1,/^\r$/d')
  exec 3<&-
  printf '%s' "$body"
}

json_field() {  # json_field NAME < json  (numbers and strings of a flat object)
  sed -nE "s/.*\"$1\":\"?([^,\"}]*)\"?.*/\1/p"
}

# A pid file names a live process of ours: after a reboot or a crash the pid may belong to
# something else by now, which must never be signalled.
alive() {
  [[ -f "$1" ]] || return 1
  local pid
  pid=$(cat "$1")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qE '(^|/)gsio-(node|relay) '
}

node_count() { ls -d "$dir"/node* 2>/dev/null | wc -l; }

start() {
  local n=${1:-3}
  [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 && "$n" -le 64 ]] || die "N must be 1..64"
  alive "$dir/relay.pid" && die "a cluster is already running in $dir (deploy/cluster.sh stop)"
  if [[ ! -x "$build/src/bin/gsio-node" || ! -x "$build/src/bin/gsio-relay" ]]; then
    "$root/scripts/setup.sh"
    ninja -C "$build" src/bin/gsio-node src/bin/gsio-relay
  fi
  mkdir -p "$dir"
  # The token never goes on a command line, where any local user could read it (ps, /proc):
  # the relay takes it from its environment, each node from a config file only it can read.
  [[ "$token" != *$'\n'* && "$token" != *'"'* ]] || die "GSIO_TOKEN must be one line without '\"'"
  local relay_env=()
  [[ -n "$token" ]] && relay_env=("GSIO_RELAY_TOKEN=$token")

  # Every node proves its id to the relay (docs/PROTOCOL.md §7), as in a deployment.
  env "${relay_env[@]}" "$build/src/bin/gsio-relay" --host 127.0.0.1 --port "$relay_port" \
    --require-proof >"$dir/relay.log" 2>&1 &
  echo $! >"$dir/relay.pid"
  echo "$relay_port" >"$dir/relay.port"
  for i in $(seq 1 "$n"); do
    local port=$((base_port + i - 1))
    mkdir -p "$dir/node$i"
    local config_args=()
    if [[ -n "$token" ]]; then
      (umask 077 && printf 'token = "%s"\n' "$token" >"$dir/node$i/node.conf")
      config_args=(--config "$dir/node$i/node.conf")
    fi
    "$build/src/bin/gsio-node" --host 127.0.0.1 --port "$port" --data-dir "$dir/node$i/data" \
      --relay "ws://127.0.0.1:$relay_port" "${config_args[@]}" --announce-interval-ms 1000 \
      >"$dir/node$i/node.log" 2>&1 &
    echo $! >"$dir/node$i/pid"
    echo "$port" >"$dir/node$i/port"
  done

  # Healthy: /health answers. Linked: each node knows all the others.
  local deadline=$((SECONDS + 30))
  for i in $(seq 1 "$n"); do
    local port
    port=$(cat "$dir/node$i/port")
    until http_get "$port" /health | grep -q '"status":"ok"'; do
      alive "$dir/node$i/pid" || die "node $i exited; see $dir/node$i/node.log"
      ((SECONDS < deadline)) || die "node $i is not healthy after 30 s; see $dir/node$i/node.log"
      sleep 0.2
    done
  done
  until [[ "$(http_get "$relay_port" /health | json_field nodes)" == "$n" ]]; do
    ((SECONDS < deadline)) || die "not every node joined the relay after 30 s; see $dir/*.log"
    sleep 0.2
  done
  echo "relay   ws://127.0.0.1:$relay_port   (log $dir/relay.log)"
  for i in $(seq 1 "$n"); do
    echo "node $i  http://127.0.0.1:$(cat "$dir/node$i/port")   console: gsio console 127.0.0.1:$(( $(cat "$dir/node$i/port") + 1000 ))   (log $dir/node$i/node.log)"
  done
}

status() {
  [[ -d "$dir" ]] || die "no cluster in $dir"
  if alive "$dir/relay.pid"; then
    echo "relay   pid $(cat "$dir/relay.pid")  ws://127.0.0.1:$(cat "$dir/relay.port")  $(http_get "$(cat "$dir/relay.port")" /health)"
  else
    echo "relay   stopped"
  fi
  for i in $(seq 1 "$(node_count)"); do
    local port health
    port=$(cat "$dir/node$i/port")
    if alive "$dir/node$i/pid"; then
      health=$(http_get "$port" /health || true)
      echo "node $i  pid $(cat "$dir/node$i/pid")  http://127.0.0.1:$port  height $(json_field height <<<"$health")  tip $(json_field tip_hash <<<"$health" | cut -c1-12)"
    else
      echo "node $i  stopped"
    fi
  done
}

signal_node() {
  local sig=$1 i=${2:-}
  [[ "$i" =~ ^[0-9]+$ && -d "$dir/node$i" ]] || die "no node '$i' in $dir"
  alive "$dir/node$i/pid" || die "node $i is not running"
  kill "-$sig" "$(cat "$dir/node$i/pid")"
}

stop() {
  [[ -d "$dir" ]] || die "no cluster in $dir"
  local pids=()
  for f in "$dir"/node*/pid "$dir/relay.pid"; do
    alive "$f" && pids+=("$(cat "$f")")
  done
  ((${#pids[@]})) || { echo "nothing running"; return; }
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    local left=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
    ((left)) || { echo "stopped ${#pids[@]} processes"; return; }
    sleep 0.2
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  echo "stopped (some needed SIGKILL)"
}

case "${1:-}" in
  start) start "${2:-3}" ;;
  status) status ;;
  cut) signal_node USR1 "${2:-}"; echo "node ${2}'s relay link is cut" ;;
  heal) signal_node USR2 "${2:-}"; echo "node ${2}'s relay link is healing" ;;
  stop) stop ;;
  logs) if [[ -n "${2:-}" ]]; then tail -n 50 "$dir/node$2/node.log"; else tail -n 50 "$dir/relay.log"; fi ;;
  -h|--help|help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
