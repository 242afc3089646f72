"""Real NGAP encodings for the lab's registration workload (``[ngap]`` in a scenario): made on the host with
pycrate, played in the guest by the standard-library workload.

``flow(ues)`` encodes, per UE, the NGAP messages of a 5G registration as a gNB and an AMF exchange them
(TS 38.413 PDUs; the NAS inside as TS 24.501 lays it out: plain, integrity protected with a new context, or
"ciphered" with 5G-EA0, which the Security Mode Command selects):

    gNB  InitialUEMessage [Registration Request]
    AMF  DownlinkNASTransport [Authentication Request]
    gNB  UplinkNASTransport [Authentication Response]
    AMF  DownlinkNASTransport [Security Mode Command]
    gNB  UplinkNASTransport [Security Mode Complete]
    AMF  InitialContextSetupRequest [Registration Accept]
    gNB  InitialContextSetupResponse
    gNB  UplinkNASTransport [Registration Complete]

plus NGSetupRequest / NGSetupResponse once per association.  Each step is (sender, hex bytes); the workload
answers a received message with the next step(s) of that UE after its configured delay, so the time from a
message to its answer at the answering host is that delay: the ground truth of the telecom layer's latencies.
The bytes carry nothing secret: MAC, RAND, AUTN and RES* are fixed patterns (no real authentication runs).
"""
from __future__ import annotations

import contextlib
import io
from typing import Any

__all__ = ["flow", "setup", "STEPS", "GNB", "AMF"]

GNB, AMF = "gnb", "amf"
PLMN = b"\x00\xf1\x10"                 # MCC 001, MNC 01
TAC = b"\x00\x00\x01"
MAC = b"\x11\x22\x33\x44"
STEPS = ("Registration Request", "Authentication Request", "Authentication Response", "Security Mode Command",
         "Security Mode Complete", "InitialContextSetupRequest", "InitialContextSetupResponse",
         "Registration Complete")


def _pdu() -> Any:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from pycrate_asn1dir import NGAP
    return NGAP.NGAP_PDU_Descriptions.NGAP_PDU


def _enc(val: tuple) -> str:
    pdu = _pdu()
    pdu.set_val(val)
    return pdu.to_aper().hex()


def _ie(iid: int, crit: str, name: str, value: Any) -> dict:
    return {"id": iid, "criticality": crit, "value": (name, value)}


def _uli() -> tuple:
    return ("userLocationInformationNR", {"nR-CGI": {"pLMNIdentity": PLMN, "nRCellIdentity": (0x10, 36)},
                                          "tAI": {"pLMNIdentity": PLMN, "tAC": TAC}})


def _ids(amf: int, ran: int) -> list[dict]:
    return [_ie(10, "reject", "AMF-UE-NGAP-ID", amf), _ie(85, "reject", "RAN-UE-NGAP-ID", ran)]


def _protected(sht: int, seq: int, plain: bytes) -> bytes:
    """A security-protected 5GMM message around ``plain`` (5G-EA0: the plain message as it is)."""
    return bytes([0x7E, sht]) + MAC + bytes([seq & 0xFF]) + plain


def _nas(ue: int) -> dict[str, bytes]:
    suci = bytes([0x01]) + PLMN + b"\x00\x00\x00\x00" + (ue & 0xFFFFFFFF).to_bytes(4, "big")  # SUCI, null scheme
    ueseccap = b"\x2e\x02\xf0\xf0"
    return {
        "Registration Request": b"\x7e\x00\x41\x79" + len(suci).to_bytes(2, "big") + suci + ueseccap,
        "Authentication Request": b"\x7e\x00\x56\x00\x02\x00\x00\x21" + bytes(range(16)) + b"\x20\x10"
                                  + bytes(range(16, 32)),
        "Authentication Response": b"\x7e\x00\x57\x2d\x10" + bytes(range(32, 48)),
        # selected algorithms 0x01: 5G-EA0 (null ciphering), 128-5G-IA1; replayed UE security capabilities
        "Security Mode Command": _protected(3, 0, b"\x7e\x00\x5d\x01\x00\x02\xf0\xf0"),
        "Security Mode Complete": _protected(4, 0, b"\x7e\x00\x5e"),
        "Registration Accept": _protected(2, 1, b"\x7e\x00\x42\x01\x01"),
        "Registration Complete": _protected(2, 1, b"\x7e\x00\x43"),
    }


def setup() -> list[tuple[str, str]]:
    """NGSetupRequest (gNB) and NGSetupResponse (AMF)."""
    req = ("initiatingMessage", {"procedureCode": 21, "criticality": "reject", "value": ("NGSetupRequest", {
        "protocolIEs": [
            _ie(27, "reject", "GlobalRANNodeID", ("globalGNB-ID", {"pLMNIdentity": PLMN,
                                                                   "gNB-ID": ("gNB-ID", (1, 32))})),
            _ie(102, "reject", "SupportedTAList", [{"tAC": TAC, "broadcastPLMNList": [
                {"pLMNIdentity": PLMN, "tAISliceSupportList": [{"s-NSSAI": {"sST": b"\x01"}}]}]}]),
            _ie(21, "ignore", "PagingDRX", "v128")]})})
    rsp = ("successfulOutcome", {"procedureCode": 21, "criticality": "reject", "value": ("NGSetupResponse", {
        "protocolIEs": [
            _ie(1, "reject", "AMFName", "sctpcorr-lab-amf"),
            _ie(96, "reject", "ServedGUAMIList", [{"gUAMI": {"pLMNIdentity": PLMN, "aMFRegionID": (2, 8),
                                                             "aMFSetID": (1, 10), "aMFPointer": (0, 6)}}]),
            _ie(86, "ignore", "RelativeAMFCapacity", 255),
            _ie(80, "reject", "PLMNSupportList", [{"pLMNIdentity": PLMN,
                                                   "sliceSupportList": [{"s-NSSAI": {"sST": b"\x01"}}]}])]})})
    return [(GNB, _enc(req)), (AMF, _enc(rsp))]


def flow(ue: int) -> list[tuple[str, str]]:
    """The registration of UE ``ue`` (its RAN and AMF UE ids are ``ue``): (sender, hex) per message."""
    nas = _nas(ue)
    ran, amf = ue, ue

    def dl(n: str) -> tuple[str, str]:
        return AMF, _enc(("initiatingMessage", {"procedureCode": 4, "criticality": "ignore", "value": (
            "DownlinkNASTransport", {"protocolIEs": _ids(amf, ran) + [_ie(38, "reject", "NAS-PDU", nas[n])]})}))

    def ul(n: str) -> tuple[str, str]:
        return GNB, _enc(("initiatingMessage", {"procedureCode": 46, "criticality": "ignore", "value": (
            "UplinkNASTransport", {"protocolIEs": _ids(amf, ran) + [
                _ie(38, "reject", "NAS-PDU", nas[n]), _ie(121, "ignore", "UserLocationInformation", _uli())]})}))

    ium = (GNB, _enc(("initiatingMessage", {"procedureCode": 15, "criticality": "ignore", "value": (
        "InitialUEMessage", {"protocolIEs": [
            _ie(85, "reject", "RAN-UE-NGAP-ID", ran), _ie(38, "reject", "NAS-PDU", nas["Registration Request"]),
            _ie(121, "reject", "UserLocationInformation", _uli()),
            _ie(90, "ignore", "RRCEstablishmentCause", "mo-Signalling")]})})))
    ics = (AMF, _enc(("initiatingMessage", {"procedureCode": 14, "criticality": "reject", "value": (
        "InitialContextSetupRequest", {"protocolIEs": _ids(amf, ran) + [
            _ie(28, "reject", "GUAMI", {"pLMNIdentity": PLMN, "aMFRegionID": (2, 8), "aMFSetID": (1, 10),
                                        "aMFPointer": (0, 6)}),
            _ie(0, "reject", "AllowedNSSAI", [{"s-NSSAI": {"sST": b"\x01"}}]),
            _ie(119, "reject", "UESecurityCapabilities", {
                "nRencryptionAlgorithms": (0xE000, 16), "nRintegrityProtectionAlgorithms": (0xE000, 16),
                "eUTRAencryptionAlgorithms": (0xE000, 16), "eUTRAintegrityProtectionAlgorithms": (0xE000, 16)}),
            _ie(94, "reject", "SecurityKey", (0, 256)),
            _ie(38, "ignore", "NAS-PDU", nas["Registration Accept"])]})})))
    icsr = (GNB, _enc(("successfulOutcome", {"procedureCode": 14, "criticality": "reject", "value": (
        "InitialContextSetupResponse", {"protocolIEs": [_ie(10, "ignore", "AMF-UE-NGAP-ID", amf),
                                                        _ie(85, "ignore", "RAN-UE-NGAP-ID", ran)]})})))
    return [ium, dl("Authentication Request"), ul("Authentication Response"), dl("Security Mode Command"),
            ul("Security Mode Complete"), ics, icsr, ul("Registration Complete")]
