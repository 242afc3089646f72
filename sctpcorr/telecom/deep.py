"""The deep view: the messages a person selects, decoded in full by tshark's dissectors.

The fast path names every message; this is for the few a person reads: every IE and the NAS inside, in the
dissection they know from Wireshark.  Selection (``select``) is pure and uses the telecom layer's own names:
a UE (association and RAN-side UE id), a procedure or message name, a time range (seconds from the capture's
first packet), frames.  ``dissect`` then asks tshark for exactly those frames (one run, a display filter on
frame numbers, ``-V -O`` the application protocols) and returns, per frame, each NGAP/S1AP/X2AP/XnAP/Diameter/
M3UA layer as Wireshark's tree, in its order.  (pyshark, which the tests use to cross-check the fast path,
regroups a layer's fields by name: right for reading values, wrong for a person reading a message.)  tshark reads
the NAS that a null-ciphering Security Mode Command left readable too (``nas-5gs.null_decipher``).
"""
from __future__ import annotations

from typing import Any

__all__ = ["select", "dissect", "LAYERS"]

LAYERS = ("ngap", "s1ap", "x2ap", "xnap", "diameter", "m3ua")


def select(messages: list[Any], t0_ns: int, ue: tuple[int, int] | None = None, name: str | None = None,
           t_from: float | None = None, t_to: float | None = None, frames: set[int] | None = None,
           limit: int = 50) -> list[Any]:
    """The messages that match every criterion given (``name``: a message, procedure or NAS name, case-folded
    substring)."""
    out = []
    key = name.casefold() if name else None
    for m in messages:
        if ue is not None and (m.assoc, m.ran_ue) != ue:
            continue
        if key is not None and not any(key in (x or "").casefold() for x in (m.name, m.procedure, m.nas)):
            continue
        t = (m.ts_ns - t0_ns) / 1e9
        if (t_from is not None and t < t_from) or (t_to is not None and t > t_to):
            continue
        if frames is not None and m.frame not in frames:
            continue
        out.append(m)
        if len(out) >= limit:
            break
    return out


HEADS = ("NG Application Protocol", "S1 Application Protocol", "EUTRAN X2 Application Protocol",
         "Xn Application Protocol", "Diameter Protocol", "MTP 3 User Adaptation Layer")


def dissect(path: str, frames: list[int]) -> dict[int, list[str]]:
    """frame -> the text of each application layer tshark finds in it (bundled messages: several)."""
    import shutil
    import subprocess

    if not frames:
        return {}
    if shutil.which("tshark") is None:
        raise FileNotFoundError("tshark")
    flt = " || ".join(f"frame.number == {f}" for f in sorted(set(frames)))
    p = subprocess.run(["tshark", "-r", path, "-Y", flt, "-o", "nas-5gs.null_decipher:TRUE",
                        "-O", ",".join(LAYERS), "-V"], capture_output=True, text=True)
    out: dict[int, list[str]] = {}
    frame, cur = None, None
    for line in p.stdout.splitlines():
        if line.startswith("Frame ") and ":" in line:
            try:
                frame = int(line.split()[1].rstrip(":"))
            except ValueError:
                continue
            out[frame] = []
            cur = None
            continue
        if frame is None:
            continue
        if not line.startswith((" ", "\t")) and line.strip():
            cur = [line] if line.startswith(HEADS) else None
            if cur is not None:
                out[frame].append(cur)            # type: ignore[arg-type]
            continue
        if cur is not None:
            cur.append(line)
    return {f: ["\n".join(b) for b in blocks] for f, blocks in out.items()}       # type: ignore[misc]
