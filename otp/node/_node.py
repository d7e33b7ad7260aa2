"""A node: its name, its peers, and what a lost peer fires.

``Node`` is the transport's handler: frames and link events arrive on the
I/O thread (``otp-net``) and are handled there without blocking (a remote
spawn runs in a worker thread). The handshake is in ``_handshake`` (a part
of ``Node``), the protocol in ``_protocol``, what peers may ask in ``_ops``.
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

from otp import _log
from otp.actor import AgentRef, Down
from otp.actor._process import live
from otp.codec import Codec
from otp.errors import NOCONNECTION, AgentExit
from otp.node import _remote
from otp.node._global import GlobalNames
from otp.node._handshake import Handshake, _Session
from otp.node._peer import CONNECTING, DOWN, REJECTED, UP, Peer
from otp.node._spawn import Spawner
from otp.node.transport import Link, Transport

__all__ = ["Node", "NodeDown", "NodeUp"]

_RETRY_MIN, _RETRY_MAX = 0.5, 10.0  # seconds between attempts after a failed security handshake

_log_node = _log.get_logger()


class NodeUp(NamedTuple):
    """A peer node connected (sent to refs given to ``monitor_nodes``)."""

    node: str


class NodeDown(NamedTuple):
    """A peer node was lost; ``reason`` is ``"noconnection"``."""

    node: str
    reason: Any


class Node(Handshake):
    """This process's node. Start one with ``otp.node.start``."""

    def __init__(self, name: str, endpoint: str, cookie: bytes, *, heartbeat: float,
                 curve: Any, public_key: str | None, max_frame: int,
                 advertise: str | None = None) -> None:
        self.name = name
        self.cookie = cookie
        self.heartbeat = heartbeat
        self.codec = Codec(max_frame)
        self.transport = Transport(self, heartbeat=heartbeat, curve=curve)
        bound = self.transport.bind(endpoint)
        if advertise is not None and advertise.endswith(":*"):  # the port bound, this host
            advertise = advertise[:-1] + bound.rpartition(":")[2]
        self.address = advertise or bound  # what peers are told to connect to
        self.bound = bound
        self.public_key = public_key
        self.peers: dict[str, Peer] = {}  # by name, once known
        self.joining: list[Peer] = []  # joined by address, name not yet known
        self.sessions: dict[bytes, _Session] = {}  # authenticated inbound connections
        # rid -> (their nonce, ours, when, the name they gave)
        self.challenges: dict[bytes, tuple[bytes, bytes, float, str]] = {}
        self.names = GlobalNames(self)
        self.spawner = Spawner(self)
        self.watchers: set[AgentRef[Any]] = set()
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.rejected = 0
        self.on_stop_request: Any = None  # set by otp-node start: a stop asked by `otp-node stop`
        self.stopped = False

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.address}>"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, join: list[tuple[str, str | None]]) -> None:
        _remote.set_local_node(self)
        self.transport.start()
        for endpoint, key in join:
            self.transport.call_soon(self._join, endpoint, key)
        _log_node.info("node_started", node=self.name, address=self.address)

    def stop(self) -> None:
        """Disconnect from every peer and close the sockets (agents keep running)."""
        if self.stopped:
            return
        self.stopped = True
        self.transport.call_soon(self._lose_all)
        time.sleep(0.05)  # let DOWNs and exits reach the wire before the sockets close
        self.transport.close()
        self.spawner.close()
        if _remote.local_node() is self:
            _remote.set_local_node(None)
        _log_node.info("node_stopped", node=self.name)

    def _lose_all(self) -> None:
        for peer in list(self.peers.values()):
            if peer.state is UP:
                self._lost(peer)

    # -- peers -------------------------------------------------------------------------------
    def peer_for(self, name: str) -> Peer | None:
        return self.peers.get(name)

    def up_peers(self) -> list[Peer]:
        return [p for p in list(self.peers.values()) if p.state is UP]

    def nodes(self) -> list[str]:
        """The names of the connected peers, sorted."""
        return sorted(p.name for p in self.up_peers() if p.name)

    def wait_for(self, names: list[str] | None, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                up = set(self.nodes())
                if (set(names) <= up if names else len(up) >= count):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)

    def _join(self, endpoint: str, key: str | None) -> None:
        if endpoint == self.address or any(p.address == endpoint for p in self._all_peers()):
            return
        peer = Peer(self.codec, self.transport, endpoint, key)
        self.joining.append(peer)
        self._connect(peer)

    def _all_peers(self) -> list[Peer]:
        return [*self.peers.values(), *self.joining]

    def _connect(self, peer: Peer) -> None:
        try:
            link = self.transport.connect(peer.address, peer.key)
        except Exception as exc:  # noqa: BLE001 - a bad address learned from a peer: log, go on
            _log_node.warning("peer_connect_failed", address=peer.address, error=str(exc))
            peer.state = REJECTED
            return
        link.owner = peer
        peer.link = link

    def ensure_peer(self, name: str, address: Any, key: Any) -> None:
        """Connect to a peer we were told about, unless we know it already."""
        if name == self.name or name in self.peers or not isinstance(address, str):
            return
        if any(p.address == address for p in self.joining):
            return
        peer = Peer(self.codec, self.transport, address, key if isinstance(key, str) else None,
                    name)
        self.peers[name] = peer
        self._connect(peer)

    # -- losing and regaining peers -----------------------------------------------------------
    def on_link_lost(self, link: Link) -> None:
        peer = link.owner
        if peer is None or peer.link is not link or peer.state is REJECTED:
            return
        if peer.state is UP:
            self._lost(peer)
        self._reconnect(peer)

    def _reconnect(self, peer: Peer) -> None:
        old = peer.go_down(DOWN if peer.ever_up else CONNECTING)
        if old is not None:
            old.close()
        peer.state = CONNECTING
        self._connect(peer)

    def on_rejected(self, address: str, reason: str) -> None:
        self.rejected += 1
        _log_node.warning("peer_rejected", address=address, reason=reason)

    def on_link_rejected(self, link: Link, reason: str) -> None:
        """Our link's security handshake failed (CURVE).

        libzmq would reconnect at once, and both nodes would log a rejection
        hundreds of times a second. A refused key (``curve_auth``) or a
        mismatch (``curve_protocol``: one side without CURVE) is given up; any
        other failure (a wrong server key, a connection cut mid-handshake) is
        retried after a delay that doubles up to ``_RETRY_MAX`` seconds.
        """
        peer = link.owner
        if peer is None or peer.link is not link:
            self.on_rejected(link.address, reason)
            return
        if reason == "curve_auth":
            self._reject_link(peer, reason, f"{link.address} does not accept our CURVE key: is "
                              "our public key in its --curve-allow directory? (not retried)")
        elif reason == "curve_protocol":
            self._reject_link(peer, reason, f"{link.address}: the security handshake failed: "
                              "is CURVE on at one end only? (not retried)")
        else:
            self.on_rejected(link.address, reason)
            if peer.state is UP:
                self._lost(peer)
            peer.retry = min(_RETRY_MAX, max(_RETRY_MIN, peer.retry * 2))
            old = peer.go_down(CONNECTING)
            if old is not None:
                old.close()
            self.transport.call_later(peer.retry, self._retry, peer)

    def _retry(self, peer: Peer) -> None:
        if peer.state is CONNECTING and peer.link is None:
            self._connect(peer)

    def _up(self, peer: Peer) -> None:
        name = peer.name
        assert name is not None
        for proc in _remote.remote_processes(name):
            if proc.reason == NOCONNECTION:
                proc.dead, proc.reason = False, None
        self.names.peer_up(peer)
        _log_node.info("node_up", node=self.name, peer=name, address=peer.address)
        self._notify(NodeUp(name))

    def _lost(self, peer: Peer) -> None:
        """Fire everything that spans the peer with ``noconnection`` (I/O thread)."""
        name = peer.name or peer.address
        old = peer.go_down(DOWN)
        if old is not None:
            old.close()
        self.sessions = {r: s for r, s in self.sessions.items() if s.name != name}
        for proc in _remote.remote_processes(name):
            _remote.mark_dead(proc.ref, NOCONNECTION)
        links, peer.links = peer.links, set()
        for local, remote in links:
            local._proc.exit_signal(remote, NOCONNECTION, from_link=True)
        mon_out, peer.mon_out = peer.mon_out, {}
        for mref, (watcher, target) in mon_out.items():
            watcher._proc.deliver(Down(mref, target, NOCONNECTION))
        mon_in, peer.mon_in = peer.mon_in, {}
        for mref, target in mon_in.items():
            target._proc.remove_monitor(mref)
        asks = list(peer.asks.items())
        peer.asks.clear()
        peer.stops.clear()
        for _corr, future in asks:
            exc = AgentExit(f"node {name!r} was lost before it replied (noconnection)",
                            NOCONNECTION, None)
            future.set_exception((AgentExit, exc, None))
        self.spawner.lost(peer)
        self.names.node_down(name)
        _log_node.warning("node_down", node=self.name, peer=name, reason=NOCONNECTION)
        self._notify(NodeDown(name, NOCONNECTION))

    def _notify(self, event: NodeUp | NodeDown) -> None:
        with self.changed:
            self.changed.notify_all()
            watchers = list(self.watchers)
        for ref in watchers:
            ref.tell(event)

    # -- what `otp-node ls` shows --------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        agents = [{"id": p.id, "class": p.ref.class_name, "name": p.name,
                   "kind": getattr(p, "kind", "thread")}
                  for p in live() if p.ref is not None and p.ref.class_name != "Inbox"]
        return {
            "node": self.name,
            "address": self.address,
            "nodes": [{"name": p.name, "address": p.address, "state": p.state}
                      for p in self._all_peers()],
            "agents": agents,
            "names": {"local": sorted(a["name"] for a in agents if a["name"]),
                      "global": {n: f"{r} on {r.node or self.name}"
                                 for n, r in sorted(self.names.names().items())}},
            "stats": {"frames_in": self.transport.frames_in,
                      "frames_out": sum(p.frames_out for p in self._all_peers()),
                      "frames_dropped": dict(self.codec.dropped),
                      "rejected": self.rejected},
        }

