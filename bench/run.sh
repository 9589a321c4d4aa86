#!/usr/bin/env bash
# One command for the benchmarks of DESIGN §9 (issue 5): builds what it needs, measures the
# machine's limits, runs every scenario RUNS times and writes bench/RESULTS.md.
#
#   bench/run.sh
#   GSIO_BIN_DIR=/path/to/src/bin bench/run.sh     # gsio-node / gsio-relay from elsewhere
#
#   (a) ingest       gsio-node vs the Node.js socket.io reference (bench/peers/node-server)
#   (b) propagation  relay + PROP_NODES nodes: writers on node 1, a subscriber on the last node,
#                    at PROP_RATE adds/s and at saturation (absolute targets, no reference)
#   (c) fan-out      gsio-relay vs the Node `ws` relay reference (bench/peers/ws-relay)
#   (d) catch-up     a fresh node syncing CATCHUP_ENTRIES entries from a node (absolute target)
#   (e) idle         RSS per idle Socket.IO WebSocket client, gsio-node vs the Node.js reference
#   (f) propagation across relays: as (b) at PROP_RATE, the writer's node on relay A and the
#                    reader's on relay B, the relays joined through a nats-server; beside the
#                    same with one relay, alternating (the NATS hop's cost, as a ratio)
#   (g) fan-out through NATS: FANOUT_PEERS peers on each of two relays joined through a
#                    nats-server, beside 2 x FANOUT_PEERS peers on one relay
#   (h) author-signed ingest: (a) against a private network's node, every add signed by an
#                    author (one more Ed25519 verify per entry), beside (a) on an open node
#   (i) large ledger (not in the default SCENARIOS: LARGE_ENTRIES=10000000 needs ~10 GB of disk
#                    and ~13 GB of memory): a node on a store of LARGE_ENTRIES entries, started
#                    with --verify-on-start background (spawn → ready, → fully verified) and full
#                    (spawn → ready), RSS at each; get_ledger page latency at height 10 and near
#                    the tip, and add_ledger_entry latency, beside a node on LARGE_SMALL entries.
#                    Catch-up from such a node is (d) with CATCHUP_ENTRIES.
# Peers with a reference run alternately, fresh processes and data directories each time.
#
# Knobs (environment), defaults in parentheses:
#   RUNS (3, per peer and scenario), SCENARIOS ("a b c d e f g h"), BUILD_JOBS (2), RESULTS (bench/RESULTS.md),
#   KEEP_WORK (unset; set: keep the scratch directory with the raw JSON lines and server logs)
#   BUILD_DIR (build): where gsio-bench (and, without GSIO_BIN_DIR, gsio-node and gsio-relay) are
#     built; it must be configured with --buildtype=release (done here when it does not exist).
#   GSIO_BIN_DIR (unset): a directory holding gsio-node and gsio-relay to use instead of building.
#   (a) CLIENTS (32), WINDOW (8), DURATION_S (10), WARMUP_S (1)
#   (b) PROP_NODES (3), PROP_RATE (1000), PROP_WRITERS (4), PROP_DURATION_S (10),
#       PROP_SAT_DURATION_S (4), PROP_SAT_WINDOW (16), ANNOUNCE_MS (200)
#   (c) FANOUT_PEERS (16), FANOUT_WINDOW (128: enough to keep either relay busy), FANOUT_PAYLOAD (600), FANOUT_DURATION_S (5)
#   (d) CATCHUP_ENTRIES (100000), CATCHUP_VIA (relay | peer), SYNC_PAGE_LIMIT (1000),
#       CATCHUP_TIMEOUT_S (150)
#   (e) IDLE_CLIENTS (10000), IDLE_SETTLE_MS (2000)
#   (f), (g), (h) use the knobs of (b), (c) and (a)
#   (i) LARGE_ENTRIES (1000000), LARGE_SMALL (1000), LARGE_TIMEOUT_S (1800; also how long a node
#       on the large store may take to get ready), LARGE_STORE (unset: a data directory of
#       LARGE_ENTRIES entries that `gsio-bench mkstore` wrote before, used instead of writing one;
#       it is used in place, so the runs' adds stay in it)
# All of it takes about 9-12 minutes after the build on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-a b c d e f g h}
BUILD_JOBS=${BUILD_JOBS:-2}
BUILD_DIR=${BUILD_DIR:-build}
RESULTS=${RESULTS:-bench/RESULTS.md}
CLIENTS=${CLIENTS:-32}
WINDOW=${WINDOW:-8}
DURATION_S=${DURATION_S:-10}
WARMUP_S=${WARMUP_S:-1}
PROP_NODES=${PROP_NODES:-3}
PROP_RATE=${PROP_RATE:-1000}
PROP_WRITERS=${PROP_WRITERS:-4}
PROP_DURATION_S=${PROP_DURATION_S:-10}
PROP_SAT_DURATION_S=${PROP_SAT_DURATION_S:-4}
PROP_SAT_WINDOW=${PROP_SAT_WINDOW:-16}
ANNOUNCE_MS=${ANNOUNCE_MS:-200}
FANOUT_PEERS=${FANOUT_PEERS:-16}
FANOUT_WINDOW=${FANOUT_WINDOW:-128}
FANOUT_PAYLOAD=${FANOUT_PAYLOAD:-600}
FANOUT_DURATION_S=${FANOUT_DURATION_S:-5}
CATCHUP_ENTRIES=${CATCHUP_ENTRIES:-100000}
CATCHUP_VIA=${CATCHUP_VIA:-relay}
SYNC_PAGE_LIMIT=${SYNC_PAGE_LIMIT:-1000}
CATCHUP_TIMEOUT_S=${CATCHUP_TIMEOUT_S:-150}
IDLE_CLIENTS=${IDLE_CLIENTS:-10000}
IDLE_SETTLE_MS=${IDLE_SETTLE_MS:-2000}
LARGE_ENTRIES=${LARGE_ENTRIES:-1000000}
LARGE_SMALL=${LARGE_SMALL:-1000}
LARGE_TIMEOUT_S=${LARGE_TIMEOUT_S:-1800}

say() { echo "bench: $*" >&2; }
wants() { [[ " $SCENARIOS " == *" $1 "* ]]; }
[[ $CATCHUP_VIA == relay || $CATCHUP_VIA == peer ]] ||
  { echo "bench: CATCHUP_VIA must be relay or peer" >&2; exit 2; }

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
  if [[ -n "$work" && -d "$work" ]]; then
    if [[ -n ${KEEP_WORK:-} ]]; then say "kept $work"; else rm -rf "$work"; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- install and build ------------------------------------------------------------------------
say "installing dependencies (scripts/setup.sh)"
scripts/setup.sh
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "bench: node and npm are needed for the reference peers" >&2; exit 1; }
for peer in node-server ws-relay; do
  say "npm ci in bench/peers/$peer"
  (cd "bench/peers/$peer" && npm ci --no-audit --no-fund --loglevel=error)
done
[[ -f $BUILD_DIR/build.ninja ]] || meson setup "$BUILD_DIR" --buildtype=release >&2
if [[ -n ${GSIO_BIN_DIR:-} ]]; then
  bin_dir=$(cd "$GSIO_BIN_DIR" && pwd)
  say "gsio-node and gsio-relay from $bin_dir; building gsio-bench in $BUILD_DIR (ninja -j$BUILD_JOBS)"
  ninja -C "$BUILD_DIR" -j"$BUILD_JOBS" src/bin/gsio-bench >&2
  [[ -x $bin_dir/gsio ]] || ninja -C "$BUILD_DIR" -j"$BUILD_JOBS" src/bin/gsio >&2
else
  bin_dir=$repo/$BUILD_DIR/src/bin
  say "building gsio-node, gsio-relay and gsio-bench in $BUILD_DIR (ninja -j$BUILD_JOBS)"
  ninja -C "$BUILD_DIR" -j"$BUILD_JOBS" src/bin/gsio-node src/bin/gsio-relay src/bin/gsio src/bin/gsio-bench >&2
fi
gsio_node=$bin_dir/gsio-node
gsio_relay=$bin_dir/gsio-relay
gsio_cli=$bin_dir/gsio
gsio_bench=$repo/$BUILD_DIR/src/bin/gsio-bench
for b in "$gsio_node" "$gsio_relay" "$gsio_cli" "$gsio_bench"; do
  [[ -x $b ]] || { echo "bench: $b is missing" >&2; exit 1; }
done

# Scratch space on the disk the build lives on: a tmpfs /tmp would make fsync free and the
# durability cost invisible. Build directories are ignored by git.
work=$(mktemp -d "$repo/$BUILD_DIR/bench-run.XXXXXX")
fs_type=$(findmnt -n -o FSTYPE -T "$work" 2>/dev/null || stat -f -c %T "$work")
[[ "$fs_type" == tmpfs ]] && say "warning: $work is on tmpfs; fsync figures will not mean much"

# (e) holds IDLE_CLIENTS sockets in the load generator and as many in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if wants e && (($(ulimit -n) < IDLE_CLIENTS + 1000)); then
  echo "bench: scenario e needs $((IDLE_CLIENTS + 1000)) file descriptors; ulimit -n is $(ulimit -n)" >&2
  exit 1
fi

# --- the machine ------------------------------------------------------------------------------
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
machine_json=$(jq -n --arg nproc "$(nproc)" --arg cpu "$cpu_model" --arg kernel "$(uname -r)" \
  --arg mem "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)" \
  --arg fs "$fs_type" --arg node "$(node --version)" \
  --arg sio "$(node -p "require('./bench/peers/node-server/node_modules/socket.io/package.json').version")" \
  --arg ws "$(node -p "require('./bench/peers/ws-relay/node_modules/ws/package.json').version")" \
  --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg dirty "$([[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]] && echo yes || echo no)" \
  --arg bins "$bin_dir" \
  '{nproc: $nproc, cpu: $cpu, kernel: $kernel, memory: $mem, data_fs: $fs, node: $node,
    socketio: $sio, ws: $ws, commit: $commit, uncommitted_changes: $dirty, bin_dir: $bins}')
say "machine: $(jq -c . <<<"$machine_json")"

say "measuring limits (gsio-bench limits --dir $work)"
limits_json=$("$gsio_bench" limits --dir "$work")
say "limits: $limits_json"

# --- processes --------------------------------------------------------------------------------
# What a process is doing, for a wait that takes too long: its scheduler state (R running, S
# sleeping, D waiting on the disk), the kernel function it waits in, the CPU it used, and the
# machine's dirty and writeback memory (a peer stuck in D behind writeback waits for the disk).
peer_activity() {  # pid
  local pid=$1 stat
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || { echo "gone"; return; }
  stat=${stat##*) }  # past "pid (comm) "
  local fields
  read -r -a fields <<<"$stat"
  local threads="" t
  for t in /proc/"$pid"/task/*; do
    threads+=" $(awk '{print $3}' "$t/stat" 2>/dev/null)/$(cat "$t/wchan" 2>/dev/null || echo ?)"
  done
  echo "state ${fields[0]}, cpu $((fields[11] + fields[12])) ticks, threads (state/wchan):$threads;" \
       "machine: $(awk '/^(Dirty|Writeback):/ {printf "%s %s kB ", $1, $2}' /proc/meminfo)load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# Starts a server with --port 0 (so the kernel picks a free port) and sets peer_url from its
# "ready on http://..." (or ws://) line; gsio-node logs that line at info level, and logs nothing
# per add. Sets globals rather than printing, because a $(...) subshell would lose peer_pid and
# the started_pids entry that the exit trap needs. peer_ready_s: seconds from spawn to ready.
# Waits PEER_READY_TIMEOUT_S (60) seconds of wall time, saying every 5 s what the peer is doing.
PEER_READY_TIMEOUT_S=${PEER_READY_TIMEOUT_S:-60}
peer_pid=""
peer_url=""
peer_ready_s=""
start_peer() {  # name log command...
  local name=$1 log=$2
  shift 2
  local t0 t1 now waited next_report=5 url=""
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1 &
  peer_pid=$!
  started_pids+=("$peer_pid")
  while :; do
    url=$(grep -o 'ready on [a-z]*://[0-9.]*:[0-9]*' "$log" | head -1 | sed 's/^ready on //') || true
    [[ -n "$url" ]] && break
    kill -0 "$peer_pid" 2>/dev/null || { echo "bench: $name exited at start:" >&2; cat "$log" >&2; exit 1; }
    now=$(date +%s.%N)
    waited=$(awk -v a="$t0" -v b="$now" 'BEGIN {printf "%d", b - a}')
    if ((waited >= PEER_READY_TIMEOUT_S)); then
      echo "bench: $name (pid $peer_pid) did not get ready in $PEER_READY_TIMEOUT_S s: $(peer_activity "$peer_pid")" >&2
      echo "--- its log:" >&2; cat "$log" >&2
      exit 1
    fi
    if ((waited >= next_report)); then
      say "$name (pid $peer_pid) not ready after ${waited} s: $(peer_activity "$peer_pid")"
      next_report=$((next_report + 5))
    fi
    sleep 0.02
  done
  t1=$(date +%s.%N)
  peer_ready_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
  peer_url=$url
}

# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat; the command
# name in field 2 has no spaces for node, gsio-node or gsio-relay).
server_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Cores used between two readings: cpu_cores TICKS0 TICKS1 WALL0 WALL1
cpu_cores() {
  awk -v t="$(($2 - $1))" -v hz="$(getconf CLK_TCK)" -v w0="$3" -v w1="$4" \
    'BEGIN {printf "%.2f", t / hz / (w1 - w0)}'
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
stop_peer() { stop_pid "$peer_pid"; }

# Cores kept busy by anything on the machine over half a second, taken right before a run while
# its peers are up but idle: other work competing with the run shows here. (The 1-minute load
# average would mostly show the bench's own previous run.)
busy_cores() {
  local busy0 total0 busy1 total1
  read -r busy0 total0 < <(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  sleep 0.5
  read -r busy1 total1 < <(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
  awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) -v n="$(nproc)" \
    'BEGIN { printf "%.2f", (t > 0 ? n * b / t : 0) }'
}

# Runs gsio-bench; on failure shows its output and the server logs given, then stops the script.
bench_or_die() {  # result-var logs... -- gsio-bench args...
  local __var=$1 out logs=()
  shift
  while [[ $1 != -- ]]; do logs+=("$1"); shift; done
  shift
  if ! out=$("$gsio_bench" "$@"); then
    echo "bench: gsio-bench $1 failed: $out" >&2
    local l
    for l in "${logs[@]}"; do echo "--- $l" >&2; tail -n 30 "$l" >&2; done
    exit 1
  fi
  printf -v "$__var" '%s' "$out"
}

load_start=$(cat /proc/loadavg)

# --- (a) ingest -------------------------------------------------------------------------------
ingest_args=(--clients "$CLIENTS" --window "$WINDOW" --warmup-s "$WARMUP_S")
: >"$work/ingest.jsonl"

# One DURATION_S run of a peer, into ingest.jsonl. Ids are <creator>-<unix_us> (protocol 2,
# PROTOCOL §3): a node would have to add more than 1,000,000 entries/s to run its ids ahead of
# the clock. gsio-bench records how far the newest acked id led the clock at the end of the
# window (id_clock_lead_ms), and the report checks that gsio-node's stays under a second.
# Peers: gsio-node (open network, node-signed entries), gsio-author (a private network whose
# charter admits the node and one author; gsio-bench proves the author's key on every connection
# and signs every add as that author), node-ref (the Node.js reference). Into $ingest_out.
ingest_out=$work/ingest.jsonl
run_ingest() {  # peer run
  local peer=$1 run=$2 url busy_before result author_args=()
  local dir=$work/ingest-$1-$2 log=$work/ingest-$1-$2.log
  mkdir -p "$dir"
  case $peer in
    gsio-node) start_peer gsio-node "$log" "$gsio_node" --host 127.0.0.1 --port 0 \
                 --data-dir "$dir" --log-level info ;;
    gsio-author)
      mkdir -p "$dir/data" && chmod 700 "$dir/data"
      local node_key author_key
      node_key=$("$gsio_cli" key create "$dir/data/node.key")
      author_key=$("$gsio_cli" key create "$dir/author.key")
      "$gsio_cli" network create bench --dir "$dir/net" --members "$node_key:node,$author_key:author:bench" >/dev/null
      author_args=(--author-key "$dir/author.key")
      start_peer gsio-node "$log" "$gsio_node" --host 127.0.0.1 --port 0 \
        --data-dir "$dir/data" --network "$dir/net/network.json" --log-level info ;;
    node-ref)  start_peer node-ref "$log" node bench/peers/node-server/server.js \
                 --host 127.0.0.1 --port 0 --data-dir "$dir" ;;
  esac
  url=$peer_url
  busy_before=$(busy_cores)
  say "(a) run $run (${DURATION_S} s): $peer at $url (cores busy $busy_before)"
  local cpu_before wall_before cpu_after wall_after batch_json='{}'
  cpu_before=$(server_cpu_ticks "$peer_pid")
  wall_before=$(date +%s.%N)
  bench_or_die result "$log" -- ingest --url "$url" "${ingest_args[@]}" --duration-s "$DURATION_S" \
    --server-pid "$peer_pid" "${author_args[@]}"
  cpu_after=$(server_cpu_ticks "$peer_pid")
  wall_after=$(date +%s.%N)
  # gsio-node's commit counters, when its build has /metrics: the mean group-commit batch and
  # the mean time from an add reaching the ledger actor to being durable.
  if [[ $peer == gsio-* ]]; then
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
  # Server CPU inside the measurement window (gsio-bench reads it), else over the whole client
  # run (connect + warm-up + window + drain), in cores.
  local server_cpu
  server_cpu=$(cpu_cores "$cpu_before" "$cpu_after" "$wall_before" "$wall_after")
  jq -c --arg peer "$peer" --argjson run "$run" --arg load "$busy_before" \
    --arg log "$(tail -c 400 "$log")" --argjson server_cpu "$server_cpu" --argjson batch "$batch_json" \
    '. + {peer: $peer, run: $run, busy_cores_before: ($load | tonumber), server_cpu_cores: (.server_cpu_util // $server_cpu),
          server_log_tail: $log} + (if $batch.mean_batch then {server_mean_batch: $batch.mean_batch} else {} end)
          + (if $batch.ledger_ms then {server_ledger_ms: $batch.ledger_ms} else {} end)' \
    <<<"$result" >>"$ingest_out"
  rm -rf "$dir"
}

# Alternating peers spreads slow drift (other builds, page cache, thermal) over both.
alternate() {  # function peerA peerB
  local fn=$1 a=$2 b=$3 run
  for ((run = 1; run <= RUNS; ++run)); do
    if ((run % 2)); then "$fn" "$a" "$run"; "$fn" "$b" "$run"; else "$fn" "$b" "$run"; "$fn" "$a" "$run"; fi
  done
}

if wants a; then alternate run_ingest gsio-node node-ref; fi
ingest_out=$work/ingest_authors.jsonl
: >"$ingest_out"
if wants h; then alternate run_ingest gsio-author gsio-node; fi

# --- (b) propagation --------------------------------------------------------------------------
: >"$work/propagation.jsonl"

# A node's ledger counters from its /metrics: durable commits and entries appended (local adds,
# entries from peers), as JSON; {} when the build has no /metrics.
ledger_counters() {  # url
  curl -fsS --max-time 5 "$1/metrics" 2>/dev/null | awk '
    /^gsio_ledger_commits_total / {c = $2}
    /^gsio_ledger_entries_appended_total\{origin="local"\} / {l = $2}
    /^gsio_ledger_entries_appended_total\{origin="peer"\} / {p = $2}
    END { if (c != "") printf "{\"commits\": %d, \"local\": %d, \"peer\": %d}", c, l, p; else print "{}" }' ||
    echo '{}'
}

# Appends a propagation result with the counters of node 1 and node K over the phase.
record_propagation() {  # result run load w0 w1 r0 r1
  jq -c --argjson run "$2" --arg load "$3" --argjson nodes "$PROP_NODES" \
    --argjson w0 "$4" --argjson w1 "$5" --argjson r0 "$6" --argjson r1 "$7" \
    '. + {run: $run, nodes: $nodes, busy_cores_before: ($load | tonumber)}
       + (if $w1.commits then {writer_node: {commits: ($w1.commits - $w0.commits),
            local_entries: ($w1.local - $w0.local)},
          reader_node: {commits: ($r1.commits - $r0.commits), peer_entries: ($r1.peer - $r0.peer)}}
          else {} end)' <<<"$1" >>"$work/propagation.jsonl"
}

# A nats-server on a free port of 127.0.0.1; sets peer_pid and nats_url.
start_nats() {  # log
  nats-server -a 127.0.0.1 -p -1 >"$1" 2>&1 &
  peer_pid=$!
  started_pids+=("$peer_pid")
  nats_url=""
  for _ in $(seq 1 100); do
    nats_url=$(grep -o 'Listening for client connections on [0-9.]*:[0-9]*' "$1" | head -1 | sed 's/.* on /nats:\/\//') || true
    [[ -n $nats_url ]] && return
    kill -0 "$peer_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: nats-server did not start:" >&2; cat "$1" >&2; exit 1
}

# Starts `relays` relays (with two or more, joined through a nats-server) and PROP_NODES nodes:
# node 1 on the first relay, the last node on the last one, the others alternating. Sets
# cluster_pids, cluster_logs, cluster_relays and cluster_nodes (URLs), then lets every node see
# the others' NodeAnnounce (a few intervals) before the first entry.
start_propagation_cluster() {  # dir relays
  local dir=$1 relays=$2 i relay_args=()
  cluster_pids=(); cluster_logs=(); cluster_relays=(); cluster_nodes=()
  if ((relays > 1)); then
    start_nats "$dir/nats.log"
    cluster_pids+=("$peer_pid"); cluster_logs+=("$dir/nats.log")
    relay_args=(--nats "$nats_url")
  fi
  for ((i = 1; i <= relays; ++i)); do
    start_peer "relay $i" "$dir/relay$i.log" "$gsio_relay" --host 127.0.0.1 --port 0 --log-level info "${relay_args[@]}"
    cluster_pids+=("$peer_pid"); cluster_relays+=("$peer_url"); cluster_logs+=("$dir/relay$i.log")
  done
  # Nodes announce at the relay every ANNOUNCE_MS; the log level keeps per-entry lines out.
  for ((i = 1; i <= PROP_NODES; ++i)); do
    local on=$(((i - 1) % relays))
    ((i == PROP_NODES)) && on=$((relays - 1))
    start_peer "node $i" "$dir/node$i.log" "$gsio_node" --host 127.0.0.1 --port 0 \
      --data-dir "$dir/node$i" --relay "${cluster_relays[$on]}" --announce-interval-ms "$ANNOUNCE_MS" \
      --log-level info
    cluster_pids+=("$peer_pid"); cluster_nodes+=("$peer_url"); cluster_logs+=("$dir/node$i.log")
  done
  sleep "$(awk -v ms="$ANNOUNCE_MS" 'BEGIN {printf "%.2f", 5 * ms / 1000}')"
}

run_propagation() {  # run
  local run=$1 dir=$work/prop-$1 i busy_before result
  mkdir -p "$dir"
  start_propagation_cluster "$dir" 1
  local pids=("${cluster_pids[@]}") logs=("${cluster_logs[@]}")
  local writer=${cluster_nodes[0]} reader=${cluster_nodes[$((PROP_NODES - 1))]}
  busy_before=$(busy_cores)
  say "(b) run $run: relay ${cluster_relays[0]} + $PROP_NODES nodes; writers on $writer, subscriber on $reader (cores busy $busy_before)"
  local w0 w1 r0 r1
  w0=$(ledger_counters "$writer"); r0=$(ledger_counters "$reader")
  bench_or_die result "${logs[@]}" -- propagation --writer-url "$writer" --reader-url "$reader" \
    --rate "$PROP_RATE" --writers "$PROP_WRITERS" --duration-s "$PROP_DURATION_S" --warmup-s 1
  w1=$(ledger_counters "$writer"); r1=$(ledger_counters "$reader")
  say "  fixed: $(jq -c '{delivered_per_s, latency_ms, writer_ack_ms}' <<<"$result")"
  record_propagation "$result" "$run" "$busy_before" "$w0" "$w1" "$r0" "$r1"
  # Saturation last, on the same cluster. Its run was kept short (PROP_SAT_DURATION_S) only
  # because of protocol 1's id cap: with millisecond ids, more than 1,000 adds/s pushed node 1's
  # ids ahead of the clock (running it last kept that lead out of the fixed-rate phase).
  # Microsecond ids (protocol 2) put the cap out of reach; the knob keeps its default so that
  # figures stay comparable with earlier runs.
  busy_before=$(busy_cores)
  w0=$w1; r0=$r1
  bench_or_die result "${logs[@]}" -- propagation --writer-url "$writer" --reader-url "$reader" \
    --rate 0 --writers "$PROP_WRITERS" --window "$PROP_SAT_WINDOW" \
    --duration-s "$PROP_SAT_DURATION_S" --warmup-s 1 --drain-timeout-ms 15000
  w1=$(ledger_counters "$writer"); r1=$(ledger_counters "$reader")
  say "  saturation: $(jq -c '{delivered_per_s, latency_ms, writer_ack_ms}' <<<"$result")"
  record_propagation "$result" "$run" "$busy_before" "$w0" "$w1" "$r0" "$r1"
  for i in "${pids[@]}"; do stop_pid "$i"; done
  rm -rf "$dir"
}

if wants b; then for ((run = 1; run <= RUNS; ++run)); do run_propagation "$run"; done; fi

# --- (f) propagation across relays joined through NATS ------------------------------------------
: >"$work/propagation_relays.jsonl"

# One relay (`one`) or two joined through NATS (`nats`), with the nodes of (b). Fixed rate only.
run_propagation_relays() {  # topology run
  local topology=$1 run=$2 dir=$work/propr-$1-$2 i busy_before result relays=1
  [[ $topology == nats ]] && relays=2
  mkdir -p "$dir"
  start_propagation_cluster "$dir" "$relays"
  local pids=("${cluster_pids[@]}") logs=("${cluster_logs[@]}") urls=("${cluster_nodes[@]}")
  local writer=${urls[0]} reader=${urls[$((PROP_NODES - 1))]}
  busy_before=$(busy_cores)
  say "(f) run $run: $topology ($relays relay(s)); writers on $writer, subscriber on $reader (cores busy $busy_before)"
  bench_or_die result "${logs[@]}" -- propagation --writer-url "$writer" --reader-url "$reader" \
    --rate "$PROP_RATE" --writers "$PROP_WRITERS" --duration-s "$PROP_DURATION_S" --warmup-s 1
  say "  $(jq -c '{delivered_per_s, latency_ms}' <<<"$result")"
  jq -c --arg topology "$topology" --argjson run "$run" --arg load "$busy_before" \
    '. + {peer: $topology, run: $run, busy_cores_before: ($load | tonumber)}' <<<"$result" \
    >>"$work/propagation_relays.jsonl"
  for i in "${pids[@]}"; do stop_pid "$i"; done
  rm -rf "$dir"
}

if wants f; then alternate run_propagation_relays nats one; fi

# --- (c) relay fan-out ------------------------------------------------------------------------
: >"$work/fanout.jsonl"
# Both relays require a token, so the authorization path is part of what runs.
fanout_token=gsio-bench-$RANDOM$RANDOM

run_fanout() {  # relay run
  local relay=$1 run=$2 log=$work/fanout-$1-$2.log url busy_before result
  case $relay in
    gsio-relay) start_peer gsio-relay "$log" "$gsio_relay" --host 127.0.0.1 --port 0 \
                  --token "$fanout_token" --log-level info ;;
    ws-relay)   start_peer ws-relay "$log" node bench/peers/ws-relay/relay.js \
                  --host 127.0.0.1 --port 0 --token "$fanout_token" ;;
  esac
  url=$peer_url
  busy_before=$(busy_cores)
  say "(c) run $run: $relay at $url (cores busy $busy_before)"
  local cpu_before wall_before cpu_after wall_after
  cpu_before=$(server_cpu_ticks "$peer_pid")
  wall_before=$(date +%s.%N)
  bench_or_die result "$log" -- fanout --url "$url/" --token "$fanout_token" \
    --peers "$FANOUT_PEERS" --window "$FANOUT_WINDOW" --payload-bytes "$FANOUT_PAYLOAD" \
    --duration-s "$FANOUT_DURATION_S" --warmup-s 1 --server-pid "$peer_pid"
  cpu_after=$(server_cpu_ticks "$peer_pid")
  wall_after=$(date +%s.%N)
  local stats
  stats=$(curl -fsS --max-time 5 "${url/ws:/http:}/stats" 2>/dev/null) || stats='{}'
  stop_peer
  say "  $(jq -c '{delivered_per_s, fanout_latency_ms, client_cpu_util}' <<<"$result")"
  jq -c --arg peer "$relay" --argjson run "$run" --arg load "$busy_before" \
    --argjson server_cpu "$(cpu_cores "$cpu_before" "$cpu_after" "$wall_before" "$wall_after")" \
    --argjson stats "$stats" \
    '. + {peer: $peer, run: $run, busy_cores_before: ($load | tonumber), server_cpu_cores: (.server_cpu_util // $server_cpu),
          relay_drops: ($stats.drops // {}), relay_disconnects: ($stats.disconnects // {})}' \
    <<<"$result" >>"$work/fanout.jsonl"
}

if wants c; then alternate run_fanout gsio-relay ws-relay; fi

# --- (g) fan-out through NATS -----------------------------------------------------------------
: >"$work/fanout_relays.jsonl"

# `nats`: FANOUT_PEERS peers on each of two relays joined through a nats-server; `one`: twice
# FANOUT_PEERS on one relay. The same broadcasts reach the same number of peers either way.
run_fanout_relays() {  # topology run
  local topology=$1 run=$2 dir=$work/fanr-$1-$2 pids=() urls=() logs=() busy_before result relay_args=()
  mkdir -p "$dir"
  if [[ $topology == nats ]]; then
    start_nats "$dir/nats.log"
    pids+=("$peer_pid"); logs+=("$dir/nats.log")
    relay_args=(--nats "$nats_url")
  fi
  local relays=1 i
  [[ $topology == nats ]] && relays=2
  for ((i = 1; i <= relays; ++i)); do
    start_peer "relay $i" "$dir/relay$i.log" "$gsio_relay" --host 127.0.0.1 --port 0 \
      --token "$fanout_token" --log-level info "${relay_args[@]}"
    pids+=("$peer_pid"); urls+=("$peer_url/"); logs+=("$dir/relay$i.log")
  done
  busy_before=$(busy_cores)
  say "(g) run $run: $topology, $((2 * FANOUT_PEERS)) peers on $relays relay(s) (cores busy $busy_before)"
  local ticks0=0 ticks1=0 wall0 wall1 p
  for p in "${pids[@]}"; do ticks0=$((ticks0 + $(server_cpu_ticks "$p"))); done
  wall0=$(date +%s.%N)
  bench_or_die result "${logs[@]}" -- fanout --url "$(IFS=,; echo "${urls[*]}")" --token "$fanout_token" \
    --peers $((2 * FANOUT_PEERS)) --window "$FANOUT_WINDOW" --payload-bytes "$FANOUT_PAYLOAD" \
    --duration-s "$FANOUT_DURATION_S" --warmup-s 1
  for p in "${pids[@]}"; do ticks1=$((ticks1 + $(server_cpu_ticks "$p"))); done
  wall1=$(date +%s.%N)
  say "  $(jq -c '{delivered_per_s, fanout_latency_ms}' <<<"$result")"
  jq -c --arg topology "$topology" --argjson run "$run" --arg load "$busy_before" \
    --argjson server_cpu "$(cpu_cores "$ticks0" "$ticks1" "$wall0" "$wall1")" \
    '. + {peer: $topology, run: $run, busy_cores_before: ($load | tonumber), server_cpu_cores: $server_cpu}' \
    <<<"$result" >>"$work/fanout_relays.jsonl"
  for p in "${pids[@]}"; do stop_pid "$p"; done
  rm -rf "$dir"
}

if wants g; then alternate run_fanout_relays nats one; fi

# --- (d) catch-up -----------------------------------------------------------------------------
rss_of() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

: >"$work/catchup.jsonl"
mkstore_json='{}'

run_catchup() {  # run
  local run=$1 dir=$work/catchup-$1 pids=() logs=() link=() busy_before result source_url source_ready
  mkdir -p "$dir"
  # The source: a copy of the generated store.
  cp -r "$work/catchup-source" "$dir/source"
  if [[ $CATCHUP_VIA == relay ]]; then
    start_peer gsio-relay "$dir/relay.log" "$gsio_relay" --host 127.0.0.1 --port 0 --log-level info
    pids+=("$peer_pid"); logs+=("$dir/relay.log"); link=(--relay "$peer_url")
  fi
  # --verify-on-start full: its start time is the rate at which a node verifies stored entries.
  start_peer "source node" "$dir/source.log" "$gsio_node" --host 127.0.0.1 --port 0 \
    --data-dir "$dir/source" "${link[@]}" --announce-interval-ms "$ANNOUNCE_MS" --log-level info \
    --verify-on-start full
  pids+=("$peer_pid"); logs+=("$dir/source.log"); source_url=$peer_url; source_ready=$peer_ready_s
  [[ $CATCHUP_VIA == peer ]] && link=(--peer "$source_url")
  busy_before=$(busy_cores)
  say "(d) run $run: source $source_url ready after ${source_ready} s (verifying $CATCHUP_ENTRIES entries); fresh node via $CATCHUP_VIA (cores busy $busy_before)"
  start_peer "fresh node" "$dir/fresh.log" "$gsio_node" --host 127.0.0.1 --port 0 \
    --data-dir "$dir/fresh" "${link[@]}" --announce-interval-ms "$ANNOUNCE_MS" \
    --sync-page-limit "$SYNC_PAGE_LIMIT" --log-level info
  pids+=("$peer_pid"); logs+=("$dir/fresh.log")
  local fresh_pid=$peer_pid cpu_before wall_before cpu_after wall_after src_before src_after
  cpu_before=$(server_cpu_ticks "$fresh_pid")
  src_before=$(server_cpu_ticks "${pids[-2]}")
  wall_before=$(date +%s.%N)
  bench_or_die result "${logs[@]}" -- catchup --url "$peer_url" --height "$CATCHUP_ENTRIES" \
    --tip "$(jq -r .tip_hash <<<"$mkstore_json")" --timeout-s "$CATCHUP_TIMEOUT_S"
  cpu_after=$(server_cpu_ticks "$fresh_pid")
  src_after=$(server_cpu_ticks "${pids[-2]}")
  wall_after=$(date +%s.%N)
  local fresh_rss source_rss
  fresh_rss=$(rss_of "$fresh_pid")
  source_rss=$(rss_of "${pids[-2]}")
  say "  $(jq -c '{entries_per_s, seconds, entries_per_s_after_first}' <<<"$result"); RSS fresh $fresh_rss KiB, source $source_rss KiB"
  jq -c --argjson run "$run" --arg load "$busy_before" --arg via "$CATCHUP_VIA" \
    --argjson source_ready "$source_ready" --argjson fresh_rss "$fresh_rss" --argjson source_rss "$source_rss" \
    --argjson fresh_cpu "$(cpu_cores "$cpu_before" "$cpu_after" "$wall_before" "$wall_after")" \
    --argjson source_cpu "$(cpu_cores "$src_before" "$src_after" "$wall_before" "$wall_after")" \
    '. + {run: $run, via: $via, busy_cores_before: ($load | tonumber), source_start_s: $source_ready,
          fresh_cpu_cores: $fresh_cpu, source_cpu_cores: $source_cpu,
          fresh_rss_kib: $fresh_rss, source_rss_kib: $source_rss}' \
    <<<"$result" >>"$work/catchup.jsonl"
  for i in "${pids[@]}"; do stop_pid "$i"; done
  rm -rf "$dir"
}

if wants d; then
  say "(d) writing a source store of $CATCHUP_ENTRIES signed entries (gsio-bench mkstore)"
  bench_or_die mkstore_json -- mkstore --dir "$work/catchup-source" --entries "$CATCHUP_ENTRIES"
  say "  $mkstore_json"
  for ((run = 1; run <= RUNS; ++run)); do run_catchup "$run"; done
  rm -rf "$work/catchup-source"
fi

# --- (i) large ledger ------------------------------------------------------------------------
: >"$work/large.jsonl"

# One node on store $1 (label $2) with --verify-on-start $3: start, wait for the background check
# (if any), time pages and adds; one JSON line into large.jsonl.
measure_large() {  # store label mode run
  local store=$1 label=$2 mode=$3 run=$4 log=$work/large-$2-$3-$4.log height ready rss_ready
  local verified_s=null rss_verified=null pages=null ingest=null t_ready t_done health
  local PEER_READY_TIMEOUT_S=$LARGE_TIMEOUT_S  # loading 10M entries takes minutes
  start_peer "$label node" "$log" "$gsio_node" --host 127.0.0.1 --port 0 --data-dir "$store" \
    --verify-on-start "$mode" --admin off --log-level info
  ready=$peer_ready_s
  rss_ready=$(rss_of "$peer_pid")
  t_ready=$(date +%s.%N)
  health=$(curl -sf "$peer_url/health")
  height=$(jq .height <<<"$health")
  say "(i) run $run: $label ($height entries), --verify-on-start $mode: ready after $ready s, RSS $rss_ready KiB"
  if [[ $mode == background ]]; then
    while [[ $(jq -r .start_check.state <<<"$health") != done ]]; do
      kill -0 "$peer_pid" 2>/dev/null || { echo "bench: the $label node exited:" >&2; tail -20 "$log" >&2; exit 1; }
      (($(date +%s) - ${t_ready%.*} < LARGE_TIMEOUT_S)) || { echo "bench: the background check took over $LARGE_TIMEOUT_S s" >&2; exit 1; }
      sleep 0.2
      health=$(curl -sf "$peer_url/health")
    done
    t_done=$(date +%s.%N)
    verified_s=$(awk -v r="$ready" -v a="$t_ready" -v b="$t_done" 'BEGIN {printf "%.3f", r + b - a}')
    rss_verified=$(rss_of "$peer_pid")
    say "  fully verified after $verified_s s, RSS $rss_verified KiB"
    bench_or_die pages "$log" -- pages --url "$peer_url" --at "10,$((height - 200))" --limit 100 --requests 300
    bench_or_die ingest "$log" -- ingest --url "$peer_url" --clients 4 --window 4 --duration-s 5 --warmup-s 1 \
      --server-pid "$peer_pid"
    say "  pages $(jq -c '[.pages[] | {from, p50: .latency_ms.p50, p99: .latency_ms.p99}]' <<<"$pages"); adds $(jq -c '{entries_per_s, latency_ms}' <<<"$ingest")"
  fi
  stop_peer
  jq -nc --arg node "$label" --arg mode "$mode" --argjson run "$run" --argjson height "$height" \
    --argjson ready "$ready" --argjson rss_ready "$rss_ready" --argjson verified_s "$verified_s" \
    --argjson rss_verified "$rss_verified" --argjson pages "$pages" --argjson ingest "$ingest" \
    --argjson db_bytes "$(stat -c %s "$store/ledger.db")" --arg load "$(busy_cores)" \
    '{label: $node, mode: $mode, run: $run, height: $height, ready_s: $ready, rss_ready_kib: $rss_ready,
      verified_s: $verified_s, rss_verified_kib: $rss_verified, pages: $pages, ingest: $ingest,
      db_bytes: $db_bytes, busy_cores_before: ($load | tonumber)}' >>"$work/large.jsonl"
}

large_json=null
if wants i; then
  large_dir=$work/large
  if [[ -n ${LARGE_STORE:-} ]]; then
    large_dir=$LARGE_STORE
    say "(i) using the store in $large_dir (LARGE_STORE); writing one of $LARGE_SMALL entries"
    large_json=$(jq -nc --argjson entries "$LARGE_ENTRIES" --argjson db_bytes "$(stat -c %s "$large_dir/ledger.db")" \
      '{scenario: "mkstore", entries: $entries, db_bytes: $db_bytes, reused: true}')
  else
    say "(i) writing stores of $LARGE_ENTRIES and $LARGE_SMALL signed entries (gsio-bench mkstore)"
    bench_or_die large_json -- mkstore --dir "$large_dir" --entries "$LARGE_ENTRIES"
  fi
  bench_or_die small_json -- mkstore --dir "$work/large-small" --entries "$LARGE_SMALL"
  say "  $large_json"
  for ((run = 1; run <= RUNS; ++run)); do
    measure_large "$work/large-small" small background "$run"
    measure_large "$large_dir" large background "$run"
    measure_large "$large_dir" large full "$run"
  done
  rm -rf "$work/large-small"
  [[ -n ${LARGE_STORE:-} ]] || rm -rf "$large_dir"
fi

# --- (e) idle clients -------------------------------------------------------------------------
: >"$work/idle.jsonl"

run_idle() {  # peer run
  local peer=$1 run=$2 dir=$work/idle-$1-$2 log=$work/idle-$1-$2.log busy_before result
  mkdir -p "$dir"
  case $peer in
    gsio-node) start_peer gsio-node "$log" "$gsio_node" --host 127.0.0.1 --port 0 \
                 --data-dir "$dir" --max-connections "$((IDLE_CLIENTS + 100))" --log-level info ;;
    node-ref)  start_peer node-ref "$log" node bench/peers/node-server/server.js \
                 --host 127.0.0.1 --port 0 --data-dir "$dir" ;;
  esac
  busy_before=$(busy_cores)
  say "(e) run $run: $peer at $peer_url (cores busy $busy_before)"
  bench_or_die result "$log" -- idle --url "$peer_url" --pid "$peer_pid" --clients "$IDLE_CLIENTS" \
    --settle-ms "$IDLE_SETTLE_MS"
  stop_peer
  say "  $(jq -c '{rss_per_client_kib, connect_s, server_rss_before_kib}' <<<"$result")"
  jq -c --arg peer "$peer" --argjson run "$run" --arg load "$busy_before" \
    '. + {peer: $peer, run: $run, busy_cores_before: ($load | tonumber)}' <<<"$result" >>"$work/idle.jsonl"
  rm -rf "$dir"
}

if wants e; then alternate run_idle gsio-node node-ref; fi

load_end=$(cat /proc/loadavg)

# --- report -----------------------------------------------------------------------------------
command_line="RUNS=$RUNS SCENARIOS=\"$SCENARIOS\""
[[ -n ${GSIO_BIN_DIR:-} ]] && command_line+=" GSIO_BIN_DIR=$GSIO_BIN_DIR"
[[ $BUILD_DIR != build ]] && command_line+=" BUILD_DIR=$BUILD_DIR"
command_line+=" bench/run.sh"
knobs=$(jq -n --argjson runs "$RUNS" --arg build_dir "$BUILD_DIR" \
  --arg ingest "${ingest_args[*]}" --argjson duration "$DURATION_S" \
  --argjson prop_nodes "$PROP_NODES" --argjson prop_rate "$PROP_RATE" \
  --argjson prop_writers "$PROP_WRITERS" --argjson prop_duration "$PROP_DURATION_S" \
  --argjson prop_sat_duration "$PROP_SAT_DURATION_S" --argjson prop_sat_window "$PROP_SAT_WINDOW" \
  --argjson announce_ms "$ANNOUNCE_MS" --argjson fanout_peers "$FANOUT_PEERS" \
  --argjson fanout_window "$FANOUT_WINDOW" --argjson fanout_payload "$FANOUT_PAYLOAD" \
  --argjson fanout_duration "$FANOUT_DURATION_S" --argjson catchup_entries "$CATCHUP_ENTRIES" \
  --arg catchup_via "$CATCHUP_VIA" --argjson sync_page_limit "$SYNC_PAGE_LIMIT" \
  --argjson idle_clients "$IDLE_CLIENTS" --argjson idle_settle_ms "$IDLE_SETTLE_MS" \
  --argjson mkstore "$mkstore_json" --argjson large_entries "$LARGE_ENTRIES" \
  --argjson large_small "$LARGE_SMALL" --argjson large_store "$large_json" \
  '{runs: $runs, build_dir: $build_dir, ingest_args: $ingest, ingest_duration_s: $duration,
    prop_nodes: $prop_nodes, prop_rate: $prop_rate, prop_writers: $prop_writers, prop_duration_s: $prop_duration,
    prop_sat_duration_s: $prop_sat_duration, prop_sat_window: $prop_sat_window,
    announce_ms: $announce_ms, fanout_peers: $fanout_peers, fanout_window: $fanout_window,
    fanout_payload: $fanout_payload, fanout_duration_s: $fanout_duration,
    catchup_entries: $catchup_entries, catchup_via: $catchup_via,
    sync_page_limit: $sync_page_limit, idle_clients: $idle_clients,
    idle_settle_ms: $idle_settle_ms, mkstore: $mkstore, large_entries: $large_entries,
    large_small: $large_small, large_store: $large_store}')
report_args=(--machine "$machine_json" --limits "$limits_json" --raw-dir "$work"
  --load-start "$load_start" --load-end "$load_end" --command "$command_line" --knobs "$knobs")
# With KEEP_WORK, `bash $work/report.sh > RESULTS.md` regenerates the report from the kept data.
printf 'node bench/report.js' >"$work/report.sh"
printf ' %q' "${report_args[@]}" >>"$work/report.sh"
echo >>"$work/report.sh"
node bench/report.js "${report_args[@]}" >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
say "wrote $RESULTS"
