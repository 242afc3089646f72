"""``sctpcorr correlate`` and ``sctpcorr validate``: option parsing and output plumbing only.

The work is ``sctpcorr.correlate_io.run`` (files in) and ``sctpcorr.correlate`` (pure); the writers are
``sctpcorr.report.correlate`` and ``sctpcorr.report.plot``.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click


__all__ = ["correlate_cmd", "validate_cmd"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 99}
EXIT_PASS, EXIT_FAIL, EXIT_INPUT = 0, 1, 2

INPUT_HELP = """\b
Inputs: lab bundles (BUNDLE: a directory with manifest.json, or a group of them), and/or
--capture FILE[@HOST] and --kernel FILE[@HOST]. A capture and a recording with the same
HOST share a clock (the recording's realtime-monotonic offset applies) and the capture sits
next to that host's end; without a shared clock the offset is estimated from matched events
and stated with its uncertainty.
"""


def _inputs(f: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.argument("bundles", nargs=-1, metavar="[BUNDLE]..."),
        click.option("--capture", "captures", multiple=True, metavar="FILE[@HOST]",
                     help="A capture (pcap/pcapng, gzip or not); repeatable (one next to each end)."),
        click.option("--kernel", "kernels", multiple=True, metavar="FILE[@HOST]",
                     help="A `sctpcorr probe` recording: JSONL, --raw records or --source diag snapshots."),
        click.option("--hz", type=click.IntRange(min=1), default=None,
                     help="HZ of the recorded kernel (needed for --raw records only)."),
        click.option("--no-recorded-clock", is_flag=True,
                     help="Ignore the clock offsets recorded with the data: align from matched events only."),
        click.option("--tol-time-ms", type=click.FloatRange(min=0), default=1.0, show_default=True,
                     help="Timing slack besides one jiffy (RTT samples)."),
        click.option("--tol-clock-ms", type=click.FloatRange(min=0), default=0.5, show_default=True,
                     help="How far a recorded clock offset may lie outside the matched events' bounds."),
        click.option("--tol-bytes", type=click.IntRange(min=0), default=1500, show_default=True,
                     help="Window and flight comparisons (one MTU)."),
        click.option("--tol-outliers-pct", type=click.FloatRange(0, 100), default=2.0, show_default=True,
                     help="Share of items a check may have off and still agree."),
        click.option("--tol-lost-pct", type=click.FloatRange(0, 100), default=0.5, show_default=True,
                     help="Share of probe events a recording may have lost and still vouch."),
        click.option("--tol-state-ms", type=click.FloatRange(min=0), default=200.0, show_default=True,
                     help="A state change may follow the chunk that caused it by this much."),
        click.option("--window-events", type=click.IntRange(min=0), default=None, metavar="N",
                     help="Read in windows of N kernel events (0: in one piece). Default: windows of "
                          "300000 when the inputs exceed 96 MB and share one recorded clock."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _run(bundles: tuple[str, ...], captures: tuple[str, ...], kernels: tuple[str, ...], hz: int | None,
         no_recorded_clock: bool, tol_time_ms: float, tol_clock_ms: float, tol_bytes: int,
         tol_outliers_pct: float, tol_lost_pct: float, tol_state_ms: float, window_events: int | None,
         keep_tables: bool = False, tsn_sink: Any = None) -> Any:
    from sctpcorr import correlate_io
    from sctpcorr.correlate.model import Tolerances

    if not (bundles or captures or kernels):
        raise click.UsageError("give a lab bundle, or --capture and --kernel files")
    tol = Tolerances(time_ns=int(tol_time_ms * 1e6), clock_ns=int(tol_clock_ms * 1e6), bytes=tol_bytes,
                     outlier_pct=tol_outliers_pct, lost_pct=tol_lost_pct, state_ns=int(tol_state_ms * 1e6))
    found: list[str] = []
    for b in bundles:
        found += correlate_io.expand_bundles(b)
    cx, inp = correlate_io.run(bundles=found, captures=captures, kernels=kernels, hz=hz, tolerances=tol,
                               use_recorded_clock=not no_recorded_clock, keep_tables=keep_tables,
                               window_events=window_events, tsn_sink=tsn_sink)
    for note in inp.notes:
        click.echo(f"sctpcorr: note: {note}", err=True)
    return cx


@click.command("correlate", context_settings=CONTEXT, short_help="Join the kernel's view and the wire's.",
               epilog=INPUT_HELP + """\b
Examples:
  sctpcorr correlate pcaps/lab/hostdelay            # a lab bundle recorded with --probe
  sctpcorr correlate --capture c.pcapng@amf --kernel k.jsonl@amf   # capture + recording, same host
  sctpcorr correlate --capture gnb-side.pcap --kernel amf.jsonl     # other host, no shared clock
  sctpcorr correlate --jsonl pcaps/lab/lossy | jq -c 'select(.type=="tsn")'
  sctpcorr correlate --csv pcaps/lab/hostdelay > rtt-samples.csv
  sctpcorr correlate --plot plots/ pcaps/lab/failover
""")
@_inputs
@click.option("--json", "as_json", is_flag=True, help="One JSON document (schema_version; docs/correlate.md).")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="JSON lines: one record per TSN and per RTT sample.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: one row per kernel RTT sample and its decomposition.")
@click.option("-o", "--output", metavar="FILE", help="Write to FILE (atomically; an existing FILE only with --force).")
@click.option("--assoc", "assoc_ids", type=click.IntRange(min=1), multiple=True, metavar="ID",
              help="Text report: only association ID (as numbered there). Repeatable.")
@click.option("--plot", "plot_dir", metavar="DIR",
              help="Also draw the plots (PNG and SVG) into DIR (plots of an earlier run there: only with --force).")
@click.option("--force", is_flag=True, help="Overwrite an existing -o FILE and earlier plots in the --plot DIR.")
def correlate_cmd(as_json: bool, as_jsonl: bool, as_csv: bool, output: str | None, assoc_ids: tuple[int, ...],
                  plot_dir: str | None, force: bool, **kw: Any) -> None:
    """Join what the Linux kernel believed (a `sctpcorr probe` recording) with what the wire shows (one or
    two captures), per association, path and TSN; decompose every kernel RTT sample; say where the two
    agree, disagree, and why.

    Exit status: 0 done (whatever the verdicts: see `sctpcorr validate`), 2 bad input, or an output that
    cannot be written (exists without --force, full disk).
    """
    from sctpcorr.outfile import check_new, output as _output
    from sctpcorr.report import correlate as rep

    if sum((as_json, as_jsonl, as_csv)) > 1:
        raise click.UsageError("choose one of --json, --jsonl, --csv")
    check_new(output, force)            # before the correlation, which may take minutes
    if plot_dir:
        from sctpcorr.report.plot import check_plot_dir

        check_plot_dir(plot_dir, force)
    spill = None
    if as_jsonl:     # a run read in windows hands its TSN records over as it goes: kept on disk until written
        import tempfile

        from sctpcorr.report.json import encode

        spill = tempfile.TemporaryFile("w+", encoding="utf-8")
        kw["tsn_sink"] = lambda r: spill.write(encode(r) + "\n")
    cx = _run(keep_tables=bool(plot_dir), **kw)
    if spill is not None and cx.windows > 1:
        cx.tsn_spill = spill
    with _output(output, force=force, whole=as_json) as out:
        if as_json:
            rep.write_json(cx, out)
        elif as_jsonl:
            rep.write_jsonl(cx, out)
        elif as_csv:
            rep.write_csv(cx, out)
        else:
            out.write(rep.render_text(cx, assoc_ids or None))
    if plot_dir:
        from sctpcorr.report import plot

        files = plot.draw_all(cx, plot_dir, force=True)     # checked above
        click.echo(f"sctpcorr: {len(files)} plots in {plot_dir}", err=True)


@click.command("validate", context_settings=CONTEXT, short_help="Check kernel metrics against the wire (CI gate).",
               epilog=INPUT_HELP + """\b
Exit status: 0 nothing disagrees beyond tolerance; 1 something does, or nothing at all could be
checked (a gate that checked nothing must not pass); 2 bad input.
\b
Examples:
  sctpcorr validate pcaps/lab/baseline
  sctpcorr validate --capture n2.pcapng@amf --kernel amf.jsonl@amf --tol-time-ms 2
""")
@_inputs
@click.option("--json", "as_json", is_flag=True, help="The verdicts as JSON.")
def validate_cmd(as_json: bool, **kw: Any) -> None:
    """Validate the kernel's metrics against captures: one verdict per check (agree, explained, disagree,
    not checkable) with the tolerance used, the numbers and one sentence saying why."""
    import json

    from sctpcorr.report import correlate as rep

    cx = _run(**kw)
    if as_json:
        doc = cx.as_dict()
        click.echo(json.dumps({"schema_version": doc["schema_version"], "verdict": cx.verdict,
                               "counts": rep.verdict_counts(cx), "checks": doc["checks"],
                               "clocks": doc["clocks"], "tolerances": doc["tolerances"]}, indent=1, default=int))
    else:
        click.echo(rep.render_validate(cx), nl=False)
    sys.exit(EXIT_PASS if cx.verdict not in ("disagree", "not checkable") else EXIT_FAIL)
