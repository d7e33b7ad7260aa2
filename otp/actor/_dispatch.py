"""One message through an agent's behaviour, shared by every execution kind.

``step`` is the dispatcher table of the generic side (see ``_agent``'s
diagram): proxy calls, attribute access, the FIFO stop, an exit from the
parent, a flushed DOWN, and everything else through ``on_receive``. It
returns the handler's result (a coroutine for an ``async def`` handler,
which the kind awaits its own way) or one of the markers below. Exceptions
escape: the kind crashes the agent with them.
"""

from __future__ import annotations

from typing import Any

from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr

from otp import _log
from otp.actor._messages import Down, Exit, Stop
from otp.errors import format_reason

__all__ = ["DROP", "PARENT_EXIT", "STOP", "Marker", "crash_report", "run_terminate", "step"]

class Marker:
    """A step result that is not a reply (one type, so loops test it once)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


STOP = Marker("STOP")  # the message was a FIFO Stop: finish with message.reason
PARENT_EXIT = Marker("PARENT_EXIT")  # the parent exited and we trap exits: finish
DROP = Marker("DROP")  # a DOWN flushed by demonitor(flush=True): nothing to do

_log_agent = _log.get_logger()


def _proxy_call(agent: Any, proc: Any, message: Any) -> Any:
    return _resolve(agent, message.attr_path)(*message.args, **message.kwargs)


def _get_attr(agent: Any, proc: Any, message: Any) -> Any:
    return _resolve(agent, message.attr_path)


def _set_attr(agent: Any, proc: Any, message: Any) -> Any:
    setattr(_resolve(agent, message.attr_path[:-1]), message.attr_path[-1], message.value)


def _stop(agent: Any, proc: Any, message: Any) -> Any:
    return STOP


def _exit(agent: Any, proc: Any, message: Any) -> Any:
    if message.agent is not None and message.agent == proc.parent:
        return PARENT_EXIT  # as an OTP gen_server does when its parent exits
    return agent.on_receive(message)


def _down(agent: Any, proc: Any, message: Any) -> Any:
    return DROP if proc.is_flushed_down(message) else agent.on_receive(message)


_SPECIAL: dict[type, Any] = {ProxyCall: _proxy_call, ProxyGetAttr: _get_attr,
                             ProxySetAttr: _set_attr, Stop: _stop, Exit: _exit, Down: _down}


def step(agent: Any, proc: Any, message: Any) -> Any:
    """Run one message; return the result, a coroutine, or a Marker (STOP, PARENT_EXIT, DROP)."""
    special = _SPECIAL.get(type(message))
    if special is None:
        return agent.on_receive(message)
    return special(agent, proc, message)


def _resolve(root: Any, path: tuple[str, ...]) -> Any:
    obj = root
    for part in path:
        if part.startswith("_"):
            msg = f"{root}: private attribute {part!r} is not reachable through a proxy"
            raise AttributeError(msg)
        obj = getattr(obj, part)
    return obj


def crash_report(proc: Any, exc: BaseException) -> None:
    """Log agent_crashed with a plain traceback (never the frames' locals)."""
    if _log.enabled("error"):
        _log_agent.error(_log.AGENT_CRASHED, agent=str(proc.ref), reason=format_reason(exc),
                         traceback=_log.format_traceback(exc))


def run_terminate(agent: Any, reason: Any) -> Any:
    """Call ``terminate(reason)``; log a failure. Returns its result (maybe a coroutine)."""
    try:
        return agent.terminate(reason)
    except Exception as exc:  # noqa: BLE001 - a failing terminate must not hide the reason
        terminate_failed(agent, reason, exc)
        return None


def terminate_failed(agent: Any, reason: Any, exc: BaseException) -> None:
    _log_agent.error(_log.TERMINATE_FAILED, agent=str(agent), reason=format_reason(reason),
                     traceback=_log.format_traceback(exc))
