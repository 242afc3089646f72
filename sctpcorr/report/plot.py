"""``sctpcorr correlate --plot DIR``: the pictures an engineer would rather look at than read (matplotlib).

Per association, PNG and SVG of each:

* ``rtt``: RTT over time per path: the kernel's samples (what it fed its RTO) and the wire's (each DATA chunk
  sent once, to its first ack, and each HEARTBEAT, on the capture next to the sender), on one axis;
* ``tsn``: TSN over time per direction: the kernel's transmissions, the capture's, the cumulative acks and
  gap-acked TSNs, retransmissions marked by kind;
* ``window``: the sender's cwnd per path (kernel) against the bytes in flight on the wire and the peer's
  window (the kernel's view, and a_rwnd on the wire);
* ``rtt_parts``: every kernel RTT sample split into host_tx, wire (net_out, peer, net_back when both ends were
  captured), host_rx and the jiffy remainder, stacked.

Times are seconds since the association's first event, on the kernel's monotonic clock (captures moved onto it
by the fitted clock offset).  Nothing is computed here that the correlator did not already say.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from sctpcorr.correlate import Correlation
from sctpcorr.correlate.checks import flight_series
from sctpcorr.correlate.joins import NONE
from sctpcorr.errors import OutputUnwritable, SctpcorrError
from sctpcorr.outfile import OutputExists

__all__ = ["draw_all", "check_plot_dir", "existing_plots"]

SIDE = ("A", "B")
COLORS = {"host_tx": "#d62728", "wire": "#1f77b4", "net_out": "#1f77b4", "peer": "#9467bd", "net_back": "#17becf",
          "host_rx": "#ff7f0e", "jiffy": "#7f7f7f"}


def _plt() -> Any:
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import matplotlib
    except ImportError:
        raise SctpcorrError("--plot needs matplotlib: pip install 'sctpcorr[plot]' (or matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


# the names draw_all writes (and the ones it refuses to overwrite without --force)
PLOT_NAME = re.compile(r"assoc\d+-(rtt|tsn|window|rtt-parts)\.(png|svg)")


def existing_plots(directory: str) -> list[str]:
    """The files in ``directory`` that a ``--plot`` run could overwrite (sorted; none if it does not exist)."""
    try:
        return sorted(n for n in os.listdir(directory) if PLOT_NAME.fullmatch(n))
    except OSError:
        return []


def _save(fig: Any, out: Path, stem: str) -> list[str]:
    """Write the figure as PNG and SVG and close it; each file whole or not at all (outfile.whole_file; a full
    disk is one error naming the file).  draw_all checked for older plots already: these overwrite."""
    from sctpcorr.outfile import whole_file

    fig.tight_layout()
    files = []
    try:
        for ext in ("png", "svg"):
            p = out / f"{stem}.{ext}"
            with whole_file(str(p), force=True) as tmp:
                fig.savefig(tmp, dpi=110, bbox_inches="tight")
            files.append(str(p))
    finally:
        _plt().close(fig)
    return files


def check_plot_dir(directory: str, force: bool) -> None:
    """``--plot DIR``: DIR may exist and hold other files; plots of an earlier run there are overwritten only with
    ``force``."""
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise OutputUnwritable(f"{directory}: not a directory (--plot needs one)")
    old = [] if force else existing_plots(directory)
    if old:
        raise OutputExists(directory, what=f"holds the plots of an earlier run ({old[0]}"
                                           + (f" and {len(old) - 1} more)" if len(old) > 1 else ")"))


def _directions(cx: Correlation, a: Any, keep: Any) -> tuple[Any, list[tuple[Any, int, Any]]] | None:
    """One panel per direction of association ``a`` that ``keep(direction)`` accepts: (figure, [(axes, sender
    side, direction)]), or None when no direction has anything to draw."""
    dirs = [(side, cx.directions[(a.id, side)]) for side in (0, 1)
            if (a.id, side) in cx.directions and keep(cx.directions[(a.id, side)])]
    if not dirs:
        return None
    fig, axes = _plt().subplots(len(dirs), 1, figsize=(10, 4 * len(dirs)), squeeze=False)
    return fig, [(ax, side, d) for ax, (side, d) in zip(axes[:, 0], dirs)]


def _fit(cx: Correlation, d: Any, c: int) -> Any:
    return cx.clocks.get((d.k_rec, c)) if d.k_rec is not None else None


def _t0(cx: Correlation, aid: int) -> int:
    ts = [s.ts_ns for s in cx.samples if s.assoc == aid]
    for side in (0, 1):
        d = cx.directions.get((aid, side))
        if d is not None and d.k_tx is not None and len(d.k_tx):
            ts.append(int(d.k_tx.ts.min()))
    return min(ts) if ts else 0


def _rtt(cx: Correlation, a: Any, out: Path, t0: int) -> list[str]:
    plt = _plt()
    sides = [side for side in (0, 1) if any(s.assoc == a.id and s.side == side for s in cx.samples)]
    if not sides:
        return []
    fig, axes = plt.subplots(len(sides), 1, figsize=(10, 4.2 * len(sides)), squeeze=False, sharex=True)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, side in zip(axes[:, 0], sides):
        d = cx.directions.get((a.id, side))
        ss = [s for s in cx.samples if s.assoc == a.id and s.side == side]
        paths = sorted({s.path or "?" for s in ss})
        color = {p: palette[i % len(palette)] for i, p in enumerate(paths)}
        for p in paths:
            for kind, mark in (("data", "o"), ("heartbeat", "^")):
                sel = [s for s in ss if (s.path or "?") == p and s.kind == kind]
                if sel:
                    ax.scatter([(s.ts_ns - t0) / 1e9 for s in sel], [s.rtt_ns / 1e6 for s in sel], s=18,
                               marker=mark, color=color[p], label=f"kernel -> {p} ({kind})", zorder=3)
        if d is not None and a.near[side] and a.near[side][0] in d.w_tx:
            c = a.near[side][0]
            f = _fit(cx, d, c)
            w = d.w_tx[c]
            if f is not None and f.offset_ns is not None:
                t, cnt = np.unique(w.t, return_counts=True)
                once = np.isin(w.t, t[cnt == 1]) & ~w.rtx
                rows, _g = d.first_ack(c, w.t[once])
                ok = rows != NONE
                if ok.any():
                    ts = np.asarray(f.to_kernel(w.ts[once][ok]))
                    rtt = d.w_sack[c].ts[rows[ok]] - w.ts[once][ok]
                    wa = cx.captures[c].assocs[a.wire[c]]
                    dst = np.array([wa.path_addrs(int(p))[1] or "?" for p in w.path[once][ok]])
                    for p in sorted(set(dst.tolist())):
                        m = dst == p
                        ax.scatter((ts[m] - t0) / 1e9, rtt[m] / 1e6, s=7, marker=".", alpha=0.6,
                                   color=color.get(p, "black"), edgecolors="none",
                                   label=f"wire DATA->SACK -> {p} ({cx.captures[c].name.rsplit('/', 1)[-1]})")
        ax.set_ylabel("RTT (ms)")
        ax.set_title(f"association {a.id} {a.name}: {SIDE[side]}'s RTT, kernel samples (large) and the wire "
                     "(dots)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("time (s, kernel clock)")
    return _save(fig, out, f"assoc{a.id}-rtt")


def _tsn(cx: Correlation, a: Any, out: Path, t0: int) -> list[str]:
    got = _directions(cx, a, lambda d: d.k_tx is not None and len(d.k_tx))
    if got is None:
        return []
    fig, panels = got
    for ax, side, d in panels:
        k = d.k_tx
        base = int(k.t.min())
        first = k.sent_count == 1
        ax.scatter((k.ts[first] - t0) / 1e9, k.t[first] - base, s=8, color="#1f77b4", label="kernel sends")
        rtx_names = {1: "t3", 2: "fast", 3: "pmtud", 4: "t1", 5: "unknown"}
        for code, name in rtx_names.items():
            m = (~first) & (k.rtx == code)
            if m.any():
                ax.scatter((k.ts[m] - t0) / 1e9, k.t[m] - base, s=40, marker="x", label=f"kernel retransmits ({name})")
        if a.near[side]:
            c = a.near[side][0]
            f = _fit(cx, d, c)
            if f is not None and f.offset_ns is not None and c in d.w_tx:
                w = d.w_tx[c]
                ax.scatter((np.asarray(f.to_kernel(w.ts)) - t0) / 1e9, w.t - base, s=4, color="black", alpha=0.5,
                           label=f"wire ({cx.captures[c].name.rsplit('/', 1)[-1]})")
                s = d.w_sack[c]
                if len(s):
                    ax.step((np.asarray(f.to_kernel(s.ts)) - t0) / 1e9, np.maximum.accumulate(s.cum) - base,
                            where="post", color="#2ca02c", lw=1, label="cumulative TSN ack (wire)")
                g = d.w_gap[c]
                if len(g):
                    gts = (np.asarray(f.to_kernel(s.ts[g.sack])) - t0) / 1e9
                    ax.vlines(gts, g.start - base, g.end - base, color="#98df8a", lw=2, label="gap-acked (wire)")
        ax.set_title(f"association {a.id}: TSNs {SIDE[side]}>{SIDE[1 - side]} (relative to {base & 0xFFFFFFFF})")
        ax.set_xlabel("time (s, kernel clock)")
        ax.set_ylabel("TSN - first")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    return _save(fig, out, f"assoc{a.id}-tsn")


def _window(cx: Correlation, a: Any, out: Path, t0: int) -> list[str]:
    got = _directions(cx, a, lambda d: d.k_sack is not None and len(d.k_sack) > 1)
    if got is None:
        return []
    fig, panels = got
    for ax, side, d in panels:
        kv = cx.kernels[d.k_rec]
        pe = kv.paths[kv.paths.end == d.k_end]
        for p in np.unique(pe.path).tolist():
            q = pe[pe.path == p]
            ax.step((q.ts - t0) / 1e9, q.cwnd, where="post", lw=1, label=f"kernel cwnd -> {kv.addr(p)}")
        ks = d.k_sack
        ax.plot((ks.ts - t0) / 1e9, ks.peer_rwnd, lw=1, ls="--", color="#9467bd", label="kernel's peer rwnd")
        fs = flight_series(cx, d)
        if fs is not None:
            t = (fs["kt"] - t0) / 1e9
            ax.plot(t, fs["kernel"], lw=1.2, color="#d62728", label="kernel outstanding bytes (before each SACK)")
            ax.plot(t, fs["wire"], lw=1, color="black", alpha=0.7, label="wire bytes in flight (then)")
            if fs["queued"].any():
                ax.plot(t, fs["queued"], lw=1, color="#ff7f0e", alpha=0.8, label="sent, still in the host")
        if a.near[side]:
            c = a.near[side][0]
            f = _fit(cx, d, c)
            s = d.w_sack.get(c)
            if f is not None and f.offset_ns is not None and s is not None and len(s):
                t = (np.asarray(f.to_kernel(s.ts)) - t0) / 1e9
                ax.plot(t, s.a_rwnd, lw=1, ls=":", color="#8c564b", label="wire a_rwnd")
        ax.set_title(f"association {a.id}: {SIDE[side]}'s congestion and flow control (sender {SIDE[side]})")
        ax.set_xlabel("time (s, kernel clock)")
        ax.set_ylabel("bytes")
        ax.set_yscale("symlog", linthresh=1000)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    return _save(fig, out, f"assoc{a.id}-window")


def _parts(cx: Correlation, a: Any, out: Path) -> list[str]:
    plt = _plt()
    ss = [s for s in cx.samples if s.assoc == a.id and s.wire_rtt_ns is not None and s.host_tx_ns is not None
          and s.host_rx_ns is not None]
    if not ss:
        return []
    sides = [side for side in (0, 1) if any(s.side == side for s in ss)]
    fig, axes = plt.subplots(len(sides), 1, figsize=(10, 4 * len(sides)), squeeze=False)
    for ax, side in zip(axes[:, 0], sides):
        sel = [s for s in ss if s.side == side]
        x = np.arange(len(sel))
        far = all(s.net_out_ns is not None and s.peer_ns is not None and s.net_back_ns is not None for s in sel)
        layers = [("host_tx", [s.host_tx_ns for s in sel])]
        if far:
            layers += [("net_out", [s.net_out_ns for s in sel]), ("peer", [s.peer_ns for s in sel]),
                       ("net_back", [s.net_back_ns for s in sel])]
        else:
            layers += [("wire", [s.wire_rtt_ns for s in sel])]
        layers += [("host_rx", [s.host_rx_ns for s in sel]), ("jiffy", [s.quantisation_ns for s in sel])]
        pos = np.zeros(len(sel))
        neg = np.zeros(len(sel))
        for name, vals in layers:
            v = np.asarray(vals, dtype=float) / 1e6
            bottom = np.where(v >= 0, pos, neg)
            ax.bar(x, v, bottom=bottom, width=1.0, color=COLORS[name], label=name, linewidth=0)
            pos = pos + np.where(v >= 0, v, 0)
            neg = neg + np.where(v < 0, v, 0)
        ax.scatter(x, [s.rtt_ns / 1e6 for s in sel], s=6, color="black", zorder=3, label="kernel sample")
        ax.set_title(f"association {a.id}: {SIDE[side]}'s RTT samples, part by part (in order)")
        ax.set_xlabel("sample")
        ax.set_ylabel("ms")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7, loc="upper right", ncol=4)
    return _save(fig, out, f"assoc{a.id}-rtt-parts")


def draw_all(cx: Correlation, directory: str, force: bool = False) -> list[str]:
    """Every plot of every joined association into ``directory`` (created); returns the files written.  Plots
    of an earlier run there (``assoc*-rtt.png``...) are replaced only with ``force``: check_plot_dir() says so
    before the correlation runs."""
    check_plot_dir(directory, force)
    out = Path(directory)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputUnwritable(f"{directory}: {exc.strerror or exc}") from None
    files: list[str] = []
    for a in cx.assocs:
        if not a.wire or not (a.sides[0].kernel or a.sides[1].kernel):
            continue
        t0 = _t0(cx, a.id)
        files += _rtt(cx, a, out, t0)
        files += _tsn(cx, a, out, t0)
        files += _window(cx, a, out, t0)
        files += _parts(cx, a, out)
    return files
