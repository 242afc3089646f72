"""Diameter (RFC 6733) headers and result codes, read straight from the octets.

Header: version (1), message length (3), flags (1: R request, P proxiable, E error, T retransmitted), command code
(3), application id (4), hop-by-hop id (4), end-to-end id (4); then AVPs: code (4), flags (1: V vendor id
present), length (3), vendor id (4, with V), data, padding to 4.  A request and its answer share the command code
and both ids; the answer carries Result-Code (268) or, in Experimental-Result (297), Experimental-Result-Code
(298).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Diameter", "decode", "command_name", "application_name"]

# the commands and applications seen on core-network links (RFC 6733, 4006; TS 29.272, 29.212, 29.214, 29.229)
COMMANDS = {257: "Capabilities-Exchange", 258: "Re-Auth", 271: "Accounting", 272: "Credit-Control",
            274: "Abort-Session", 275: "Session-Termination", 280: "Device-Watchdog", 282: "Disconnect-Peer",
            300: "User-Authorization", 301: "Server-Assignment", 302: "Location-Info", 303: "Multimedia-Auth",
            304: "Registration-Termination", 305: "Push-Profile", 316: "Update-Location", 317: "Cancel-Location",
            318: "Authentication-Information", 319: "Insert-Subscriber-Data", 320: "Delete-Subscriber-Data",
            321: "Purge-UE", 322: "Reset", 323: "Notify", 8388620: "Provide-Location", 8388622: "LCS-Routing-Info"}
APPLICATIONS = {0: "Diameter base", 3: "Diameter base accounting", 4: "Credit Control (Gy/Ro)",
                16777216: "Cx", 16777217: "Sh", 16777236: "Rx", 16777238: "Gx", 16777251: "S6a/S6d",
                16777252: "S13", 16777255: "SLg", 16777264: "SWm", 16777265: "SWx", 16777267: "S9",
                16777272: "S6b", 16777291: "SLh", 4294967295: "Relay"}
RESULT_CODE, EXPERIMENTAL_RESULT, EXPERIMENTAL_RESULT_CODE = 268, 297, 298


@dataclass(slots=True)
class Diameter:
    request: bool
    command: int
    application: int
    hop_by_hop: int
    end_to_end: int
    flags: int
    result: int | None = None       # Result-Code or Experimental-Result-Code (answers)
    error: str | None = None

    @property
    def name(self) -> str:
        base = command_name(self.command)
        return f"{base}-{'Request' if self.request else 'Answer'}"


def command_name(code: int) -> str:
    return COMMANDS.get(code, f"command {code}")


def application_name(app: int) -> str:
    return APPLICATIONS.get(app, f"application {app}")


def decode(b: bytes) -> Diameter | None:
    """None when the octets are not a Diameter message (wrong version or length)."""
    if len(b) < 20 or b[0] != 1:
        return None
    length = int.from_bytes(b[1:4], "big")
    if length < 20:
        return None
    flags = b[4]
    d = Diameter(bool(flags & 0x80), int.from_bytes(b[5:8], "big"), int.from_bytes(b[8:12], "big"),
                 int.from_bytes(b[12:16], "big"), int.from_bytes(b[16:20], "big"), flags)
    if length > len(b):
        d.error = "cut short"
    if not d.request:
        d.result = _result(b, 20, min(length, len(b)))
    return d


def _avps(b: bytes, i: int, end: int):        # noqa: ANN202 - an iterator of (code, data)
    """The AVPs of ``b[i:end]``: (code, data), stopping at the first malformed one."""
    while i + 8 <= end:
        code = int.from_bytes(b[i:i + 4], "big")
        alen = int.from_bytes(b[i + 5:i + 8], "big")
        if alen < 8:
            return
        hdr = 12 if b[i + 4] & 0x80 else 8          # V: a vendor id follows the length
        yield code, b[i + hdr:i + alen]
        i += (alen + 3) & ~3


def _result(b: bytes, i: int, end: int) -> int | None:
    """Result-Code, else Experimental-Result's Experimental-Result-Code."""
    found = None
    for code, data in _avps(b, i, end):
        if code == RESULT_CODE and len(data) >= 4:
            return int.from_bytes(data[:4], "big")
        if code == EXPERIMENTAL_RESULT:
            found = next((int.from_bytes(d[:4], "big") for c, d in _avps(data, 0, len(data))
                          if c == EXPERIMENTAL_RESULT_CODE and len(d) >= 4), found)
    return found
