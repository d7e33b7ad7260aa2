"""One peer node as this node sees it: its link, its send queue, what spans it.

Sending (any thread): a message is encoded in the sender's thread (so an
unencodable one fails there, with ``CodecError``) and queued; if no one is
flushing, the sender becomes the flusher and sends what has queued up, many
messages per frame when they queue faster than they leave (group commit).
Tells, asks sent while others to the same peer are unanswered, and answers
of an agent with more mail waiting are *deferred*: the I/O thread sends what
has queued, one batch frame per round, so a single busy sender's messages
share frames too (a frame per message cost a send, a receive and a decode
each, and GIL hand-offs between the threads that made them). One flusher
at a time touches the link's socket; order per sender and receiver is kept
because the queue is one list. While the link is coming up (the first
time, or again once the peer has proved the cookie on its own connection to
us) messages queue; after a loss they are dropped.

What spans the link is kept here so that its loss can fire it: links
between local and remote agents, monitors in both directions, and asks
waiting for replies.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from otp import _log
from otp.actor._process import current
from otp.codec import CodecError
from otp.node._protocol import OP_REPLY

if TYPE_CHECKING:
    from collections.abc import Iterator

    from otp.codec import Codec
    from otp.node.transport import Link, Transport

__all__ = ["Peer", "Reply", "corked", "next_corr"]

CONNECTING, UP, DOWN, REJECTED = "connecting", "up", "down", "rejected"
_QUEUE_LIMIT = 100_000  # messages queued for a peer that has not come up yet

_log_peer = _log.get_logger()
next_corr = itertools.count(1).__next__
"""Correlation ids of asks, spawns and name claims (one sequence, so replies never collide)."""

_corks = threading.local()


@contextmanager
def corked() -> Iterator[None]:
    """Hold back what this thread sends to other nodes in the block; at its end, send it
    from this thread, one frame per node (a fan-out's asks leave together, at once).

    Without it, asks sent while others to the same node are unanswered are
    left to the I/O thread, which may only get the GIL once this thread (and
    the node loop, busy with the fan-out's local members) let it.
    """
    if _corks.__dict__.get("peers") is not None:  # nested: the outer block sends
        yield
        return
    peers: dict[Peer, None] = {}
    _corks.peers = peers
    try:
        yield
    finally:
        _corks.peers = None
        for peer in peers:
            peer.flush_now()


class Peer:
    """A peer node: name, address, state, send queue, and the links and monitors across."""

    def __init__(self, node_codec: Codec, transport: Transport, address: str,
                 key: str | None, name: str | None = None) -> None:
        self.codec = node_codec
        self.transport = transport
        self.name = name  # learned from the challenge when joined by address
        self.address = address
        self.advertised: str | None = None  # the address it gave when it connected to us
        self.key = key
        self.state = CONNECTING
        self.ever_up = False
        # The peer has proved the cookie on its own connection to us, so our link to it is
        # coming up: queue for it meanwhile, as for a first connection. (It may talk to us
        # before our link is up, after a reconnection too: its asks need our replies.)
        self.inbound = False
        self.link: Link | None = None
        self.retired: Link | None = None  # a lost link a flusher still holds
        self.lock = threading.Lock()
        self.parts: list[bytes] = []
        self.flushing = False
        self.scheduled = False  # the I/O thread will flush (deferred sends queued)
        self.nonce = b""  # our nonce in the handshake under way
        self.handshake_timer = 0
        self.retry = 0.0  # seconds before the next attempt after a failed security handshake
        self.asks: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self.spawns: dict[int, Any] = {}  # corr -> reply sink of a remote spawn (kept strongly)
        # corr -> (remote ref, reason) of a stop() under way: its answer marks the ref dead,
        # as a local stop() does, even if the asker has given up (so kept strongly).
        self.stops: dict[int, tuple[Any, Any]] = {}
        self.links: set[tuple[Any, Any]] = set()  # (local ref, remote ref)
        self.mon_out: dict[Any, tuple[Any, Any]] = {}  # mref -> (local watcher, remote target)
        self.mon_in: dict[Any, Any] = {}  # mref -> local target watched from there
        self.frames_out = 0
        self.dropped = 0

    def __repr__(self) -> str:
        return f"<Peer {self.name or '?'} {self.address} {self.state}>"

    # -- sending ---------------------------------------------------------------------
    def send(self, message: Any, *, defer: bool = False) -> bool:
        """Queue ``message`` for the peer and flush; False if the peer is not connected.

        With ``defer`` (tells) the I/O thread flushes soon instead of this
        thread, so that a burst from one sender leaves as a few batch frames;
        anything sent without ``defer`` (an ask, a reply) flushes at once,
        taking the deferred messages queued before it along (order is kept).

        Raises:
            CodecError: the message cannot be encoded (nothing is sent).
        """
        # An operation travels as a plain array: a tuple would cost a tag, a ``default``
        # call to encode it and an ``ext_hook`` and ``list_hook`` call to decode it.
        part = self.codec.encode_part(list(message) if message.__class__ is tuple else message)
        with self.lock:
            state = self.state
            if state is not UP:
                if (state is CONNECTING and (self.inbound or not self.ever_up)
                        and len(self.parts) < _QUEUE_LIMIT):
                    self.parts.append(part)  # the connection is on its way
                    return True
                return False
            self.parts.append(part)
            cork = _corks.__dict__.get("peers")
            if cork is not None:  # sent when the corked() block ends
                cork[self] = None
                return True
            if self.flushing or (defer and self.scheduled):
                return True
            if defer:
                self.scheduled = True
            else:
                self.flushing = True
        if defer:
            self.transport.call_soon(self.flush_deferred)
        else:
            self.flush()
        return True

    def flush_now(self) -> None:
        """Send what has queued up, from this thread, unless a flusher is at it already."""
        with self.lock:
            if self.flushing:
                return  # the flusher takes everything queued
            self.flushing = True
        self.flush()

    def flush_deferred(self) -> None:
        """I/O thread: send one batch of what has queued up (again next round if more came)."""
        with self.lock:
            self.scheduled = False
            if self.flushing:
                return  # a sender is flushing: it takes everything queued
            self.flushing = True
        self.flush(once=True)

    def flush(self, once: bool = False) -> None:
        """Send what has queued up, a frame at a time (the caller holds the flusher role).

        With ``once`` (the I/O thread) one frame at most; what is left is
        flushed in its next round, so a steady sender cannot starve its reads.
        """
        limit = self.codec.max_frame - 1
        sent = False
        while True:
            with self.lock:
                link = self.link
                if not self.parts or self.state is not UP or link is None or (once and sent):
                    self.flushing = False
                    again = once and sent and bool(self.parts) and not self.scheduled
                    if again:
                        self.scheduled = True
                    retired, self.retired = self.retired, None
                    break
                parts = self.parts
                size = sum(map(len, parts))
                if size > limit:
                    parts, size, cut = [], 0, 0
                    for cut, part in enumerate(self.parts):  # noqa: B007 - cut is used after
                        if size + len(part) > limit and parts:
                            break
                        parts.append(part)
                        size += len(part)
                    self.parts = self.parts[len(parts):]
                else:
                    self.parts = []
            sent = True
            if link.send(self.codec.join(parts)):
                self.frames_out += 1
            else:
                self.dropped += len(parts)
                _log_peer.warning("frame_dropped", reason="send_queue_full", peer=self.name,
                                  messages=len(parts))
        if again:
            self.transport.call_soon(self.flush_deferred)
        if retired is not None:
            self.transport.call_soon(retired.close)

    def go_up(self) -> None:
        """The handshake is done (I/O thread): send what queued while connecting."""
        with self.lock:
            self.state = UP
            self.ever_up = True
            if not self.parts or self.flushing:
                return
            self.flushing = True
        self.flush()

    def go_down(self, state: str = DOWN) -> Link | None:
        """The link is lost (I/O thread); return it to close unless a flusher still holds it."""
        with self.lock:
            self.state = state
            self.inbound = False
            self.parts = []
            link, self.link = self.link, None
            if self.flushing and link is not None:
                self.retired, link = link, None
        return link

    def reply(self, corr: int, ok: bool, value: Any) -> None:
        """Answer an ask from the peer; an unencodable answer is sent as its CodecError.

        When the answering agent has more messages waiting, its next answers follow
        within microseconds: the I/O thread sends them together.
        """
        defer = _more_work()
        try:
            self.send((OP_REPLY, corr, ok, value), defer=defer)
        except CodecError as exc:
            self.send((OP_REPLY, corr, False, exc), defer=defer)


def _more_work() -> bool:
    """Whether the agent running in this thread has messages waiting in its mailbox."""
    proc = current()
    if proc is None:
        return False
    inbox = getattr(proc, "inbox", None)
    if inbox is not None:
        return not inbox.empty()
    return bool(getattr(proc, "mailbox", None))


class Reply:
    """The future of an ask that came from a peer: its answer goes back to the peer."""

    __slots__ = ("corr", "peer")

    def __init__(self, peer: Peer, corr: int) -> None:
        self.peer = peer
        self.corr = corr

    def set(self, value: Any = None) -> None:
        self.peer.reply(self.corr, True, value)

    def set_exception(self, exc_info: Any = None) -> None:
        exc = exc_info[1] if exc_info is not None else None
        if exc is None and exc_info is not None and exc_info[0] is not None:
            exc = exc_info[0]()
        self.peer.reply(self.corr, False, exc)
