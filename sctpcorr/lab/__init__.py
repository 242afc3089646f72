"""sctpcorr lab: real SCTP associations on a real Linux kernel (a virtme-ng guest), recorded from both sides.

Modules: ``scenario`` (TOML scenarios), ``runner`` (host: boot, timeouts, interruptions), ``guest`` (inside the
guest: namespaces, netem, captures, snapshots), ``topology`` (the two-path network), ``workload`` (SCTP client
and server), ``sctp_api`` (the Linux SCTP socket API from the standard library), ``bundle`` (what a run leaves
behind and how to read it), ``cli`` (the ``sctpcorr lab`` click group).  See docs/lab.md.
"""
