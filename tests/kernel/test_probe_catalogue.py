"""The probe catalogue's can_run() reasons, from kallsyms text (the Debian 6.1 lines are real, from sctp.ko)."""
from __future__ import annotations

import re

import pytest

from sctpcorr.kernel import probes
from sctpcorr.kernel.loader import bpf_source, cflags_for, Filters

# /proc/kallsyms lines of a Debian 6.1 guest with sctp loaded (addresses shortened), plus a clone case
KALLSYMS_61 = """\
ffffffffc0a00000 T sctp_transport_update_rto\t[sctp]
ffffffffc0a00010 T sctp_transport_raise_cwnd\t[sctp]
ffffffffc0a00020 T sctp_transport_lower_cwnd\t[sctp]
ffffffffc0a00030 T sctp_retransmit\t[sctp]
ffffffffc0a00040 T sctp_generate_t3_rtx_event\t[sctp]
ffffffffc0a00050 T sctp_make_heartbeat\t[sctp]
ffffffffc0a00060 T sctp_sf_backbeat_8_3\t[sctp]
ffffffffc0a00068 t sctp_sf_backbeat_8_3.cold\t[sctp]
ffffffffc0a00070 T sctp_assoc_control_transport\t[sctp]
ffffffffc0a00080 T sctp_do_sm\t[sctp]
ffffffffc0a00090 T sctp_ulpevent_make_assoc_change\t[sctp]
ffffffffc0a000a0 T sctp_association_free\t[sctp]
ffffffffc0a000b0 T sctp_packet_transmit\t[sctp]
ffffffffc0a000c0 t sctp_do_8_2_transport_strike.constprop.0\t[sctp]
ffffffffc0a000d0 d __tracepoint_sctp_probe\t[sctp]
ffffffffc0a000e0 d __tracepoint_sctp_probe_path\t[sctp]
"""


def test_every_probe_can_run_on_the_61_symbol_table():
    env = probes.KernelEnv(kallsyms=KALLSYMS_61, blacklist="")
    for p in probes.PROBES:
        assert p.can_run(env) == (True, ""), p.name


def test_reasons_name_the_missing_symbol_clone_tracepoint_and_blacklist():
    text = KALLSYMS_61.replace("T sctp_packet_transmit\t", "T sctp_packet_transmit_xx\t")
    text = text.replace("d __tracepoint_sctp_probe_path", "d __tracepoint_other")
    text += "ffffffffc0a000f0 t sctp_retransmit_mark.isra.0\t[sctp]\n"
    env = probes.KernelEnv(kallsyms=text, blacklist="0xffffffffc0a000a0-0xffffffffc0a000b0\tsctp_association_free\n")
    by = {p.name: p.can_run(env) for p in probes.PROBES}
    assert by["egress"] == (False, "symbol sctp_packet_transmit not found in /proc/kallsyms (inlined or not "
                                   "built in this kernel)")
    assert by["sctp_probe_path"][0] is False and "sctp:sctp_probe_path" in by["sctp_probe_path"][1]
    assert by["assoc_change"] == (False, "sctp_association_free is on the kprobe blacklist")
    assert env.symbol_status("sctp_retransmit_mark") == "clone"
    assert env.symbol_status("sctp_do_8_2_transport_strike") == "clone"
    clone = probes.Probe("strike", "X", (probes.Attachment("kprobe", "sctp_do_8_2_transport_strike", "kp_x"),),
                         ("x",), "x")
    ok, why = clone.can_run(env)
    assert not ok and "sctp_do_8_2_transport_strike.constprop.0" in why
    assert by["rto_update"] == (True, "")


def test_catalogue_matches_the_bpf_source():
    """Every attached function exists in sctpcorr.bpf.c inside its own #ifndef SCTPCORR_NO_<define> block,
    and every probe function of the source is in the catalogue."""
    src = bpf_source()
    blocks = dict(re.findall(r"#ifndef SCTPCORR_NO_(\w+)\n(.*?)#endif", src, re.S))
    attached = set()
    for p in probes.PROBES:
        assert p.define in blocks, p.define
        for a in p.attachments:
            attached.add(a.fn)
            assert re.search(rf"^int {a.fn}\(", blocks[p.define], re.M), (p.name, a.fn)
    in_source = set(re.findall(r"^int ((?:kp|krp|rtp)_\w+)\(", src, re.M))
    assert in_source == attached
    # each kprobe program has its trampoline twin (fe_/fx_) in the same block, unless the function cannot take one
    tramp = {a.trampoline_fn for p in probes.PROBES for a in p.attachments if a.trampoline_fn}
    for p in probes.PROBES:
        for a in p.attachments:
            if a.trampoline_fn:
                assert re.search(rf"^int {a.trampoline_fn}\(u64 \*ctx\)", blocks[p.define], re.M), a
    assert set(re.findall(r"^int ((?:fe|fx)_\w+)\(", src, re.M)) == tramp
    assert {a.fn for p in probes.PROBES for a in p.attachments if a.kind != "raw_tracepoint"
            and not a.trampoline_fn} == {"kp_assoc_change", "kp_backbeat"}


def test_select_and_unknown_names():
    assert [p.name for p in probes.select(["egress", "rto_update"])] == ["rto_update", "egress"]
    assert "egress" not in [p.name for p in probes.select(None, ["egress"])]
    with pytest.raises(ValueError, match="unknown probe 'nope'"):
        probes.select(["nope"])


def test_cflags_for_filters():
    excluded = [p for p in probes.PROBES if p.name == "assoc_change"]
    f = cflags_for(excluded, Filters(port=38412, vtag=0xDEADBEEF, addr="198.19.1.1", inodes=set()), 128)
    assert "-DSCTPCORR_NO_ASSOC_CHANGE" in f and "-DSCTPCORR_RINGBUF_PAGES=128" in f
    assert "-DSCTPCORR_FILTER_PORT=38412" in f and f"-DSCTPCORR_FILTER_VTAG={0xDEADBEEF}U" in f
    assert "-DSCTPCORR_FILTER_ADDR_FAMILY=2" in f and "-DSCTPCORR_FILTER_INODES" in f
    # 198.19.1.1 as it lies in memory, read as a little-endian u32
    assert f"-DSCTPCORR_FILTER_ADDR_W0={int.from_bytes(bytes([198, 19, 1, 1]), 'little')}U" in f
    with pytest.raises(ValueError, match="power of two"):
        cflags_for([], Filters(), 100)


def test_hz_from_config(tmp_path, monkeypatch):
    cfg = tmp_path / "config-x"
    cfg.write_text("CONFIG_HZ_250=y\nCONFIG_HZ=250\nCONFIG_KPROBES=y\n")
    monkeypatch.setattr(probes, "_read", lambda p: cfg.read_text() if p == "/boot/config-x" else None)
    assert probes.kernel_hz("x") == (250, "CONFIG_HZ in /boot/config-x")


# ---- levels (--level) -------------------------------------------------------------------------------------------
PER_PACKET = {"egress"}                      # a hook on every packet the stack sends
PER_SACK = {"sctp_probe", "sctp_probe_path"}  # the per-SACK tracepoints


def test_levels_nest_and_decisions_has_no_per_packet_or_per_sack_hook():
    names = {lv: {p.name for p in probes.select(level=lv)} for lv in probes.LEVELS}
    assert names["decisions"] < names["sacks"] < names["packets"] == {p.name for p in probes.PROBES}
    assert not names["decisions"] & (PER_PACKET | PER_SACK)
    assert names["sacks"] - names["decisions"] == PER_SACK
    assert names["packets"] - names["sacks"] == PER_PACKET
    # the decisions the issue names are all at the cheapest level
    assert {"rto_update", "lower_cwnd", "retransmit", "t3_expire", "hb_sent", "hb_ack", "path_state",
            "assoc_change"} <= names["decisions"]
    with pytest.raises(ValueError, match="unknown level"):
        probes.select(level="everything")


def test_level_events_and_event_level():
    assert probes.level_events("decisions") >= {"rto_update", "cwnd", "rtx_mark", "assoc_state", "path_state"}
    assert "egress" not in probes.level_events("sacks") and "rwnd" not in probes.level_events("sacks")
    assert probes.event_level("rto_update") == "decisions"
    assert probes.event_level("sack") == probes.event_level("path") == "sacks"
    assert probes.event_level("egress") == probes.event_level("rwnd") == "packets"   # rwnd: derived from egress
    assert probes.event_level("no_such_type") is None


def test_named_probes_win_over_the_level_and_plan_says_why_a_probe_is_out():
    from sctpcorr.kernel import run

    assert [p.name for p in probes.select(["egress"], level="decisions")] == ["egress"]
    env = probes.KernelEnv(KALLSYMS_61, "")
    chosen, missing = run.plan(run.Config(level="sacks"), env)
    assert {p.name for p in chosen} == {p.name for p in probes.select(level="sacks")}
    assert missing == [{"probe": "egress", "metrics": probes.select(["egress"])[0].metrics,
                        "reason": "not at --level sacks (needs --level packets)"}]


def test_default_level_is_the_cheapest_that_serves_the_command():
    from sctpcorr.kernel import run, view

    assert run.default_level(False, view.DEFAULT_SHOW) == "decisions"
    assert run.default_level(True, view.DEFAULT_SHOW) == "sacks"          # the summary's cwnd and windows
    assert run.default_level(False, ("rto_update", "path")) == "sacks"
    assert run.default_level(False, ("retransmission",)) == "packets"     # one line per retransmitted chunk
    assert run.default_level(False, ("all",)) == "packets"


def test_hook_kind_is_a_trampoline_where_the_kernel_allows_one():
    env = _Env61()
    rto = probes.select(["rto_update"])[0].attachments
    assert [env.hook_kind(a) for a in rto] == ["kprobe", "kretprobe"]
    env.trampoline_module = lambda func: "sctp"     # noqa: E731 - a kernel whose sctp BTF has every function
    assert [env.hook_kind(a) for a in rto] == ["fentry", "fexit"]
    change = probes.select(["assoc_change"])[0].attachments
    assert [env.hook_kind(a) for a in change] == ["kprobe", "fentry"]     # 8 arguments: no trampoline
    assert [env.hook_kind(a) for a in probes.select(["hb_ack"])[0].attachments] == ["kprobe"]   # a union argument
    tp = probes.select(["sctp_probe"])[0].attachments
    assert [env.hook_kind(a) for a in tp] == ["raw_tracepoint"]


def test_list_probes_shows_level_and_hook_type(monkeypatch):
    from sctpcorr.kernel import run

    monkeypatch.setattr(probes, "KernelEnv", _Env61)
    lines: list[str] = []
    run.list_probes(lines.append)
    rows = {ln.split()[0]: ln.split() for ln in lines[1:] if ln.split() and ln.split()[0] in
            {p.name for p in probes.PROBES}}
    assert rows["rto_update"][1:4] == ["decisions", "yes", "kprobe+kretprobe"]
    assert rows["sctp_probe"][1:4] == ["sacks", "yes", "raw_tracepoint"]
    assert rows["egress"][1:4] == ["packets", "yes", "kprobe"]
    # and why each kprobe is not a trampoline
    notes = [ln for ln in lines if ln.startswith("kprobe, not a BPF trampoline, on ")]
    assert ("kprobe, not a BPF trampoline, on sctp_ulpevent_make_assoc_change: 8 arguments; x86-64 trampolines "
            "take at most 6 on 6.1") in notes
    assert len(notes) == len({a.target for p in probes.PROBES for a in p.attachments if a.kind != "raw_tracepoint"})


class _Env61(probes.KernelEnv):
    """The 6.1 symbol table, no trampolines (what the host of these tests can say)."""

    def __init__(self) -> None:
        super().__init__(KALLSYMS_61, "")

    def trampoline_module(self, func: str) -> str | None:
        return None
