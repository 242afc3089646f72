"""The lab's network: client and server namespaces joined by a router namespace over two paths.

::

      netns cli                    netns rtr                     netns srv
   c1 198.18.1.1/24 ───── rc1 198.18.1.254   rs1 198.19.1.254 ───── s1 198.19.1.1/24    path p1 (primary)
   c2 198.18.2.1/24 ───── rc2 198.18.2.254   rs2 198.19.2.254 ───── s2 198.19.2.1/24    path p2

Addresses come from 198.18.0.0/15 (RFC 2544, set aside for network test beds), so they can never be a real
host.  The client reaches 198.19.1.0/24 only through c1 and 198.19.2.0/24 only through c2, and the server
likewise, so each SCTP path (source, destination) crosses exactly one pair of veths: the association is
really multihomed.  Impairments are netem qdiscs on the router's egress interfaces: ``c2s`` on rsN (towards the
server), ``s2c`` on rcN (towards the client); ``client_egress``/``server_egress`` put one on the endpoint's own
interface (cN/sN), so the delay is spent inside that host, before its capture point.  The captures run next to each endpoint, so each sees exactly
what its own stack sent and received.

IPv4 forwarding: guest.py turns it on in the root namespace before creating the others, which inherit it
(net.core.devconf_inherit_init_net = 0, the default).  This module only builds argument lists (pure
functions, unit-tested on the host); guest.py runs them.
"""
from __future__ import annotations

__all__ = ["NS", "PATHS", "topology", "setup_batches", "offload_commands", "teardown_lines", "netem_args",
           "netem_line", "netem_command", "netem_namespace", "NETEM_PLACES"]

NS = {"client": "cli", "router": "rtr", "server": "srv"}

PATHS = {
    "p1": {"client": "198.18.1.1", "client_gw": "198.18.1.254", "server": "198.19.1.1",
           "server_gw": "198.19.1.254", "client_if": "c1", "router_client_if": "rc1",
           "router_server_if": "rs1", "server_if": "s1"},
    "p2": {"client": "198.18.2.1", "client_gw": "198.18.2.254", "server": "198.19.2.1",
           "server_gw": "198.19.2.254", "client_if": "c2", "router_client_if": "rc2",
           "router_server_if": "rs2", "server_if": "s2"},
}

# netem's default queue (1000 packets) drops in bulk runs; a lab impairment should only be what it says
DEFAULT_NETEM_LIMIT = 10000


def topology() -> dict:
    """What the manifest and the workload need to know about the network."""
    return {
        "namespaces": dict(NS),
        "client_addrs": [PATHS[p]["client"] for p in ("p1", "p2")],
        "server_addrs": [PATHS[p]["server"] for p in ("p1", "p2")],
        "paths": {p: {"client": v["client"], "server": v["server"], "client_if": v["client_if"],
                      "server_if": v["server_if"],
                      "netem_if": {d: v[key] for d, (_role, key) in NETEM_PLACES.items()}}
                  for p, v in PATHS.items()},
    }


def setup_batches() -> list[tuple[list[str], list[str]]]:
    """(argv, stdin lines) that build the network, in order, in few processes (each costs about a second in a
    TCG guest).  Between the first and the second batch ``offload_commands()`` must run: the veths are still
    in the root namespace then, so ethtool needs no ``ip netns exec``."""
    cli, rtr, srv = NS["client"], NS["router"], NS["server"]
    root = [f"netns add {n}" for n in (cli, rtr, srv)]
    move = []
    per: dict[str, list[str]] = {cli: ["link set lo up"], rtr: ["link set lo up"], srv: ["link set lo up"]}
    for p in PATHS.values():
        root += [f"link add {p['client_if']} type veth peer name {p['router_client_if']}",
                 f"link add {p['server_if']} type veth peer name {p['router_server_if']}"]
        move += [f"link set {p['client_if']} netns {cli}", f"link set {p['router_client_if']} netns {rtr}",
                 f"link set {p['server_if']} netns {srv}", f"link set {p['router_server_if']} netns {rtr}"]
        server_net = p["server"].rsplit(".", 1)[0] + ".0/24"
        client_net = p["client"].rsplit(".", 1)[0] + ".0/24"
        per[cli] += [f"addr add {p['client']}/24 dev {p['client_if']}", f"link set {p['client_if']} up",
                     f"route add {server_net} via {p['client_gw']} dev {p['client_if']}"]
        per[rtr] += [f"addr add {p['client_gw']}/24 dev {p['router_client_if']}",
                     f"addr add {p['server_gw']}/24 dev {p['router_server_if']}",
                     f"link set {p['router_client_if']} up", f"link set {p['router_server_if']} up"]
        per[srv] += [f"addr add {p['server']}/24 dev {p['server_if']}", f"link set {p['server_if']} up",
                     f"route add {client_net} via {p['server_gw']} dev {p['server_if']}"]
    out = [(["ip", "-batch", "-"], root), (["ip", "-batch", "-"], move)]
    out += [(["ip", "-n", ns, "-batch", "-"], lines) for ns, lines in per.items()]
    return out


def offload_commands() -> list[list[str]]:
    """Turn off SCTP checksum offload and SCTP GSO on the endpoints' veths (in the root namespace, before the
    veths move into their namespaces).

    With them on, veth hands packets over with no CRC32c computed, and SCTP GSO builds super-packets larger
    than the MTU, so a capture would show bad checksums and impossible packets.  A real NIC would fix both in
    hardware, after the capture point; the lab wants captures that match the wire."""
    return [["ethtool", "-K", p[k], "tx-checksum-sctp", "off", "tx-sctp-segmentation", "off"]
            for p in PATHS.values() for k in ("client_if", "server_if")]


def teardown_lines() -> list[str]:
    """``ip -force -batch`` lines that delete the namespaces (their veths go with them)."""
    return [f"netns del {n}" for n in NS.values()]


def _num(x: float) -> str:
    return f"{x:g}"


def netem_args(params: dict) -> list[str]:
    """tc netem arguments for one direction of one path (see scenario.NETEM_KEYS)."""
    args: list[str] = []
    delay = params.get("delay_ms", 0.0)
    jitter = params.get("jitter_ms", 0.0)
    if delay or jitter:
        args += ["delay", _num(delay) + "ms"]
        if jitter:
            args.append(_num(jitter) + "ms")
    if params.get("loss_pct"):
        args += ["loss", "random", _num(params["loss_pct"]) + "%"]
    if params.get("reorder_pct"):
        args += ["reorder", _num(params["reorder_pct"]) + "%"]
    if params.get("duplicate_pct"):
        args += ["duplicate", _num(params["duplicate_pct"]) + "%"]
    if params.get("rate_kbit"):
        args += ["rate", f"{int(params['rate_kbit'])}kbit"]
    args += ["limit", str(int(params.get("limit") or DEFAULT_NETEM_LIMIT))]
    return args


# direction -> (namespace role, interface key of PATHS): where its netem qdisc sits
NETEM_PLACES = {
    "c2s": ("router", "router_server_if"),          # the network, client -> server
    "s2c": ("router", "router_client_if"),          # the network, server -> client
    "client_egress": ("client", "client_if"),       # inside the client, before its capture point
    "server_egress": ("server", "server_if"),       # inside the server, before its capture point
}


def netem_namespace(direction: str) -> str:
    """The network namespace whose ``tc`` sets the netem of ``direction``."""
    return NS[NETEM_PLACES[direction][0]]


def netem_line(path: str, direction: str, params: dict) -> str:
    """A ``tc -n <netem_namespace(direction)> -batch`` line that sets the full netem state of one direction of a
    path."""
    dev = PATHS[path][NETEM_PLACES[direction][1]]
    return " ".join(["qdisc", "replace", "dev", dev, "root", "netem", *netem_args(params)])


def netem_command(path: str, direction: str, params: dict) -> list[str]:
    """``tc qdisc replace`` (one process) that sets the full netem state of one direction of a path."""
    return ["tc", "-n", netem_namespace(direction), *netem_line(path, direction, params).split()]
