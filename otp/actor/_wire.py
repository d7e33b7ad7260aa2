"""How runtime messages cross a node boundary (the node layer calls these).

A message for a remote agent travels as ``(kind, payload)``: plain messages
as themselves, pykka's proxy messages and a FIFO stop as plain fields, so
the node layer needs neither pykka nor the runtime's private classes.
Incoming proxy messages are checked: a path to a private name is refused,
as it is for a local proxy.
"""

from __future__ import annotations

from typing import Any

from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr

from otp.actor._messages import Stop

__all__ = ["CALL", "GET", "PLAIN", "SET", "STOP", "from_wire", "to_wire"]

PLAIN, CALL, GET, SET, STOP = 0, 1, 2, 3, 4


def to_wire(message: Any) -> tuple[int, Any]:
    """Return ``(kind, payload)`` for a message bound for another node."""
    cls = message.__class__
    if cls is ProxyCall:
        return CALL, (message.attr_path, message.args, message.kwargs)
    if cls is ProxyGetAttr:
        return GET, message.attr_path
    if cls is ProxySetAttr:
        return SET, (message.attr_path, message.value)
    if cls is Stop:
        return STOP, message.reason
    return PLAIN, message


def from_wire(kind: int, payload: Any) -> Any:
    """Rebuild a message from another node; ValueError if it is malformed or reaches a private name."""
    if kind == PLAIN:
        return payload
    if kind == CALL:
        path, args, kwargs = payload
        if not isinstance(args, (tuple, list)) or not isinstance(kwargs, dict):
            msg = f"malformed remote call: args {type(args).__name__}, kwargs {type(kwargs).__name__}"
            raise ValueError(msg)
        return ProxyCall(_path(path), tuple(args), kwargs)
    if kind == GET:
        return ProxyGetAttr(_path(payload))
    if kind == SET:
        path, value = payload
        return ProxySetAttr(_path(path), value)
    if kind == STOP:
        return Stop(payload)
    msg = f"unknown message kind {kind!r} (known: 0-4)"
    raise ValueError(msg)


def _path(path: Any) -> tuple[str, ...]:
    ok = isinstance(path, (tuple, list)) and path and all(
        isinstance(p, str) and p and not p.startswith("_") for p in path)
    if not ok:
        msg = f"remote proxy path {path!r} is refused: only public attribute names"
        raise ValueError(msg)
    return tuple(path)
