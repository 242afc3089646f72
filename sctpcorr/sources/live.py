"""Live packet sources for ``sctpcorr live``: interfaces (libpcap) and a capture file that is still growing.

Both hand out *capture bytes*: what the wire engine's ``feed_capture`` reads from files.  An interface source
makes a pcapng stream, one Section Header Block and one Interface Description Block per interface (nanosecond
timestamps, ``if_tsresol`` = 9) and then Enhanced Packet Blocks exactly as the C extension ``_livecap`` builds
them from libpcap's ring, one bytes object per poll.  The same bytes go to the ``-w`` file and to the engine, so
what ``live`` reports equals what ``sctpcorr pcap`` reports on its file.

This is I/O: it opens interfaces and files and polls file descriptors.  The engine and the reports never see it.
"""

from __future__ import annotations

import select
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from sctpcorr.errors import SctpcorrError
from sctpcorr.sources import read_size

__all__ = ["DEFAULT_FILTER", "CaptureUnavailable", "InterfaceSource", "FollowSource", "IfaceStats",
           "pcapng_header", "split_blocks"]

#: Only SCTP leaves the kernel (classic BPF, compiled by libpcap): plain and VLAN-tagged, IPv4 and IPv6.
DEFAULT_FILTER = "sctp or (vlan and sctp)"


class CaptureUnavailable(SctpcorrError):
    """An interface cannot be captured on: no such interface, not permitted, not up, a bad filter."""

    exit_code = 2


def _option(code: int, value: bytes) -> bytes:
    pad = (4 - len(value) % 4) % 4
    return struct.pack("=HH", code, len(value)) + value + b"\0" * pad


def _block(btype: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("=II", btype, total) + body + struct.pack("=I", total)


def pcapng_header(interfaces: list[tuple[str, int, int]], application: str = "sctpcorr live") -> bytes:
    """SHB + one IDB per ``(name, linktype, snaplen)``, host byte order (as the EPBs from ``_livecap``)."""
    shb_opts = _option(4, application.encode()) + _option(0, b"")             # shb_userappl, opt_endofopt
    shb = struct.pack("=IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts
    out = [_block(0x0A0D0D0A, shb)]
    for name, linktype, snaplen in interfaces:
        opts = _option(2, name.encode()) + _option(9, b"\x09") + _option(0, b"")  # if_name, if_tsresol = 1e-9
        out.append(_block(1, struct.pack("=HHI", linktype, 0, snaplen) + opts))
    return b"".join(out)


def split_blocks(data: bytes, packets: int) -> tuple[bytes, bytes]:
    """``data`` (whole pcapng blocks, all EPBs) cut after its first ``packets`` blocks."""
    off = 0
    for _ in range(packets):
        if off >= len(data):
            break
        off += struct.unpack_from("=I", data, off + 4)[0]
    return data[:off], data[off:]


@dataclass
class IfaceStats:
    """One interface's counters: packets handed out by sctpcorr, and libpcap's ``pcap_stats()`` (received by the
    filter, dropped because the ring was full, dropped by the interface/driver)."""

    name: str
    linktype: int = 0
    packets: int = 0
    received: int = 0
    dropped: int = 0
    ifdropped: int = 0
    link: str = "up"                     # "up", "down" (capture waits for it to come back), "gone"
    went_down: int = 0                   # times it was seen going down
    ended: str | None = None             # why capture on it stopped (it was removed...)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "linktype": self.linktype, "packets": self.packets, "received": self.received,
                "dropped": self.dropped, "ifdropped": self.ifdropped, "link": self.link,
                "went_down": self.went_down, "ended": self.ended}


def link_state(name: str) -> str:
    """``up``/``down`` from /sys/class/net (this network namespace's), ``gone`` when the interface is not there;
    ``up`` for what has no such entry (``any``)."""
    if name == "any":
        return "up"
    try:
        with open(f"/sys/class/net/{name}/flags") as f:
            flags = int(f.read(), 16)
    except FileNotFoundError:
        return "gone"
    except (OSError, ValueError):
        return "up"
    return "up" if flags & 0x1 else "down"           # IFF_UP


_HINTS = {
    "no_such_device": "no such interface (see `ip link`)",
    "permission": "not permitted: capturing needs root or the CAP_NET_RAW capability "
                  "(setcap cap_net_raw,cap_net_admin=eip on the Python binary)",
    "not_up": "the interface is down (ip link set {name} up)",
    "filter": "the capture filter does not compile",
}


@dataclass
class InterfaceSource:
    """Every packet of ``names`` that passes ``filter``, as one pcapng stream (``header()`` then ``poll()``)."""

    names: list[str]
    filter: str = DEFAULT_FILTER
    snaplen: int = 262144
    buffer_bytes: int = 32 << 20
    promisc: bool = False
    stats: list[IfaceStats] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            from sctpcorr.sources import _livecap
        except ImportError as exc:
            raise CaptureUnavailable(f"live capture is not built ({exc}): run ./scripts/setup (needs libpcap-dev)") \
                from None
        self._lib = _livecap
        self._caps: list[Any] = []
        try:
            for name in self.names:
                self._caps.append(self._open(_livecap, name))
                self.stats.append(IfaceStats(name, self._caps[-1].linktype))
        except BaseException:
            self.close()
            raise
        self._poll = select.poll()
        for cap in self._caps:
            self._poll.register(cap.fileno(), select.POLLIN)

    def _open(self, lib: Any, name: str) -> Any:
        # the default filter's VLAN half does not compile where there is no VLAN header to test (Linux cooked
        # captures: -i any): there plain SCTP is the same selection
        filters = [self.filter] + (["sctp"] if self.filter == DEFAULT_FILTER else [])
        for i, flt in enumerate(filters):
            try:
                return lib.Capture(name, flt, self.snaplen, self.buffer_bytes, 100, self.promisc)
            except lib.LiveError as exc:
                kind, msg = exc.args
                if kind == "filter" and i + 1 < len(filters):
                    continue
                hint = _HINTS.get(kind, "").format(name=name)
                raise CaptureUnavailable(f"{name}: {hint + ': ' if hint else ''}{msg}") from None
        raise AssertionError("unreachable")

    @property
    def label(self) -> str:
        return "live:" + ",".join(self.names)

    @property
    def linktypes(self) -> list[int]:
        return sorted({s.linktype for s in self.stats})

    def header(self) -> bytes:
        return pcapng_header([(s.name, s.linktype, c.snaplen) for s, c in zip(self.stats, self._caps)])

    @property
    def done(self) -> bool:
        return all(s.ended for s in self.stats)

    def poll(self, timeout_s: float) -> bytes:
        """EPBs of what arrived on any interface, waiting up to ``timeout_s`` for the first."""
        try:
            self._poll.poll(max(0, int(timeout_s * 1000)))
        except InterruptedError:
            pass
        out = []
        # every interface is read after the wait (cheap when empty): libpcap's TPACKET_V3 ring wakes the poller
        # per filled block or per timeout, so a quiet fd does not mean an empty ring
        for i, cap in enumerate(self._caps):
            st = self.stats[i]
            if st.ended:
                continue
            try:
                data, n = cap.dispatch(i)
            except self._lib.LiveError as exc:
                self._end(i, str(exc.args[1]))
                continue
            if n:
                st.packets += n
                out.append(data)
        return b"".join(out)

    def _end(self, i: int, why: str) -> None:
        self.stats[i].ended = why
        self.stats[i].link = "gone"
        self._refresh(i)
        self._poll.unregister(self._caps[i].fileno())

    def _refresh(self, i: int) -> None:
        st, cap = self.stats[i], self._caps[i]
        try:
            st.received, st.dropped, st.ifdropped = cap.stats()
        except self._lib.LiveError:
            pass            # an interface that is gone keeps its last counters

    def note_packets(self, packets: int) -> None:
        """The engine's count: libpcap's own counters say what this interface captured."""

    def refresh_stats(self) -> list[IfaceStats]:
        """libpcap's counters and the link state, once a tick.  An interface that goes down is kept: libpcap
        (1.10) goes on waiting on it and capture resumes when it comes back up; one that is removed ends."""
        for i, st in enumerate(self.stats):
            if not st.ended:
                self._refresh(i)
                state = link_state(st.name)
                if state == "down" and st.link == "up":
                    st.went_down += 1
                st.link = state if state != "gone" else st.link
        return self.stats

    def close(self) -> None:
        for cap in getattr(self, "_caps", []):
            cap.close()


@dataclass
class FollowSource:
    """A capture file (pcap or pcapng, not gzip) read as it grows, like ``tail -F``: ``poll()`` returns the bytes
    appended since the last call (possibly ending inside a record: the engine carries the rest over).  A file
    that does not exist yet is waited for (``waiting`` says so): live may start before the tool that writes it;
    one that exists but cannot be read is an error at once."""

    path: str
    block_size: int = 4 << 20
    stats: list[IfaceStats] = field(default_factory=list)

    def __post_init__(self) -> None:
        import os

        self.stats.append(IfaceStats(self.path))     # packets/received: set by the reader (run_live)
        self.done = False
        self.bytes_read = 0
        self._f: Any = None
        self.waiting = not os.path.lexists(self.path)
        if not self.waiting:
            self._open()

    def _open(self) -> None:
        from sctpcorr.sources.pcapfile import GZIP_MAGIC, check_readable

        check_readable(self.path)
        f = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        if f.read(2) == GZIP_MAGIC:
            f.close()
            raise CaptureUnavailable(f"{self.path}: --follow reads a growing pcap/pcapng file, not gzip")
        f.seek(0)
        self._f = f
        self.waiting = False

    @property
    def label(self) -> str:
        return self.path

    @property
    def linktypes(self) -> list[int]:
        return []

    def header(self) -> bytes:
        return b""

    def poll(self, timeout_s: float) -> bytes:
        if self._f is None:
            import os

            if not os.path.exists(self.path):
                time.sleep(timeout_s)
                return b""
            self._open()
        n = read_size(self._f, self.block_size)     # what has been appended, no more (read_size says why)
        data = self._f.read(n) if n else b""
        if not data:
            time.sleep(timeout_s)
            return b""
        self.bytes_read += len(data)
        return data

    def refresh_stats(self) -> list[IfaceStats]:
        return self.stats

    def note_packets(self, packets: int) -> None:
        """A file has no capture counters: what the engine read from it is both."""
        self.stats[0].packets = self.stats[0].received = packets

    def close(self) -> None:
        if self._f is not None:
            self._f.close()

