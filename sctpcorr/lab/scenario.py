"""Lab scenarios: TOML files that say how to shape the two paths and what traffic to run.

A scenario is plain data (a dict) with defaults filled in and every key checked, so that a typo in a user's
copy fails before a guest boots.  The shipped files live in ``sctpcorr/lab/scenarios/`` and are the reference
for the format; ``docs/lab.md`` documents every key.

Paths: ``p1`` is the primary path (client 198.18.1.1 <-> server 198.19.1.1), ``p2`` the second one
(198.18.2.1 <-> 198.19.2.1).  Each has netem settings per direction: ``c2s`` is applied on the router's
interface towards the server, ``s2c`` on its interface towards the client.  ``client_egress`` and
``server_egress`` shape an endpoint's OWN interface of that path: the delay is then spent inside that host,
before its capture point (the capture taps a packet after the qdisc), as a busy qdisc or a shaper on a real
host would.  The wire never shows it; the kernel's RTT samples do.
"""
from __future__ import annotations

import copy
import importlib.resources
import tomllib
from pathlib import Path
from typing import Any

__all__ = ["ScenarioError", "NETEM_KEYS", "DIRECTIONS", "load", "load_file", "shipped", "validate", "find"]


class ScenarioError(ValueError):
    """A scenario file that cannot be used (unknown key, bad value)."""


NETEM_KEYS = {
    "delay_ms": float,      # one-way delay added in this direction
    "jitter_ms": float,     # +- jitter around delay_ms (netem's uniform jitter; reorders packets)
    "loss_pct": float,      # random loss in percent (100 = path down)
    "reorder_pct": float,   # percent of packets sent at once, ahead of the delayed ones (needs delay)
    "duplicate_pct": float,  # percent of packets duplicated
    "rate_kbit": int,       # bottleneck rate in kbit/s (0 = unlimited)
    "limit": int,           # netem queue length in packets
}

DEFAULTS: dict[str, Any] = {
    "name": "",
    "description": "",
    "duration_s": 10.0,        # hard limit for the traffic phase; the workload normally ends before
    "snaplen": 0,              # capture snap length (0 = whole packets)
    "snapshot_interval_s": 1.0,  # /proc/net/sctp and ss snapshots
    "seed": 1,                 # random sizes and netem are reproducible only as far as this goes
    "paths": {"p1": {"c2s": {}, "s2c": {}}, "p2": {"c2s": {}, "s2c": {}}},  # + client_egress, server_egress
    "association": {
        "streams": 4,             # SCTP_INITMSG outbound streams = max inbound streams
        "rto_initial_ms": 1000,   # SCTP_RTOINFO
        "rto_min_ms": 200,
        "rto_max_ms": 3000,
        "hb_interval_ms": 1000,   # SCTP_PEER_ADDR_PARAMS spp_hbinterval
        "path_max_retrans": 3,    # spp_pathmaxrxt
        "assoc_max_retrans": 10,  # SCTP_ASSOCINFO sasoc_asocmaxrxt
        "nodelay": True,          # SCTP_NODELAY
        "sack_delay_ms": 200,     # SCTP_DELAYED_SACK
        "sack_freq": 2,           # 1 = SACK every packet
    },
    "server": {
        "style": "one-to-many",   # one-to-one (SOCK_STREAM) or one-to-many (SOCK_SEQPACKET)
        "port": 5000,
        "rcvbuf": 0,              # SO_RCVBUF (0 = kernel default)
        "stall_after": 0,         # stop reading after this many messages (0 = never)...
        "stall_s": 0.0,           # ...for this long
        "read_delay_ms": 0.0,     # sleep between reads (a slow application)
        "echo": False,            # send every message back on the same stream (request/response)
    },
    "client": {
        "style": "one-to-one",
        "associations": 1,        # client sockets, each one association to the server
        "messages": 100,          # per association
        "size": [100, 100],       # message size range in bytes (inclusive); an int means fixed
        "rate_per_s": 50.0,       # per association; 0 = as fast as the socket takes them
        "streams": [0],           # stream ids used round robin
        "ppid": 0,                # payload protocol identifier (NGAP = 60, S1AP = 18, M3UA = 3, Diameter = 46)
        "unordered": False,
        "sndbuf": 0,              # SO_SNDBUF (0 = kernel default)
        "linger_s": 1.0,          # after the last message is acked, idle this long before closing
        "status_interval_ms": 500,  # how often the client logs SCTP_STATUS / SCTP_GET_PEER_ADDR_INFO
    },
    "timeline": [],               # [{at_s, path, c2s: {...}, s2c: {...}}]: netem changes during the run
    "ngap": {                     # ues > 0: the client is a gNB, the server an AMF, exchanging real NGAP
        "ues": 0,                 # UEs that register (lab/ngapflow.py: 8 messages each, after one NG Setup)
        "amf_delay_ms": 0.0,      # the AMF answers each uplink message this long after reading it
        "gnb_delay_ms": 0.0,      # the gNB (for itself and its UE) answers each downlink message after this
        "concurrency": 1,         # UEs registering at once
    },
}

_SECTIONS = ("association", "server", "client", "ngap")

# Where a path's netem settings apply: c2s/s2c on the router (the network), client_egress/server_egress on the
# endpoint's own interface (inside that host, before its capture point).
DIRECTIONS = ("c2s", "s2c", "client_egress", "server_egress")


def _merge(base: dict, over: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k not in base:
            raise ScenarioError(f"unknown key {where}{k!r}")
        if isinstance(base[k], dict) and k != "paths":
            if not isinstance(v, dict):
                raise ScenarioError(f"{where}{k} must be a table")
            out[k] = _merge(base[k], v, f"{where}{k}.")
        else:
            out[k] = copy.deepcopy(v)
    return out


def _netem(d: Any, where: str, partial: bool = False) -> dict:
    if not isinstance(d, dict):
        raise ScenarioError(f"{where} must be a table of netem settings")
    out = {}
    for k, v in d.items():
        if k not in NETEM_KEYS:
            raise ScenarioError(f"unknown netem key {where}.{k} (known: {', '.join(NETEM_KEYS)})")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise ScenarioError(f"{where}.{k} must be a number >= 0")
        out[k] = NETEM_KEYS[k](v)
    if out.get("loss_pct", 0) > 100 or out.get("reorder_pct", 0) > 100:
        raise ScenarioError(f"{where}: percentages must be <= 100")
    if not partial and out.get("reorder_pct") and not out.get("delay_ms"):
        raise ScenarioError(f"{where}: reorder_pct needs delay_ms (netem reorders by not delaying some packets)")
    return out


def validate(raw: dict, name: str = "") -> dict:
    """Fill defaults, check keys and values; returns a new JSON-able dict."""
    sc = _merge(DEFAULTS, raw, "")
    sc["name"] = sc["name"] or name
    if not sc["name"]:
        raise ScenarioError("scenario has no name")
    paths: dict[str, dict[str, dict]] = {"p1": {"c2s": {}, "s2c": {}}, "p2": {"c2s": {}, "s2c": {}}}
    for p, dirs in sc["paths"].items():
        if p not in paths or not isinstance(dirs, dict):
            raise ScenarioError(f"unknown path {p!r} (paths are p1 and p2)")
        for d, net in dirs.items():
            if d not in DIRECTIONS:
                raise ScenarioError(f"paths.{p}: unknown direction {d!r} ({', '.join(DIRECTIONS)})")
            paths[p][d] = _netem(net, f"paths.{p}.{d}")
    sc["paths"] = paths
    tl = []
    for i, ev in enumerate(sc["timeline"]):
        if not isinstance(ev, dict) or "at_s" not in ev or ev.get("path") not in paths:
            raise ScenarioError(f"timeline[{i}] needs at_s and path (p1 or p2)")
        extra = set(ev) - {"at_s", "path", *DIRECTIONS}
        if extra:
            raise ScenarioError(f"timeline[{i}]: unknown keys {sorted(extra)}")
        tl.append({"at_s": float(ev["at_s"]), "path": ev["path"],
                   **{d: _netem(ev.get(d, {}), f"timeline[{i}].{d}", partial=True) for d in DIRECTIONS
                      if d in ("c2s", "s2c") or ev.get(d)}})
    sc["timeline"] = sorted(tl, key=lambda e: e["at_s"])
    cl, sv, asoc = sc["client"], sc["server"], sc["association"]
    for who in (cl, sv):
        if who["style"] not in ("one-to-one", "one-to-many"):
            raise ScenarioError(f"style must be one-to-one or one-to-many, not {who['style']!r}")
    size = cl["size"]
    if isinstance(size, int):
        size = [size, size]
    if (not isinstance(size, list) or len(size) != 2 or not all(isinstance(x, int) for x in size)
            or not 16 <= size[0] <= size[1] <= 65000):
        raise ScenarioError("client.size must be an int or [min, max] with 16 <= min <= max <= 65000")
    cl["size"] = size
    if not cl["streams"] or any(not 0 <= s < asoc["streams"] for s in cl["streams"]):
        raise ScenarioError(f"client.streams must be ids below association.streams ({asoc['streams']})")
    if not 1 <= cl["associations"] <= 16:
        raise ScenarioError("client.associations must be 1..16")
    if cl["style"] == "one-to-many" and cl["associations"] != 1:
        raise ScenarioError("a one-to-many client has one association per server: client.associations = 1")
    if cl["messages"] < 0 or cl["rate_per_s"] < 0:
        raise ScenarioError("client.messages and client.rate_per_s must be >= 0")
    if not 1 <= sv["port"] <= 65535:
        raise ScenarioError("server.port must be 1..65535")
    if not 0 < sc["duration_s"] <= 600:
        raise ScenarioError("duration_s must be in (0, 600]")
    ng = sc["ngap"]
    if ng["ues"]:
        if not 1 <= ng["ues"] <= 1000 or not 1 <= ng["concurrency"] <= 100:
            raise ScenarioError("ngap.ues must be 1..1000 and ngap.concurrency 1..100")
        if min(ng["amf_delay_ms"], ng["gnb_delay_ms"]) < 0:
            raise ScenarioError("ngap delays must be >= 0")
        if cl["style"] != "one-to-one" or cl["associations"] != 1 or asoc["streams"] < 2:
            raise ScenarioError("ngap: one one-to-one client association with at least 2 streams")
        from sctpcorr.lab import ngapflow   # pycrate: on the host; the guest gets the encoded messages

        ng["setup"] = ngapflow.setup()
        ng["flows"] = [ngapflow.flow(u) for u in range(1, ng["ues"] + 1)]
    return sc


def load_file(path: str | Path) -> dict:
    """Load and validate one scenario file; the name defaults to the file's stem."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{p}: {e}") from None
    try:
        sc = validate(raw, p.stem)
    except ScenarioError as e:
        raise ScenarioError(f"{p}: {e}") from None
    sc["source"] = str(p)
    return sc


def shipped() -> dict[str, Path]:
    """Scenario name -> file for the scenarios shipped with sctpcorr."""
    root = importlib.resources.files("sctpcorr.lab") / "scenarios"
    return {Path(str(f)).stem: Path(str(f)) for f in root.iterdir() if str(f).endswith(".toml")}


def find(name_or_path: str) -> Path:
    """A scenario argument: a shipped name (``baseline``) or a path to a .toml file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise ScenarioError(f"no scenario file {p}")
        return p
    ships = shipped()
    if name_or_path not in ships:
        raise ScenarioError(f"unknown scenario {name_or_path!r} (shipped: {', '.join(sorted(ships))}; "
                            "or give a .toml path)")
    return ships[name_or_path]


def load(name_or_path: str) -> dict:
    """find() then load_file()."""
    return load_file(find(name_or_path))
