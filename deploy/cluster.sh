#!/usr/bin/env bash
# A gsio-net cluster on one machine: gsio-relay and N gsio-node processes on 127.0.0.1 (with
# several relays, also a 3-server NATS cluster), with their ports, data directories, logs and pids
# under one folder (default ./cluster).
#
#   deploy/cluster.sh start [N] [R]  build if needed, start R relays (default 1) and N nodes
#                                    (default 3), wait until all are healthy and linked, print
#                                    their URLs. With R >= 2 the relays join three nats-server
#                                    processes (routes between them); node i is on relay
#                                    (i-1) mod R first and fails over to the others.
#   deploy/cluster.sh status         each process: pid, URL, and for nodes height / tip
#   deploy/cluster.sh cut I          suspend node I's relay link (the node keeps serving clients)
#   deploy/cluster.sh heal I         resume it
#   deploy/cluster.sh cut-relay I    kill -9 relay I (its nodes fail over to the others)
#   deploy/cluster.sh restart-relay I
#   deploy/cluster.sh cut-nats I     kill -9 NATS server I (its relays move to another one)
#   deploy/cluster.sh restart-nats I
#   deploy/cluster.sh stop           stop everything (SIGTERM, then SIGKILL after 10 s)
#   deploy/cluster.sh logs [I]       tail the relay's log, or node I's
#
# Environment: GSIO_CLUSTER_DIR (folder), GSIO_BUILD_DIR (binaries), GSIO_RELAY_PORT (first
# relay's port, 8787), GSIO_BASE_PORT (first node port, 3000), GSIO_NATS_PORT (first NATS client
# port, 4222; routes on +2000, monitoring on +4000), GSIO_TOKEN (network token, default none).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${GSIO_CLUSTER_DIR:-$PWD/cluster}"
build="${GSIO_BUILD_DIR:-$root/build}"
relay_port="${GSIO_RELAY_PORT:-8787}"
base_port="${GSIO_BASE_PORT:-3000}"
nats_port="${GSIO_NATS_PORT:-4222}"
nats_servers=3
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
  local pid command
  pid=$(cat "$1")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Read whole, not piped into grep -q: under pipefail, grep quitting early fails the pipe.
  command=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$command" =~ (^|/)(gsio-(node|relay)|nats-server)\  ]]
}

node_count() { ls -d "$dir"/node* 2>/dev/null | wc -l; }
relay_count() { cat "$dir/relays" 2>/dev/null || echo 1; }
# Relay 1 keeps the names of a one-relay cluster (relay.pid, relay.port, relay.log).
relay_file() { if [[ $1 == 1 ]]; then echo "$dir/relay.$2"; else echo "$dir/relay$1.$2"; fi; }
relay_port_of() { echo $((relay_port + $1 - 1)); }

# NATS server I (1..3): client port nats_port+I-1, routes +2000, monitoring +4000.
start_nats() {
  local i=$1 routes=""
  mkdir -p "$dir/nats$i"
  for k in $(seq 1 "$nats_servers"); do
    ((k == i)) || routes+="    nats-route://127.0.0.1:$((nats_port + 2000 + k - 1))"$'\n'
  done
  cat >"$dir/nats$i/nats.conf" <<CONF
server_name: gsio-local-$i
host: 127.0.0.1
port: $((nats_port + i - 1))
http: 127.0.0.1:$((nats_port + 4000 + i - 1))
max_payload: 8MB
cluster {
  name: gsio-local
  host: 127.0.0.1
  port: $((nats_port + 2000 + i - 1))
  routes: [
$routes  ]
}
CONF
  nats-server -c "$dir/nats$i/nats.conf" >"$dir/nats$i/nats.log" 2>&1 &
  echo $! >"$dir/nats$i/pid"
}

# The NATS client URLs, server `first` first.
nats_urls() {
  local first=$1 urls=""
  for k in $(seq 0 $((nats_servers - 1))); do
    urls+="${urls:+,}nats://127.0.0.1:$((nats_port + (first - 1 + k) % nats_servers))"
  done
  echo "$urls"
}

# Relay I; with several relays, on NATS server (I-1) mod 3 + 1 first.
start_relay() {
  local i=$1 relays
  relays=$(relay_count)
  local relay_env=() nats_args=()
  [[ -n "$token" ]] && relay_env=("GSIO_RELAY_TOKEN=$token")
  ((relays > 1)) && nats_args=(--nats "$(nats_urls $(((i - 1) % nats_servers + 1)))")
  # Every node proves its id to the relay (docs/PROTOCOL.md §7), as in a deployment.
  env "${relay_env[@]}" "$build/src/bin/gsio-relay" --host 127.0.0.1 --port "$(relay_port_of "$i")" \
    --require-proof "${nats_args[@]}" >>"$(relay_file "$i" log)" 2>&1 &
  echo $! >"$(relay_file "$i" pid)"
  relay_port_of "$i" >"$(relay_file "$i" port)"
}

# The relay URLs for node I: its own relay first, then the others in order.
relay_urls() {
  local i=$1 relays urls=""
  relays=$(relay_count)
  for k in $(seq 0 $((relays - 1))); do
    urls+="${urls:+,}ws://127.0.0.1:$(relay_port_of $(((i - 1 + k) % relays + 1)))"
  done
  echo "$urls"
}

nodes_on_relays() {
  local total=0
  for k in $(seq 1 "$(relay_count)"); do
    total=$((total + $(http_get "$(relay_port_of "$k")" /health | json_field nodes || echo 0)))
  done
  echo "$total"
}

start() {
  local n=${1:-3} relays=${2:-1}
  [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 && "$n" -le 64 ]] || die "N must be 1..64"
  [[ "$relays" =~ ^[0-9]+$ && "$relays" -ge 1 && "$relays" -le 8 ]] || die "R must be 1..8"
  ((relays == 1)) || command -v nats-server >/dev/null || die "several relays need nats-server (scripts/setup.sh installs it)"
  alive "$dir/relay.pid" && die "a cluster is already running in $dir (deploy/cluster.sh stop)"
  if [[ ! -x "$build/src/bin/gsio-node" || ! -x "$build/src/bin/gsio-relay" ]]; then
    "$root/scripts/setup.sh"
    ninja -C "$build" src/bin/gsio-node src/bin/gsio-relay
  fi
  mkdir -p "$dir"
  # The token never goes on a command line, where any local user could read it (ps, /proc):
  # the relay takes it from its environment, each node from a config file only it can read.
  [[ "$token" != *$'\n'* && "$token" != *'"'* ]] || die "GSIO_TOKEN must be one line without '\"'"
  echo "$relays" >"$dir/relays"
  if ((relays > 1)); then
    for k in $(seq 1 "$nats_servers"); do start_nats "$k"; done
    local deadline=$((SECONDS + 30))
    for k in $(seq 1 "$nats_servers"); do
      until http_get $((nats_port + 4000 + k - 1)) /routez | grep -qE "\"num_routes\": *$((nats_servers - 1))\b"; do
        alive "$dir/nats$k/pid" || die "NATS server $k exited; see $dir/nats$k/nats.log"
        ((SECONDS < deadline)) || die "the NATS cluster did not form in 30 s; see $dir/nats*/nats.log"
        sleep 0.2
      done
    done
  fi
  for k in $(seq 1 "$relays"); do start_relay "$k"; done
  for i in $(seq 1 "$n"); do
    local port=$((base_port + i - 1))
    mkdir -p "$dir/node$i"
    local config_args=()
    if [[ -n "$token" ]]; then
      (umask 077 && printf 'token = "%s"\n' "$token" >"$dir/node$i/node.conf")
      config_args=(--config "$dir/node$i/node.conf")
    fi
    "$build/src/bin/gsio-node" --host 127.0.0.1 --port "$port" --data-dir "$dir/node$i/data" \
      --relay "$(relay_urls "$i")" "${config_args[@]}" --announce-interval-ms 1000 \
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
  until [[ "$(nodes_on_relays)" == "$n" ]]; do
    ((SECONDS < deadline)) || die "not every node joined a relay after 30 s; see $dir/*.log"
    sleep 0.2
  done
  if ((relays > 1)); then
    for k in $(seq 1 "$nats_servers"); do
      echo "nats $k  nats://127.0.0.1:$((nats_port + k - 1))   monitoring http://127.0.0.1:$((nats_port + 4000 + k - 1))   (log $dir/nats$k/nats.log)"
    done
  fi
  for k in $(seq 1 "$relays"); do
    local label="relay  "
    ((relays > 1)) && label="relay $k"
    echo "$label ws://127.0.0.1:$(relay_port_of "$k")   (log $(relay_file "$k" log))"
  done
  for i in $(seq 1 "$n"); do
    echo "node $i  http://127.0.0.1:$(cat "$dir/node$i/port")   console: gsio console 127.0.0.1:$(( $(cat "$dir/node$i/port") + 1000 ))   (log $dir/node$i/node.log)"
  done
}

status() {
  [[ -d "$dir" ]] || die "no cluster in $dir"
  for k in $(seq 1 "$nats_servers"); do
    [[ -d "$dir/nats$k" ]] || continue
    if alive "$dir/nats$k/pid"; then
      echo "nats $k  pid $(cat "$dir/nats$k/pid")  nats://127.0.0.1:$((nats_port + k - 1))"
    else
      echo "nats $k  stopped"
    fi
  done
  for k in $(seq 1 "$(relay_count)"); do
    local label="relay  "
    (($(relay_count) > 1)) && label="relay $k"
    if alive "$(relay_file "$k" pid)"; then
      echo "$label pid $(cat "$(relay_file "$k" pid)")  ws://127.0.0.1:$(relay_port_of "$k")  $(http_get "$(relay_port_of "$k")" /health)"
    else
      echo "$label stopped"
    fi
  done
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

# The pid file of relay or NATS server I (dies when there is no such process).
pid_file_of() {
  local what=$1 i=${2:-}
  [[ "$i" =~ ^[0-9]+$ ]] || die "$what needs a number"
  case "$what" in
    relay) ((i >= 1 && i <= $(relay_count))) || die "no relay $i"; relay_file "$i" pid ;;
    nats) [[ -d "$dir/nats$i" ]] || die "no NATS server $i (only clusters with several relays have them)"; echo "$dir/nats$i/pid" ;;
  esac
}

# kill -9 of relay or NATS server I; restart-* starts it again on the same port.
cut_process() {
  local what=$1 i=${2:-} pid_file
  pid_file=$(pid_file_of "$what" "$i") || exit 1
  alive "$pid_file" || die "$what $i is not running"
  kill -KILL "$(cat "$pid_file")"
  echo "$what $i killed (kill -9)"
}

restart_process() {
  local what=$1 i=${2:-} pid_file
  pid_file=$(pid_file_of "$what" "$i") || exit 1
  alive "$pid_file" && die "$what $i is running"
  if [[ $what == relay ]]; then start_relay "$i"; else start_nats "$i"; fi
  echo "$what $i started again (pid $(cat "$pid_file"))"
}

stop() {
  [[ -d "$dir" ]] || die "no cluster in $dir"
  local pids=()
  for f in "$dir"/node*/pid "$dir"/relay*.pid "$dir"/nats*/pid; do
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
  start) start "${2:-3}" "${3:-1}" ;;
  status) status ;;
  cut) signal_node USR1 "${2:-}"; echo "node ${2}'s relay link is cut" ;;
  heal) signal_node USR2 "${2:-}"; echo "node ${2}'s relay link is healing" ;;
  cut-relay) cut_process relay "${2:-}" ;;
  restart-relay) restart_process relay "${2:-}" ;;
  cut-nats) cut_process nats "${2:-}" ;;
  restart-nats) restart_process nats "${2:-}" ;;
  stop) stop ;;
  logs) if [[ -n "${2:-}" ]]; then tail -n 50 "$dir/node$2/node.log"; else tail -n 50 "$dir/relay.log"; fi ;;
  -h|--help|help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
