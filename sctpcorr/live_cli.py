"""``sctpcorr live``: option plumbing for :mod:`sctpcorr.live` (capture loop), :mod:`sctpcorr.report.live` (view)
and :mod:`sctpcorr.report.metrics` (Prometheus)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from sctpcorr.errors import SctpcorrError
from sctpcorr.fold_options import fold_options

__all__ = ["live_cmd"]

LIVE_EXAMPLES = """\b
Examples:
  sctpcorr live -i eth0                       # one row per association, refreshed every second
  sctpcorr live -i eth0 -i eth1 -w n2.pcapng  # a multihomed host; keep every SCTP packet
  sctpcorr live -i any -w n2.pcapng -C 100    # files of ~100 MB: n2.pcapng, n2.pcapng1, ...
  sctpcorr live -i eth0 --metrics 127.0.0.1:9464 --plain > live.log   # for Prometheus
  sctpcorr live -i eth0 --duration 60 --json n2.json --events n2.jsonl
  sctpcorr live --follow /var/tmp/n2.pcap     # a capture that another tool is still writing
  sctpcorr live -i eth0 --probes --json n2.json   # the kernel's view (BPF) beside the wire's, with verdicts
"""


def _hostport(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", value
    try:
        p = int(port)
        if not 0 <= p <= 65535:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected HOST:PORT or PORT (e.g. 127.0.0.1:9464)") from None
    return (host.strip("[]") or "127.0.0.1", p)


@click.command("live", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 99},
               epilog=LIVE_EXAMPLES, short_help="Watch SCTP associations on interfaces as it happens.")
@click.option("-i", "--interface", "interfaces", multiple=True, metavar="IFACE",
              help="Capture on IFACE (repeatable for a multihomed host; 'any' = every interface).")
@click.option("--follow", metavar="FILE", help="Read a pcap/pcapng file that is still being written, as it grows.")
@click.option("-f", "--filter", "bpf_filter", default=None, metavar="EXPR",
              help="Capture filter (pcap-filter syntax), applied in the kernel. [default: SCTP, VLAN or not]")
@click.option("-w", "--write", metavar="FILE.pcapng", help="Write every captured packet to FILE (pcapng).")
@click.option("-C", "rotate_mb", type=click.FloatRange(min=0, min_open=True), metavar="MB",
              help="With -w: start a new file when the current one passes MB megabytes (FILE, FILE1, FILE2...).")
@click.option("-G", "rotate_s", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="With -w: start a new file every SECONDS.")
@click.option("--events", "events_path", metavar="FILE.jsonl", help="Write the engine's events as JSON lines.")
@click.option("--json", "json_path", metavar="FILE",
              help="At the end, write the report as one JSON document (the `sctpcorr pcap --json` schema, with a "
                   "'live' section).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS", help="Stop after SECONDS.")
@click.option("-c", "--count", type=click.IntRange(min=1), metavar="N", help="Stop after N packets.")
@click.option("--metrics", callback=_hostport, metavar="HOST:PORT",
              help="Serve Prometheus metrics on HOST:PORT (a bare PORT listens on 127.0.0.1 only).")
@click.option("--top", type=click.IntRange(min=1), default=30, show_default=True, metavar="N",
              help="Associations shown (and exported one by one to Prometheus; the rest are aggregated).")
@click.option("--sort", type=click.Choice(["packets", "rate", "rtt", "retx", "zero", "id"]), default="packets",
              show_default=True, help="Order of the associations in the view.")
@click.option("--show", "show_assoc", type=click.IntRange(min=1), metavar="ID",
              help="Drill down: one association, its paths and recent events.")
@click.option("--plain", is_flag=True, help="One line per second, even on a terminal.")
@click.option("-q", "--quiet", is_flag=True, help="No view, only the closing summary.")
@click.option("--snaplen", type=click.IntRange(min=64), default=262144, show_default=True, metavar="BYTES")
@click.option("--buffer-mb", type=click.IntRange(min=1), default=32, show_default=True, metavar="MB",
              help="Kernel capture ring per interface.")
@click.option("--promisc", is_flag=True, help="Put the interfaces in promiscuous mode.")
@fold_options("as in `sctpcorr pcap`, so that a long run's memory stays flat however many associations come "
              "and go")
@click.option("--diag", is_flag=True,
              help="The kernel's view beside the wire's: sock_diag (no BPF) once a second, each association's "
                   "state, SRTT, RTO, cwnd and counters, joined by tags and judged against the capture.")
@click.option("--diag-netns", metavar="NAME", help="Read sock_diag in this network namespace (default: live's own).")
@click.option("--probes", is_flag=True,
              help="The kernel's every decision beside the wire's: runs `sctpcorr probe` (BPF, root, from the "
                   "host's network namespace) and correlates it with the capture as it comes: per association the "
                   "kernel's SRTT, RTO, cwnd and the correlator's verdicts (TSNs, retransmissions, RTT samples, "
                   "RTO, flight, windows, states); the final --json holds the whole correlation.")
@click.option("--probe-level", type=click.Choice(["decisions", "sacks", "packets"]), default="packets",
              show_default=True,
              help="With --probes: what the probe records (`sctpcorr probe --level`). packets serves every "
                   "check; sacks leaves out the per-TSN ones (tsn_coverage, retransmissions, rtt_samples, "
                   "local_rwnd), decisions also flight and peer_rwnd; the view and --json say which were "
                   "not checkable and why.")
@click.option("--probes-jsonl", metavar="FILE",
              help="With --probes: keep the probe's recording in FILE (for `sctpcorr correlate` later).")
@click.option("--ready-file", metavar="FILE",
              help="Write FILE once capturing has started (for scripts that then start the traffic; replaced if "
                   "it exists).")
@click.option("--force", is_flag=True,
              help="Overwrite existing output files (-w and its rotated files, --json, --events, --probes-jsonl); "
                   "default: refuse them before capturing.")
def live_cmd(interfaces: tuple[str, ...], follow: str | None, bpf_filter: str | None, write: str | None,
             rotate_mb: float | None, rotate_s: float | None, events_path: str | None, json_path: str | None,
             duration: float | None, count: int | None, metrics: tuple[str, int] | None, top: int, sort: str,
             show_assoc: int | None, plain: bool, quiet: bool, snaplen: int, buffer_mb: int,
             promisc: bool, linger: float, idle_timeout: float, diag: bool, diag_netns: str | None, probes: bool, probe_level: str, probes_jsonl: str | None,
             ready_file: str | None, force: bool) -> None:
    """Capture SCTP live and show every association as it happens.

    Packets reach the same C engine as `sctpcorr pcap`, in blocks: the final --json equals `sctpcorr pcap --json`
    of the -w file. Ctrl-C or SIGTERM stops capturing, closes every file whole and prints the summary, with the
    packets the kernel dropped (ring full) and the interface dropped.

    An interface that goes down is waited for (capture resumes when it is up again) and shown as DOWN; one that
    is removed ends; when every interface has ended, so does the run.

    Exit status: 0 stopped by Ctrl-C, SIGTERM, --duration or --count; 1 every interface was removed (what was
    captured is kept); 2 an interface cannot be captured on (no such interface, not permitted), a bad file, an
    output file that exists (without --force) or could not be written whole (full disk: the -w file is kept up to
    its last whole block, and capture and analysis went on).
    """
    from sctpcorr.live import RotatingWriter
    from sctpcorr.outfile import OutputIncomplete, check_new
    from sctpcorr.outfile import output as _output
    from sctpcorr.live import KernelDiag, LiveOptions, StopFlag, open_source, pcap_options, run_live
    from sctpcorr.report import json as json_report
    from sctpcorr.report.jsonl import JsonlWriter
    from sctpcorr.report.live import LiveView, summary_lines
    from sctpcorr.sources.live import DEFAULT_FILTER

    if bool(interfaces) == bool(follow):
        raise click.UsageError("give -i IFACE (one or more) or --follow FILE")
    if follow and (write or bpf_filter):
        raise click.UsageError("--follow reads a file: -w and --filter apply to interfaces")
    if (rotate_mb or rotate_s) and not write:
        raise click.UsageError("-C and -G rotate the -w file: give -w FILE")
    opts = LiveOptions(interfaces=interfaces, follow=follow, filter=bpf_filter or DEFAULT_FILTER, write=write,
                       force=force, rotate_bytes=int((rotate_mb or 0) * 1_000_000), rotate_seconds=rotate_s or 0.0,
                       events=bool(events_path), recent_events=show_assoc is not None and not quiet,
                       duration_s=duration, count=count, snaplen=snaplen,
                       buffer_bytes=buffer_mb << 20, promisc=promisc, fold_linger_ns=int(linger * 1e9),
                       fold_idle_ns=int(idle_timeout * 1e9))
    if diag_netns and not diag:
        raise click.UsageError("--diag-netns goes with --diag")
    if diag and probes:
        raise click.UsageError("--diag or --probes: the probes' view includes what sock_diag gives")
    if probes_jsonl and not probes:
        raise click.UsageError("--probes-jsonl goes with --probes")
    # every output file refused now, not after the minutes a BPF compile may take (nor mid-capture)
    if write:
        RotatingWriter.check(write, force, rotating=bool(rotate_mb or rotate_s))
    for p in (json_path, events_path):
        check_new(p, force)
    if probes_jsonl:
        check_new(probes_jsonl, force)
        check_new(probes_jsonl + ".log", force)
    if follow and not os.path.lexists(follow):
        click.echo(f"sctpcorr live: waiting for {follow} to appear", err=True)
    kernel: Any = None
    if diag:
        kernel = KernelDiag(diag_netns)                    # no sctp_diag: fails here, before capture
    elif probes:
        from sctpcorr.live import KernelProbes

        if follow is None:
            open_source(opts).close()   # a wrong interface fails before the minutes a BPF compile may take
        kernel = KernelProbes(probes_jsonl, probe_args=("--level", probe_level),
                              say=lambda m: click.echo(m, err=True), force=force)
    try:
        source = open_source(opts)      # a wrong interface fails here, before any file is written
    except BaseException:
        if kernel is not None:
            kernel.close()
        raise
    stop = StopFlag()
    restore = stop.install()
    if ready_file:
        with open(ready_file, "w") as f:
            f.write(f"capturing on {source.label}\n")
    view = None if quiet else LiveView(tty=sys.stdout.isatty() and not plain, sort=sort, top=top,
                                       assoc=show_assoc)
    exporter = None
    try:
        if metrics is not None:
            from sctpcorr.report.metrics import MetricsServer

            exporter = MetricsServer(metrics, top=top)

        def on_tick(tick: Any) -> None:
            if view is not None:
                view.update(tick)
            if exporter is not None:
                exporter.update(tick)

        with _output(json_path, force=force, whole=True, what="--json") if json_path else _nothing() as jout, \
                _output(events_path, force=force, what="--events") if events_path else _nothing() as eout:
            ew = JsonlWriter(eout, pcap_options(opts, source.label), command="live") if eout is not None else None
            # no view and no metrics: no per-second report (it costs ~0.1 ms per association)
            result = run_live(opts, source, stop, on_events=ew.events if ew else None,
                              on_tick=on_tick if (view is not None or exporter is not None) else None,
                              kernel=kernel)
            doc = result.document
            if ew is not None:
                ew.finish(result.run)
            if jout is not None:
                json_report.write(doc, jout)
    finally:
        if view is not None:
            view.close()
        if exporter is not None:
            exporter.close()
        if kernel is not None:
            kernel.close()
        restore()
    for line in summary_lines(doc):
        click.echo(line, err=True)
    if result.writer_error:
        raise OutputIncomplete(result.writer_error)
    if result.stopped_by == "interfaces down":
        raise _AllDown("capture ended on every interface: " + "; ".join(
            f"{s.name}: {s.ended}" for s in result.interfaces) + " (what was captured is kept)")


class _AllDown(SctpcorrError):
    exit_code = 1


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

