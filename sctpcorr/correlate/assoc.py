"""Which association is which: the kernel's ends and each capture's associations joined by tags and ports.

An endpoint is named on the wire and in the kernel alike by (port, the verification tag it expects to receive):
the wire engine reports ``ports`` and ``vtags`` per association (``vtags[0]`` is the tag A expects), and every
probe event carries ``lport`` and ``my_vtag``.  Two endpoints make an association, so

    key = {(port_A, tag_A), (port_B, tag_B)}

joins a capture's association to the same association in another capture and to the kernel ends whose
(lport, my_vtag) is one of the two.  A restart (new tags) is a new association on both sides; a kernel pointer
reused by another association changes nothing (it is not part of the key).  An association that a capture shows
only one way (tags of one side unknown) is joined by the side it knows.

Orientation: the correlated association's **A** is the endpoint that sent the INIT, as the wire engine decides
it in the first capture that has the association (else the kernel end that started in COOKIE_WAIT, else the
lower (port, tag)).  ``flip[capture]`` says that capture's A is our B.

Each capture's place relative to each endpoint comes from the engine's vantage point (``A``, ``B``, ``middle``,
``local``, ``unknown``): a capture is **near** an endpoint when it was taken next to it (or on the host of both,
``local``).  A host label given with a capture and a recording (``--capture F@HOST``, ``--kernel K@HOST``; a lab
bundle names both from the network namespaces) places the capture next to the end on that host, and then
decides before the vantage point: a delay inside a host makes the engine place its capture "in the middle".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sctpcorr.correlate.kernel import KernelView
from sctpcorr.correlate.wire import WireAssoc, WireView

__all__ = ["Assoc", "Side", "Registry", "join"]

Ident = tuple[int, int]


@dataclass
class Side:
    """One endpoint of a correlated association."""

    ident: Ident | None                                   # (port, tag it expects)
    kernel: list[tuple[int, int]] = field(default_factory=list)   # (recording index, end id)
    addrs: set[str] = field(default_factory=set)


@dataclass
class Assoc:
    """One association seen by any of the inputs."""

    id: int
    sides: tuple[Side, Side]
    wire: dict[int, int] = field(default_factory=dict)     # capture index -> that capture's association id
    flip: dict[int, bool] = field(default_factory=dict)    # capture index -> its A is our B
    near: dict[int, list[int]] = field(default_factory=lambda: {0: [], 1: []})  # side -> captures next to it

    @property
    def name(self) -> str:
        """``198.18.1.1:37232 <-> 198.19.1.1:5000`` (the lowest address of each end; vtags when none is known)."""
        def fmt(s: Side) -> str:
            if s.ident is None:
                return "?"
            if s.addrs:
                return f"{sorted(s.addrs)[0]}:{s.ident[0]}"
            return f"port {s.ident[0]} vtag 0x{s.ident[1]:08x}" if s.ident[1] is not None else f"port {s.ident[0]}"
        return f"{fmt(self.sides[0])} <-> {fmt(self.sides[1])}"

    @property
    def tags(self) -> str:
        return " / ".join(f"0x{s.ident[1]:08x}" if s.ident and s.ident[1] is not None else "?" for s in self.sides)

    def kernel_end(self, side: int) -> tuple[int, int] | None:
        ks = self.sides[side].kernel
        return ks[0] if ks else None

    def wire_dir(self, cap: int, side: int) -> int:
        """The capture's direction index (0 = its A sent) for what our ``side`` sent."""
        return side ^ int(self.flip.get(cap, False))

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name,
                "endpoints": [{"port": s.ident[0] if s.ident else None, "vtag": s.ident[1] if s.ident else None,
                               "kernel": [{"recording": r, "end": e} for r, e in s.kernel],
                               "addresses": sorted(s.addrs)} for s in self.sides],
                "captures": {str(c): {"assoc_id": a, "flipped": self.flip.get(c, False)} for c, a in self.wire.items()},
                "near": {("A", "B")[s]: caps for s, caps in self.near.items()}}


def _wire_key(wa: WireAssoc) -> frozenset[Ident] | None:
    if wa.vtags[0] is None or wa.vtags[1] is None:
        return None
    return frozenset({(wa.ports[0], wa.vtags[0]), (wa.ports[1], wa.vtags[1])})


class Registry:
    """The associations of a run, kept across the windows a long run is read in: an association, its id, its
    orientation and which capture is next to which end are decided once, when first seen."""

    def __init__(self) -> None:
        self.assocs: list[Assoc] = []
        self.by_ident: dict[Ident, Assoc] = {}
        self._seen_wire: dict[tuple[int, int], Assoc] = {}      # (capture, its association id) -> ours
        self._seen_end: dict[tuple[int, int], Assoc] = {}       # (recording, end id) -> ours
        self._placed: set[tuple[int, int]] = set()              # (association id, capture): near decided

    def _new(self, a_ident: Ident | None, b_ident: Ident | None) -> Assoc:
        asc = Assoc(len(self.assocs) + 1, (Side(a_ident), Side(b_ident)))
        self.assocs.append(asc)
        for i in (a_ident, b_ident):
            if i is not None and i[1] is not None:
                self.by_ident.setdefault(i, asc)
        return asc

    def join(self, captures: list[WireView], kernels: list[KernelView]) -> list[Assoc]:
        """Add what these views show; returns every association known so far."""
        by_ident = self.by_ident
        for ci, cap in enumerate(captures):
            for wa in cap.assocs.values():
                if (ci, wa.id) in self._seen_wire:
                    asc = self._seen_wire[(ci, wa.id)]
                    for p in wa.paths:
                        d = p.get("direction") == "B>A"
                        asc.sides[int(d) ^ int(asc.flip[ci])].addrs.add(p.get("src"))
                    continue
                ia, ib = wa.ident(0), wa.ident(1)
                asc = by_ident.get(ia) if ia[1] is not None else None
                if asc is None and ib[1] is not None:
                    asc = by_ident.get(ib)
                if asc is None or ci in asc.wire:
                    asc = self._new(ia if ia[1] is not None else None, ib if ib[1] is not None else None)
                    asc.flip[ci] = False
                else:
                    ours_a = asc.sides[0].ident
                    asc.flip[ci] = not (ours_a == ia or (ours_a is None and asc.sides[1].ident != ib))
                    for side, ident in ((0, ia), (1, ib)):
                        s_ = asc.sides[side ^ int(asc.flip[ci])]
                        if s_.ident is None and ident[1] is not None:
                            s_.ident = ident
                            by_ident.setdefault(ident, asc)
                asc.wire[ci] = wa.id
                self._seen_wire[(ci, wa.id)] = asc
                for p in wa.paths:
                    d = p.get("direction") == "B>A"
                    asc.sides[int(d) ^ int(asc.flip[ci])].addrs.add(p.get("src"))
        pending = []
        for ri, kv in enumerate(kernels):
            for e in kv.ends:
                if (ri, e.id) in self._seen_end:
                    continue
                asc = by_ident.get(e.ident)
                if asc is None and e.peer_vtag:
                    asc = by_ident.get((e.pport, e.peer_vtag))
                    if asc is not None:
                        side = 0 if asc.sides[1].ident == (e.pport, e.peer_vtag) else 1
                        if asc.sides[side].ident is None:
                            asc.sides[side].ident = e.ident
                            by_ident[e.ident] = asc
                if asc is None:
                    pending.append((ri, e))
                    continue
                side = 0 if asc.sides[0].ident == e.ident else 1
                asc.sides[side].kernel.append((ri, e.id))
                self._seen_end[(ri, e.id)] = asc
        for ri, e in pending:         # kernel ends no capture has shown (yet): pair them with each other
            asc = by_ident.get(e.ident)
            if asc is None and e.peer_vtag:
                asc = by_ident.get((e.pport, e.peer_vtag))
            if asc is None:
                first_state = e.states[0][1] if e.states else ""
                initiator = first_state in ("COOKIE_WAIT", "COOKIE_ECHOED") or (
                    first_state == "CLOSED" and len(e.states) > 1 and e.states[1][1] == "COOKIE_WAIT")
                peer = (e.pport, e.peer_vtag) if e.peer_vtag else None
                asc = self._new(e.ident, peer) if initiator or peer is None else self._new(peer, e.ident)
            side = 0 if asc.sides[0].ident == e.ident else 1
            if asc.sides[side].ident is None:
                asc.sides[side].ident = e.ident
                by_ident[e.ident] = asc
            asc.sides[side].kernel.append((ri, e.id))
            self._seen_end[(ri, e.id)] = asc
        # which capture sits next to which end: the host labels when they say it, else the vantage point
        for asc in self.assocs:
            for ci, aid in asc.wire.items():
                if (asc.id, ci) in self._placed or aid not in captures[ci].assocs:
                    continue
                host = captures[ci].host
                placed = False
                if host is not None:
                    for side in (0, 1):
                        hosts = {kernels[r].host_of(e) for r, e in asc.sides[side].kernel}
                        others = {kernels[r].host_of(e) for r, e in asc.sides[1 - side].kernel}
                        if host in hosts and host not in others:
                            asc.near[side].append(ci)
                            placed = True
                if not placed:
                    vp = captures[ci].assocs[aid].vantage
                    if vp == "local":
                        asc.near[0].append(ci)
                        asc.near[1].append(ci)
                        placed = True
                    elif vp in ("A", "B"):
                        asc.near[("A", "B").index(vp) ^ int(asc.flip[ci])].append(ci)
                        placed = True
                if placed or vp not in ("unknown",):
                    self._placed.add((asc.id, ci))
        return self.assocs

    def unjoined(self) -> dict[str, Any]:
        return {
            "wire_only": [{"capture": ci, "assoc_id": aid, "name": a.name}
                          for a in self.assocs for ci, aid in a.wire.items()
                          if not (a.sides[0].kernel or a.sides[1].kernel)],
            "kernel_only": [{"recording": r, "end": e, "name": a.name}
                            for a in self.assocs if not a.wire for s in a.sides for r, e in s.kernel],
        }


def join(captures: list[WireView], kernels: list[KernelView]) -> tuple[list[Assoc], dict[str, Any]]:
    """The correlated associations, and what could not be joined: {"wire_only": [...], "kernel_only": [...]}."""
    reg = Registry()
    assocs = reg.join(captures, kernels)
    return assocs, reg.unjoined()
