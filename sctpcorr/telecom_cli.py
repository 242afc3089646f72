"""``sctpcorr decode``: the deep view of selected messages (tshark's dissection); plumbing only.
The selection is sctpcorr.telecom.deep.select over the telecom layer's messages."""
from __future__ import annotations

import click

__all__ = ["decode_cmd"]


def _ue(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        a, r = value.split(":")
        return int(a), int(r)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected ASSOC:RAN_UE_ID (as `pcap --telecom` lists them, e.g. 1:3)")


@click.command("decode", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 99},
               short_help="Selected NGAP/S1AP/Diameter messages decoded in full (tshark's dissectors).")
@click.argument("capture")
@click.option("--ue", callback=_ue, metavar="ASSOC:RAN_ID", help="One UE: association id and RAN-side UE id.")
@click.option("--message", "name", metavar="NAME",
              help="Messages whose name, procedure or NAS message contains NAME (e.g. InitialContextSetup, "
                   "'Registration Accept', Update-Location).")
@click.option("--from", "t_from", type=float, metavar="S", help="From S seconds after the first packet.")
@click.option("--to", "t_to", type=float, metavar="S", help="Up to S seconds after the first packet.")
@click.option("--frame", "frames", type=int, multiple=True, metavar="N", help="Frame N (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many.")
def decode_cmd(capture: str, ue: tuple[int, int] | None, name: str | None, t_from: float | None,
               t_to: float | None, frames: tuple[int, ...], limit: int) -> None:
    """The messages you select, each with its SCTP context and tshark's full dissection: every IE, and the
    NAS inside. The selection uses the names of `sctpcorr pcap --telecom`; the decoding is Wireshark's own
    (tshark -V), slow per message and right for the few a person reads."""
    from sctpcorr.errors import SctpcorrError
    from sctpcorr.pipeline import PcapOptions, run_pcap
    from sctpcorr.sources.pcapfile import check_readable
    from sctpcorr.telecom.deep import dissect, select

    check_readable(capture)
    run = run_pcap(PcapOptions(files=(capture,), telecom=True, telecom_messages=True))
    if not run.readable:
        err = SctpcorrError("; ".join(str(e) for e in run.errors))
        err.exit_code = 2
        raise err
    t0 = run.report.get("capture", {}).get("first_ts_ns") or 0
    chosen = select(run.telecom_state.messages, t0, ue, name, t_from, t_to, set(frames) if frames else None, limit)
    if not chosen:
        click.echo("no message matches", err=True)
        raise SystemExit(1)
    try:
        text = dissect(capture, [m.frame for m in chosen])
    except FileNotFoundError:
        raise SctpcorrError("decode needs tshark (apt-get install tshark)") from None
    shown: dict[int, int] = {}
    for m in chosen:
        k = shown.get(m.frame, 0)      # bundled messages share a frame: the k-th layer is the k-th message
        shown[m.frame] = k + 1
        layers = text.get(m.frame) or []
        head = (f"frame {m.frame}  +{(m.ts_ns - t0) / 1e9:.6f} s  assoc {m.assoc} {m.direction or ''}  stream "
                f"{m.sid}  TSN {m.tsns[0]}{'' if m.tsns[0] == m.tsns[1] else '-' + str(m.tsns[1])}  "
                f"{m.proto.upper()} {m.name}" + (f" [{m.nas}]" if m.nas else "")
                + (f"  latency {m.latency_ns / 1e6:.3f} ms" if m.latency_ns is not None else "")
                + (f"  retransmitted {m.retransmissions}x" if m.retransmissions else "")
                + (f"  head-of-line wait {m.hol_wait_ns / 1e6:.3f} ms" if m.hol_wait_ns else ""))
        click.echo(head)
        click.echo("-" * min(len(head), 100))
        click.echo(layers[k] if k < len(layers) else "(tshark shows no such layer in this frame)")
        click.echo()
