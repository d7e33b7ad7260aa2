"""agent-otp: Erlang/OTP for AI agents, in Python.

Layers (DESIGN.md), bottom up: ``otp.errors`` (exceptions, exit reasons);
``otp._log``, ``otp.specs`` and ``otp.codec`` (logging set-up, validated specs,
the wire format); ``otp.actor`` (agents of the thread and async kinds, refs,
links, monitors, names, timers; pykka lives there); ``otp.supervision``
(supervisors) and ``otp.node`` (nodes linked by ZeroMQ: remote refs, remote
spawn, global names, placement of supervised children; zmq lives in
``otp.node.transport``); ``otp.pool`` (pools: fan-out with all/first/majority/
quorum, routing); ``otp.system`` (system files in YAML: validated, started;
PyYAML lives in ``otp.system._yaml``) and ``otp.demo`` (the team of
``otp-node demo``); ``otp.cli`` (``otp-node``). This file pulls together the
public API.
"""

from __future__ import annotations

from otp._log import configure_logging as configure_logging
from otp.actor import AgentActor as AgentActor
from otp.actor import AgentFuture as AgentFuture
from otp.actor import AgentProxy as AgentProxy
from otp.actor import AgentRef as AgentRef
from otp.actor import Down as Down
from otp.actor import Exit as Exit
from otp.actor import Ignore as Ignore
from otp.actor import Inbox as Inbox
from otp.actor import MonitorRef as MonitorRef
from otp.actor import TimerRef as TimerRef
from otp.actor import cancel_timer as cancel_timer
from otp.actor import dead_letters as dead_letters
from otp.actor import exit as exit  # noqa: A004 - OTP's name
from otp.actor import register as register
from otp.actor import registered as registered
from otp.actor import send as send
from otp.actor import send_after as send_after
from otp.actor import shutdown_all as shutdown_all
from otp.actor import unregister as unregister
from otp.actor import whereis as whereis
from otp.node import NodeDown as NodeDown
from otp.node import NodeUp as NodeUp
from otp.pool import Pool as Pool
from otp.specs import Backoff as Backoff
from otp.specs import ChildSpec as ChildSpec
from otp.specs import SupFlags as SupFlags
from otp.supervision import ChildCounts as ChildCounts
from otp.supervision import ChildInfo as ChildInfo
from otp.supervision import DynamicSupervisor as DynamicSupervisor
from otp.supervision import Supervisor as Supervisor
from otp.supervision import SupervisorRef as SupervisorRef

__version__ = "0.1.0"

__all__ = [
    "AgentActor",
    "AgentFuture",
    "AgentProxy",
    "AgentRef",
    "Backoff",
    "ChildCounts",
    "ChildInfo",
    "ChildSpec",
    "Down",
    "DynamicSupervisor",
    "Exit",
    "Ignore",
    "Inbox",
    "MonitorRef",
    "NodeDown",
    "NodeUp",
    "Pool",
    "SupFlags",
    "Supervisor",
    "SupervisorRef",
    "TimerRef",
    "cancel_timer",
    "configure_logging",
    "dead_letters",
    "exit",
    "register",
    "registered",
    "send",
    "send_after",
    "shutdown_all",
    "unregister",
    "whereis",
]
