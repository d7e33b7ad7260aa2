"""Actor runtime (layer 2): AgentActor, AgentRef, links, monitors, names, timers.

Two execution kinds behind one API: ``thread`` (one OS thread per agent,
``_thread``) and ``async`` (many agents on the node's event loop, ``_async``
and ``_loop``). pykka lives here and nowhere else.
"""

from __future__ import annotations

from otp.actor._agent import AgentActor, Ignore
from otp.actor._api import exit, send, shutdown_all
from otp.actor._future import DEFAULT_TIMEOUT, AgentFuture, LoopFuture
from otp.actor._inbox import Inbox
from otp.actor._loop import event_loop, set_loop_lag_threshold
from otp.actor._messages import Down, Exit, MonitorRef
from otp.actor._names import register, registered, unregister, whereis
from otp.actor._process import dead_letters
from otp.actor._ref import AgentProxy, AgentRef, ask_into
from otp.actor._timers import TimerRef, cancel_timer, send_after
from otp.actor._waits import Steps, WaitFor, WaitStarted, drive

__all__ = [
    "AgentActor",
    "AgentFuture",
    "AgentProxy",
    "AgentRef",
    "DEFAULT_TIMEOUT",
    "Down",
    "Exit",
    "Ignore",
    "Inbox",
    "LoopFuture",
    "MonitorRef",
    "Steps",
    "TimerRef",
    "WaitFor",
    "WaitStarted",
    "ask_into",
    "cancel_timer",
    "dead_letters",
    "drive",
    "event_loop",
    "exit",
    "register",
    "registered",
    "send",
    "send_after",
    "set_loop_lag_threshold",
    "shutdown_all",
    "unregister",
    "whereis",
]
