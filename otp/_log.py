"""structlog set-up and the fixed event names (layer 1).

The only module that calls ``structlog.configure``. The library never
configures logging on import (that would clobber an application's own
structlog set-up); the CLI and the examples call :func:`configure_logging`.

Every lifecycle event has a fixed name (the constants below) and OTP-style
keys:

- ``supervisor``: the supervisor's name or id
- ``child_id``: the child's id in its supervisor's spec
- ``reason``: the exit reason or exception
- ``agent``: the agent concerned, in its ``str`` form
- ``node``: the node name (``name@host``) once nodes exist

Hot paths guard events below INFO with :func:`debug_enabled`, so a disabled
debug event costs one function call::

    if debug_enabled():
        log.debug(DEAD_LETTER, agent=str(ref), message=type(msg).__name__)
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

__all__ = [
    "AGENT_CRASHED",
    "CHILD_RESTARTED",
    "CHILD_STARTED",
    "CHILD_TERMINATED",
    "DEAD_LETTER",
    "FORMATS",
    "LOOP_LAG",
    "LEVELS",
    "REACHED_MAX_RESTART_INTENSITY",
    "SHUTDOWN_ERROR",
    "START_ERROR",
    "TERMINATE_FAILED",
    "UNEXPECTED_MESSAGE",
    "configure_logging",
    "debug_enabled",
    "enabled",
    "format_traceback",
    "get_logger",
    "set_debug_enabled",
]

CHILD_STARTED = "child_started"
CHILD_TERMINATED = "child_terminated"
CHILD_RESTARTED = "child_restarted"
REACHED_MAX_RESTART_INTENSITY = "reached_max_restart_intensity"
SHUTDOWN_ERROR = "shutdown_error"
AGENT_CRASHED = "agent_crashed"
DEAD_LETTER = "dead_letter"
START_ERROR = "start_error"
UNEXPECTED_MESSAGE = "unexpected_message"
TERMINATE_FAILED = "terminate_failed"
LOOP_LAG = "loop_lag"

LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
FORMATS: tuple[str, ...] = ("console", "json")

# Global state: flipped only by configure_logging() and set_debug_enabled().
_debug = False
_level = logging.DEBUG  # until configure_logging() says otherwise, every event may be wanted


def get_logger(**initial_values: Any) -> FilteringBoundLogger:
    """Return a structlog logger bound with ``initial_values``.

    Cheap: structlog binds lazily, and the logger follows whatever
    configuration is in force when it first logs.

    Args:
        **initial_values: Keys bound to every event, e.g. ``agent=...``.
    """
    logger: FilteringBoundLogger = structlog.get_logger(**initial_values)
    return logger


def format_traceback(exc: BaseException) -> str:
    """Render an exception and its traceback as plain text, without local variables.

    Crash events carry this string (key ``traceback``) instead of ``exc_info``,
    so no renderer, whatever the application configured, prints locals.
    """
    return "".join(traceback.format_exception(exc)).rstrip()


def enabled(level: str) -> bool:
    """Return whether events at ``level`` pass the threshold set by configure_logging.

    Lets callers skip building costly event values (a traceback) that would be
    dropped. Without configure_logging every level counts as enabled.
    """
    return LEVELS[level] >= _level


def debug_enabled() -> bool:
    """Return whether events below INFO are wanted (guard for hot paths)."""
    return _debug


def set_debug_enabled(enabled: bool) -> None:
    """Turn debug events on or off without touching structlog's configuration.

    For applications that configure structlog themselves at DEBUG level.
    """
    global _debug
    _debug = bool(enabled)


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Configure structlog for agent-otp's events; calling it again is harmless.

    Events go to stderr, filtered by ``level``. Loggers are not cached, so
    ``structlog.testing.capture_logs()`` sees every event.

    Args:
        level: One of ``debug``, ``info``, ``warning``, ``error``, ``critical``
            (any case).
        fmt: ``console`` (human-readable) or ``json`` (one object a line).

    Raises:
        ValueError: ``level`` or ``fmt`` is not one of the allowed values.
    """
    key = level.lower() if isinstance(level, str) else level
    if key not in LEVELS:
        msg = f"invalid log level {level!r}: expected one of {', '.join(LEVELS)}"
        raise ValueError(msg)
    if fmt not in FORMATS:
        msg = f"invalid log format {fmt!r}: expected one of {', '.join(FORMATS)}"
        raise ValueError(msg)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        # plain tracebacks: rich's (the default when rich is installed) print every
        # frame's locals, which for agents means prompts and keys, and take ~50 ms
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(),
                                           exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            *([structlog.processors.format_exc_info] if fmt == "json" else []),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[key]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    global _level  # noqa: PLW0603 - this module is where logging state lives
    _level = LEVELS[key]
    set_debug_enabled(LEVELS[key] <= logging.DEBUG)
