"""The NAS message inside an NGAP or S1AP NAS-PDU, named when it is readable.

5GS (TS 24.501): an extended protocol discriminator (0x7E mobility management, 0x2E session management), then
for 5GMM the security header type; a plain message's type is its third octet.  Integrity protected only (types 1
and 3) wraps a plain message after 7 octets (EPD, header type, 4 of MAC, sequence number); types 2 and 4 are
ciphered: the message inside cannot be named from the wire.  EPS (TS 24.301): the first octet's low nibble is
the protocol discriminator (7 EMM, 2 ESM), the high nibble the security header type (EMM) or bearer id (ESM);
integrity protected only wraps a plain message after 6 octets.

Message names come from pycrate's NAS modules (``FGMMRegistrationRequest`` -> ``Registration Request``), through
spec.py (gen_spec.py).  ``_fast/fast.c`` reads the same octets for every message; this is its readable reference.
"""
from __future__ import annotations

import functools

from sctpcorr.telecom.spec import NAS_TYPES

__all__ = ["name", "null_ciphering", "code_name", "CIPHERED"]

CIPHERED = "ciphered"


def name(nas: bytes | None) -> str | None:
    """``Registration Request``, ``ciphered``, or None (no NAS, or not one this reads)."""
    if not nas or len(nas) < 2:
        return None
    t = NAS_TYPES
    b0 = nas[0]
    if b0 == 0x7E:                                   # 5GMM
        sht = nas[1] & 0x0F
        if sht == 0:
            return t["5gmm"].get(nas[2], f"5GMM type {nas[2]}") if len(nas) > 2 else None
        if sht in (1, 3):
            return name(nas[7:]) if len(nas) > 7 else None
        return CIPHERED
    if b0 == 0x2E:                                   # 5GSM: EPD, PDU session id, PTI, type
        return t["5gsm"].get(nas[3], f"5GSM type {nas[3]}") if len(nas) > 3 else None
    pd, high = b0 & 0x0F, b0 >> 4
    if pd == 7:                                      # EMM
        if high == 0:
            return t["emm"].get(nas[1], f"EMM type {nas[1]}")
        if high in (1, 3):
            return name(nas[6:]) if len(nas) > 6 else None
        if high == 12:                               # service request: a header of its own
            return "Service Request"
        return CIPHERED
    if pd == 2:                                      # ESM: bearer id, PTI, type
        return t["esm"].get(nas[2], f"ESM type {nas[2]}") if len(nas) > 2 else None
    return None


def _plain(nas: bytes) -> bytes | None:
    """The plain message: itself, or the one an integrity-protected-only header wraps; None if ciphered."""
    if nas[:1] == b"\x7e":
        sht = nas[1] & 0x0F if len(nas) > 1 else 0
        return nas if sht == 0 else (_plain(nas[7:]) if sht in (1, 3) and len(nas) > 7 else None)
    if nas and nas[0] & 0x0F == 7:
        high = nas[0] >> 4
        return nas if high == 0 else (_plain(nas[6:]) if high in (1, 3) and len(nas) > 6 else None)
    return None


def null_ciphering(nas: bytes) -> bool:
    """A Security Mode Command selecting the null ciphering algorithm (5G-EA0 / EEA0): the NAS that follows is
    "ciphered" with the identity, readable as plain.  The selected algorithms octet follows the message type:
    ciphering in bits 7-5, integrity in bits 3-1 (TS 24.501 9.11.3.34, TS 24.301 9.9.3.23)."""
    p = _plain(nas)
    if p is None:
        return False
    off = 3 if p[:1] == b"\x7e" else 2
    return len(p) > off and p[off - 1] == 0x5D and (p[off] >> 4) & 0x07 == 0


_CODE_TABLES = {1: ("5gmm", "5GMM"), 2: ("5gsm", "5GSM"), 3: ("emm", "EMM"), 4: ("esm", "ESM")}
CODE_CIPHERED, CODE_SERVICE_REQUEST = 0xFFFF, (5 << 8) | 1      # fast.c's NAS_CIPHERED, NAS_SERVICE_REQUEST


@functools.lru_cache(maxsize=4096)
def code_name(code: int) -> str | None:
    """The name of a NAS code from ``_fast`` (table << 8 | message type; 0: none): what :func:`name` gives."""
    if code == 0:
        return None
    if code == CODE_CIPHERED:
        return CIPHERED
    if code == CODE_SERVICE_REQUEST:
        return "Service Request"
    table, label = _CODE_TABLES[code >> 8]
    return NAS_TYPES[table].get(code & 0xFF, f"{label} type {code & 0xFF}")
