"""Drawing a supervision tree as text: ``otp-node status``, and the live terminal demo.

:func:`render` turns one tree (the dict of ``otp.supervision.describe``)
into lines, one per agent, with the columns aligned across the whole tree::

    team            Supervisor  one_for_one  thread  running  up 12.3s
    ├── researcher  Researcher               thread  running  up 12.3s
    ├── writer      Writer                   thread  running  up 1.2s   restarts 1
    └── reviewer    Reviewer                 async   running  up 12.3s

Columns: id (indented under its supervisor), class, strategy (supervisors),
execution kind, state, uptime, restarts (only when there were any) and
``on NODE`` for an agent on another node than the root's. A column that is
empty on every line is left out. It is a pure function (no I/O, no clock):
the same dict always gives the same lines, so a display may redraw it often.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["format_uptime", "render"]

_RESET = "\x1b[0m"
_GREEN, _YELLOW, _RED = "\x1b[32m", "\x1b[33m", "\x1b[31m"
_STATE_COLORS = {"running": _GREEN, "restarting": _YELLOW, "stopped": _RED, "unknown": _RED}

_STATE, _RESTARTS = 4, 6  # the columns that are coloured
_GAP = "  "


def format_uptime(seconds: float | None) -> str:
    """Seconds as a short human figure: ``4.2s``, ``3m12s``, ``2h05m``, ``3d04h`` ("" for None)."""
    if seconds is None:
        return ""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{math.floor(seconds * 10) / 10:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _cells(entry: dict[str, Any], label: str, home: Any) -> list[str]:
    """The plain text of each column of one line."""
    uptime = entry.get("uptime")
    restarts = entry.get("restarts") or 0
    node = entry.get("node")
    return [
        label,
        _text(entry.get("class")),
        _text(entry.get("strategy")),
        _text(entry.get("kind")),
        _text(entry.get("state")),
        "" if uptime is None else f"up {format_uptime(uptime)}",
        f"restarts {restarts}" if isinstance(restarts, int) and restarts > 0 else "",
        f"on {node}" if node and home and node != home else "",
    ]


def _rows(entry: dict[str, Any], lead: str, branch: str, home: Any,
          out: list[list[str]]) -> None:
    """Add the lines of ``entry`` and its children (depth first, in start order)."""
    out.append(_cells(entry, branch + _text(entry.get("id")), home))
    children = [c for c in entry.get("children") or () if isinstance(c, dict)]
    for i, child in enumerate(children):
        last = i == len(children) - 1
        _rows(child, lead + ("    " if last else "│   "), lead + ("└── " if last else "├── "),
              home, out)


def _paint(text: str, column: int, color: bool) -> str:
    if not color or not text:
        return text
    code = _STATE_COLORS.get(text) if column == _STATE else None
    if column == _RESTARTS:
        code = _YELLOW
    return text if code is None else f"{code}{text}{_RESET}"


def render(tree: dict[str, Any], *, color: bool = False) -> list[str]:
    """Draw one supervision tree (``otp.supervision.describe``'s dict) as lines of text.

    Args:
        tree: the tree; missing keys are drawn as blanks.
        color: colour the states with ANSI codes (running green, restarting
            yellow, stopped and unknown red) and the restart counts yellow.

    Returns:
        One line per agent, root first, children in start order under
        ``├──``/``└──`` (``│`` continues a supervisor's branch); no trailing
        spaces, no newlines.
    """
    rows: list[list[str]] = []
    _rows(tree, "", "", tree.get("node"), rows)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        parts = []
        for i, cell in enumerate(row):
            if widths[i] == 0:
                continue  # empty on every line: left out
            parts.append(_paint(cell, i, color) + " " * (widths[i] - len(cell)))
        lines.append(_GAP.join(parts).rstrip())
    return lines
