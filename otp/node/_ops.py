"""Carrying out the operations a peer sends (on the I/O thread).

Each operation is an array headed by its ``OP_*`` code; refs in it have been
decoded already (a local ref to a live agent, a ``DeadProcess`` ref, or a
``RemoteProcess`` ref), except the target of a tell or an ask: its id and
class name, looked up here. A malformed operation is dropped, counted and
logged, like a malformed frame; the node stays up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otp import _log
from otp.actor import Down, ask_into
from otp.actor._process import lookup
from otp.actor._wire import from_wire
from otp.errors import NOPROC, AgentExit
from otp.node._peer import Reply
from otp.node._protocol import (
    OP_ASK,
    OP_DEMONITOR,
    OP_DOWN,
    OP_EXIT,
    OP_GLOBAL_ADD,
    OP_GLOBAL_CLAIM,
    OP_GLOBAL_DEL,
    OP_LINK,
    OP_MONITOR,
    OP_REPLY,
    OP_SHUTDOWN,
    OP_SPAWN,
    OP_TELL,
    OP_UNLINK,
)
from otp.node._remote import DeadProcess, mark_dead

if TYPE_CHECKING:
    from otp.node._node import Node
    from otp.node._peer import Peer

__all__ = ["dispatch"]

_log_ops = _log.get_logger()


def dispatch(node: Node, peer: Peer, op: Any) -> None:
    """Carry out one operation from ``peer``; a malformed one is dropped and logged."""
    try:
        handler = _HANDLERS[op[0]]
        handler(node, peer, *op[1:])
    except Exception as exc:  # noqa: BLE001 - bad input from a peer must not stop the node
        node.codec.dropped["bad_operation"] += 1
        _log_ops.warning("frame_dropped", reason="bad_operation", peer=peer.name,
                         error=f"{type(exc).__name__}: {exc}", operation=repr(op)[:200])


def _target(proc_id: str, class_name: str) -> Any:
    """The ref of this node's agent ``proc_id`` (a tell's or an ask's target), dead or alive."""
    proc = lookup(proc_id)
    if proc is not None:
        return proc.ref
    return DeadProcess(str(proc_id), str(class_name)).ref


def _tell(node: Node, peer: Peer, proc_id: str, class_name: str, kind: int,
          payload: Any) -> None:
    _target(proc_id, class_name).tell(from_wire(kind, payload))


def _ask(node: Node, peer: Peer, proc_id: str, class_name: str, kind: int, payload: Any,
         corr: int) -> None:
    reply = Reply(peer, corr)
    try:
        message = from_wire(kind, payload)
    except ValueError as exc:
        reply.set_exception((ValueError, exc, None))
        return
    ask_into(_target(proc_id, class_name), message, reply)


def _reply(node: Node, peer: Peer, corr: int, ok: bool, value: Any) -> None:
    stop = peer.stops.pop(corr, None)
    if stop is not None:  # the answer to a stop(): the agent has exited
        if ok:
            mark_dead(stop[0], stop[1])
        elif isinstance(value, AgentExit):  # it had exited before the stop was reached
            mark_dead(stop[0], value.reason)
    future = peer.asks.pop(corr, None)
    if future is None:
        sink = peer.spawns.pop(corr, None)
        if sink is not None:
            sink(ok, value)
        return  # a late reply (the asker gave up): dropped
    if ok:
        future.set(value)
    else:
        if not isinstance(value, BaseException):
            value = RuntimeError(f"remote error: {value!r}")
        future.set_exception((type(value), value, None))


def _link(node: Node, peer: Peer, sender: Any, target: Any) -> None:
    if target._proc.link_from(sender):
        peer.links.add((target, sender))
    else:
        peer.send((OP_EXIT, target, sender, NOPROC, True))


def _unlink(node: Node, peer: Peer, sender: Any, target: Any) -> None:
    target._proc.unlink_from(sender)
    peer.links.discard((target, sender))


def _exit(node: Node, peer: Peer, sender: Any, target: Any, reason: Any, from_link: bool) -> None:
    if from_link:
        peer.links.discard((target, sender))
        mark_dead(sender, reason)
    target._proc.exit_signal(sender, reason, from_link=bool(from_link))


def _monitor(node: Node, peer: Peer, watcher: Any, target: Any, mref: Any) -> None:
    if target._proc.add_monitor(mref, watcher):
        peer.mon_in[mref] = target
    else:
        peer.send((OP_DOWN, mref, target, NOPROC))


def _demonitor(node: Node, peer: Peer, target: Any, mref: Any) -> None:
    target._proc.remove_monitor(mref)
    peer.mon_in.pop(mref, None)


def _down(node: Node, peer: Peer, mref: Any, target: Any, reason: Any) -> None:
    entry = peer.mon_out.pop(mref, None)
    mark_dead(target, reason)
    if entry is not None:
        watcher, watched = entry
        watcher._proc.deliver(Down(mref, watched, reason))


def _shutdown(node: Node, peer: Peer, target: Any, reason: Any) -> None:
    if not target._proc.dead:
        target._proc.request_shutdown(reason)


def _spawn(node: Node, peer: Peer, *fields: Any) -> None:
    node.spawner.serve(peer, *fields)


def _global_add(node: Node, peer: Peer, name: str, ref: Any) -> None:
    node.names.added(name, ref)


def _global_del(node: Node, peer: Peer, name: str, ref: Any) -> None:
    node.names.removed(name, ref)


def _global_claim(node: Node, peer: Peer, corr: int, name: str, ref: Any) -> None:
    peer.reply(corr, True, node.names.claimed(name, ref))


_HANDLERS: dict[int, Any] = {
    OP_TELL: _tell, OP_ASK: _ask, OP_REPLY: _reply, OP_LINK: _link, OP_UNLINK: _unlink,
    OP_EXIT: _exit, OP_MONITOR: _monitor, OP_DEMONITOR: _demonitor, OP_DOWN: _down,
    OP_SHUTDOWN: _shutdown, OP_SPAWN: _spawn, OP_GLOBAL_ADD: _global_add,
    OP_GLOBAL_DEL: _global_del, OP_GLOBAL_CLAIM: _global_claim,
}
