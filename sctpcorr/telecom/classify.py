"""Which application protocol a DATA payload carries: by PPID (RFC 9260's registry, IANA), else by the
well-known SCTP port of either end (NGAP is seen in the field with PPID 0 on port 38412; Diameter peers often send
PPID 0 on 3868)."""
from __future__ import annotations

__all__ = ["protocol", "PPIDS", "PORTS"]

PPIDS = {60: "ngap", 18: "s1ap", 27: "x2ap", 61: "xnap", 46: "diameter", 47: "diameter", 3: "m3ua"}
PORTS = {38412: "ngap", 36412: "s1ap", 36422: "x2ap", 38422: "xnap", 3868: "diameter", 2905: "m3ua"}


def protocol(ppid: int, sport: int, dport: int) -> str | None:
    """``ngap``, ``s1ap``, ``x2ap``, ``xnap``, ``diameter``, ``m3ua`` or None."""
    p = PPIDS.get(ppid)
    if p is not None:
        return p
    if ppid == 0:
        return PORTS.get(dport) or PORTS.get(sport)
    return None
