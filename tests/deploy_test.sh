#!/usr/bin/env bash
# deploy/install.sh into a temporary prefix with the binaries already built, then
# `systemd-analyze verify` on the installed units, and the config files' modes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${GSIO_BUILD_DIR:?GSIO_BUILD_DIR must name the build directory}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$root/deploy/install.sh" --prefix "$tmp/usr" --build-dir "$build" --no-build >"$tmp/install.log"
for f in usr/bin/gsio-node usr/bin/gsio-relay; do
  [[ -x "$tmp/$f" ]] || fail "$f was not installed"
done
"$tmp/usr/bin/gsio-node" --help | grep -q -- "--data-dir" || fail "installed gsio-node does not run"
for unit in gsio-node gsio-relay; do
  u="$tmp/usr/lib/systemd/system/$unit.service"
  [[ -f "$u" ]] || fail "$unit.service was not installed"
  grep -q "ExecStart=$tmp/usr/bin/$unit " "$u" || fail "$unit.service does not point at the installed binary"
  grep -qE '@[A-Z]+@' "$u" && fail "$unit.service has unreplaced @PLACEHOLDERS@"
  grep -q "^DynamicUser=yes" "$u" || fail "$unit.service does not run as its own user"
  # A dynamic user cannot open the root-only config: the unit must pass it as a credential.
  conf=${unit#gsio-}
  grep -q "^LoadCredential=config:$tmp/usr/etc/gsio/$conf.conf$" "$u" || fail "$unit.service does not load its config as a credential"
  grep -q "^ExecStart=.* --config %d/config" "$u" || fail "$unit.service does not read the credential"
done
[[ "$(stat -c %a "$tmp/usr/etc/gsio/relay.conf")" == 600 ]] || fail "relay.conf is not mode 0600"
u="$tmp/usr/lib/systemd/system/gsio-nats.service"
[[ -f "$u" ]] || fail "gsio-nats.service was not installed"
grep -qE '@[A-Z]+@' "$u" && fail "gsio-nats.service has unreplaced @PLACEHOLDERS@"
grep -q "^LoadCredential=config:$tmp/usr/etc/gsio/nats-server.conf$" "$u" || fail "gsio-nats.service does not load its config"
[[ "$(stat -c %a "$tmp/usr/etc/gsio/nats-server.conf")" == 600 ]] || fail "nats-server.conf is not mode 0600"
if command -v nats-server >/dev/null; then
  nats-server -c "$tmp/usr/etc/gsio/nats-server.conf" -t >/dev/null 2>&1 || fail "the nats-server config example is not valid"
fi

if command -v systemd-analyze >/dev/null; then
  # verify loads each unit and checks directives, binaries and the unit graph; it must print nothing.
  out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$tmp"/usr/lib/systemd/system/*.service 2>&1 || true)
  if [[ -n "$out" ]]; then
    echo "$out" >&2
    fail "systemd-analyze verify reported problems"
  fi
  echo "systemd-analyze verify: units are clean"
else
  [[ -z "${CI:-}" ]] || fail "systemd-analyze is missing (package systemd)"
  echo "systemd-analyze not installed; unit verification skipped"
fi

# A second run keeps edited configs.
echo "# edited" >>"$tmp/usr/etc/gsio/node.conf"
"$root/deploy/install.sh" --prefix "$tmp/usr" --build-dir "$build" --no-build >"$tmp/install2.log"
grep -q "^# edited" "$tmp/usr/etc/gsio/node.conf" || fail "a second install overwrote node.conf"
grep -q "kept existing" "$tmp/install2.log" || fail "the second install did not say it kept the config"
echo "deploy: install into $tmp/usr OK"
