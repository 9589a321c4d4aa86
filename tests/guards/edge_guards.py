#!/usr/bin/env python3
"""Shows that every access guard of a private network's client edge is needed: removes each one
in turn, rebuilds gsio-node and gsio-relay and runs the suite that covers it (members unless named),
which must then fail. Restores the source after each step. Not part of the test command (9 rebuilds):
    python3 tests/guards/edge_guards.py [build-dir] [only guards whose name contains this]
Exit status 1 if any guard can be removed with the suite still passing."""
import os, subprocess, sys
root=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
build=sys.argv[1] if len(sys.argv)>1 else "build"
only=sys.argv[2] if len(sys.argv)>2 else ""
weak=0
muts=[
 ("reads need a proved key", "src/actors/client_session.cpp", "  if (!serves_private_network(st) || !st.access.members_only_reads || !st.key.empty())\n    return true;\n  refuse_access(self, ev, \"unauthenticated\",", "  if (true)\n    return true;\n  refuse_access(self, ev, \"unauthenticated\","),
 ("the proof is checked", "src/actors/client_session.cpp", "  if (!crypto::verify_hex(key, digest, sig))\n", "  if (false)\n"),
 ("broadcasts need opt-in", "src/actors/gateway.cpp", "    so.broadcasts_need_opt_in = options.access.members_only_reads;", "    so.broadcasts_need_opt_in = false;"),
 ("the relay checks admissions", "src/bin/gsio_relay.cpp", "      return ledger::check_node_admission(*it->second, node_id, membership).value_or(\"\");", "      return (void)membership, (void)node_id, std::string{};"),
 ("writes need an author", "src/actors/client_session.cpp", "  if (data.IsObject() && data.HasMember(\"gsio\"))\n    return true;", "  if (true)\n    return true;"),
 ("P2P reads need membership", "src/actors/sync_coordinator.cpp", "  if (!serves_private_network(st))\n    return answer();", "  if (true)\n    return answer();"),
 ("P2P broadcasts need membership", "src/actors/sync_coordinator.cpp", "  if (!serves_private_network(st) || l.kind == \"relay\")\n    return true;", "  if (true)\n    return true;"),
 ("nodes use only relays serving their network", "src/net/p2p_dialer.cpp", "      bool serves_network = network.empty();", "      bool serves_network = true;"),
 ("/p2p sockets prove their key", "src/actors/p2p_session.cpp", "    if (hello && net::verify_announce_proof(st.challenge, message.sender_id, hello->relay_proof)) {", "    if (hello) {", "network"),
]
for name,f,old,new,*suite in muts:
    if only not in name: continue
    p=root+"/"+f; src=open(p).read(); assert old in src, name
    open(p,"w").write(src.replace(old,new,1))
    try:
        b=subprocess.run(["ninja","-C",build,"src/bin/gsio-node","src/bin/gsio-relay"],cwd=root,capture_output=True,text=True)
        if b.returncode: print(name,"BUILD FAIL",b.stdout[-400:]); weak+=1; continue
        r=subprocess.run(["meson","test","-C",build,"--no-rebuild",*(suite or ["members"])],cwd=root,capture_output=True,text=True)
        log=open(os.path.join(root,build,"meson-logs/testlog.txt")).read()
        failed=[l.strip() for l in log.splitlines() if l.strip().startswith("✖") and "private networks" not in l and "failing" not in l]
        weak += r.returncode == 0
        print(f"{name:30s} -> {'FAILS' if r.returncode else 'STILL PASSES'} {sorted(set(failed))[:3]}", flush=True)
    finally:
        open(p,"w").write(src)
subprocess.run(["ninja","-C",build,"src/bin/gsio-node","src/bin/gsio-relay"],cwd=root,capture_output=True)
sys.exit(1 if weak else 0)
