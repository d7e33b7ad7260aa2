"""A node: its name, its peers, the handshake, and what a lost peer fires.

``Node`` is the transport's handler: frames and link events arrive on the
I/O thread (``otp-net``) and are handled there without blocking (a remote
spawn runs in a worker thread). See ``_protocol`` for the handshake and
``_ops`` for what peers may ask.
"""

from __future__ import annotations

import hmac
import threading
import time
from typing import Any, NamedTuple

from otp import _log
from otp.actor import AgentRef, Down
from otp.actor._process import live
from otp.codec import Codec, CodecError
from otp.errors import NOCONNECTION, AgentExit
from otp.node import _remote
from otp.node._global import GlobalNames
from otp.node._ops import dispatch
from otp.node._peer import CONNECTING, DOWN, REJECTED, UP, Peer
from otp.node._protocol import PROTOCOL, nonce, proof
from otp.node._spawn import Spawner
from otp.node.transport import Link, Transport

__all__ = ["Node", "NodeDown", "NodeUp"]

_HANDSHAKE_TIMEOUT = 5.0
_RETRY_MIN, _RETRY_MAX = 0.5, 10.0  # seconds between attempts after a failed security handshake
_OPEN_CHALLENGES = 256
_HIDDEN_SESSIONS = 64  # hidden clients (otp-node ping, ls) remembered; the oldest are forgotten

_log_node = _log.get_logger()


class NodeUp(NamedTuple):
    """A peer node connected (sent to refs given to ``monitor_nodes``)."""

    node: str


class NodeDown(NamedTuple):
    """A peer node was lost; ``reason`` is ``"noconnection"``."""

    node: str
    reason: Any


class _Session(NamedTuple):
    name: str
    hidden: bool


class Node:
    """This process's node. Start one with ``otp.node.start``."""

    def __init__(self, name: str, endpoint: str, cookie: bytes, *, heartbeat: float,
                 curve: Any, public_key: str | None, max_frame: int) -> None:
        self.name = name
        self.cookie = cookie
        self.heartbeat = heartbeat
        self.codec = Codec(max_frame)
        self.transport = Transport(self, heartbeat=heartbeat, curve=curve)
        self.address = self.transport.bind(endpoint)
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

    # -- the handshake, connecting side (frames on our link) ---------------------------------
    def on_link_connected(self, link: Link) -> None:
        peer = link.owner
        if peer is None or peer.link is not link:
            return
        peer.nonce = nonce()
        link.send(self.codec.encode(("hello", PROTOCOL, self.name, peer.nonce)))
        peer.handshake_timer += 1
        self.transport.call_later(_HANDSHAKE_TIMEOUT, self._handshake_late, peer,
                                  peer.handshake_timer)

    def _handshake_late(self, peer: Peer, timer: int) -> None:
        if peer.state is CONNECTING and peer.handshake_timer == timer and peer.link is not None:
            _log_node.warning("peer_handshake_timeout", address=peer.address, peer=peer.name)
            self._reconnect(peer)

    def on_link_frame(self, link: Link, frame: bytes) -> None:
        peer = link.owner
        ok, message = self.codec.try_decode(frame)
        if not ok or peer is None or not isinstance(message, tuple) or not message:
            return
        if message[0] == "challenge" and len(message) == 4:
            _tag, name, their_nonce, their_proof = message
            expected = proof(self.cookie, b"B", peer.nonce, their_nonce, str(name))
            if not isinstance(their_proof, bytes) or not hmac.compare_digest(their_proof, expected):
                self._reject_link(peer, "bad_cookie", f"{name} did not prove the cookie", tell=True)
                return
            peer.name = str(name)
            mine = proof(self.cookie, b"A", their_nonce, peer.nonce, self.name)
            link.send(self.codec.encode(("auth", self.name, mine, self.address,
                                         self.public_key, False)))
        elif message[0] == "welcome" and len(message) == 3:
            self._welcomed(peer, link, message[2])
        elif message[0] == "rejected":
            self._reject_link(peer, "rejected_by_peer", str(message[1:]))

    def _welcomed(self, peer: Peer, link: Link, known: Any) -> None:
        name = peer.name
        if name is None or name == self.name:
            self._reject_link(peer, "self", "joined itself")
            return
        if peer in self.joining:
            self.joining.remove(peer)
            other = self.peers.get(name)
            if other is not None and other is not peer:
                if other.state is UP:  # connected the other way meanwhile: keep that one
                    peer.go_down(REJECTED)
                    link.close()
                    return
                self._retire(other)
            self.peers[name] = peer
        link.reading(False)
        peer.retry = 0.0
        peer.go_up()
        for entry in known if isinstance(known, list) else ():
            if isinstance(entry, tuple) and len(entry) == 3:
                self.ensure_peer(*entry)
        self._up(peer)

    def _retire(self, peer: Peer) -> None:
        link = peer.go_down(REJECTED)
        if link is not None:
            link.close()

    def _reject_link(self, peer: Peer, reason: str, detail: str, *, tell: bool = False) -> None:
        """Give up a link; with ``tell``, say why on it first (the listener logs it too)."""
        self.rejected += 1
        _log_node.warning("peer_rejected", address=peer.address, peer=peer.name, reason=reason,
                          detail=detail)
        if peer.state is UP:
            self._lost(peer)
        link = peer.go_down(REJECTED)
        if link is not None and tell:
            link.send(self.codec.encode(("rejected", reason)))
            link.reading(False)
            # a socket closed at once (linger 0) would discard the frame just queued
            self.transport.call_later(0.2, link.close)
        elif link is not None:
            link.close()
        if peer in self.joining:
            self.joining.remove(peer)

    # -- the handshake, listening side (frames on the ROUTER) --------------------------------
    def on_frame(self, rid: bytes, frame: bytes) -> None:
        session = self.sessions.get(rid)
        if session is not None and not session.hidden:
            peer = self.peers.get(session.name)
            try:
                ops = self.codec.decode_batch(frame)
            except CodecError:
                return  # counted and logged by the codec
            if peer is None:
                return
            for op in ops:
                dispatch(self, peer, op)
            return
        ok, message = self.codec.try_decode(frame)
        if not ok:
            return
        if session is not None:
            self._control(rid, message)
        elif isinstance(message, tuple) and message and message[0] == "hello":
            self._hello(rid, message)
        elif isinstance(message, tuple) and message and message[0] == "auth":
            self._auth(rid, message)
        elif isinstance(message, tuple) and message and message[0] == "rejected" \
                and rid in self.challenges:
            # the connecting side found our proof wrong: log it here too (a wrong cookie
            # on either side shows on both)
            _theirs, _ours, _t, name = self.challenges.pop(rid)
            reason = "bad_cookie" if message[1:] == ("bad_cookie",) else "rejected_by_peer"
            self.rejected += 1
            _log_node.warning("peer_rejected", peer=name, reason=reason,
                              detail=f"{name} says we did not prove the cookie: same cookie?")
        else:
            self.rejected += 1
            self.codec.dropped["unauthenticated"] += 1
            _log_node.warning("peer_rejected", reason="unauthenticated",
                              detail="a frame before the handshake", size=len(frame))

    def _hello(self, rid: bytes, message: tuple[Any, ...]) -> None:
        if len(message) != 4 or message[1] != PROTOCOL or not isinstance(message[3], bytes):
            self._refuse(rid, "protocol", f"unsupported hello {message[:2]!r}")
            return
        if len(self.challenges) >= _OPEN_CHALLENGES:
            oldest = min(self.challenges, key=lambda r: self.challenges[r][2])
            del self.challenges[oldest]
        ours = nonce()
        self.challenges[rid] = (message[3], ours, time.monotonic(), str(message[2])[:200])
        mine = proof(self.cookie, b"B", message[3], ours, self.name)
        self.transport.reply(rid, self.codec.encode(("challenge", self.name, ours, mine)))

    def _auth(self, rid: bytes, message: tuple[Any, ...]) -> None:
        open_ = self.challenges.pop(rid, None)
        if open_ is None or len(message) != 6:
            self._refuse(rid, "unauthenticated", "auth without a challenge")
            return
        _tag, name, their_proof, address, key, hidden = message
        theirs, ours, _t, _name = open_
        expected = proof(self.cookie, b"A", ours, theirs, str(name))
        if not isinstance(their_proof, bytes) or not hmac.compare_digest(their_proof, expected):
            self._refuse(rid, "bad_cookie", f"{name!r} did not prove the cookie", name)
            return
        name = str(name)
        if not hidden and not self._peer_authenticated(rid, name, address):
            return
        if hidden:
            self._bound_hidden_sessions()
        self.sessions[rid] = _Session(name, bool(hidden))
        known = [(p.name, p.address, p.key) for p in self.up_peers() if p.name != name]
        self.transport.reply(rid, self.codec.encode(("welcome", self.name, known)))
        if not hidden:
            self.ensure_peer(name, address, key)
            peer = self.peers.get(name)
            if peer is not None:
                if isinstance(address, str):
                    peer.advertised = address
                if peer.state is CONNECTING:
                    peer.inbound = True  # it may ask before our link is up: queue the replies

    def _bound_hidden_sessions(self) -> None:
        """Forget the oldest hidden clients: their connections close unseen (the ROUTER does
        not say which), so without a bound each `otp-node ping` would be kept for ever."""
        hidden = [r for r, s in self.sessions.items() if s.hidden]
        for rid in hidden[:max(0, len(hidden) - _HIDDEN_SESSIONS + 1)]:
            del self.sessions[rid]

    def _peer_authenticated(self, rid: bytes, name: str, address: Any) -> bool:
        """Reconcile a node that has proved the cookie with what we know of its name.

        Two connections carry a pair's traffic (each side's link to the other's
        ROUTER); both sides must agree that the pair is up or lost, or a side
        that has fired ``noconnection`` would drop the frames of one that has not:

        * Its name is ours, or that of a peer that is up and told us before that
          it listens at another address: another node with that name, refused
          (else the two would take turns at being the peer of that name).
        * It authenticates again while we still hold a session from its previous
          connection: it has lost its link to us (and fired ``noconnection`` on
          its side), so we lose it too, then reconnect.
        * The peer of that name is not up, and was given up (rejected) or is
          reached at another address: the node was restarted, maybe elsewhere;
          start afresh at the address it gives. (A peer that is up keeps the
          address we know it by: ``localhost`` and ``127.0.0.1`` are one place.)

        Returns False if the connection was refused.
        """
        peer = self.peers.get(name)
        if name == self.name or (peer is not None and peer.state is UP and peer.advertised
                                 and address != peer.advertised):
            where = self.address if peer is None else peer.advertised
            self._refuse(rid, "duplicate_name", f"a node named {name} is already up at {where}",
                         name)
            return False
        replace = (peer is not None and peer.state is not UP and isinstance(address, str)
                   and (peer.state is REJECTED or address != peer.address))
        stale = [r for r, s in self.sessions.items() if s.name == name and not s.hidden]
        if stale:
            for old in stale:
                del self.sessions[old]
            if peer is not None and peer.state is UP:
                _log_node.warning("peer_reconnected", node=self.name, peer=name,
                                  detail="it lost its link to us: losing ours too")
                self._lost(peer)
                self._reconnect(peer)
        if replace and peer is not None:
            self._retire(peer)
            del self.peers[name]
        return True

    def _refuse(self, rid: bytes, reason: str, detail: str, peer: Any = None) -> None:
        self.rejected += 1
        _log_node.warning("peer_rejected", peer=None if peer is None else str(peer)[:200],
                          reason=reason, detail=detail)
        self.transport.reply(rid, self.codec.encode(("rejected", reason)))

    def _control(self, rid: bytes, message: Any) -> None:
        what = message[0] if isinstance(message, tuple) and message else None
        if what == "ping":
            answer: Any = ("pong", self.name)
        elif what == "info":
            answer = ("info", self.info())
        elif what == "stop" and self.on_stop_request is not None:
            answer = ("stopping", self.name)
            threading.Thread(target=self.on_stop_request, name="otp-stop", daemon=True).start()
        else:
            answer = ("error", f"unknown request {what!r}: ping, info or stop")
        self.transport.reply(rid, self.codec.encode(answer))

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

