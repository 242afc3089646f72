"""Write sctpcorr/telecom/spec.py: the 3GPP names the telecom layer needs, read from pycrate's compiled modules.

The procedure codes, message names and classes of NGAP, S1AP, X2AP and XnAP (their <PROTO>_ELEMENTARY_PROCEDURES
sets), the few IE ids the fast path reads, and the NAS message type names of 5GMM, 5GSM, EMM and ESM.  Importing
those pycrate modules takes about 0.8 s, paid by every ``pcap --telecom`` run before; the tables they give fit in
some kilobytes, so they are written once into spec.py and a test (tests/telecom) checks that spec.py still
equals what this module reads from the installed pycrate.

    python -m sctpcorr.telecom.gen_spec          # rewrite spec.py
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import pprint
import re
from typing import Any

MODULES = {"ngap": "NGAP", "s1ap": "S1AP", "x2ap": "X2AP", "xnap": "XnAP"}
IES = {"ngap": ("RAN_UE_NGAP_ID", "AMF_UE_NGAP_ID", "UE_NGAP_IDs", "NAS_PDU", "Cause"),
       "s1ap": ("eNB_UE_S1AP_ID", "MME_UE_S1AP_ID", "UE_S1AP_IDs", "NAS_PDU", "Cause"),
       "x2ap": ("Cause",), "xnap": ("Cause",)}


def _quiet_import(name: str) -> Any:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):   # import notices
        return importlib.import_module(name)


def procedures(proto: str) -> dict[int, tuple[str, tuple[str | None, str | None, str | None], bool]]:
    """code -> (procedure name, (initiating, successful, unsuccessful) message names, class 1)."""
    m = _quiet_import(f"pycrate_asn1dir.{MODULES[proto]}")
    desc = getattr(m, f"{MODULES[proto]}_PDU_Descriptions")
    consts = getattr(m, f"{MODULES[proto]}_Constants")
    pnames: dict[int, str] = {}          # id-<Procedure> ProcedureCode ::= n
    for n in dir(consts):
        o = getattr(consts, n)
        if n.startswith("id_") and getattr(getattr(o, "_tr", None), "_name", None) == "ProcedureCode":
            pnames.setdefault(int(o._val), n[3:].replace("_", "-"))
    out: dict[int, Any] = {}
    for cls, class1 in (("CLASS_1", True), ("CLASS_2", False)):
        name = next(n for n in dir(desc) if n.endswith(f"_ELEMENTARY_PROCEDURES_{cls}") and not n.startswith("_"))
        s = getattr(desc, name)._val
        for r in list(s.root) + list(s.ext or ()):
            msgs = tuple(r[k]._tr._name if r.get(k) is not None and getattr(r[k], "_tr", None) is not None
                         else (r[k]._name if r.get(k) is not None else None)
                         for k in ("InitiatingMessage", "SuccessfulOutcome", "UnsuccessfulOutcome"))
            code = int(r["procedureCode"])
            init = msgs[0] or f"procedure{code}"
            pname = pnames.get(code) or (init[:-len("Request")] if init.endswith("Request") else init)
            out[code] = (pname, msgs, class1)
    return dict(sorted(out.items()))


def ie_ids(proto: str) -> dict[str, int]:
    m = _quiet_import(f"pycrate_asn1dir.{MODULES[proto]}")
    consts = getattr(m, f"{MODULES[proto]}_Constants")
    return {n: int(getattr(consts, f"id_{n}")._val) for n in IES[proto]}


def causes(proto: str) -> tuple[bool, list[tuple[str, bool | None, list[str], list[str]]]]:
    """The Cause CHOICE: (extensible, [(alternative, its ENUMERATED extensible (None: not an ENUMERATED), root
    names in order, extension names)])."""
    m = _quiet_import(f"pycrate_asn1dir.{MODULES[proto]}")
    c = getattr(m, f"{MODULES[proto]}_IEs").Cause
    alts = []
    for name, v in c._cont.items():
        if v.TYPE == "ENUMERATED":
            alts.append((name, v._ext is not None, list(v._root), list(v._ext or ())))
        else:
            alts.append((name, None, [], []))
    return c._ext is not None, alts


def _words(cls_name: str, prefix: str) -> str:
    n = cls_name[len(prefix):] if cls_name.startswith(prefix) else cls_name
    n = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", n)
    return n.replace("Ue ", "UE ").replace("Pdu ", "PDU ")


def nas_types() -> dict[str, dict[int, str]]:
    """Message type -> name (``FGMMRegistrationRequest`` -> ``Registration Request``) per NAS protocol."""
    emm = _quiet_import("pycrate_mobile.TS24301_EMM")
    esm = _quiet_import("pycrate_mobile.TS24301_ESM")
    fgmm = _quiet_import("pycrate_mobile.TS24501_FGMM")
    fgsm = _quiet_import("pycrate_mobile.TS24501_FGSM")
    emm_t = {**{k: _words(v.__name__, "EMM") for k, v in emm.EMMTypeMOClasses.items()},
             **{k: _words(v.__name__, "EMM") for k, v in emm.EMMTypeMTClasses.items()}}
    return {
        "5gmm": dict(sorted((k, _words(v.__name__, "FGMM")) for k, v in fgmm.FGMMTypeClasses.items())),
        "5gsm": dict(sorted((k, _words(v.__name__, "FGSM")) for k, v in fgsm.FGSMTypeClasses.items())),
        "emm": dict(sorted(emm_t.items())),
        "esm": dict(sorted((k, _words(v.__name__, "ESM")) for k, v in esm.ESMTypeClasses.items())),
    }


def build() -> dict[str, Any]:
    return {"PROCEDURES": {p: procedures(p) for p in MODULES}, "IE_IDS": {p: ie_ids(p) for p in MODULES},
            "CAUSES": {p: causes(p) for p in MODULES}, "NAS_TYPES": nas_types()}


def source(tables: dict[str, Any]) -> str:
    import pycrate_asn1rt

    version = getattr(pycrate_asn1rt, "__version__", None)
    if version is None:
        from importlib.metadata import version as _v

        version = _v("pycrate")
    lines = ['"""3GPP names for the telecom layer, generated by ``python -m sctpcorr.telecom.gen_spec`` from pycrate '
             f'{version}:', "do not edit (tests/telecom checks it against the installed pycrate).", "",
             "PROCEDURES: protocol -> procedure code -> (procedure, (initiating, successful, unsuccessful) message",
             "names, class 1); IE_IDS: protocol -> IE name -> id; CAUSES: protocol -> the Cause CHOICE (extensible,",
             "[(alternative, ENUMERATED extensible or None, root names, extension names)]); NAS_TYPES:",
             "5gmm/5gsm/emm/esm -> type -> name.",
             '"""', ""]
    for k, v in tables.items():
        lines.append(f"{k} = {pprint.pformat(v, width=116, sort_dicts=False)}")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spec.py")
    with open(path, "w") as f:
        f.write(source(build()))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
