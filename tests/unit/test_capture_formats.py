"""Readers and decoders: pcap/pcapng variants, link types, IPv6 extension headers, IP fragment reassembly,
ICMP-quoted SCTP, checksums, truncated and malformed packets, every chunk type by name, unknown chunk types."""
from __future__ import annotations

import struct
import zlib

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
)
from scapy.packet import Raw

from craft import (
    ETHERNET, IPV4, IPV6, LINUX_SLL, MS, RAW, S, T0, Assoc, Frame, data, init, ip_frame, norm_chunk_name,
    pcap_bytes, pcapng_bytes, raw_chunk, sack, sctp_packet,
)

A, B = "10.0.0.1", "10.0.0.2"
A6, B6 = "2001:db8::1", "2001:db8::2"


def run_capture(Analyzer, blob):
    an = Analyzer()
    an.feed_capture(blob)
    summary = an.finish_capture()
    return summary, an.report()


def dgram(chunks=None, vtag=0x0B0B0B0B, sport=2905, dport=3000, **kw) -> bytes:
    return sctp_packet(sport, dport, vtag, chunks or [data(1000, payload=64)], **kw)


def ip4(src, dst, payload, proto=132, ip_id=7) -> bytes:
    return bytes(IP(src=src, dst=dst, id=ip_id, proto=proto, flags="DF") / Raw(payload))


def ip6(src, dst, payload, nh=132) -> bytes:
    return bytes(IPv6(src=src, dst=dst, nh=nh) / Raw(payload))


def single(Analyzer, linktype, frame_bytes):
    an = Analyzer()
    an.feed_packet(T0, linktype, frame_bytes)
    return an.report()


# ------------------------------------------------------------------------------------------------ file formats


def modified_pcap(frames) -> bytes:
    """Alexey Kuznetsov's patched libpcap format: magic 0xa1b2cd34, 24-byte record headers."""
    out = [struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, frames[0].linktype)]
    for f in frames:
        sec, ns = divmod(f.ts_ns, S)
        out.append(struct.pack("<IIIIiHBB", sec, ns // 1000, len(f.data), len(f.data), 2, 0x0800, 0, 0) + f.data)
    return b"".join(out)


def simple_exchange():
    a = Assoc.make()
    a.handshake()
    a.a_sends(data(1000))
    a.wait(20 * MS).b_sends(sack(1000))
    return a.frames


@pytest.mark.parametrize("kind", ["pcap-le-us", "pcap-be-us", "pcap-le-ns", "pcap-be-ns", "modified",
                                  "pcapng-le-us", "pcapng-be-ns", "pcapng-binary-res"])
def test_file_formats_agree(Analyzer, kind):
    frames = simple_exchange()                       # all timestamps are whole microseconds
    blob = {
        "pcap-le-us": lambda: pcap_bytes(frames),
        "pcap-be-us": lambda: pcap_bytes(frames, big_endian=True),
        "pcap-le-ns": lambda: pcap_bytes(frames, nanosecond=True),
        "pcap-be-ns": lambda: pcap_bytes(frames, nanosecond=True, big_endian=True),
        "modified": lambda: modified_pcap(frames),
        "pcapng-le-us": lambda: pcapng_bytes(frames, tsresol=6, comment="made by sctpcorr tests"),
        "pcapng-be-ns": lambda: pcapng_bytes(frames, big_endian=True),
        "pcapng-binary-res": lambda: pcapng_bytes(frames, tsresol=0x80 | 30),
    }[kind]()
    summary, rep = run_capture(Analyzer, blob)
    assert summary["format"] == ("pcapng" if kind.startswith("pcapng") else "pcap")
    assert summary["packets"] == len(frames) and summary["truncated_bytes"] == 0
    assert summary["link_types"] == [ETHERNET]
    cap = rep["capture"]
    assert cap["first_ts_ns"] == frames[0].ts_ns
    tol = 1 if kind == "pcapng-binary-res" else 0
    assert abs(cap["last_ts_ns"] - frames[-1].ts_ns) <= tol
    s = rep["associations"][0]
    assert s["state"] == "ESTABLISHED" and s["directions"]["A>B"]["rtt"]["data_samples"] == 1


def test_pcapng_several_interfaces_and_resolutions(Analyzer):
    t = T0 + 123_000_000  # a whole millisecond: the SLL interface has ms resolution
    frames = [
        Frame(t, ETHERNET, ip_frame(A, B, dgram(), ETHERNET)),
        Frame(t + 1_000_001, IPV4, ip4(B, A, dgram(chunks=[sack(1000)], vtag=0x0A0A0A0A, sport=3000, dport=2905))),
        Frame(t + 2 * S, LINUX_SLL, ip_frame(A, B, dgram(chunks=[data(1001)]), LINUX_SLL)),
    ]
    blob = pcapng_bytes(frames, tsresols={ETHERNET: 6, IPV4: 9, LINUX_SLL: 3})
    summary, rep = run_capture(Analyzer, blob)
    assert summary["link_types"] == [ETHERNET, IPV4, LINUX_SLL]
    assert (rep["capture"]["first_ts_ns"], rep["capture"]["last_ts_ns"]) == (t, t + 2 * S)
    assert rep["capture"]["sctp_packets"] == 3 and len(rep["associations"]) == 1
    assert rep["associations"][0]["directions"]["A>B"]["rtt"]["data_samples"] == 1


def test_pcapng_two_sections_of_different_byte_order_and_spb(Analyzer):
    frames = simple_exchange()
    first = pcapng_bytes(frames[:3], big_endian=True)
    second = pcapng_bytes(frames[3:])
    # a Simple Packet Block (no timestamp) in the second section
    spb_frame = ip_frame(A, B, dgram(chunks=[data(1001)]), ETHERNET)
    body = struct.pack("<I", len(spb_frame)) + spb_frame + bytes((-len(spb_frame)) % 4)
    spb = struct.pack("<II", 3, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    summary, rep = run_capture(Analyzer, first + second + spb)
    assert summary["packets"] == len(frames) + 1
    assert rep["capture"]["chunks"]["DATA"] == 2
    assert rep["associations"][0]["directions"]["A>B"]["data_chunks"] == 2


def test_not_a_capture(Analyzer):
    an = Analyzer()
    with pytest.raises(ValueError, match="not a pcap or pcapng capture"):
        an.feed_capture(b"GIF89a" + bytes(100))


def test_truncated_file_and_caplen_above_origlen(Analyzer):
    frames = simple_exchange()
    blob = pcap_bytes(frames)
    summary, rep = run_capture(Analyzer, blob[:-10])
    assert summary["packets"] == len(frames) - 1 and summary["truncated_bytes"] == 16 + len(frames[-1].data) - 10
    # a record claiming caplen > origlen: counted, analysed with caplen
    bad = bytearray(pcap_bytes(frames[:1]))
    struct.pack_into("<I", bad, 24 + 12, len(frames[0].data) - 16)
    summary, rep = run_capture(Analyzer, bytes(bad))
    assert summary["caplen_gt_origlen"] == 1 and rep["capture"]["chunks"]["INIT"] == 1


# ------------------------------------------------------------------------------------------------ link types


def link_variants():
    v4 = ip4(A, B, dgram())
    v6 = ip6(A6, B6, dgram())
    eth = bytes.fromhex("02000000000b02000000000a")
    sll2 = lambda et: struct.pack(">HHIHBB8s", et, 0, 3, 1, 4, 6, bytes(8))   # noqa: E731
    return {
        "ethernet": (ETHERNET, eth + b"\x08\x00" + v4, A),
        "ethernet-ipv6": (ETHERNET, eth + b"\x86\xdd" + v6, A6),
        "802.1Q": (ETHERNET, eth + b"\x81\x00\x00\x64\x08\x00" + v4, A),
        "QinQ": (ETHERNET, eth + b"\x88\xa8\x00\x0a\x81\x00\x00\x64\x08\x00" + v4, A),
        "sll": (LINUX_SLL, struct.pack(">HHH8sH", 4, 1, 6, bytes(8), 0x0800) + v4, A),
        "sll2": (276, sll2(0x86DD) + v6, A6),
        "raw-v4": (RAW, v4, A),
        "raw-v6": (RAW, v6, A6),
        "ipv4": (IPV4, v4, A),
        "ipv6": (IPV6, v6, A6),
        "null-v4": (0, struct.pack("<I", 2) + v4, A),
        "null-v6-bsd": (0, struct.pack("<I", 24) + v6, A6),
        "null-v6-freebsd": (0, struct.pack("<I", 28) + v6, A6),
        "null-v6-darwin": (0, struct.pack("<I", 30) + v6, A6),
        "loop-v4": (108, struct.pack(">I", 2) + v4, A),
    }


@pytest.mark.parametrize("name", list(link_variants()))
def test_link_types(Analyzer, name):
    linktype, frame, src = link_variants()[name]
    rep = single(Analyzer, linktype, frame)
    assert rep["capture"]["sctp_packets"] == 1
    assert {k: v for k, v in rep["capture"]["chunks"].items() if v} == {"DATA": 1}
    addrs = rep["associations"][0]["addresses"]
    assert sorted(addrs[0] + addrs[1]) == sorted([src, B if src == A else B6])
    assert rep["capture"]["bad_checksum"] == 0


def test_ipv6_extension_headers(Analyzer):
    pkt = IPv6(src=A6, dst=B6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt(nh=132) / Raw(dgram())
    rep = single(Analyzer, RAW, bytes(pkt))
    assert rep["capture"]["sctp_packets"] == 1 and rep["capture"]["chunks"]["DATA"] == 1


def test_unknown_link_type_and_non_sctp_are_ignored(Analyzer):
    an = Analyzer()
    an.feed_packet(T0, 147, b"\x00" * 60)                         # LINKTYPE_USER0
    an.feed_packet(T0, RAW, ip4(A, B, b"\x00" * 20, proto=6))     # TCP
    rep = an.report()
    assert rep["capture"]["packets"] == 2 and rep["capture"]["sctp_packets"] == 0
    assert rep["capture"]["malformed"] == 0 and rep["associations"] == []


# ------------------------------------------------------------------------------------------------ fragments, ICMP


def test_ipv4_fragments_reassembled_out_of_order(Analyzer):
    sctp = dgram(chunks=[data(1000, payload=4000)])
    assert len(sctp) == 4028
    pieces = [(0, sctp[:1480], True), (1480, sctp[1480:2960], True), (2960, sctp[2960:], False)]
    frames = [bytes(IP(src=A, dst=B, id=4242, proto=132, frag=off // 8, flags="MF" if mf else 0) / Raw(p))
              for off, p, mf in pieces]
    an = Analyzer()
    for i, k in enumerate((1, 2, 0)):
        an.feed_packet(T0 + i * 1000, RAW, frames[k])
    cap = an.report()["capture"]
    assert (cap["ip_fragments"], cap["reassembled"], cap["sctp_packets"], cap["bad_checksum"]) == (3, 1, 1, 0)
    assert cap["chunks"]["DATA"] == 1
    assert an.report()["associations"][0]["directions"]["A>B"]["data_bytes"] == 4000


def test_ipv6_fragments_reassembled(Analyzer):
    sctp = dgram(chunks=[data(1000, payload=2000)])
    frags = [bytes(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(nh=132, offset=off // 8, m=int(m), id=99) / Raw(p))
             for off, p, m in ((0, sctp[:1232], True), (1232, sctp[1232:], False))]
    an = Analyzer()
    for i, f in enumerate(frags):
        an.feed_packet(T0 + i, RAW, f)
    cap = an.report()["capture"]
    assert (cap["reassembled"], cap["sctp_packets"], cap["chunks"]["DATA"]) == (1, 1, 1)


def test_incomplete_fragments_do_not_count(Analyzer):
    sctp = dgram(chunks=[data(1000, payload=2900)])
    an = Analyzer()
    an.feed_packet(T0, RAW, bytes(IP(src=A, dst=B, id=1, proto=132, flags="MF") / Raw(sctp[:1480])))
    cap = an.report()["capture"]
    assert cap["sctp_packets"] == 0 and cap["ip_fragments"] == 1 and cap.get("chunks", {}).get("DATA", 0) == 0


def test_icmp_quoted_sctp_is_counted_not_analysed(Analyzer):
    init_pkt = ip4(A, B, dgram(chunks=[init(0x0A0A0A0A, 1000)], vtag=0))
    icmp4 = bytes(IP(src=B, dst=A, proto=1) / ICMP(type=3, code=2) / Raw(init_pkt))
    icmp4_short = bytes(IP(src=B, dst=A, proto=1) / ICMP(type=3, code=2) / Raw(init_pkt[:28]))
    init6 = ip6(A6, B6, dgram(chunks=[init(0x0A0A0A0A, 1000)], vtag=0))
    icmp6 = bytes(IPv6(src=B6, dst=A6) / ICMPv6DestUnreach(code=4) / Raw(init6))
    an = Analyzer()
    for i, f in enumerate((icmp4, icmp4_short, icmp6)):
        an.feed_packet(T0 + i, RAW, f)
    rep = an.report()
    cap = rep["capture"]
    assert (cap["icmp_quoted_sctp"], cap["sctp_packets"], cap["malformed"]) == (3, 0, 0)
    assert rep["associations"] == [] and sum(cap["chunks"].values()) == 0


# ------------------------------------------------------------------------------------------------ checksums, bad input


def test_checksums(Analyzer):
    good = dgram()
    bad = dgram(bad_checksum=True)
    z = good[:8] + bytes(4) + good[12:]
    adler = z[:8] + struct.pack(">I", zlib.adler32(z)) + z[12:]
    an = Analyzer()
    for i, d in enumerate((good, bad, adler)):
        an.feed_packet(T0 + i * MS, RAW, ip4(A, B, d, ip_id=i))
    cap = an.report()["capture"]
    assert (cap["bad_checksum"], cap["sctp_packets"], cap["chunks"]["DATA"]) == (1, 3, 3)


@pytest.mark.parametrize("payload", [0, 1, 3, 61, 1024, 5551, 5553, 12000])
def test_adler32_checksums_of_every_length_are_recognised(Analyzer, payload):
    # RFC 2960 Appendix B Adler-32 (field zeroed), against zlib's, across the NMAX (5552) block boundary
    good = dgram(chunks=[data(1000, payload=payload)]) if payload else dgram(chunks=[sack(1)])
    z = good[:8] + bytes(4) + good[12:]
    adler = z[:8] + struct.pack(">I", zlib.adler32(z)) + z[12:]
    wrong = z[:8] + struct.pack(">I", zlib.adler32(z) ^ 1) + z[12:]
    an = Analyzer()
    an.feed_packet(T0, RAW, ip6(A6, B6, adler))
    an.feed_packet(T0 + MS, RAW, ip6(A6, B6, wrong))
    cap = an.report()["capture"]
    assert (cap["sctp_packets"], cap["bad_checksum"]) == (2, 1)


def test_snaplen_truncated_packet(Analyzer):
    frame = ip_frame(A, B, dgram(chunks=[sack(1), data(1000, payload=400)]), ETHERNET)
    blob = bytearray(pcap_bytes([Frame(T0, ETHERNET, frame[:120])], snaplen=120))
    struct.pack_into("<I", blob, 24 + 12, len(frame))             # origlen: what was on the wire
    summary, rep = run_capture(Analyzer, bytes(blob))
    cap = rep["capture"]
    assert (cap["truncated_packets"], cap["unchecked_checksum"], cap["bad_checksum"], cap["malformed"]) == (1, 1, 0, 0)
    assert cap["sctp_packets"] == 1 and cap["chunks"]["SACK"] == 1 and cap["chunks"]["DATA"] == 1
    # the same bytes with no original length to say so (feed_packet): a total length beyond the frame is bogus
    rep = single(Analyzer, ETHERNET, frame[:120])
    assert rep["capture"]["malformed"] == 1 and rep["capture"]["truncated_packets"] == 0


@pytest.mark.parametrize("case", ["chunk-length-2", "chunk-past-end", "short-common-header", "bad-ip-header"])
def test_malformed(Analyzer, case):
    if case == "chunk-length-2":
        frame = ip4(A, B, dgram(chunks=[data(1000), raw_chunk(3, 0, b"", length=2)]))
    elif case == "chunk-past-end":
        frame = ip4(A, B, dgram(chunks=[data(1000), raw_chunk(0, 3, bytes(20), length=500)]))
    elif case == "short-common-header":
        frame = ip4(A, B, dgram()[:8])
    else:
        frame = bytearray(ip4(A, B, dgram()))
        frame[0] = 0x43                                            # IHL 3: shorter than an IPv4 header
        frame = bytes(frame)
    rep = single(Analyzer, RAW, frame)
    cap = rep["capture"]
    assert cap["malformed"] == 1
    if case.startswith("chunk"):
        assert cap["sctp_packets"] == 1 and cap["chunks"]["DATA"] >= 1   # the good chunk before the bad one
    else:
        assert cap["sctp_packets"] == 0


def test_every_chunk_type_by_name_and_unknown_types(Analyzer):
    bodies = {
        9: b"\x00\x01\x00\x08" + bytes(4), 12: bytes(4), 13: bytes(4), 15: bytes(4) + bytes(20),
        16: struct.pack(">IIHHHH", 1, 1000, 0, 0, 0, 0), 64: struct.pack(">IHHII", 1, 0, 0, 0, 0) + b"abcd",
        128: struct.pack(">I", 1), 130: bytes(12), 132: bytes(8), 192: struct.pack(">I", 5),
        193: struct.pack(">I", 1) + b"\x00\x05\x00\x08" + bytes([10, 0, 0, 9]), 194: struct.pack(">I", 5),
        0x55: b"xyz!", 0xF7: b"",
    }
    chunks = [raw_chunk(t, 0, b) for t, b in bodies.items()]
    rep = single(Analyzer, RAW, ip4(A, B, dgram(chunks=chunks)))
    cap = rep["capture"]
    named = {norm_chunk_name(k): v for k, v in cap["chunks"].items() if v}
    assert named == {"ERROR": 1, "ECNE": 1, "CWR": 1, "AUTH": 1, "NR_SACK": 1, "I_DATA": 1, "ASCONF_ACK": 1,
                     "RE_CONFIG": 1, "PAD": 1, "FORWARD_TSN": 1, "ASCONF": 1, "I_FORWARD_TSN": 1}
    assert cap["unknown_chunk_types"] == {"85": 1, "247": 1}
    assert cap["malformed"] == 0
    d = rep["associations"][0]["directions"]
    assert d["A>B"]["data_chunks"] + d["B>A"]["data_chunks"] == 1          # the I-DATA
    assert d["A>B"]["forward_tsns"] + d["B>A"]["forward_tsns"] >= 1
