"""Nodes (layer 3): one supervision tree across machines, linked by ZeroMQ.

Start this process's node, join peers, and the agents of the whole cluster
are reachable through ordinary ``AgentRef`` objects: tell, ask, proxy,
links, monitors and supervisors work across nodes as they do locally, and a
lost node fires every link and monitor across it with ``noconnection``::

    node = otp.node.start("a", listen="tcp://127.0.0.1:7001", cookie="secret")
    ref = node.spawn("b@127.0.0.1", "myapp.agents:Researcher")
    ref.ask("hello")

The transport (``otp.node.transport``) is the only module that imports zmq.
"""

from __future__ import annotations

import os
from typing import Any

from otp.actor import AgentRef, drive
from otp.codec import MAX_FRAME
from otp.node._handshake import set_status_reporter
from otp.node._node import Node, NodeDown, NodeUp
from otp.node._protocol import (
    ConfigError,
    is_loopback,
    load_cookie,
    node_name,
    parse_address,
)
from otp.node._remote import local_node
from otp.node._spawn import SPAWN_TIMEOUT, import_path, resolve
from otp.node.transport import create_keys, load_keys

__all__ = [
    "ConfigError",
    "Node",
    "NodeDown",
    "NodeUp",
    "create_keys",
    "current",
    "demonitor_nodes",
    "import_path",
    "monitor_nodes",
    "nodes",
    "register_global",
    "resolve",
    "set_status_reporter",
    "spawn",
    "start",
    "stop",
    "unregister_global",
    "wait_for",
    "whereis_global",
]

HEARTBEAT = 1.0


def start(name: str, listen: str = "tcp://127.0.0.1:*", *, join: list[str] | tuple[str, ...] = (),
          cookie: str | None = None, cookie_file: str | os.PathLike[str] | None = None,
          curve_secret: str | os.PathLike[str] | None = None,
          curve_allow: str | os.PathLike[str] | None = None,
          heartbeat: float = HEARTBEAT, max_frame: int = MAX_FRAME,
          advertise: str | None = None) -> Node:
    """Start this process's node and begin joining ``join`` (returns at once).

    Args:
        name: ``"a"`` (the listen host is added: ``a@127.0.0.1``) or ``"a@host"``.
        listen: ``tcp://HOST:PORT`` (``*`` for any free port) or ``ipc:///path``.
        join: Addresses of nodes to connect to; their peers are connected too.
            With CURVE, append the peer's public key: ``tcp://h:p#curve=KEY``.
        cookie: The cluster's shared secret (default ``$OTP_COOKIE``, then
            ``~/.otp/cookie``, created on first use). It is never sent.
        cookie_file: A file holding the cookie (mode 0600), instead of ``cookie``.
        curve_secret: A ``*.key_secret`` file (``otp-node keys``). With
            ``curve_allow``, required to listen beyond loopback.
        curve_allow: A directory of the public keys this node accepts.
        heartbeat: Seconds after which a silent peer is lost (1 s).
        max_frame: Largest frame sent or accepted, in bytes.
        advertise: The address peers use to reach this node, when it is not the
            listen address: required when listening on a wildcard host
            (``tcp://0.0.0.0:7001``). A ``*`` port means the port bound.

    Raises:
        ConfigError: a bad name, address, cookie or key, or a node is already running.
        OSError: the address cannot be bound.
    """
    if local_node() is not None:
        msg = f"a node is already running in this process: {local_node()!r}; stop it first"
        raise ConfigError(msg)
    endpoint, _key = parse_address(listen)
    if not isinstance(heartbeat, (int, float)) or not 0.05 <= heartbeat <= 3600:
        msg = f"heartbeat={heartbeat!r}: use seconds between 0.05 and 3600 (1.0 by default)"
        raise ConfigError(msg)
    joins = [parse_address(a) for a in join]
    curve = public = None
    if (curve_secret is None) != (curve_allow is None):
        msg = "CURVE needs both curve_secret (a *.key_secret file) and curve_allow (a directory)"
        raise ConfigError(msg)
    if curve_secret is not None and curve_allow is not None:
        try:
            curve = load_keys(curve_secret, curve_allow)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        public = curve.public.decode()
        missing = [a for a, k in joins if k is None]
        if missing:
            msg = (f"with CURVE, each join address needs the peer's public key: "
                   f"{missing[0]}#curve=KEY (the peer's `otp-node keys` printed it)")
            raise ConfigError(msg)
    elif not is_loopback(endpoint):
        msg = (f"{listen!r} is reachable from other machines: CURVE encryption is required "
               "beyond loopback (--curve-secret and --curve-allow; see `otp-node keys`)")
        raise ConfigError(msg)
    wildcard = endpoint.startswith("tcp://") and _host(endpoint) in ("*", "0.0.0.0", "::")  # noqa: S104
    if advertise is not None:
        advertise, _ = parse_address(advertise)
        if advertise.startswith("tcp://") and _host(advertise) in ("*", "0.0.0.0", "::"):  # noqa: S104
            msg = f"advertise={advertise!r}: use an address peers can reach, such as tcp://10.0.0.5:7001"
            raise ConfigError(msg)
    elif wildcard:
        msg = (f"{listen!r} listens on every interface: say which address peers use to reach "
               "this node with advertise= (otp-node start --advertise tcp://HOST:PORT)")
        raise ConfigError(msg)
    secret = load_cookie(cookie, cookie_file)
    node = Node(node_name(name, advertise or endpoint), endpoint, secret,
                heartbeat=float(heartbeat), curve=curve, public_key=public, max_frame=max_frame,
                advertise=advertise)
    node.start(joins)
    return node


def _host(endpoint: str) -> str:
    return endpoint[6:].rpartition(":")[0].strip("[]")


def current() -> Node | None:
    """The node running in this process, or None."""
    return local_node()


def _node() -> Node:
    node = local_node()
    if node is None:
        msg = "no node is running in this process: call otp.node.start(...) first"
        raise ConfigError(msg)
    return node


def stop() -> None:
    """Stop this process's node (its agents keep running, cut off from the cluster)."""
    node = local_node()
    if node is not None:
        node.stop()


def nodes() -> list[str]:
    """The names of the connected peer nodes."""
    return _node().nodes()


def wait_for(*names: str, count: int = 1, timeout: float = 10.0) -> list[str]:
    """Wait until the named nodes (or ``count`` nodes) are connected; return the connected ones.

    Raises:
        TimeoutError: they were not all connected within ``timeout`` seconds.
    """
    node = _node()
    if not node.wait_for(list(names), count, timeout):
        want = ", ".join(names) if names else f"{count} node(s)"
        msg = f"{want} not connected within {timeout} s (connected: {node.nodes()})"
        raise TimeoutError(msg)
    return node.nodes()


def spawn(node: str, agent: Any, *, args: tuple[Any, ...] = (),
          kwargs: dict[str, Any] | None = None, name: str | None = None,
          link: AgentRef[Any] | None = None, kind: str | None = None,
          timeout: float = SPAWN_TIMEOUT) -> AgentRef[Any]:
    """Start an agent on ``node`` (this node's own name works too) and return its ref.

    ``agent`` is an AgentActor subclass defined in an importable module, or
    its import path ``"package.module:Class"``; the other node imports it.

    Raises:
        StartError: the agent's ``on_start`` failed there, or it could not be
            imported (``reason`` says why).
        AgentExit: ``node`` is not connected (reason ``noconnection``).
        AskTimeout: no answer within ``timeout`` seconds.
    """
    from otp.errors import StartError

    path = import_path(agent)
    steps = _node().spawner.steps(node, path, tuple(args), dict(kwargs or {}), name, link, kind,
                                  timeout)
    ref: AgentRef[Any] | None = drive(steps, asynchronous=False)
    if ref is None:
        msg = f"{path} on {node}: on_start() raised Ignore"
        raise StartError(msg, "ignore")
    return ref


def monitor_nodes(ref: AgentRef[Any]) -> None:
    """Send ``NodeUp(name)`` and ``NodeDown(name, reason)`` to ``ref`` as peers come and go."""
    _node().watchers.add(ref)


def demonitor_nodes(ref: AgentRef[Any]) -> None:
    """Stop sending ``NodeUp`` and ``NodeDown`` to ``ref`` (see ``monitor_nodes``)."""
    _node().watchers.discard(ref)


def register_global(name: str, ref: AgentRef[Any], *, timeout: float = 5.0) -> None:
    """Register ``ref`` under ``name`` on every connected node.

    The name is released when the agent exits or its node is lost.

    Raises:
        NameTaken: another live agent holds the name (``holder``).
    """
    _node().names.register(name, ref, timeout)


def unregister_global(name: str) -> None:
    """Release the global ``name`` on every connected node, before its agent exits."""
    _node().names.unregister(name)


def whereis_global(name: str) -> AgentRef[Any] | None:
    """The agent registered as ``name`` anywhere in the cluster, or None."""
    return _node().names.whereis(name)
