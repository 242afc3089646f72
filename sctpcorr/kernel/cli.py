"""`sctpcorr probe`: the click command (option parsing only; the session is sctpcorr.kernel.run).

Wire it into the main group with ``main.add_command(probe)``; runnable alone as ``python -m sctpcorr.kernel.cli``.
Exit codes: 0 ok (also when stopped by Ctrl-C or --duration), 1 error, 2 usage, 3 probes unavailable here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import sys
from typing import IO

import click

from sctpcorr import outfile
from sctpcorr.errors import OutputUnwritable
from sctpcorr.kernel.loader import RINGBUF_PAGES

__all__ = ["probe"]


def _vtag(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        v = int(value, 0)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number (decimal or 0x-hex)") from None
    if not 0 <= v <= 0xFFFFFFFF:
        raise click.BadParameter("a verification tag is a 32-bit unsigned number")
    return v


def _addr(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IPv4 or IPv6 address") from None


@click.command("probe", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 99},
               epilog="""\b
Examples:
  sudo sctpcorr probe                               # live view of kernel decisions
  sudo sctpcorr probe --jsonl k.jsonl --duration 60 # record one minute
  sudo sctpcorr probe --port 38412 --summary 2      # NGAP associations, summary every 2 s
  sudo sctpcorr probe --source diag --netns srv     # no BPF: sock_diag sctp_info every second
  sudo sctpcorr probe --with-diag --netns cli --jsonl both.jsonl
  sctpcorr probe --list-probes                      # what can attach here, and why not
  sctpcorr probe --replay k.jsonl --summary 5       # read a recording back (no root)
\b
Exit codes: 0 ok (also Ctrl-C / --duration), 1 error (a full disk: the recording is kept up to
its last complete record), 2 usage (also: the --jsonl file exists, without --force), 3 unavailable
(not root, BCC or headers missing, SCTP not loaded, no probe can attach).
""")
@click.option("--source", type=click.Choice(["bpf", "diag"]), default="bpf", show_default=True,
              help="bpf: kernel probes (BCC); diag: poll sock_diag's struct sctp_info, no BPF needed.")
@click.option("--jsonl", "jsonl", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Record every event to this JSONL file (fields: docs/probe.md); an existing file only with "
                   "--force.")
@click.option("--force", is_flag=True, help="Overwrite existing --jsonl and --raw files (also the file SIGHUP "
                                            "starts anew at the same path).")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
@click.option("--interval", type=float, default=1.0, show_default=True,
              help="sock_diag poll interval (--source diag, --with-diag), --pid refresh.")
@click.option("--summary", "summary", type=float, default=None, metavar="SECONDS",
              help="Print a per-association summary every SECONDS instead of events.")
@click.option("--show", default=None, metavar="TYPES",
              help="Event types in the live view, comma-separated, or 'all' (the JSONL gets every type).")
@click.option("-q", "--quiet", is_flag=True, help="No live view (with --jsonl).")
@click.option("-w", "--wide", is_flag=True, help="Wide lines (vtags, no 80-column cut).")
@click.option("--pid", type=int, default=None, help="Only associations of sockets this process holds.")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Only associations with this port.")
@click.option("--assoc", "vtag", callback=_vtag, default=None, metavar="VTAG",
              help="Only the association with this verification tag (either side's).")
@click.option("--addr", callback=_addr, default=None, help="Only associations with this peer address.")
@click.option("--netns", multiple=True, metavar="NAME",
              help="sock_diag in this network namespace (/run/netns/NAME or a path); repeatable.")
@click.option("--with-diag", is_flag=True, help="With --source bpf: also record sock_diag every --interval.")
@click.option("--level", type=click.Choice(["decisions", "sacks", "packets"]), default=None,
              help="What to record, cheapest first: decisions (RTT samples, cwnd reductions, retransmission "
                   "marks, T3, heartbeats, path and association state; no per-packet hook), sacks (adds the "
                   "per-SACK tracepoints: peer rwnd, flight, per-path cwnd), packets (adds every packet sent, "
                   "with its TSNs: what per-TSN correlation needs).  Default: decisions; sacks with --summary; "
                   "packets when --show asks for per-packet types.")
@click.option("--hooks", type=click.Choice(["auto", "kprobe"]), default="auto", show_default=True,
              help="auto: BPF trampolines (fentry/fexit) where the running kernel allows them, kprobes elsewhere; "
                   "kprobe: kprobes only (--list-probes shows which hook each probe takes).")
@click.option("--probes", "only", default=None, metavar="NAMES",
              help="Only these probes (comma-separated; instead of --level).")
@click.option("--no-probe", "exclude", multiple=True, metavar="NAME", help="Leave this probe out; repeatable.")
@click.option("--replay", "replay_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Show a recording (an earlier --jsonl) through the live view or --summary; no root needed.")
@click.option("--list-probes", is_flag=True, help="List the probes, whether each can run here, and exit.")
@click.option("--ready-file", type=click.Path(dir_okay=False), default=None,
              help="Write this file once the probes are attached (for scripts that must wait).")
@click.option("--ringbuf-pages", type=int, default=RINGBUF_PAGES, show_default=True, hidden=True)
@click.option("--dump-bpf", is_flag=True, hidden=True, help="Print the BPF C and the cflags, then exit.")
@click.option("--clock-interval", type=float, default=10.0, hidden=True,
              help="Seconds between clock records (offsets and running loss counters).")
@click.option("--flush-interval", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="Write the --jsonl file through at least every SECONDS (for a reader that follows it, as "
                   "`sctpcorr live --probes` does); 0: whenever its 64 KiB buffer fills.")
@click.option("--toggle-signals", is_flag=True, hidden=True,
              help="SIGUSR1 detaches every probe, SIGUSR2 attaches them again (overhead benchmarks).")
@click.option("--raw", "raw", type=click.Path(dir_okay=False), default=None, hidden=True,
              help="Also write every ring-buffer record as <u32 little-endian length><bytes> (fixtures).")
@click.option("--backlog-mb", type=click.IntRange(1, 1 << 20), default=512, show_default=True,
              help="Events drained from the kernel but not yet decoded, at most (a decoder at nice 19 catches "
                   "up after a burst); beyond this they are dropped and counted.")
@click.option("--defer-decode", is_flag=True,
              help="Only drain the kernel's ring while recording; decode and write the JSONL when it stops "
                   "(bulk loads: no decoder competing for CPU; the backlog is bounded by --backlog-mb).")
def probe(source: str, jsonl: str | None, duration: float | None, interval: float, summary: float | None,
          show: str | None, quiet: bool, wide: bool, pid: int | None, port: int | None, vtag: int | None,
          addr: str | None, netns: tuple[str, ...], with_diag: bool, level: str | None, hooks: str, only: str | None,
          exclude: tuple[str, ...],
          list_probes: bool, ready_file: str | None, ringbuf_pages: int, dump_bpf: bool, clock_interval: float, toggle_signals: bool,
          raw: str | None, backlog_mb: int, replay_file: str | None, defer_decode: bool,
          flush_interval: float, force: bool) -> None:
    """Record what the Linux SCTP stack believes: RTT samples, SRTT/RTO, cwnd, retransmissions and their
    reason, T3 expiries, heartbeats, path and association state, windows; every event tagged with the
    association's verification tags and ports."""
    from sctpcorr.kernel import run as r
    from sctpcorr.kernel import view

    def echo(s: str) -> None:
        click.echo(s)

    def warn(s: str) -> None:
        click.echo(f"sctpcorr: warning: {s}", err=True)

    if list_probes:
        sys.exit(r.list_probes(echo))
    if level is not None and only:
        raise click.UsageError("--level or --probes, not both (--probes names the probes itself)")
    show_types = tuple(s for s in show.split(",") if s) if show else view.DEFAULT_SHOW
    if level is None and not only:
        level = r.default_level(summary is not None, show_types)
    cfg = r.Config(source=source, duration_s=duration, interval_s=interval, summary_s=summary, quiet=quiet,
                   wide=wide, pid=pid, port=port, vtag=vtag, addr=addr, netns=list(netns), with_diag=with_diag,
                   level=level, hooks=hooks, only=[s for s in only.split(",") if s] if only else None, exclude=list(exclude),
                   ready_file=ready_file, ringbuf_pages=ringbuf_pages, toggle_signals=toggle_signals,
                   clock_every_s=clock_interval, backlog_mb=backlog_mb, defer_decode=defer_decode,
                   flush_every_s=flush_interval, force=force,
                   show=show_types)
    if replay_file:
        try:
            sys.exit(r.replay(cfg, replay_file, echo, warn))
        except (r.ProbeUnavailable, r.RecordingError) as e:
            click.echo(f"sctpcorr: error: {e}", err=True)
            sys.exit(2)
    if dump_bpf:
        from sctpcorr.kernel import loader

        chosen, _missing = r.plan(cfg)
        from sctpcorr.kernel.probes import PROBES

        excl = [p for p in PROBES if p not in chosen]
        flags = loader.cflags_for(excl, loader.Filters(port=port, vtag=vtag, addr=addr,
                                                       inodes=set() if pid is not None else None), ringbuf_pages)
        click.echo(f"// cflags: {' '.join(flags)}")
        click.echo(loader.bpf_source())
        return
    try:
        for p in (jsonl, raw):          # refused before the BPF compile, not after
            outfile.check_new(p, force)
        with contextlib.ExitStack() as stack:
            if jsonl:
                cfg.jsonl = outfile.open_text(jsonl, force)
                cfg.jsonl_path = jsonl
                # SIGHUP reopens it (a new file each time): close whichever is open at the end
                stack.callback(lambda: _close_recording(cfg.jsonl))
            if raw:
                cfg.raw = outfile.open_binary(raw, force)      # unbuffered: Pump writes whole drains
                stack.callback(cfg.raw.close)
            code = r.run(cfg, echo, warn)
    except (r.ProbeUnavailable, r.RecordingError) as e:
        click.echo(f"sctpcorr: error: {e}", err=True)
        sys.exit(e.exit_code)
    except OutputUnwritable as e:
        click.echo(f"sctpcorr: error: {e}", err=True)
        sys.exit(2)
    except outfile.WriteFailed as e:     # the startup or end record (written outside the decoder)
        click.echo(f"sctpcorr: error: {outfile.describe(str(e.filename), e)}: the recording stopped there; the "
                   "file holds what was written until then, up to its last complete record", err=True)
        sys.exit(r.RecordingError.exit_code)
    except OSError as e:
        click.echo(f"sctpcorr: error: {e}", err=True)
        sys.exit(1)
    sys.exit(code)


def _close_recording(f: IO[str] | None) -> None:
    """Close the recording; if a write failed (full disk), cut it after its last complete line, so that every
    line of the file is a whole record.  Raises nothing: the failure itself was reported by the run."""
    if f is None:
        return
    if outfile.close_quietly(f) is not None:
        path = getattr(getattr(getattr(f, "buffer", None), "raw", None), "name", None)
        if isinstance(path, str):
            with contextlib.suppress(OSError):
                outfile.cut_to_last_line(path)


if __name__ == "__main__":
    probe()
