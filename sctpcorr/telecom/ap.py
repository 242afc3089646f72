"""NGAP, S1AP, X2AP and XnAP PDUs named fast: message, procedure, outcome, the UE ids and the NAS inside.

All four application protocols share one top-level shape (3GPP TS 38.413 / 36.413 / 36.423 / 38.423, ASN.1
aligned PER): a CHOICE of initiatingMessage / successfulOutcome / unsuccessfulOutcome, a procedure code (one
octet), a criticality, and the message as an open type: a SEQUENCE whose only root component is a container of
protocol IEs (a count in two octets; per IE an id in two octets, a criticality and the value as an open type).
:func:`decode` walks exactly that far, with no ASN.1 runtime: it names the message and hands out the raw bytes of
each IE, then reads the few IEs the telecom layer follows (RAN/AMF-UE-NGAP-ID, eNB/MME-UE-S1AP-ID, NAS-PDU).
Everything else (every IE decoded, causes) is pycrate's job (:func:`full`), called for the few messages that need
it: failures, and what a person asks to see.

The names (procedure codes, message types, which procedures expect a response, IE ids) are read from pycrate's
compiled 3GPP ASN.1 modules (through spec.py, which gen_spec.py writes from them), not typed in here: the
specification is the one source.  The same walk runs in C for every message of a capture (``_fast/fast.c``); this
one is its readable reference, held to it message by message in the tests.
"""
from __future__ import annotations

import contextlib
import functools
import io
from dataclasses import dataclass, field
from typing import Any

from sctpcorr.telecom.spec import CAUSES, IE_IDS, PROCEDURES

__all__ = ["PDU", "Proc", "decode", "procedures", "full", "ue_ids", "nas_pdu", "TYPES"]

TYPES = ("initiating", "successful", "unsuccessful")
_MODULES = {"ngap": "NGAP", "s1ap": "S1AP", "x2ap": "X2AP", "xnap": "XnAP"}


@dataclass(frozen=True)
class Proc:
    code: int
    name: str                       # the procedure: its initiating message's name without "Request"
    messages: tuple[str, str | None, str | None]   # initiating, successful, unsuccessful message names
    class1: bool                    # a response is expected (class 1 elementary procedure)


@dataclass(slots=True)
class PDU:
    proto: str
    kind: int                       # 0 initiating, 1 successful, 2 unsuccessful outcome
    code: int                       # procedure code
    ies: dict[int, bytes] = field(default_factory=dict)   # IE id -> raw value (first occurrence)
    error: str | None = None

    @property
    def proc(self) -> Proc | None:
        return procedures(self.proto).get(self.code)

    @property
    def name(self) -> str:
        p = self.proc
        if p is None:
            return f"{self.proto.upper()} procedure {self.code} {TYPES[self.kind]}"
        return p.messages[self.kind] or f"{p.name} {TYPES[self.kind]}"


@functools.lru_cache(maxsize=None)
def _module(proto: str) -> Any:
    import importlib

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):   # import notices
        return importlib.import_module(f"pycrate_asn1dir.{_MODULES[proto]}")


@functools.lru_cache(maxsize=None)
def procedures(proto: str) -> dict[int, Proc]:
    """Procedure code -> :class:`Proc` (spec.py: pycrate's <PROTO>_ELEMENTARY_PROCEDURES_CLASS_1/2 sets)."""
    return {code: Proc(code, name, msgs, class1) for code, (name, msgs, class1) in PROCEDURES[proto].items()}


def ie_id(proto: str, name: str) -> int:
    """An IE id by its ASN.1 name (``id-NAS-PDU`` is ``NAS_PDU``), from pycrate's constants (spec.py)."""
    return IE_IDS[proto][name]


def _length(b: bytes, i: int) -> tuple[int, int]:
    """An aligned-PER length determinant at ``b[i]``: (length, index after it)."""
    v = b[i]
    if v < 0x80:
        return v, i + 1
    if v & 0xC0 == 0x80:
        return ((v & 0x3F) << 8) | b[i + 1], i + 2
    raise ValueError("fragmented length (a value of 16 K or more)")


def decode(data: bytes, proto: str) -> PDU:
    """The top of one PDU (see the module doc).  Never raises: a PDU it cannot walk has ``error`` set."""
    pdu = PDU(proto, 0, -1)
    try:
        b0 = data[0]
        if b0 & 0x80:
            pdu.error = "an extension of the PDU choice"
            return pdu
        pdu.kind = (b0 >> 5) & 3
        if pdu.kind > 2:
            pdu.error = f"PDU choice {pdu.kind}"
            return pdu
        pdu.code = data[1]
        n, i = _length(data, 3)
        end = i + n
        if end > len(data):
            pdu.error = "cut short"
            end = len(data)
        # the message SEQUENCE: an extension bit (and padding), then the IE count in two octets
        count = (data[i + 1] << 8) | data[i + 2]
        i += 3
        ies = pdu.ies
        for _ in range(count):
            if i + 4 > end:
                pdu.error = "IE list cut short"
                break
            iid = (data[i] << 8) | data[i + 1]
            n, j = _length(data, i + 3)
            if iid not in ies:
                ies[iid] = data[j:j + n]
            i = j + n
    except IndexError:
        pdu.error = "cut short"
    except ValueError as exc:
        pdu.error = str(exc)
    return pdu


def _constrained_int(v: bytes, len_bits: int) -> int | None:
    """An aligned-PER INTEGER whose range needs a length prefix of ``len_bits`` bits (octets - 1), then octets."""
    if not v:
        return None
    n = (v[0] >> (8 - len_bits)) + 1
    if len(v) < 1 + n:
        return None
    return int.from_bytes(v[1:1 + n], "big")


# (IE name, bits of its length prefix): RAN-UE-NGAP-ID (0..2^32-1), AMF-UE-NGAP-ID (0..2^40-1),
# eNB-UE-S1AP-ID (0..2^24-1), MME-UE-S1AP-ID (0..2^32-1)
_UE_IDS = {"ngap": (("RAN_UE_NGAP_ID", 2), ("AMF_UE_NGAP_ID", 3)),
           "s1ap": (("eNB_UE_S1AP_ID", 2), ("MME_UE_S1AP_ID", 2))}


def ue_ids(pdu: PDU) -> tuple[int | None, int | None]:
    """(RAN side id, core side id): RAN/AMF-UE-NGAP-ID or eNB/MME-UE-S1AP-ID; None where absent.  A UE Context
    Release Command names them in one IE instead (UE-NGAP-IDs / UE-S1AP-IDs: a pair, or the core's alone)."""
    spec = _UE_IDS.get(pdu.proto)
    if spec is None:
        return None, None
    out = []
    for name, bits in spec:
        v = pdu.ies.get(ie_id(pdu.proto, name))
        out.append(_constrained_int(v, bits) if v is not None else None)
    if out == [None, None]:
        v = pdu.ies.get(ie_id(pdu.proto, "UE_NGAP_IDs" if pdu.proto == "ngap" else "UE_S1AP_IDs"))
        if v:
            return _id_pair(v, pdu.proto)
    return out[0], out[1]


def _aligned_int(v: bytes, i: int, n: int) -> tuple[int | None, int]:
    if len(v) < i + n:
        return None, i + n
    return int.from_bytes(v[i:i + n], "big"), i + n


def _id_pair(v: bytes, proto: str) -> tuple[int | None, int | None]:
    """UE-NGAP-IDs ::= CHOICE {uE-NGAP-ID-pair SEQUENCE {aMF-UE-NGAP-ID, rAN-UE-NGAP-ID, iE-Extensions OPTIONAL,
    ...}, aMF-UE-NGAP-ID, choice-Extensions} (2 bits of choice); UE-S1AP-IDs ::= CHOICE {uE-S1AP-ID-pair SEQUENCE
    {mME-UE-S1AP-ID, eNB-UE-S1AP-ID, iE-Extensions OPTIONAL, ...}, mME-UE-S1AP-ID, ...} (an extension bit, 1 bit
    of choice).  In the pair, the extension and optional bits precede the first id's length prefix."""
    b = v[0]
    if proto == "ngap":
        choice = b >> 6
        if choice == 0:                                  # c c e o l l l -: AMF (3-bit length), then RAN (2-bit)
            core, i = _aligned_int(v, 1, ((b >> 1) & 7) + 1)
            if len(v) <= i:
                return None, core
            ran, _ = _aligned_int(v, i + 1, (v[i] >> 6) + 1)
            return ran, core
        if choice == 1:                                  # c c l l l: AMF alone
            return None, _aligned_int(v, 1, ((b >> 3) & 7) + 1)[0]
        return None, None
    if b & 0x80:
        return None, None
    if (b >> 6) & 1 == 0:                                # x c e o l l: MME (2-bit length), then eNB (2-bit)
        core, i = _aligned_int(v, 1, ((b >> 2) & 3) + 1)
        if len(v) <= i:
            return None, core
        ran, _ = _aligned_int(v, i + 1, (v[i] >> 6) + 1)
        return ran, core
    return None, _aligned_int(v, 1, ((b >> 4) & 3) + 1)[0]      # x c l l: MME alone


def nas_pdu(pdu: PDU) -> bytes | None:
    """The NAS-PDU IE's octets (an unconstrained OCTET STRING: a length determinant, then the octets)."""
    if pdu.proto not in _UE_IDS:
        return None
    v = pdu.ies.get(ie_id(pdu.proto, "NAS_PDU"))
    if not v:
        return None
    try:
        n, i = _length(v, 0)
    except (IndexError, ValueError):
        return None
    return bytes(v[i:i + n])


def full(data: bytes, proto: str) -> Any:
    """The whole PDU decoded by pycrate (a Python value: nested tuples and dicts), or raises ValueError."""
    m = _module(proto)
    from pycrate_asn1rt.codecs import ASN1CodecPER

    top = getattr(getattr(m, f"{_MODULES[proto]}_PDU_Descriptions"), f"{_MODULES[proto]}_PDU")
    # pycrate's aligned-PER decoder keeps a stack of bit offsets in a class attribute (ASN1CodecPER._off): each
    # from_aper, the top one and one per open type inside, pushes an entry and pops it only when it returns.  A PDU
    # it rejects raises past the pops and leaves its entries behind for good: one int or more per malformed PDU,
    # a process that reads many of them (a live capture, the fuzzer: 20 MB per million) grows without bound.  The
    # entries below ours are not read by this decode; what it leaves above them is cut off here.
    depth = len(ASN1CodecPER._off)
    try:
        top.from_aper(data)
    except Exception as exc:  # noqa: BLE001 - pycrate raises its own types; the caller wants one
        raise ValueError(f"{proto}: {exc}") from None
    finally:
        del ASN1CodecPER._off[depth:]
    return top.get_val()


def _bits(v: bytes, pos: int, n: int) -> tuple[int, int]:
    """``n`` bits of ``v`` from bit ``pos`` (most significant first): (value, next position); IndexError past
    the end."""
    x = 0
    for k in range(pos, pos + n):
        x = (x << 1) | ((v[k >> 3] >> (7 - (k & 7))) & 1)
    return x, pos + n


def cause_value(v: bytes, proto: str) -> str | None:
    """A Cause IE value (aligned PER) as ``group/value``, read with spec.py's CAUSES; None for what that does not
    cover (an extension alternative), which :func:`cause` hands to pycrate.  Cause ::= CHOICE of ENUMERATED:
    [extension bit] choice index (bit field), [extension bit] enumeration index (bit field), or after a set
    extension bit a normally small number (0 and 6 bits)."""
    ext, alts = CAUSES[proto]
    try:
        pos = 0
        if ext:
            e, pos = _bits(v, pos, 1)
            if e:
                return None
        k, pos = _bits(v, pos, (len(alts) - 1).bit_length())
        if k >= len(alts) or alts[k][1] is None:
            return None
        group, eext, root, more = alts[k]
        if eext:
            e, pos = _bits(v, pos, 1)
            if e:
                big, pos = _bits(v, pos, 1)
                if big:
                    return None
                i, pos = _bits(v, pos, 6)
                return f"{group}/{more[i]}" if i < len(more) else None
        i, pos = _bits(v, pos, (len(root) - 1).bit_length())
        return f"{group}/{root[i]}" if i < len(root) else None
    except IndexError:
        return None


def cause(data: bytes, proto: str) -> str | None:
    """The Cause IE of a PDU as ``group/value`` (``nas/authentication-failure``): read directly (cause_value),
    else through pycrate's full decode."""
    v = decode(data, proto).ies.get(ie_id(proto, "Cause"))      # the open type holds the CHOICE itself
    c = cause_value(bytes(v), proto) if v else None
    return c if c is not None else cause_pycrate(data, proto)


def cause_pycrate(data: bytes, proto: str) -> str | None:
    """The Cause IE of a PDU as ``group/value``, through pycrate."""
    try:
        val = full(data, proto)
    except ValueError:
        return None
    try:
        ies = val[1]["value"][1]["protocolIEs"]
    except (KeyError, IndexError, TypeError):
        return None
    want = ie_id(proto, "Cause")
    for ie in ies:
        if isinstance(ie, dict) and ie.get("id") == want:
            try:
                group, value = ie["value"][1]
            except (KeyError, IndexError, TypeError, ValueError):   # a Cause that is not a (group, value) CHOICE
                return None
            return f"{group}/{value}"
    return None


def nested_nas(data: bytes, proto: str) -> bytes | None:
    """The first NAS-PDU found anywhere inside a PDU (S1AP's InitialContextSetupRequest carries the Attach Accept
    inside an E-RAB item, not as a top-level IE), through pycrate: for the few messages that need it."""
    try:
        val = full(data, proto)
    except ValueError:
        return None

    def walk(v: Any) -> bytes | None:
        if isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str) and k.replace("_", "-").lower() == "nas-pdu" and isinstance(x, bytes):
                    return x
                r = walk(x)
                if r is not None:
                    return r
        elif isinstance(v, (list, tuple)):
            for x in v:
                r = walk(x)
                if r is not None:
                    return r
        return None
    return walk(val)
