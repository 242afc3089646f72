"""M3UA (RFC 4666) common header: version 1, reserved, message class, message type, length."""
from __future__ import annotations

__all__ = ["decode", "names", "CLASSES"]

CLASSES = {0: "MGMT", 1: "Transfer", 2: "SSNM", 3: "ASPSM", 4: "ASPTM", 9: "RKM"}
TYPES = {(0, 0): "ERR", (0, 1): "NTFY", (1, 1): "DATA", (2, 1): "DUNA", (2, 2): "DAVA", (2, 3): "DAUD",
         (2, 4): "SCON", (2, 5): "DUPU", (2, 6): "DRST", (3, 1): "ASPUP", (3, 2): "ASPDN", (3, 3): "BEAT",
         (3, 4): "ASPUP_ACK", (3, 5): "ASPDN_ACK", (3, 6): "BEAT_ACK", (4, 1): "ASPAC", (4, 2): "ASPIA",
         (4, 3): "ASPAC_ACK", (4, 4): "ASPIA_ACK", (9, 1): "REG_REQ", (9, 2): "REG_RSP", (9, 3): "DEREG_REQ",
         (9, 4): "DEREG_RSP"}


def decode(b: bytes) -> tuple[str, str] | None:
    """(class, type) names, or None when the octets are not M3UA."""
    if len(b) < 8 or b[0] != 1:
        return None
    return names(b[2], b[3])


def names(cls: int, typ: int) -> tuple[str, str]:
    """(class, type) names of a message class and type."""
    return CLASSES.get(cls, f"class {cls}"), TYPES.get((cls, typ), f"type {typ}")
