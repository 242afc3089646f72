"""`sctpcorr lab`: run real SCTP scenarios in a guest kernel, list scenarios, show what a bundle holds.

Wired into the main CLI with ``main.add_command(lab)``; runnable alone as ``python -m sctpcorr.lab.cli``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sctpcorr.lab import bundle as bdl
from sctpcorr.lab import scenario as scn

EXIT_INPUT = 1
EXIT_UNAVAILABLE = 3   # the lab cannot run here (prerequisites)
EXIT_INCOMPLETE = 4    # the run finished but a bundle is incomplete
EXIT_INVALID = 5       # every bundle is complete, but the kernel's view and the wire's disagree in one of them
VALIDATION = "validation.json"


def validate_bundle(b: Path, write: bool = False) -> dict | None:
    """``sctpcorr validate`` on one bundle (None when it has no kernel recording): the verdicts, with ``write``
    also into the bundle's validation.json."""
    from sctpcorr import correlate_io
    from sctpcorr.errors import SctpcorrError
    from sctpcorr.report.correlate import verdict_counts

    if not bdl.find_file(b / "kernel", "probe.jsonl").exists():
        return None
    try:
        cx, _inp = correlate_io.run(bundles=[str(b)])
    except SctpcorrError as e:
        return {"verdict": "error", "error": str(e), "checks": []}
    doc = cx.as_dict()
    out = {"schema_version": doc["schema_version"], "verdict": cx.verdict, "counts": verdict_counts(cx),
           "checks": doc["checks"], "clocks": doc["clocks"]}
    if write:
        try:
            (b / VALIDATION).write_text(json.dumps(out, indent=1, default=int) + "\n")
        except OSError:
            pass
    return out


def _verdict_line(v: dict) -> str:
    if v.get("verdict") == "error":
        return f"validate: ERROR {v.get('error')}"
    ok = v["verdict"] not in ("disagree", "not checkable")
    return (f"validate: {'PASS' if ok else 'FAIL'} ({', '.join(f'{n} {k}' for k, n in v['counts'].items() if n)})")


@click.group(epilog="""\b
Examples:
  sctpcorr lab list
  sudo sctpcorr lab run baseline --out runs/baseline
  sudo sctpcorr lab run baseline lossy failover --out runs/group
  sctpcorr lab show runs/baseline
""")
def lab() -> None:
    """Real SCTP on a real Linux kernel: a guest with two-path networking, netem, captures on both sides."""


@lab.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_cmd(as_json: bool) -> None:
    """List the shipped scenarios (copy one and edit it to make your own)."""
    rows = []
    for name, path in sorted(scn.shipped().items()):
        try:
            sc = scn.load_file(path)
            rows.append({"name": name, "description": sc["description"], "duration_s": sc["duration_s"],
                         "file": str(path)})
        except scn.ScenarioError as e:
            rows.append({"name": name, "description": f"INVALID: {e}", "duration_s": None, "file": str(path)})
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    click.echo(f"{'SCENARIO':<14} {'MAX_S':>5}  DESCRIPTION")
    for r in rows:
        click.echo(f"{r['name']:<14} {r['duration_s'] or '-':>5}  {r['description']}")
    if rows:
        click.echo(f"\nfiles: {Path(rows[0]['file']).parent}")


def check_out_dir(out: str, names: list[str], force: bool) -> None:
    """``--out DIR`` must not hold an earlier run's bundle (its logs would be appended to): refused unless
    ``force``, which removes the earlier run's files (bundle.BUNDLE_ENTRIES) from DIR and the scenarios'
    subdirectories, and nothing else."""
    from sctpcorr.outfile import OutputExists

    dirs = [Path(out)] + ([Path(out) / n for n in names] if len(names) > 1 else [])
    for d in dirs:
        old = bdl.earlier_run(d)
        if old and not force:
            raise OutputExists(str(d), what=f"holds an earlier run ({', '.join(old[:3])}"
                                            + (", ...)" if len(old) > 3 else ")"))
    if force:
        for d in dirs:
            bdl.clear(d)


@lab.command("run", epilog="""\b
One scenario: DIR is its bundle. Several: DIR/<scenario>/ each, one boot for all.
With --probe each bundle is validated at the end (sctpcorr validate; verdicts in validation.json).
Exit codes: 0 all complete (and valid), 1 bad scenario, 3 lab unavailable (prints what to install),
4 a run was incomplete (interrupted, timed out, or the workload failed), 5 complete, but the
kernel's view and the wire's disagree in a bundle.
""")
@click.argument("scenarios", nargs=-1, required=True)
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False),
              help="Bundle directory (one holding an earlier run's bundle: only with --force).")
@click.option("--force", is_flag=True, help="Replace the bundle(s) of an earlier run in DIR (their files are removed "
                                            "first; other files stay).")
@click.option("--timeout", type=float, default=None, help="Kill the guest after this many seconds.")
@click.option("--memory", default="2G", show_default=True, help="Guest memory.")
@click.option("--cpus", type=int, default=None, help="Guest CPUs (default: the host's).")
@click.option("--verbose", "-v", is_flag=True, help="Echo the guest console.")
@click.option("--probe", "with_probe", is_flag=True,
              help="Also record the kernel's view: `sctpcorr probe` (BPF) runs in the guest during each scenario, "
                   "into DIR/kernel/probe.jsonl (BCC compiles first: several minutes per scenario under TCG).")
@click.option("--probe-cmd", default=None, hidden=True,
              help="Probe recorder argv (shell words) run in the guest's root netns; {out} = bundle/kernel.")
@click.option("--crash-after", type=float, default=None, hidden=True,
              help="Testing aid: panic the guest this many seconds into the first workload.")
def run_cmd(scenarios: tuple[str, ...], out: str, timeout: float | None, memory: str, cpus: int | None,
            verbose: bool, with_probe: bool, probe_cmd: str | None, crash_after: float | None,
            force: bool) -> None:
    """Boot the lab kernel once and run SCENARIOS (shipped names or .toml files) into DIR."""
    import shlex

    from sctpcorr.lab import runner

    try:
        loaded = [scn.load(s) for s in scenarios]
    except scn.ScenarioError as e:
        raise click.ClickException(str(e)) from None
    check_out_dir(out, [s["name"] for s in loaded], force)
    pr = runner.check_prerequisites()
    if not pr.ok:
        click.echo(pr.message(), err=True)
        sys.exit(EXIT_UNAVAILABLE)
    assert pr.kernel is not None
    click.echo(f"lab: kernel {pr.kernel[0]} (TCG, slow); scenarios {', '.join(s['name'] for s in loaded)} "
               f"-> {out}  Ctrl-C to stop", err=True)
    probe_argv = shlex.split(probe_cmd) if probe_cmd else None
    if with_probe and not probe_argv:
        probe_argv = [sys.executable, "-m", "sctpcorr.kernel.cli", "--jsonl", "{out}/probe.jsonl", "--force",
                      "--ready-file", "{ready}", "-q", "--level", "packets"]
    try:
        res = runner.run_group(loaded, out, timeout_s=timeout, memory=memory, cpus=cpus,
                               crash_after_s=crash_after, echo_console=verbose, probe_command=probe_argv)
    except runner.BundleUnwritable as e:
        click.echo(f"sctpcorr lab: {e}", err=True)
        sys.exit(EXIT_INCOMPLETE)
    except runner.LabError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_UNAVAILABLE)
    incomplete = 0
    for b in res.bundles:
        m = bdl.read_manifest(b)
        t = (m.get("times") or {}).get("duration_s")
        state = "complete" if m.get("complete") else "INCOMPLETE"
        why = ""
        if not m.get("complete"):
            incomplete += 1
            why = (m.get("interrupted") or {}).get("reason") or m.get("error") or f"phase {m.get('phase')}"
            why = f" ({why})"
        click.echo(f"{b}: {state}{why}" + (f", {t} s" if t else ""))
    click.echo(f"guest run took {res.elapsed_s:.1f} s; console: {res.console}", err=True)
    if res.disk_error:
        click.echo(f"sctpcorr lab: {res.disk_error}: the bundle is incomplete (what was written reads whole)",
                   err=True)
        sys.exit(EXIT_INCOMPLETE)
    if res.reason and res.reason.startswith("interrupted"):
        sys.exit(130)
    invalid = 0
    if with_probe or probe_argv:
        # the kernel's view against the captures, per bundle (sctpcorr validate; verdicts in validation.json)
        for b in res.bundles:
            if not bdl.read_manifest(b).get("complete"):
                continue
            v = validate_bundle(Path(b), write=True)
            if v is not None:
                click.echo(f"{b}: {_verdict_line(v)}")
                for c in v["checks"]:
                    if c["verdict"] == "disagree":
                        click.echo(f"  DISAGREE {c['check']} {c.get('assoc') or ''} {c.get('direction') or ''}: "
                                   f"{c['sentence']}")
                invalid += v["verdict"] in ("disagree", "not checkable", "error")
    sys.exit(EXIT_INCOMPLETE if incomplete else EXIT_INVALID if invalid else 0)


def _fmt_ns(ns: int | None) -> str:
    if ns is None:
        return "-"
    import datetime
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _netem_text(d: dict) -> str:
    return ", ".join(f"{k[:-3] if k.endswith(('_ms', '_pct')) else k}={v:g}"
                     + ("ms" if k.endswith("_ms") else "%" if k.endswith("_pct") else "")
                     for k, v in d.items()) or "none"


@lab.command("show")
@click.argument("bundle_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--verdicts/--no-verdicts", default=True, show_default=True,
              help="With a kernel recording: the correlator's verdicts (sctpcorr validate).")
def show_cmd(bundle_dir: str, as_json: bool, verdicts: bool) -> None:
    """What a bundle (or each bundle of a group directory) holds, and whether its kernel recording agrees with
    its captures."""
    bundles = bdl.find_bundles(bundle_dir)
    if not bundles:
        raise click.ClickException(f"{bundle_dir}: no manifest.json (not a lab bundle)")
    sums = [bdl.summary(b) for b in bundles]
    if as_json:
        if verdicts:
            for s in sums:
                v = validate_bundle(Path(s["bundle"]))
                if v is not None:
                    s["validation"] = {"verdict": v["verdict"], "counts": v.get("counts"), "checks": v["checks"]}
        click.echo(json.dumps(sums if len(sums) > 1 else sums[0], indent=1))
        return
    for s in sums:
        click.echo(f"bundle   {s['bundle']}")
        click.echo(f"scenario {s['scenario']}   complete: {'yes' if s['complete'] else 'NO'}   "
                   f"phase: {s['phase']}")
        if s["interrupted"]:
            click.echo(f"stopped  {s['interrupted'].get('reason')} (in phase {s['interrupted'].get('phase')})")
        click.echo(f"kernel   {s['kernel'] or '-'}   HZ {s['hz'] or '-'}")
        t = s["times"] or {}
        click.echo(f"time     {_fmt_ns(t.get('start_real_ns'))} .. {_fmt_ns(t.get('end_real_ns'))}"
                   + (f"  ({t['duration_s']} s)" if t.get("duration_s") else ""))
        for p, dirs in (s["netem"] or {}).items():
            hosts = "".join(f"; {d} {_netem_text(dirs[d])}" for d in ("client_egress", "server_egress")
                            if dirs.get(d))
            click.echo(f"netem    {p}: c2s {_netem_text(dirs.get('c2s', {}))}; s2c {_netem_text(dirs.get('s2c', {}))}"
                       + hosts)
        for role, c in s["captures"].items():
            span = ((c["last_ts_ns"] - c["first_ts_ns"]) / 1e9 if c.get("first_ts_ns") is not None
                    and c.get("last_ts_ns") is not None else 0)
            extra = " TRUNCATED TAIL" if c.get("truncated_tail") else ""
            extra += f" ERROR {c['error']}" if c.get("error") else ""
            click.echo(f"capture  {role:<6} {c['file']:<15} {c['packets']:>6} packets {c['bytes']:>9} bytes "
                       f"{span:7.2f} s  if={','.join(str(i) for i in c['interfaces']) or '-'}{extra}")
        for role, w in s["workload"].items():
            click.echo(f"workload {role:<6} sent {w['sent']:>5}  received {w['received']:>5}  "
                       f"path changes {w['paddr_changes']}  errors {w['errors']}"
                       + ("" if w["ended"] else "  (no end record)")
                       + (f"  {w['bad_lines']} bad lines" if w["bad_lines"] else ""))
        for role, n in s["snapshots"].items():
            click.echo(f"kernel   {role:<6} {n['records']} snapshots (/proc/net/sctp, sock_diag)")
        v = validate_bundle(Path(s["bundle"])) if verdicts else None
        if v is not None:
            click.echo(f"verdicts {_verdict_line(v)}")
            for c in v["checks"]:
                where = f"{c.get('assoc') or ''} {c.get('direction') or ''}".strip() or "all"
                click.echo(f"         {c['verdict']:<14} {c['check']:<16} {where:<6} "
                           f"{c['sentence'][:52] + ('...' if len(c['sentence']) > 52 else '')}")
        click.echo(f"files    {len(s['files'])}: {', '.join(s['files'][:12])}{' ...' if len(s['files']) > 12 else ''}")
        click.echo("")


if __name__ == "__main__":
    lab()
