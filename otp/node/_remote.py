"""Stand-ins for agents on other nodes, and how refs cross the wire.

An ``AgentRef`` to a remote agent holds a ``RemoteProcess``: the process
interface of ``otp.actor._process`` (``put``, ``link_from``, ``add_monitor``,
``exit_signal``, ...) carried out by sending operations to the agent's node.
The runtime calls it exactly as it calls a local process, so links,
monitors, supervisors and asks work across nodes unchanged.

A remote process is *alive until known dead*: a DOWN (a ``noproc`` one for a
monitor or link made after it exited), an exit signal, the answer to its
``stop()`` (as a local stop, it is dead once stop returns) or the loss of
its node marks it dead with that reason. An ask answered with ``NoProc``
does not: the answer goes to the asker only (monitor it to know).
After a lost node returns, refs to its agents work again (if those agents
still run there).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import TYPE_CHECKING, Any

from otp import codec
from otp.actor import AgentRef, Down
from otp.actor._messages import MonitorRef, next_monitor_ref
from otp.actor._process import dead_letter, lookup, new_id
from otp.actor._wire import STOP, to_wire
from otp.errors import NOCONNECTION, NOPROC, AgentExit
from otp.node._peer import next_corr
from otp.node._protocol import (
    OP_ASK,
    OP_DEMONITOR,
    OP_DOWN,
    OP_EXIT,
    OP_LINK,
    OP_MONITOR,
    OP_SHUTDOWN,
    OP_TELL,
    OP_UNLINK,
)

if TYPE_CHECKING:
    from otp.node._node import Node

__all__ = ["DeadProcess", "RemoteProcess", "local_node", "mark_dead", "remote_processes"]

_node: Node | None = None
_remotes: weakref.WeakValueDictionary[str, RemoteProcess] = weakref.WeakValueDictionary()
_remotes_lock = threading.Lock()


def local_node() -> Node | None:
    """The node running in this process, or None."""
    return _node


def set_local_node(node: Node | None) -> None:
    global _node  # noqa: PLW0603 - one node per process, as in Erlang
    _node = node


def remote_processes(node_name: str) -> list[RemoteProcess]:
    with _remotes_lock:
        return [p for p in _remotes.values() if p.node == node_name]


def mark_dead(ref: Any, reason: Any) -> None:
    """Record that the remote agent behind ``ref`` has exited with ``reason``."""
    proc = getattr(ref, "_proc", None)
    if isinstance(proc, RemoteProcess) and not proc.dead:
        proc.reason = reason
        proc.dead = True


def no_connection(ref: Any) -> AgentExit:
    return AgentExit(f"{ref} is on node {ref.node!r}, which is not connected (noconnection)",
                     NOCONNECTION, ref)


class RemoteProcess:
    """The stand-in process of an agent on another node (see the module docstring)."""

    __slots__ = ("__weakref__", "class_name", "dead", "id", "kind", "node", "reason", "ref")

    actor_class = None  # a proxy resolves every name remotely

    def __init__(self, proc_id: str, class_name: str, node: str) -> None:
        self.id = proc_id
        self.class_name = class_name
        self.node = node
        self.kind = "remote"
        self.dead = False
        self.reason: Any = None
        self.ref: AgentRef[Any] = AgentRef(self, class_name, node)

    def _peer(self) -> Any:
        node = _node
        return None if node is None else node.peer_for(self.node)

    # -- messages ----------------------------------------------------------------
    def put(self, envelope: tuple[Any, Any]) -> None:
        message, future = envelope
        kind, payload = to_wire(message)
        peer = self._peer()
        if future is None:
            # the target travels as (id, class name): it is an agent of the receiving node,
            # found by id there; a ref would cost two decoder hooks per message
            if peer is None or not peer.send((OP_TELL, self.id, self.class_name, kind, payload),
                                             defer=True):
                dead_letter(self.ref, message)
            return
        if peer is None:
            future.set_exception((AgentExit, no_connection(self.ref), None))
            return
        corr = next_corr()
        peer.asks[corr] = future
        if kind == STOP:
            peer.stops[corr] = (self.ref, message.reason)
        try:
            # other asks to that node still unanswered (pipelining): let the I/O thread
            # send them in batches rather than a frame (and a GIL hand-off) per ask
            sent = peer.send((OP_ASK, self.id, self.class_name, kind, payload, corr),
                             defer=len(peer.asks) > 1)
        except BaseException:
            peer.asks.pop(corr, None)
            peer.stops.pop(corr, None)
            raise
        if not sent:
            peer.asks.pop(corr, None)
            peer.stops.pop(corr, None)
            future.set_exception((AgentExit, no_connection(self.ref), None))

    def deliver(self, message: Any) -> None:
        """A runtime message for a remote watcher: a DOWN goes back to its node."""
        if isinstance(message, Down):
            peer = self._peer()
            if peer is not None:
                peer.mon_in.pop(message.ref, None)
                peer.send((OP_DOWN, message.ref, message.agent, message.reason))
            return
        self.put((message, None))

    def drain(self) -> None:
        pass  # nothing is queued here: the remote node drains its own mailbox

    # -- links, monitors, exit signals -------------------------------------------
    def link_from(self, other: Any) -> bool:
        peer = self._peer()
        if peer is None or not peer.send((OP_LINK, other, self.ref)):
            self._later(other._proc.exit_signal, self.ref, NOCONNECTION, from_link=True)
            return True
        peer.links.add((other, self.ref))
        return True

    def unlink_from(self, other: Any) -> None:
        peer = self._peer()
        if peer is not None:
            peer.links.discard((other, self.ref))
            peer.send((OP_UNLINK, other, self.ref))

    def add_monitor(self, mref: Any, watcher: Any) -> bool:
        peer = self._peer()
        if peer is None:
            self._later(watcher._proc.deliver, Down(mref, self.ref, NOCONNECTION))
            return True
        peer.mon_out[mref] = (watcher, self.ref)
        if not peer.send((OP_MONITOR, watcher, self.ref, mref)):
            peer.mon_out.pop(mref, None)
            self._later(watcher._proc.deliver, Down(mref, self.ref, NOCONNECTION))
        return True

    def remove_monitor(self, mref: Any) -> bool:
        peer = self._peer()
        if peer is None or peer.mon_out.pop(mref, None) is None:
            return False
        peer.send((OP_DEMONITOR, self.ref, mref))
        return True

    def exit_signal(self, sender: Any, reason: Any, *, from_link: bool) -> None:
        peer = self._peer()
        if peer is None:
            return
        if from_link:
            peer.links.discard((sender, self.ref))
        peer.send((OP_EXIT, sender, self.ref, reason, from_link))

    def request_shutdown(self, reason: Any) -> None:
        peer = self._peer()
        if peer is not None:
            peer.send((OP_SHUTDOWN, self.ref, reason))

    # -- waiting for the exit ------------------------------------------------------
    def wait_exit(self, timeout: float | None) -> bool:
        if self.dead:
            return True
        waiter = _ExitWaiter(None)
        mref = next_monitor_ref()
        self.add_monitor(mref, waiter.ref)
        if waiter.event.wait(timeout):
            return True
        self.remove_monitor(mref)
        return self.dead

    def exit_future(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        waiter = _ExitWaiter(loop)
        assert waiter.future is not None
        if self.dead:
            waiter.future.set_result(None)
        else:
            self.add_monitor(next_monitor_ref(), waiter.ref)
        return waiter.future

    def _later(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        """Run ``fn`` after the caller has finished (the runtime links both ends first)."""
        node = _node
        if node is not None:
            node.transport.call_soon(lambda: fn(*args, **kwargs))
        else:
            threading.Timer(0.0, fn, args, kwargs).start()


class _ExitWaiter:
    """A watcher that is not an agent: a DOWN sets an event or a loop future."""

    __slots__ = ("dead", "event", "future", "id", "loop", "reason", "ref")

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.id = new_id()
        self.dead = False
        self.reason: Any = None
        self.event = threading.Event()
        self.loop = loop
        self.future = None if loop is None else loop.create_future()
        self.ref: AgentRef[Any] = AgentRef(self, "ExitWaiter")

    def deliver(self, message: Any) -> None:
        if isinstance(message, Down):
            mark_dead(message.agent, message.reason)
            self.event.set()
            if self.loop is not None and self.future is not None:
                try:
                    self.loop.call_soon_threadsafe(_resolve, self.future)
                except RuntimeError:
                    pass


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class DeadProcess:
    """What a ref to a local agent that is gone decodes to: dead, with reason ``noproc``."""

    __slots__ = ("class_name", "id", "ref")

    dead = True
    reason = NOPROC
    kind = "thread"
    actor_class = None

    def __init__(self, proc_id: str, class_name: str) -> None:
        self.id = proc_id
        self.class_name = class_name
        self.ref: AgentRef[Any] = AgentRef(self, class_name)

    def put(self, envelope: tuple[Any, Any]) -> None:
        dead_letter(self.ref, envelope[0], envelope[1])

    def deliver(self, message: Any) -> None:
        dead_letter(self.ref, message)

    def drain(self) -> None:
        pass

    def link_from(self, other: Any) -> bool:
        return False

    def unlink_from(self, other: Any) -> None:
        pass

    def add_monitor(self, mref: Any, watcher: Any) -> bool:
        return False

    def remove_monitor(self, mref: Any) -> bool:
        return False

    def exit_signal(self, sender: Any, reason: Any, *, from_link: bool) -> None:
        pass

    def request_shutdown(self, reason: Any) -> None:
        pass

    def wait_exit(self, timeout: float | None) -> bool:
        return True

    def exit_future(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        future: asyncio.Future[None] = loop.create_future()
        future.set_result(None)
        return future


# -- the codec hooks ------------------------------------------------------------------
def _local_name() -> str:
    node = _node
    if node is None:
        msg = "cannot send an agent ref: no node is running in this process (otp.node.start)"
        raise codec.CodecError(msg, "unencodable")
    return node.name


def _ref_to_wire(ref: AgentRef[Any]) -> tuple[str, str, str]:
    return ref.id, ref.class_name, ref.node or _local_name()


def _ref_from_wire(proc_id: str, class_name: str, node: str) -> AgentRef[Any]:
    if not (isinstance(proc_id, str) and isinstance(class_name, str) and isinstance(node, str)):
        msg = f"agent ref fields must be three str, got {(proc_id, class_name, node)!r}"
        raise ValueError(msg)
    local = _node
    if node == "" or local is not None and node == local.name:
        proc = lookup(proc_id)
        if proc is not None:
            ref: AgentRef[Any] = proc.ref
            return ref
        return DeadProcess(proc_id, class_name).ref
    with _remotes_lock:
        remote = _remotes.get(proc_id)
        if remote is None:
            remote = _remotes[proc_id] = RemoteProcess(proc_id, class_name, node)
    return remote.ref


def _mref_to_wire(mref: MonitorRef) -> tuple[int, str]:
    return mref.id, mref.node or _local_name()


def _mref_from_wire(mref_id: int, node: str) -> MonitorRef:
    if not isinstance(mref_id, int) or not isinstance(node, str):
        msg = f"monitor ref fields must be an int and a str, got {(mref_id, node)!r}"
        raise ValueError(msg)
    local = _node
    return MonitorRef(mref_id, "" if local is not None and node == local.name else node)


codec.register_ref_type(AgentRef, _ref_to_wire, _ref_from_wire, code=codec.EXT_AGENT_REF)
codec.register_ref_type(MonitorRef, _mref_to_wire, _mref_from_wire, code=codec.EXT_MONITOR_REF)
