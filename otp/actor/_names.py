"""Local names: one-to-one between a name and a live agent (OTP's register/whereis).

All mutable name state lives here, behind one lock.
"""

from __future__ import annotations

import threading
from typing import Any

from otp.errors import NameTaken, NotRegistered

__all__ = [
    "register",
    "registered",
    "release",
    "unregister",
    "whereis",
    "whereis_or_raise",
]

_lock = threading.Lock()
_by_name: dict[str, Any] = {}  # name -> AgentRef


def register(name: str, ref: Any) -> None:
    """Register ``name`` for the live agent ``ref``.

    Raises:
        TypeError: ``name`` is not a non-empty string.
        NameTaken: the name is held by another agent, the agent already has a
            name, or the agent is not alive. ``holder`` carries the current holder.
    """
    if not isinstance(name, str) or not name:
        msg = f"an agent name must be a non-empty str, not {name!r}"
        raise TypeError(msg)
    proc = ref._proc
    with _lock:
        holder = _by_name.get(name)
        if holder is not None:
            msg = f"name {name!r} is already registered to {holder}"
            raise NameTaken(msg, holder)
        if proc.dead:
            msg = f"cannot register {name!r}: {ref} is not alive"
            raise NameTaken(msg)
        if proc.name is not None:
            msg = f"cannot register {name!r}: {ref} is already registered as {proc.name!r}"
            raise NameTaken(msg, ref)
        _by_name[name] = ref
        proc.name = name


def unregister(name: str) -> None:
    """Remove ``name``; the agent keeps running. Raises NotRegistered if nobody holds it."""
    with _lock:
        ref = _by_name.pop(name, None)
        if ref is None:
            msg = f"name {name!r} is not registered"
            raise NotRegistered(msg)
        ref._proc.name = None


def release(proc: Any) -> None:
    """Drop the name of a process that is dying (called before its DOWN goes out)."""
    with _lock:
        name = proc.name
        if name is not None and _by_name.get(name) is proc.ref:
            del _by_name[name]
        proc.name = None


def whereis(name: str) -> Any:
    """Return the AgentRef registered as ``name``, or None."""
    return _by_name.get(name)


def whereis_or_raise(name: str) -> Any:
    """Return the AgentRef registered as ``name``; raise NotRegistered if none (OTP: badarg)."""
    ref = _by_name.get(name)
    if ref is None:
        msg = f"no agent is registered as {name!r}; check the name, or whether the agent has exited"
        raise NotRegistered(msg)
    return ref


def registered() -> list[str]:
    """Return all registered names, sorted."""
    with _lock:
        return sorted(_by_name)
