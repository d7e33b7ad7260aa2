"""The handshake, both sides: a node proving the cookie to a peer and a peer to it.

``Handshake`` is a part of ``Node`` (a mixin kept in its own module): the
connecting side reads the peer's answers on its link; the listening side
answers on the ROUTER, and routes the frames of authenticated connections to
``_ops``. The protocol itself is described in ``_protocol``.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from otp import _log
from otp.codec import Codec, CodecError
from otp.node._ops import dispatch
from otp.node._peer import CONNECTING, REJECTED, UP, Peer
from otp.node._protocol import PROTOCOL, nonce, proof

if TYPE_CHECKING:
    from otp.node._node import Node
    from otp.node.transport import Link, Transport

__all__ = ["STATUS_TIMEOUT", "Handshake", "set_status_reporter"]

_HANDSHAKE_TIMEOUT = 5.0
_OPEN_CHALLENGES = 256
_HIDDEN_SESSIONS = 64  # hidden clients (otp-node ping, ls) remembered; the oldest are forgotten
STATUS_TIMEOUT = 2.0
"""Seconds a ``status`` request may spend walking the supervision trees (a hidden client
waits 5 s by default, so the answer comes in time even when a supervisor does not)."""
_STATUS_WALKS = threading.BoundedSemaphore(4)  # status walks at once; more are refused

_log_node = _log.get_logger()

_status_reporter: Callable[[float], list[dict[str, Any]]] | None = None


def set_status_reporter(reporter: Callable[[float], list[dict[str, Any]]] | None) -> None:
    """Set what answers ``otp-node status``: ``reporter(timeout)`` returns the trees.

    The node layer sits under supervision and must not import it; supervision
    registers its ``trees`` here when imported. Without a reporter no
    supervisor can be running, and the answer lists no trees.
    """
    global _status_reporter  # noqa: PLW0603 - one reporter per process, set by the layer above
    _status_reporter = reporter


class _Session(NamedTuple):
    name: str
    hidden: bool


class Handshake:
    """The handshake methods of ``Node`` (see the module docstring)."""

    name: str
    address: str
    cookie: bytes
    public_key: str | None
    codec: Codec
    transport: Transport
    peers: dict[str, Peer]
    joining: list[Peer]
    sessions: dict[bytes, _Session]
    challenges: dict[bytes, tuple[bytes, bytes, float, str]]
    rejected: int
    on_stop_request: Any
    stopped: bool

    if TYPE_CHECKING:  # provided by Node
        def ensure_peer(self, name: str, address: Any, key: Any) -> None: ...
        def up_peers(self) -> list[Peer]: raise NotImplementedError
        def info(self) -> dict[str, Any]: raise NotImplementedError
        def _lost(self, peer: Peer) -> None: ...
        def _reconnect(self, peer: Peer) -> None: ...
        def _up(self, peer: Peer) -> None: ...

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
                dispatch(cast("Node", self), peer, op)
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
        elif what == "status":
            if _STATUS_WALKS.acquire(blocking=False):
                # The walk asks supervisors, and those on other nodes answer through this
                # I/O thread: it runs in a thread of its own, which hands the reply back here.
                threading.Thread(target=self._status, args=(rid,), name="otp-status",
                                 daemon=True).start()
                return
            answer = ("error", "busy: too many status requests at once; try again")
        else:
            answer = ("error", f"unknown request {what!r}: ping, info, status or stop")
        self.transport.reply(rid, self.codec.encode(answer))

    def _status(self, rid: bytes) -> None:
        """Walk the supervision trees (off the I/O thread, bounded) and answer ``rid``."""
        try:
            reporter = _status_reporter
            trees = [] if reporter is None else reporter(STATUS_TIMEOUT)
            answer: Any = ("status", {"node": self.name, "address": self.address,
                                      "trees": trees})
            try:
                frame = self.codec.encode(answer)
            except CodecError as exc:
                frame = self.codec.encode(("error", f"status could not be encoded: {exc}"))
        except Exception as exc:  # noqa: BLE001 - a failed walk is an answer, not a dead thread
            _log_node.warning("status_failed", node=self.name,
                              error=f"{type(exc).__name__}: {exc}")
            frame = self.codec.encode(("error", f"status failed: {type(exc).__name__}: {exc}"))
        finally:
            _STATUS_WALKS.release()
        if not self.stopped:  # the ROUTER belongs to the I/O thread: the reply leaves from there
            self.transport.call_soon(self.transport.reply, rid, frame)
