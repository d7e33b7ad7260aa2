"""The node's sockets and their I/O thread: the only module that imports zmq.

One node binds one ROUTER socket; every peer it sends to gets a DEALER
connected to that peer's ROUTER (a ``Link``). Traffic therefore flows one way
on each socket: frames arrive on the ROUTER, and leave on the DEALERs. A
link's DEALER is read only during the node's own handshake (the peer
answers on the same connection); once the link is up the I/O thread stops
reading it and any thread may send on it (the node layer lets one sender at
a time do so).

Failure detection is ZeroMQ's own: ZMTP heartbeats (``HEARTBEAT_IVL``,
``HEARTBEAT_TIMEOUT``) are answered by libzmq's threads, which do not need
the GIL, so a busy Python process is not taken for a dead one; a socket
monitor reports the lost connection. CURVE encryption and the key
allow-list are pyzmq's ``zmq.auth`` (a ZAP authenticator thread).

The I/O thread (``otp-net``) polls the ROUTER, the links being read, every
socket monitor and a wake-up pipe, and runs timers and calls handed to it
with :meth:`Transport.call_soon`.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

from otp import _log

__all__ = ["CurveKeys", "Dialer", "Handler", "Link", "Transport", "create_keys", "load_keys", "z85_ok"]

_LIMIT = 16 << 20  # libzmq drops a connection that sends a bigger frame (memory guard)
_HWM = 100_000
_BURST = 512  # frames read from the ROUTER per poll round, so timers and links get a turn
_NOBLOCK, _SOCK_EVENTS, _POLLIN = int(zmq.NOBLOCK), int(zmq.EVENTS), int(zmq.POLLIN)

_log_net = _log.get_logger()


class CurveKeys(NamedTuple):
    """A node's CURVE key pair and the directory of public keys it accepts."""

    public: bytes
    secret: bytes
    allow_dir: str


def create_keys(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """Write ``name.key`` (public) and ``name.key_secret`` in ``directory``; return their paths."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    umask = os.umask(0o077)  # the secret file is never readable by others, even briefly
    try:
        public, secret = zmq.auth.create_certificates(str(directory), name)
    finally:
        os.umask(umask)
    os.chmod(public, 0o644)
    return Path(public), Path(secret)


def load_keys(secret_file: str | os.PathLike[str], allow_dir: str | os.PathLike[str]) -> CurveKeys:
    """Load a key pair written by :func:`create_keys` (``otp-node keys``).

    Raises:
        ValueError: the file is missing, holds no secret key, or ``allow_dir``
            is not a directory.
    """
    path = Path(secret_file)
    if not path.is_file():
        msg = f"CURVE secret key file {str(path)!r} does not exist; create one with `otp-node keys`"
        raise ValueError(msg)
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except Exception as exc:
        msg = f"cannot read CURVE key file {str(path)!r}: {exc}"
        raise ValueError(msg) from exc
    if not secret:
        msg = f"{str(path)!r} holds a public key only; pass the *.key_secret file"
        raise ValueError(msg)
    if not Path(allow_dir).is_dir():
        msg = f"CURVE allow-list {str(allow_dir)!r} is not a directory of public *.key files"
        raise ValueError(msg)
    return CurveKeys(public, secret, str(allow_dir))


def z85_ok(key: str) -> bool:
    """Whether ``key`` is a 40-character Z85 CURVE public key."""
    try:
        return len(key) == 40 and len(zmq.utils.z85.decode(key.encode())) == 32
    except Exception:  # noqa: BLE001 - any decoding failure means "not a key"
        return False


class Handler(Protocol):
    """What the node layer does with what the transport sees (all on the I/O thread)."""

    def on_frame(self, routing_id: bytes, frame: bytes) -> None: ...
    def on_link_frame(self, link: Link, frame: bytes) -> None: ...
    def on_link_connected(self, link: Link) -> None: ...
    def on_link_lost(self, link: Link) -> None: ...
    def on_link_rejected(self, link: Link, reason: str) -> None: ...
    def on_rejected(self, address: str, reason: str) -> None: ...


_EVENTS = {zmq.EVENT_HANDSHAKE_SUCCEEDED: "connected", zmq.EVENT_DISCONNECTED: "lost",
           zmq.EVENT_HANDSHAKE_FAILED_AUTH: "auth", zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "protocol",
           zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake"}
_MONITORED = sum(_EVENTS)


class Link:
    """An outbound connection to one peer (a DEALER and its monitor)."""

    __slots__ = ("address", "closed", "monitor", "owner", "server_key", "sock", "transport")

    def __init__(self, transport: Transport, address: str, server_key: str | None) -> None:
        self.transport = transport
        self.address = address
        self.server_key = server_key
        self.owner: Any = None  # the node layer's peer record
        self.closed = False
        sock = transport._socket(zmq.DEALER)
        if transport.curve is not None:
            if server_key is None:
                msg = f"CURVE is on: the address {address!r} needs the peer's public key"
                raise ValueError(msg)
            sock.curve_secretkey = transport.curve.secret
            sock.curve_publickey = transport.curve.public
            sock.curve_serverkey = server_key.encode()
        self.sock = sock
        self.monitor = sock.get_monitor_socket(_MONITORED)
        sock.connect(address)

    def send(self, frame: bytes) -> bool:
        """Send one frame without blocking; False if the link is closed or its queue is full."""
        if self.closed:
            return False
        try:
            self.sock.send(frame, zmq.NOBLOCK, copy=len(frame) < 8192)
        except zmq.ZMQError:
            return False
        return True

    def reading(self, on: bool) -> None:
        """Read handshake answers on this link (I/O thread only)."""
        self.transport._reading(self, on)

    def close(self) -> None:
        """Close the socket (I/O thread only, with no sender using it)."""
        self.transport._close_link(self)


class Transport:
    """One ROUTER socket, the node's links, and the I/O thread that serves them.

    Args:
        handler: Receives frames and link events, on the I/O thread.
        heartbeat: Seconds after which a silent peer counts as lost.
        curve: Key pair and allow-list, or None for plain TCP/ipc.
    """

    def __init__(self, handler: Handler, *, heartbeat: float = 1.0,
                 curve: CurveKeys | None = None) -> None:
        self.handler = handler
        self.heartbeat = heartbeat
        self.curve = curve
        self.context = zmq.Context()
        self._auth: ThreadAuthenticator | None = None
        if curve is not None:
            self._auth = ThreadAuthenticator(self.context)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=curve.allow_dir)
        self.router = self._socket(zmq.ROUTER)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # No receive limit: at a limit libzmq stops reading the connection, ZMTP
        # heartbeats with it, and a fast sender would take a busy node for a lost one.
        # A node that cannot keep up buffers instead (as an Erlang mailbox grows).
        self.router.setsockopt(zmq.RCVHWM, 0)
        if curve is not None:
            self.router.curve_server = True
            self.router.curve_secretkey = curve.secret
            self.router.curve_publickey = curve.public
        self._router_monitor = self.router.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
        self.endpoint = ""
        self._links: dict[Any, Link] = {}  # monitor socket -> link
        self._poller = zmq.Poller()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._calls: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._woken = False
        self._timers: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.frames_in = 0

    # -- set-up ------------------------------------------------------------------------
    def _socket(self, kind: int) -> Any:
        sock = self.context.socket(kind)
        ms = int(self.heartbeat * 1000)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, _HWM)
        sock.setsockopt(zmq.RCVHWM, _HWM)
        sock.setsockopt(zmq.MAXMSGSIZE, _LIMIT)
        sock.setsockopt(zmq.HEARTBEAT_IVL, max(20, ms // 4))
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, max(50, ms - ms // 4))
        sock.setsockopt(zmq.HEARTBEAT_TTL, max(100, ms))
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        return sock

    def bind(self, address: str) -> str:
        """Bind the ROUTER; return the endpoint bound (a ``*`` port resolved).

        Raises:
            OSError: the address cannot be bound (in use, bad host, bad path).
        """
        try:
            self.router.bind(address)
        except zmq.ZMQError as exc:
            msg = f"cannot listen on {address!r}: {exc}"
            raise OSError(exc.errno, msg) from None
        endpoint = self.router.getsockopt(zmq.LAST_ENDPOINT)
        self.endpoint = endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
        return self.endpoint

    def start(self) -> None:
        self._poller.register(self.router, zmq.POLLIN)
        self._poller.register(self._router_monitor, zmq.POLLIN)
        self._poller.register(self._wake_r, zmq.POLLIN)
        self._thread = threading.Thread(target=self._run, name="otp-net", daemon=True)
        self._thread.start()

    def connect(self, address: str, server_key: str | None = None) -> Link:
        """Open a link to ``address`` (I/O thread only); it is read until told otherwise."""
        link = Link(self, address, server_key)
        self._links[link.monitor] = link
        self._poller.register(link.monitor, zmq.POLLIN)
        self._poller.register(link.sock, zmq.POLLIN)
        return link

    def reply(self, routing_id: bytes, frame: bytes) -> bool:
        """Answer on the ROUTER connection ``routing_id`` (I/O thread only)."""
        try:
            self.router.send_multipart((routing_id, frame), zmq.NOBLOCK)
        except zmq.ZMQError:
            return False
        return True

    # -- calls into the I/O thread -------------------------------------------------------
    def on_io_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the I/O thread, soon. Safe from any thread."""
        self._calls.append((fn, args))
        if not self._woken:
            self._woken = True
            try:
                os.write(self._wake_w, b"x")
            except (BlockingIOError, OSError):
                pass  # the pipe is full (already woken) or closed (stopping)

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the I/O thread after ``delay`` seconds (I/O thread only)."""
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), fn, args))

    def close(self, timeout: float = 2.0) -> None:
        """Stop the I/O thread and close every socket."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self.call_soon(self._stop)
            thread.join(timeout)
            if thread.is_alive():  # closing sockets under it would crash it: leave them
                _log_net.warning("transport_close_timeout", seconds=timeout)
                return
        self._thread = None
        self._shutdown()

    # -- the I/O thread ----------------------------------------------------------------
    def _stop(self) -> None:
        self._stopping = True

    def _run(self) -> None:
        while not self._stopping:
            try:
                self._round()
            except Exception as exc:  # noqa: BLE001 - a bug must not silently end the node's I/O
                _log_net.error("transport_error", error=f"{type(exc).__name__}: {exc}",
                               traceback=_log.format_traceback(exc))

    def _round(self) -> None:
        timeout: int | None = None
        if self._timers:
            timeout = max(0, int((self._timers[0][0] - time.monotonic()) * 1000.0) + 1)
        if self._calls:
            timeout = 0
        for sock, _event in self._poller.poll(timeout):
            if sock is self.router:
                self._read_router()
            elif sock == self._wake_r:
                try:  # read, then clear: a call_soon in between would otherwise leave
                    os.read(self._wake_r, 4096)  # _woken set with the pipe empty, and
                except BlockingIOError:  # every later call_soon unannounced
                    pass
                self._woken = False
            elif sock is self._router_monitor:
                self._read_router_monitor()
            elif sock in self._links:
                self._read_monitor(self._links[sock])
            else:
                self._read_link(sock)
        while self._calls:
            fn, args = self._calls.popleft()
            fn(*args)
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _when, _seq, fn, args = heapq.heappop(self._timers)
            fn(*args)

    def _read_router(self) -> None:
        # recv_multipart asks RCVMORE with a getsockopt per part, and an empty queue
        # raises zmq.Again (an exception built through an Enum): ~5 and ~7 us each. A
        # ROUTER message is [routing id, frame]: the frame's Frame.more says if a bad
        # peer sent more parts, and EVENTS (one getsockopt) says if another waits.
        router, handler, recv, get = self.router, self.handler, self.router.recv, self.router.get
        for _ in range(_BURST):
            try:
                rid = recv(_NOBLOCK)
            except zmq.Again:
                return
            frame = recv(_NOBLOCK, copy=False)  # the parts of a message arrive together
            self.frames_in += 1
            if frame.more:  # malformed multipart: drop the rest, the codec drops the frame
                while get(zmq.RCVMORE):
                    recv(_NOBLOCK)
                handler.on_frame(rid, b"")
            else:
                handler.on_frame(rid, frame.bytes)
            if not get(_SOCK_EVENTS) & _POLLIN:
                return

    def _read_link(self, sock: Any) -> None:
        link = next((lk for lk in self._links.values() if lk.sock is sock), None)
        while link is not None and not link.closed:
            try:
                frame = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.handler.on_link_frame(link, frame)

    def _read_monitor(self, link: Link) -> None:
        while not link.closed:
            try:
                event = recv_monitor_message(link.monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            what = _EVENTS.get(event["event"])
            if what == "connected":
                self.handler.on_link_connected(link)
            elif what == "lost":
                self.handler.on_link_lost(link)
            elif what is not None:
                self.handler.on_link_rejected(link, f"curve_{what}")

    def _read_router_monitor(self) -> None:
        while True:
            try:
                event = recv_monitor_message(self._router_monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            endpoint = event.get("endpoint", b"")
            where = endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
            self.handler.on_rejected(where, f"curve_{_EVENTS.get(event['event'], 'handshake')}")

    def _reading(self, link: Link, on: bool) -> None:
        if link.closed:
            return
        if on:
            self._poller.register(link.sock, zmq.POLLIN)
        else:
            self._poller.unregister(link.sock)

    def _close_link(self, link: Link) -> None:
        if link.closed:
            return
        link.closed = True
        self._links.pop(link.monitor, None)
        for sock in (link.sock, link.monitor):
            try:
                self._poller.unregister(sock)
            except KeyError:
                pass
        try:
            link.sock.disable_monitor()
        except zmq.ZMQError:
            pass
        link.monitor.close(0)
        link.sock.close(0)

    def _shutdown(self) -> None:
        for link in list(self._links.values()):
            self._close_link(link)
        for sock in (self._router_monitor, self.router):
            sock.close(0)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self.context.term()


class Dialer:
    """A blocking one-connection client socket, for short-lived tools (``otp-node ping``)."""

    def __init__(self, address: str, *, server_key: str | None = None,
                 curve: CurveKeys | None = None) -> None:
        self.context = zmq.Context()
        self.sock = self.context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, _LIMIT)
        if curve is not None:
            if server_key is None:
                msg = f"CURVE is on: the address {address!r} needs the peer's public key"
                raise ValueError(msg)
            self.sock.curve_secretkey = curve.secret
            self.sock.curve_publickey = curve.public
            self.sock.curve_serverkey = server_key.encode()
        self.sock.connect(address)

    def send(self, frame: bytes) -> None:
        self.sock.send(frame)

    def recv(self, timeout: float) -> bytes | None:
        """The next frame, or None after ``timeout`` seconds."""
        if not self.sock.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        frame: bytes = self.sock.recv()
        return frame

    def close(self) -> None:
        self.sock.close(0)
        self.context.term()
