#!/usr/bin/env bash
# Fails when an #include crosses a layer the wrong way (docs/ARCHITECTURE.md):
#
#   bin → actors → (ledger, net) → crypto → util        cli: only the gsio tool's
#
#   - src/util includes nothing of the project but src/util;
#   - src/crypto includes src/util only, and neither CAF nor Boost;
#   - src/ledger includes neither CAF nor Asio/Beast, nor src/net, src/actors, src/cli;
#   - src/net includes neither CAF nor src/ledger (it knows protocols, not ledger rules), nor
#     src/actors or src/cli;
#   - nothing outside src/cli includes src/cli, but the gsio tool's main;
#   - CAF appears only in src/actors and the node's main;
#   - Asio and Beast appear in src/actors only in the gateway, which owns the node's listener and
#     its io threads (DESIGN §4); other actors use src/net's classes (net::io_thread, dialers);
#   - no public header of src/net includes Asio or Beast, so that the heavy headers stay out of
#     the actors' and programs' translation units; headers for src/net's own files live in
#     src/net/detail and may.
# Run by scripts/test.sh; prints every offending line, then exits 1.
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
# offend RULE FILE:LINE:TEXT...
offend() {
  local rule=$1
  shift
  local line
  for line in "$@"; do
    [[ -n $line ]] || continue
    echo "check-deps: $line" >&2
    echo "  breaks: $rule" >&2
    status=1
  done
}

# includes DIR PATTERN: the lines of DIR's sources whose #include matches PATTERN (ERE).
includes() {
  grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" "$1" \
    --include='*.cpp' --include='*.hpp' 2>/dev/null || true
}

mapfile -t bad < <(includes src/util '(crypto|ledger|net|actors|cli|bin)/|caf/|boost/')
offend "src/util includes nothing of the project but src/util, and no CAF or Boost" "${bad[@]}"

mapfile -t bad < <(includes src/crypto '(ledger|net|actors|cli|bin)/|caf/|boost/')
offend "src/crypto includes only src/util" "${bad[@]}"

mapfile -t bad < <(includes src/ledger '(net|actors|cli|bin)/|caf/|boost/(asio|beast)')
offend "src/ledger is pure: no CAF, no Asio/Beast, no src/net, src/actors or src/cli" "${bad[@]}"

mapfile -t bad < <(includes src/net '(ledger|actors|cli|bin)/|caf/')
offend "src/net knows protocols, not ledger rules or actors: no CAF, no src/ledger" "${bad[@]}"

mapfile -t bad < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"cli/' src tests \
  --include='*.cpp' --include='*.hpp' | grep -vE '^(src/cli/|src/bin/gsio\.cpp:)')
offend "only the gsio tool (src/cli, src/bin/gsio.cpp) includes src/cli" "${bad[@]}"

mapfile -t bad < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<caf/' src \
  --include='*.cpp' --include='*.hpp' | grep -vE '^(src/actors/|src/bin/gsio_node\.cpp:)')
offend "CAF only in src/actors and the node's main" "${bad[@]}"

mapfile -t bad < <(includes src/actors 'boost/(asio|beast)' | grep -v '^src/actors/gateway\.cpp:')
offend "in src/actors only the gateway uses Asio or Beast" "${bad[@]}"

mapfile -t bad < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<boost/(asio|beast)' \
  src/net --include='*.hpp' | grep -v '^src/net/detail/')
offend "no public header of src/net includes Asio or Beast (src/net/detail is for its own files)" "${bad[@]}"

mapfile -t bad < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"net/detail/' src \
  --include='*.cpp' --include='*.hpp' | grep -v '^src/net/')
offend "src/net/detail is src/net's own" "${bad[@]}"

if ((status == 0)); then
  echo "check-deps: every include goes down the layers"
fi
exit "$status"
