#!/usr/bin/env python3
"""Shows that every membership guard is needed: removes each one in turn from the source, rebuilds
ledger-tests and runs the membership tests, which must then fail. Restores the source after each
step. Not part of the test command (18 rebuilds); run it after changing a guard:
    python3 tests/guards/ledger_guards.py [build-dir]
Exit status 1 if any guard can be removed with the tests still passing."""
import os, subprocess, sys
muts = [
 ("member node creates content", "src/ledger/membership.cpp", '''  if (!s->has_role(e.creator_node_id, role::node))
    return refused(not_member, e, "creator " + short_key(e.creator_node_id) + " is not a member node");
  if (!data''', '''  if (!data'''),
 ("charter hash is the network id", "src/ledger/membership.cpp", "  if (e.hash != network_id)\n", "  if (false)\n"),
 ("statement signer is admin", "src/ledger/membership.cpp", "  if (!s->has_role(*by, role::admin))\n", "  if (false)\n"),
 ("statement newer than last", "src/ledger/membership.cpp", "*at <= last->second)", "*at < 0 && last->second < 0)"),
 ("statement signature", "src/ledger/membership.cpp", "  if (!signature_holds(data, statement_domain, s->network_id, *by))\n", "  if (false)\n"),
 ("statement network", "src/ledger/membership.cpp", "  if (*network != s->network_id)\n", "  if (false)\n"),
 ("nonce single use", "src/ledger/membership.cpp", "  if (s->used_nonces.count(invite->nonce))\n", "  if (false)\n"),
 ("invite expiry", "src/ledger/membership.cpp", "  if (e.unix_us() > invite->expires)\n", "  if (false)\n"),
 ("invite signer admin", "src/ledger/membership.cpp", "  if (!s->has_role(invite->by, role::admin))\n", "  if (false)\n"),
 ("redemption signature", "src/ledger/membership.cpp", "  if (!signature_holds(data, redeem_domain, s->network_id, *key))\n", "  if (false)\n"),
 ("node self-admission needs node role", "src/ledger/membership.cpp", "invite->r == role::node && e.creator_node_id == *key", "e.creator_node_id == *key"),
 ("author is member author", "src/ledger/membership.cpp", "  if (!s->has_role(*key, role::author))\n", "  if (false)\n"),
 ("author signature", "src/ledger/membership.cpp", "  if (!crypto::verify_hex(*key, signed_digest(author_domain", "  if (false && !crypto::verify_hex(*key, signed_digest(author_domain"),
 ("author time window", "src/ledger/membership.cpp", "  if (*time > e.unix_us() + author_time_after_entry_us ||", "  if (false) if (*time > e.unix_us() + author_time_after_entry_us ||"),
 ("author replay on path", "src/ledger/chain_tree.cpp", "if (admitted.author && parent && author_on_path(*admitted.author, parent))", "if (false)"),
 ("no unsigned extra members", "src/ledger/membership.cpp", '''        std::find(optional.begin(), optional.end(), name) == optional.end())
      return false;''', '''        std::find(optional.begin(), optional.end(), name) == optional.end())
      continue;'''),
 ("last admin stays", "src/ledger/membership.cpp", "current->r == role::admin && s->admin_count() == 1", "false"),
 ("reappend skips refused", "src/ledger/sync.cpp", "      if (admitted.why) {\n        if (refused)", "      if (false) {\n        if (refused)"),
]
root=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
build=sys.argv[1] if len(sys.argv)>1 else "build"
weak=0
for name, f, old, new in muts:
    p=root+"/"+f
    src=open(p).read()
    assert src.count(old)>=1, name
    open(p,"w").write(src.replace(old,new,1))
    try:
        b=subprocess.run(["ninja","-C",build,"tests/ledger-tests"],cwd=root,capture_output=True,text=True)
        if b.returncode: print(name, "BUILD FAIL", b.stdout[-500:]); weak+=1; continue
        r=subprocess.run([os.path.join(build,"tests/ledger-tests"),"-tc=membership*"],cwd=root,capture_output=True,text=True)
        line=[l for l in r.stdout.splitlines() if "test cases:" in l]
        weak += r.returncode == 0
        print(f"{name:40s} -> {'FAILS (guard needed)' if r.returncode else 'STILL PASSES'} {line}", flush=True)
    finally:
        open(p,"w").write(src)
subprocess.run(["ninja","-C",build,"tests/ledger-tests"],cwd=root,capture_output=True)
sys.exit(1 if weak else 0)
