"""The ``sctpcorr`` command line: a click group and its subcommands. Parsing and output plumbing only.

Extending: write a ``@click.command`` (here or in its own module) and register it with ``main.add_command(cmd)``
at the bottom of this file. Every command's help ends with an "Examples" epilog (bcc style).

Exit codes: 0 ok; 2 bad input (missing/unreadable/damaged capture; the readable part is still reported),
an output that cannot be written (exists without --force, full disk) and usage errors; 130 interrupted by Ctrl-C (the report of what was read is still written); 1 any other error.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

# numpy's OpenBLAS starts a pool of threads that spin while idle: on a pinned core (or a busy one) they take the
# CPU from the work.  sctpcorr does no large linear algebra; one thread (unless the user says otherwise).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import click  # noqa: E402

from sctpcorr import __version__, outfile  # noqa: E402
from sctpcorr.errors import EXIT_INTERRUPTED, EXIT_OK, SctpcorrError  # noqa: E402
from sctpcorr.fold_options import fold_options  # noqa: E402
from sctpcorr.sources.pcapfile import STDIN  # noqa: E402

__all__ = ["main", "pcap"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 99}


def _say_error(msg: str) -> None:
    click.echo(f"sctpcorr: error: {msg}", err=True)


# the output plumbing of every command: sctpcorr.outfile (no overwrite unless --force; full disks)
_Abandon = outfile.Abandon
_output = outfile.output


def _force_option(f: Any) -> Any:
    return click.option("--force", is_flag=True, help=outfile.FORCE_HELP)(f)


def _quiet_broken_pipe() -> None:
    """``sctpcorr pcap x | head``: stop quietly; point stdout at /dev/null so the interpreter's final flush is
    silent too."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


class _Group(click.Group):
    """Turns the deliberate errors of every subcommand into one line on stderr and the exit code they carry;
    BrokenPipe into a quiet exit; a second Ctrl-C into exit 130; a full disk into one line. Anything else is a
    bug: traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SctpcorrError as exc:
            _say_error(str(exc))
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            _quiet_broken_pipe()
            ctx.exit(EXIT_OK)
        except KeyboardInterrupt:
            click.echo("sctpcorr: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except OSError as exc:
            # a full disk under an output no writer handled itself (click.echo to a full stdout...): one line
            if exc.errno not in outfile.FULL_ERRNOS:
                raise
            if isinstance(exc, outfile.WriteFailed):
                err: SctpcorrError = outfile.OutputIncomplete(f"{outfile.describe(exc.filename, exc)}: the output "
                                                              "is incomplete")
            else:
                err = outfile.stdout_full(exc)
            _say_error(str(err))
            ctx.exit(err.exit_code)


@click.group(cls=_Group, context_settings=CONTEXT, epilog="""\b
Examples:
  sctpcorr pcap capture.pcapng             # per-association report of a capture
  sctpcorr pcap --json -o report.json a.pcap b.pcap.gz
  sctpcorr pcap -h                         # help of one command
""")
@click.version_option(__version__, "-V", "--version", prog_name="sctpcorr",
                      message="%(prog)s %(version)s")
def main() -> None:
    """What SCTP is really doing on the wire: associations, retransmissions, RTT per path, windows, streams.

    Analyses NGAP/S1AP/Diameter/SIGTRAN (any SCTP) captures: pcap, pcapng, gzip-compressed or not.
    """


# ---------------------------------------------------------------------------------------------------------------
# sctpcorr pcap
# ---------------------------------------------------------------------------------------------------------------
PCAP_EXAMPLES = """\b
Examples:
  sctpcorr pcap n2.pcapng                   # readable report on the terminal
  sctpcorr pcap rot0.pcap rot1.pcap rot2.pcap.gz   # rotated files = one capture, in this order
  sctpcorr pcap --port 38412 n2.pcapng      # only associations with an endpoint on port 38412 (NGAP)
  sctpcorr pcap --addr 10.0.0.0/24 --assoc 3 n2.pcapng   # kinds AND-ed, repeated options OR-ed
  sctpcorr pcap --json -o n2.json n2.pcapng # one JSON document (docs/output.md)
  sctpcorr pcap --jsonl n2.pcapng | jq -c 'select(.type=="retransmission")'
  sctpcorr pcap --csv n2.pcapng > n2.csv    # one row per association direction
  tcpdump -i eth0 -w - sctp | sctpcorr pcap -   # read a capture from standard input
"""


def _check_details(ctx: click.Context, param: click.Parameter, value: str) -> int:
    if value.strip().lower() == "all":
        return -1
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise click.BadParameter(f"{value!r}: a number of associations (0 or more) or 'all'")
    return n


def _check_addr(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    from sctpcorr.pipeline import Filters

    try:
        Filters.build(addrs=values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return values


@click.command("pcap", context_settings=CONTEXT, epilog=PCAP_EXAMPLES,
               short_help="Analyse SCTP in pcap/pcapng capture files.")
@click.argument("files", nargs=-1, required=True, metavar="CAPTURE...")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of the text report.")
@click.option("--jsonl", "as_jsonl", is_flag=True,
              help="JSON lines: a startup record, one record per event (RTT sample, retransmission, SACK, "
                   "window, state change...), one per association, then a summary record.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per association direction.")
@click.option("-o", "--output", metavar="FILE",
              help="Write the report to FILE (atomically: a temporary file renamed when done; an existing FILE "
                   "only with --force).")
@_force_option
@click.option("--assoc", "assoc_ids", type=click.IntRange(min=1), multiple=True, metavar="ID",
              help="Only association ID (as numbered in the report). Repeatable.")
@click.option("--port", "ports", type=click.IntRange(0, 65535), multiple=True, metavar="PORT",
              help="Only associations with an endpoint on PORT. Repeatable.")
@click.option("--addr", "addrs", multiple=True, metavar="ADDR[/LEN]", callback=_check_addr,
              help="Only associations with an endpoint address ADDR (or in prefix ADDR/LEN). Repeatable.")
@click.option("--streams", "max_streams", type=click.IntRange(min=0), default=10, show_default=True,
              metavar="N", help="Text report: show the N busiest streams per direction (0 = all).")
@click.option("--details", "details", default="5", show_default=True, metavar="N|all", callback=_check_details,
              help="Text report: after the overview (one line per association, the ones that need a look "
                   "first), the details of the first N (all: every association; --assoc: the ones picked).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr. Default: on a terminal, for inputs over 20 MB or runs over 2 s.")
@click.option("--dup-window-ms", type=click.FloatRange(min=0), default=5.0, show_default=True, metavar="MS",
              help="A frame repeating an SCTP datagram seen at most MS earlier is a duplicate capture "
                   "(tcpdump -i any), not a retransmission.")
@click.option("--max-assocs", type=click.IntRange(min=1), default=1_000_000, show_default=True, metavar="N",
              help="Associations held in memory at once (ended ones that were folded do not count); beyond it "
                   "new associations are counted as dropped.")
@fold_options("folded into a temporary file, read back for the report")
@click.option("--max-outstanding", type=click.IntRange(min=1), default=65536, show_default=True, metavar="N",
              help="Unacknowledged TSNs tracked per direction; beyond it the oldest are evicted (counted).")
@click.option("--telecom", is_flag=True,
              help="Name every user message (NGAP, S1AP, X2AP, XnAP, Diameter, M3UA; by PPID or port): "
                   "procedure latency, failures by cause, per-UE registration/attach timelines with their SCTP "
                   "context, Diameter by command and result (docs/telecom.md). With --jsonl: one 'message' "
                   "record per message.")
def pcap(files: tuple[str, ...], as_json: bool, as_jsonl: bool, as_csv: bool, output: str | None, force: bool,
         assoc_ids: tuple[int, ...], ports: tuple[int, ...], addrs: tuple[str, ...], max_streams: int,
         details: int, progress: bool | None, dup_window_ms: float, max_assocs: int, linger: float,
         idle_timeout: float, max_outstanding: int, telecom: bool) -> None:
    """Analyse SCTP in one or more capture files (pcap/pcapng, gzip or not; '-' = stdin).

    Several files are analysed as one capture, in the order given (rotated tcpdump files). Filters select
    associations and their events; the capture totals always cover all traffic. Output fields: docs/output.md.

    Exit status: 0 ok; 2 a file is missing, is not a capture, or is damaged (what was readable is still
    reported), or the output cannot be written (FILE exists without --force; full disk: docs/output.md);
    130 interrupted by Ctrl-C (the report of what was read is still written).
    """
    from sctpcorr.pipeline import Filters, PcapOptions, run_pcap
    from sctpcorr.report import csv as csv_report
    from sctpcorr.report import json as json_report
    from sctpcorr.report import text as text_report
    from sctpcorr.report.jsonl import JsonlWriter
    from sctpcorr.report.progress import ProgressBar

    if sum((as_json, as_jsonl, as_csv)) > 1:
        raise click.UsageError("choose one of --json, --jsonl, --csv")
    if files.count(STDIN) > 1:
        raise click.UsageError("standard input ('-') can be read only once")
    opts = PcapOptions(
        files=files,
        filters=Filters.build(assoc_ids, ports, addrs),
        events=as_jsonl,
        dup_window_ns=int(dup_window_ms * 1_000_000),
        max_assocs=max_assocs,
        max_outstanding=max_outstanding,
        fold_linger_ns=int(linger * 1e9),
        fold_idle_ns=int(idle_timeout * 1e9),
        telecom=telecom,
    )
    sizes: list[int | None] = []
    for f in files:
        try:
            sizes.append(None if f == STDIN else os.stat(f).st_size)
        except OSError:
            sizes.append(None)  # run_pcap reports it
    to_terminal = output in (None, "-") and sys.stdout.isatty()
    bar = ProgressBar(sizes, force=False if (as_jsonl and to_terminal) else progress)

    with _output(output, force=force, whole=as_json) as out:
        writer = JsonlWriter(out, opts) if as_jsonl else None
        run = run_pcap(opts, on_events=writer.events if writer else None,
                       on_event_lines=writer.event_lines if writer else None, progress=bar)
        if not run.readable and not run.interrupted:
            for err in run.errors:
                _say_error(str(err))
            raise _Abandon  # no capture at all: the errors say everything, no empty report
        if writer is not None:
            writer.finish(run)
        elif as_json:
            json_report.write_run(run, out)
        elif as_csv:
            csv_report.write_run(run, out)
        elif run.analyzer is not None and not opts.filters.active:
            # the overview from the engine's summary; only the associations shown in detail made in full
            from sctpcorr.pipeline import build_document

            text_report.write_run(out, build_document(run, associations=False), run.analyzer,
                                  max_streams=max_streams, details=details)
        else:
            out.write(text_report.render(run.document, max_streams=max_streams, details=details))
    if run.readable or run.interrupted:
        for err in run.errors:
            _say_error(str(err))
    if run.interrupted:
        packets = (run.analyzer.capture_summary() if run.analyzer is not None else {}).get("packets", 0)
        click.echo(f"sctpcorr: interrupted: the report covers the first {packets} packets", err=True)
    if run.exit_code:
        sys.exit(run.exit_code)


main.add_command(pcap)


def _register_optional() -> None:
    # lab and probe live in their own packages; they import nothing heavy (no bcc, no qemu) at import time.
    from sctpcorr.compare_cli import compare_cmd
    from sctpcorr.telecom_cli import decode_cmd
    from sctpcorr.correlate_cli import correlate_cmd, validate_cmd
    from sctpcorr.kernel.cli import probe
    from sctpcorr.lab.cli import lab
    from sctpcorr.live_cli import live_cmd

    main.add_command(lab)
    main.add_command(probe)
    main.add_command(correlate_cmd)
    main.add_command(validate_cmd)
    main.add_command(live_cmd)
    main.add_command(compare_cmd)
    main.add_command(decode_cmd)


_register_optional()

if __name__ == "__main__":  # python -m sctpcorr.cli
    main()
