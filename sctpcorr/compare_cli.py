"""``sctpcorr compare A B``: option parsing and output plumbing; the comparison is sctpcorr.telecom.compare."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

__all__ = ["compare_cmd"]


def _capture_of(path: str) -> str:
    """A capture file as given; a lab bundle directory: its server capture (the core's side), else the client's."""
    from sctpcorr.lab.bundle import find_file

    if not Path(path).is_dir():
        return path
    for role in ("server", "client"):
        f = find_file(path, f"{role}.pcapng")          # or its .gz twin
        if f.exists():
            return str(f)
    raise click.BadParameter(f"{path}: a directory without server.pcapng or client.pcapng (not a lab bundle)")


def _side(path: str) -> Any:
    from sctpcorr.errors import SctpcorrError
    from sctpcorr.pipeline import PcapOptions, run_pcap
    from sctpcorr.telecom.compare import Side

    cap = _capture_of(path)
    run = run_pcap(PcapOptions(files=(cap,), telecom=True, telecom_rtt=True))
    if not run.readable:
        err = SctpcorrError("; ".join(str(e) for e in run.errors) or f"{cap}: nothing readable")
        err.exit_code = 2
        raise err
    return Side(path, run.document, run.telecom_state)


def _ms(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.2f}"


def render(c: dict[str, Any]) -> str:
    a, b = c["sides"]
    w = 22
    lines = [f"sctpcorr compare  A = {a}", f"                  B = {b}", ""]

    def row(label: str, va: str, vb: str) -> None:
        lines.append(f"  {label:<44} {va:>{w}} {vb:>{w}}")
    row("", "A", "B")
    h = c.get("headline")
    if h:
        for q in ("p50", "p90", "p99"):
            row(f"{h['metric']} {q} (ms)", _ms(h["a"][f"{q}_ns"]), _ms(h["b"][f"{q}_ns"]))
        row(f"{h['metric']}: n", str(h["a"]["n"]), str(h["b"]["n"]))
    wa, wb = c["waits"]
    if wa.get("procedure") or wb.get("procedure"):
        row("registrations/attaches complete / started", f"{wa['complete']}/{wa['started']}",
            f"{wb['complete']}/{wb['started']}")
        row("  waiting for the core p50 (ms)", _ms(wa["core_p50_ns"]), _ms(wb["core_p50_ns"]))
        row("  waiting for the RAN/UE p50 (ms)", _ms(wa["ran_p50_ns"]), _ms(wb["ran_p50_ns"]))
    ta, tb = c["transport"]
    row("SCTP associations", str(ta["associations"]), str(tb["associations"]))
    row("  setup INIT..COOKIE-ACK p50 (ms)", _ms(ta["setup_p50_ns"]), _ms(tb["setup_p50_ns"]))
    row("  RTT p50 / p99 (ms, no delayed SACKs)", f"{_ms(ta['rtt_p50_ns'])}/{_ms(ta['rtt_p99_ns'])}",
        f"{_ms(tb['rtt_p50_ns'])}/{_ms(tb['rtt_p99_ns'])}")
    row("  retransmissions per 1000 DATA", str(ta["retransmissions_per_1000"]), str(tb["retransmissions_per_1000"]))
    row("  head-of-line waits (n, max ms)", f"{ta['hol_waits']}, {_ms(ta['hol_wait_max_ns'])}",
        f"{tb['hol_waits']}, {_ms(tb['hol_wait_max_ns'])}")
    row("  zero windows", str(ta["zero_windows"]), str(tb["zero_windows"]))
    for key, title in (("procedures", "procedure latency p50 / p99 (ms)"), ("diameter", "Diameter p50 / p99 (ms)")):
        if c[key]:
            lines += ["", f"  {title}"]
            for r in c[key]:
                def cell(x: dict[str, Any] | None) -> str:
                    return "-" if x is None else f"{_ms(x['p50_ns'])}/{_ms(x['p99_ns'])} n={x['n']}"
                row("  " + r["name"][:42], cell(r["a"]), cell(r["b"]))
    lines += ["", "VERDICT"] + [f"  {v}" for v in c["verdict"]]
    return "\n".join(lines) + "\n"


def plot(c: dict[str, Any], sides: list[Any], out: str) -> str:
    """CDFs: the headline metric, the busiest procedures both sides have, and the RTT samples."""
    from sctpcorr.report.plot import _plt

    plt = _plt()
    panels: list[tuple[str, list[list[int]]]] = []
    h = c.get("headline")
    if h:
        from sctpcorr.telecom.compare import _series

        series = [_series(s) for s in sides]
        panels.append((h["metric"], [x.get(h["metric"], []) for x in series]))
        common = sorted((k for k in series[0] if k in series[1] and k != h["metric"]),
                        key=lambda k: -min(len(series[0][k]), len(series[1][k])))[:2]
        panels += [(k, [series[0][k], series[1][k]]) for k in common]
    panels.append(("SCTP RTT (no delayed SACKs)", [s.telecom.rtt_samples for s in sides]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (title, vals) in zip(axes[0], panels):
        for v, label in zip(vals, ("A: " + Path(c["sides"][0]).name, "B: " + Path(c["sides"][1]).name)):
            if v:
                xs = sorted(x / 1e6 for x in v)
                ys = [(i + 1) / len(xs) for i in range(len(xs))]
                ax.step([xs[0]] + xs, [0.0] + ys, where="post", marker="." if len(xs) < 20 else None,
                        label=f"{label} (n={len(xs)})")
        every = [x for v in vals for x in v if x > 0]
        if every and max(every) / min(every) > 100:       # the two sides orders of magnitude apart: log axis
            ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("ms")
        ax.set_ylabel("fraction")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    from sctpcorr.outfile import whole_file

    try:
        with whole_file(out, force=True) as tmp:        # whole or not at all; compare_cmd checked --force
            fig.savefig(tmp, dpi=110, format=Path(out).suffix[1:] or "png")
    finally:
        plt.close(fig)
    return out


@click.command("compare", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 99},
               short_help="Two captures or lab bundles side by side: which core is faster, is SCTP to blame.")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--json", "as_json", is_flag=True, help="The comparison as one JSON document.")
@click.option("--plot", "plot_path", metavar="FILE.png", help="CDFs of the headline, procedures and RTT.")
@click.option("--force", is_flag=True, help="Overwrite an existing --plot FILE.")
def compare_cmd(a: str, b: str, as_json: bool, plot_path: str | None, force: bool) -> None:
    """Compare two captures (or lab bundles: their server capture) of the same kind of traffic: registration or
    attach duration (else the busiest procedure's latency, else Diameter's), the time spent waiting for the core
    and for the RAN/UE, procedure and Diameter latency, association setup, RTT, retransmissions and head-of-line
    waits; then which side is faster and how much of the difference the transport explains."""
    from sctpcorr.outfile import check_new
    from sctpcorr.sources.pcapfile import check_readable
    from sctpcorr.telecom.compare import compare

    check_new(plot_path, force)
    for p in (a, b):
        if not Path(p).is_dir():
            check_readable(p)
    sides = [_side(a), _side(b)]
    c = compare(*sides)
    if plot_path:
        c["plot"] = plot(c, sides, plot_path)
    click.echo(json.dumps(c, indent=1) if as_json else render(c), nl=not as_json)
