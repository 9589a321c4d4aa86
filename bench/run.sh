#!/usr/bin/env bash
# One command for the ingest benchmark (scenario a, DESIGN §9): builds what it needs, measures the
# machine's limits, runs gsio-node and the Node.js reference peer (bench/peers/node-server) side by
# side, alternating, and writes bench/RESULTS.md.
#
#   bench/run.sh
#
# Knobs (environment): CLIENTS (32), WINDOW (8), DURATION_S (10), WARMUP_S (1), RUNS (3, per peer),
# BUILD_JOBS (2), RESULTS (bench/RESULTS.md). The runs take ~2 minutes after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

CLIENTS=${CLIENTS:-32}
WINDOW=${WINDOW:-8}
DURATION_S=${DURATION_S:-10}
WARMUP_S=${WARMUP_S:-1}
RUNS=${RUNS:-3}
BUILD_JOBS=${BUILD_JOBS:-2}
RESULTS=${RESULTS:-bench/RESULTS.md}

say() { echo "bench: $*" >&2; }

# --- every process this script starts is killed on the way out -------------------------------
started_pids=()
work=""
cleanup() {
  local pid
  for pid in "${started_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${started_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  [[ -n "$work" && -d "$work" ]] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- install and build ------------------------------------------------------------------------
say "installing dependencies and configuring ./build (scripts/setup.sh)"
scripts/setup.sh
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "bench: node and npm are needed for the reference peer" >&2; exit 1; }
say "npm ci in bench/peers/node-server"
(cd bench/peers/node-server && npm ci --no-audit --no-fund --loglevel=error)
say "building gsio-node and gsio-bench (ninja -j$BUILD_JOBS)"
ninja -C build -j"$BUILD_JOBS" src/bin/gsio-node src/bin/gsio-bench >&2
gsio_node=$repo/build/src/bin/gsio-node
gsio_bench=$repo/build/src/bin/gsio-bench

# Scratch space on the disk the build lives on: a tmpfs /tmp would make fsync free and the
# durability cost invisible. build/ is ignored by git.
work=$(mktemp -d "$repo/build/bench-run.XXXXXX")
fs_type=$(findmnt -n -o FSTYPE -T "$work" 2>/dev/null || stat -f -c %T "$work")
[[ "$fs_type" == tmpfs ]] && say "warning: $work is on tmpfs; fsync figures will not mean much"

# --- the machine ------------------------------------------------------------------------------
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
machine_json=$(jq -n --arg nproc "$(nproc)" --arg cpu "$cpu_model" --arg kernel "$(uname -r)" \
  --arg mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
  --arg fs "$fs_type" --arg node "$(node --version)" \
  --arg sio "$(node -p "require('./bench/peers/node-server/node_modules/socket.io/package.json').version")" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg dirty "$([[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] && echo yes || echo no)" \
  '{nproc: $nproc, cpu: $cpu, kernel: $kernel, memory: $mem, data_fs: $fs, node: $node,
    socketio: $sio, commit: $commit, uncommitted_changes: $dirty}')
say "machine: $(jq -c . <<<"$machine_json")"

say "measuring limits (gsio-bench limits --dir $work)"
limits_json=$("$gsio_bench" limits --dir "$work")
say "limits: $limits_json"

# --- peers ------------------------------------------------------------------------------------
# Starts a server with --port 0 (so the kernel picks a free port) and sets peer_url from its
# "ready on http://..." line; gsio-node logs that line at info level, and logs nothing per add.
# Sets globals rather than printing, because a $(...) subshell would lose peer_pid and the
# started_pids entry that the exit trap needs.
peer_pid=""
peer_url=""
start_peer() {  # name log command...
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  peer_pid=$!
  started_pids+=("$peer_pid")
  local url="" i
  for ((i = 0; i < 300; ++i)); do
    url=$(grep -o 'ready on http://[0-9.]*:[0-9]*' "$log" | head -1 | sed 's/^ready on //') || true
    [[ -n "$url" ]] && break
    kill -0 "$peer_pid" 2>/dev/null || { echo "bench: $name exited at start:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "bench: $name did not get ready in 30 s:" >&2; cat "$log" >&2; exit 1; }
  peer_url=$url
}

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat; the command
# name in field 2 has no spaces for node or gsio-node).
server_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

stop_peer() {
  kill -TERM "$peer_pid" 2>/dev/null || true
  wait "$peer_pid" 2>/dev/null || true
}

raw=$work/ingest.jsonl
: >"$raw"
ingest_args=(--clients "$CLIENTS" --window "$WINDOW" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S")

run_one() {  # peer run
  local peer=$1 run=$2 dir=$work/$1-$2 log=$work/$1-$2.log url load_before result
  mkdir -p "$dir"
  case $peer in
    gsio-node) start_peer gsio-node "$log" "$gsio_node" --host 127.0.0.1 --port 0 \
                 --data-dir "$dir" --log-level info ;;
    node-ref)  start_peer node-ref "$log" node bench/peers/node-server/server.js \
                 --host 127.0.0.1 --port 0 --data-dir "$dir" ;;
  esac
  url=$peer_url
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  say "run $run: $peer at $url (load $load_before)"
  local cpu_before wall_before cpu_after wall_after batch_json='{}'
  cpu_before=$(server_cpu_ticks "$peer_pid")
  wall_before=$(date +%s.%N)
  if ! result=$("$gsio_bench" ingest --url "$url" "${ingest_args[@]}"); then
    echo "bench: gsio-bench failed against $peer: $result" >&2
    cat "$log" >&2
    exit 1
  fi
  cpu_after=$(server_cpu_ticks "$peer_pid")
  wall_after=$(date +%s.%N)
  # gsio-node's commit counters, when its build has /metrics: the mean group-commit batch and
  # the mean time from an add reaching the ledger actor to being durable.
  if [[ $peer == gsio-node ]]; then
    batch_json=$(curl -fsS --max-time 5 "$url/metrics" 2>/dev/null | awk '
      /^gsio_ledger_commits_total / {c = $2}
      /^gsio_ledger_commit_batch_entries_sum / {s = $2}
      /^gsio_ledger_append_latency_seconds_sum / {ls = $2}
      /^gsio_ledger_append_latency_seconds_count / {lc = $2}
      END {
        if (c > 0 && lc > 0) printf "{\"mean_batch\": %.1f, \"ledger_ms\": %.3f}", s / c, 1000 * ls / lc
        else if (c > 0) printf "{\"mean_batch\": %.1f}", s / c
        else print "{}"
      }') || batch_json='{}'
  fi
  stop_peer
  say "  $(jq -c '{entries_per_s, latency_ms, client_cpu_util}' <<<"$result")"
  # Server CPU over the whole client run (connect + warm-up + window + drain), in cores.
  local server_cpu
  server_cpu=$(awk -v t="$((cpu_after - cpu_before))" -v hz="$(getconf CLK_TCK)" \
    -v w0="$wall_before" -v w1="$wall_after" 'BEGIN {printf "%.2f", t / hz / (w1 - w0)}')
  jq -c --arg peer "$peer" --argjson run "$run" --arg load "$load_before" \
    --arg log "$(tail -c 400 "$log")" --argjson server_cpu "$server_cpu" --argjson batch "$batch_json" \
    '. + {peer: $peer, run: $run, load_before: ($load | tonumber), server_cpu_cores: $server_cpu,
          server_log_tail: $log} + (if $batch.mean_batch then {server_mean_batch: $batch.mean_batch} else {} end)
          + (if $batch.ledger_ms then {server_ledger_ms: $batch.ledger_ms} else {} end)' \
    <<<"$result" >>"$raw"
  rm -rf "$dir"
}

load_start=$(cat /proc/loadavg)
for ((run = 1; run <= RUNS; ++run)); do
  # Alternating peers spreads slow drift (other builds, page cache, thermal) over both.
  if ((run % 2)); then order=(gsio-node node-ref); else order=(node-ref gsio-node); fi
  for peer in "${order[@]}"; do run_one "$peer" "$run"; done
done
load_end=$(cat /proc/loadavg)

# --- report -----------------------------------------------------------------------------------
command_line="CLIENTS=$CLIENTS WINDOW=$WINDOW DURATION_S=$DURATION_S WARMUP_S=$WARMUP_S RUNS=$RUNS bench/run.sh"
node bench/report.js \
  --machine "$machine_json" --limits "$limits_json" --raw "$raw" \
  --load-start "$load_start" --load-end "$load_end" --command "$command_line" \
  --ingest-args "${ingest_args[*]}" >"$RESULTS"
say "wrote $RESULTS"
