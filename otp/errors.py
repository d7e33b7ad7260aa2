"""Every exception agent-otp raises, and the exit-reason vocabulary (layer 0).

Exceptions factored out so every layer can import them without import loops.

Hierarchy::

    OTPError
     ├── StartError               on_start failed, or a child failed to start
     ├── AlreadyStarted           a name is taken (carries the holder)
     ├── NameTaken                register() on a taken name / agent already named
     ├── NotRegistered            send/lookup of a name nobody holds
     ├── CallSelfError            an agent asked itself (would deadlock)
     ├── AgentExit                the agent exited before it replied (carries reason)
     │    └── NoProc              the agent was not alive when asked
     ├── AskTimeout               no reply within the timeout (also a TimeoutError)
     ├── StopTimeout              stop() did not finish in time (also a TimeoutError)
     ├── SpecError                an invalid child spec or supervisor flag (also ValueError)
     ├── SupervisorError          a supervisor call failed (not_found, running, ...)
     └── SystemSpecError          a system file (YAML) is invalid: every problem, with its line

Exit reasons are plain values, as in OTP: the strings ``"normal"``,
``"shutdown"``, ``"killed"``, ``"noproc"``, ``"noconnection"``, the tuple
``("shutdown", detail)``, or the exception that ended the agent.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeAlias

__all__ = [
    "AgentExit",
    "AlreadyStarted",
    "AskTimeout",
    "CallSelfError",
    "ExitReason",
    "KILL",
    "KILLED",
    "NOCONNECTION",
    "NOPROC",
    "NORMAL",
    "NameTaken",
    "NoProc",
    "NotRegistered",
    "OTPError",
    "Problem",
    "SHUTDOWN",
    "SpecError",
    "StartError",
    "StopTimeout",
    "SupervisorError",
    "SystemSpecError",
    "format_reason",
    "is_abnormal",
    "is_shutdown",
]

ExitReason: TypeAlias = Any
"""``"normal" | "shutdown" | ("shutdown", detail) | "killed" | "noproc" | "noconnection" | BaseException``."""

NORMAL = "normal"
SHUTDOWN = "shutdown"
KILL = "kill"  # the untrappable signal sent by exit(ref, KILL); the victim's reason is KILLED
KILLED = "killed"
NOPROC = "noproc"
NOCONNECTION = "noconnection"


def is_shutdown(reason: ExitReason) -> bool:
    """Return True for ``"shutdown"`` and ``("shutdown", detail)``."""
    return reason == SHUTDOWN or (
        isinstance(reason, tuple) and len(reason) == 2 and reason[0] == SHUTDOWN
    )


def is_abnormal(reason: ExitReason) -> bool:
    """Return True for every reason except normal, shutdown and (shutdown, detail)."""
    return reason != NORMAL and not is_shutdown(reason)


def format_reason(reason: ExitReason) -> str:
    """Render an exit reason for logs and messages: exceptions as ``Type('msg')``."""
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}({str(reason)!r})"
    return repr(reason) if not isinstance(reason, str) else reason


class OTPError(Exception):
    """Base class of every exception agent-otp raises."""


class StartError(OTPError):
    """An agent or child could not be started.

    ``reason`` is the exception raised by ``on_start`` (also chained as
    ``__cause__``), or a supervisor's tagged reason such as
    ``("failed_to_start_child", child_id, reason)``.
    """

    def __init__(self, msg: str, reason: ExitReason = None) -> None:
        super().__init__(msg)
        self.reason = reason


class AlreadyStarted(OTPError):
    """Starting a named agent whose name is already held; ``holder`` is the running ref."""

    def __init__(self, msg: str, holder: Any = None) -> None:
        super().__init__(msg)
        self.holder = holder


class NameTaken(OTPError):
    """``register()`` refused: the name is taken, the agent already has a name, or it is dead."""

    def __init__(self, msg: str, holder: Any = None) -> None:
        super().__init__(msg)
        self.holder = holder


class NotRegistered(OTPError, LookupError):
    """A message was sent to a name that nobody holds (OTP raises badarg)."""


class CallSelfError(OTPError, RuntimeError):
    """An agent asked itself; that would wait for ever, so it is refused at once."""


class AgentExit(OTPError):
    """The agent exited before replying; ``reason`` is its exit reason."""

    def __init__(self, msg: str, reason: ExitReason = None, agent: Any = None) -> None:
        super().__init__(msg)
        self.reason = reason
        self.agent = agent


class NoProc(AgentExit):
    """The agent was not alive (never started, stopped or crashed) when it was asked."""

    def __init__(self, msg: str, agent: Any = None) -> None:
        super().__init__(msg, NOPROC, agent)


class AskTimeout(OTPError, TimeoutError):
    """No reply within the timeout. The message names the agent and the message type."""


class StopTimeout(OTPError, TimeoutError):
    """``stop(timeout=...)`` returned before the agent had stopped; it may still be running."""


class SpecError(OTPError, ValueError):
    """A child spec or supervisor flag is invalid.

    ``code`` is OTP's tag (``invalid_restart_type``, ``bad_combination``,
    ``duplicate_child_name``, ...), ``field`` the offending key and ``value``
    the value given.
    """

    def __init__(self, msg: str, code: str = "invalid_child_spec", field: str | None = None,
                 value: Any = None) -> None:
        super().__init__(msg)
        self.code = code
        self.field = field
        self.value = value


class SupervisorError(OTPError):
    """A supervisor call could not be done; ``code`` is OTP's answer.

    Codes: ``not_found``, ``running``, ``restarting``, ``already_present``,
    ``simple_one_for_one``, ``max_children``, or ``start_error`` (with
    ``reason``).
    """

    def __init__(self, msg: str, code: str, reason: ExitReason = None) -> None:
        super().__init__(msg)
        self.code = code
        self.reason = reason


class Problem(NamedTuple):
    """One thing wrong in a system file: where (file, 1-based line and column, key path),
    the offending value as written, and what is allowed."""

    file: str
    line: int | None
    column: int | None
    path: str
    value: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column}"
        key = f" {self.path}:" if self.path else ""
        value = "" if self.value is None else f" {self.value}:"
        return f"{where}:{key}{value} {self.message}"


class SystemSpecError(OTPError, ValueError):
    """A system file is invalid; ``problems`` lists each one (file, line, key path, value,
    what is allowed), and ``str()`` shows them one per line."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{file} is not a valid system file ({n} problem{'s' if n != 1 else ''}):"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))
