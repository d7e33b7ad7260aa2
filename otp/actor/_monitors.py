"""monitor and demonitor, on behalf of any process (an agent or an Inbox).

The watcher remembers what it monitors (for demonitor); the target keeps
the watchers its DOWN goes to. A flushed demonitor marks the ref so that a
DOWN already queued is dropped when it is reached (item P3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otp.actor import _names
from otp.actor._messages import Down, next_monitor_ref
from otp.errors import NOPROC

if TYPE_CHECKING:
    from otp.actor._process import Process
    from otp.actor._ref import AgentRef

__all__ = ["demonitor", "monitor"]


def monitor(watcher: Process, target: AgentRef[Any] | str) -> Any:
    """Monitor ``target`` on behalf of process ``watcher``; return the MonitorRef."""
    mref = next_monitor_ref()
    ref = _names.whereis(target) if isinstance(target, str) else target
    if ref is None:  # a name nobody holds
        watcher.deliver(Down(mref, target, NOPROC))
        return mref
    watcher.watch(mref, ref)
    if not ref._proc.add_monitor(mref, watcher.ref):
        watcher.deliver(Down(mref, ref, NOPROC))
    return mref


def demonitor(watcher: Process, mref: Any, *, flush: bool) -> bool:
    """Remove a monitor that ``watcher`` made; True if it was removed before it fired."""
    target = watcher.unwatch(mref)
    if target is None:
        return False  # unknown, or its Down was already handled
    if target._proc.remove_monitor(mref):
        return True
    if flush:
        watcher.flush(mref)  # its Down is queued: drop it when it is reached
    return False
