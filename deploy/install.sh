#!/usr/bin/env bash
# Installs gsio-node, gsio-relay (and the gsio CLI when built), their systemd units and example
# configuration, and a unit and config for a NATS server of the relay tier (Debian's nats-server). Builds first (installing build dependencies with apt when missing).
#
#   sudo deploy/install.sh                       /usr/local/bin, /etc/gsio, /etc/systemd/system
#   deploy/install.sh --prefix /tmp/gsio         everything under one folder, no root needed
#
# Options: --prefix DIR (/usr/local), --sysconfdir DIR (/etc, or PREFIX/etc with a non-default
# prefix), --unitdir DIR (/etc/systemd/system, or PREFIX/lib/systemd/system), --build-dir DIR
# (build), --no-build (install what is already built). It never overwrites an existing config
# file and never starts services; it prints what to do next.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix=/usr/local
sysconfdir=""
unitdir=""
build_dir="$root/build"
do_build=1

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --sysconfdir) sysconfdir=$2; shift 2 ;;
    --unitdir) unitdir=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ "$prefix" == /usr/local || "$prefix" == /usr ]]; then
  sysconfdir=${sysconfdir:-/etc}
  unitdir=${unitdir:-/etc/systemd/system}
else
  sysconfdir=${sysconfdir:-$prefix/etc}
  unitdir=${unitdir:-$prefix/lib/systemd/system}
fi
bindir=$prefix/bin
docdir=$prefix/share/doc/gsio-net

if ((do_build)); then
  "$root/scripts/setup.sh"
  [[ -f "$build_dir/build.ninja" ]] || meson setup "$build_dir" --buildtype=release
  ninja -C "$build_dir" src/bin/gsio-node src/bin/gsio-relay
fi

install -d "$bindir" "$sysconfdir/gsio" "$unitdir" "$docdir"
for program in gsio-node gsio-relay gsio; do
  if [[ -x "$build_dir/src/bin/$program" ]]; then
    install -m 0755 "$build_dir/src/bin/$program" "$bindir/$program"
    echo "installed $bindir/$program"
  elif [[ "$program" != gsio ]]; then
    echo "install: $build_dir/src/bin/$program is missing (build it, or drop --no-build)" >&2
    exit 1
  fi
done
for unit in gsio-node gsio-relay gsio-nats; do
  sed -e "s|@BINDIR@|$bindir|g" -e "s|@SYSCONFDIR@|$sysconfdir|g" -e "s|@DOCDIR@|$docdir|g" \
    "$root/deploy/systemd/$unit.service.in" >"$unitdir/$unit.service.tmp"
  chmod 0644 "$unitdir/$unit.service.tmp"
  mv "$unitdir/$unit.service.tmp" "$unitdir/$unit.service"
  echo "installed $unitdir/$unit.service"
done
for conf in node relay nats-server; do
  install -m 0644 "$root/deploy/config/$conf.conf.example" "$sysconfdir/gsio/$conf.conf.example"
  if [[ ! -e "$sysconfdir/gsio/$conf.conf" ]]; then
    # The relay's config may hold the network token, nats-server's the relays' keys: root only.
    install -m 0600 "$root/deploy/config/$conf.conf.example" "$sysconfdir/gsio/$conf.conf"
    echo "installed $sysconfdir/gsio/$conf.conf (from the example)"
  else
    echo "kept existing $sysconfdir/gsio/$conf.conf"
  fi
done
if [[ -f "$root/web/dist/index.html" ]]; then
  # gsio-node serves PREFIX/share/gsio/web at / by default.
  rm -rf "$prefix/share/gsio/web"
  install -d "$prefix/share/gsio"
  cp -r "$root/web/dist" "$prefix/share/gsio/web"
  chmod -R a+rX "$prefix/share/gsio/web"
  echo "installed $prefix/share/gsio/web (the web UI)"
else
  echo "install: web/dist is not built, so nodes will serve no web UI (run scripts/build-web.sh)" >&2
fi
install -m 0644 "$root/docs/DEPLOY.md" "$root/docs/PROTOCOL.md" "$docdir/"
install -m 0644 "$root/deploy/nginx/gsio.conf" "$docdir/nginx-gsio.conf"

cat <<NEXT

Next steps:
  edit $sysconfdir/gsio/node.conf (and relay.conf on the relay host)
  systemctl daemon-reload
  systemctl enable --now gsio-relay     # on the relay host
  systemctl enable --now gsio-nats      # on each NATS host, with several relays (DEPLOY.md)
  systemctl enable --now gsio-node      # on each node host
  journalctl -u gsio-node -f
See $docdir/DEPLOY.md.
NEXT
