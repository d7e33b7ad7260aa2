"""The demo's screen: story lines, and the supervision tree below them, redrawn live.

On a terminal the tree is redrawn in place a few times a second; piped (or
``--plain``) lines are only appended and the tree is printed again when its
shape, a state or a restart count changes.
"""

from __future__ import annotations

import shutil
import threading
from typing import TYPE_CHECKING, Any, TextIO

from otp.cli._tree import render
from otp.supervision import describe

if TYPE_CHECKING:
    from otp.supervision import SupervisorRef

__all__ = ["BOLD", "DIM", "GREEN", "RED", "YELLOW", "Display", "signature"]

_FPS = 5  # live redraws a second
_UP, _ERASE_LINE, _CLEAR = "\x1b[{}F", "\x1b[K", "\x1b[J"  # up N lines; erase to the end
_HIDE, _SHOW = "\x1b[?25l", "\x1b[?25h"  # the cursor
BOLD, DIM, RED, GREEN, YELLOW = "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[32m", "\x1b[33m"
_RESET = "\x1b[0m"


def signature(tree: dict[str, Any] | None) -> Any:
    """What a plain display compares: the shape, states and restart counts (not uptimes)."""
    if tree is None:
        return None
    return (tree.get("id"), tree.get("class"), tree.get("kind"), tree.get("state"),
            tree.get("restarts"), tuple(signature(c) for c in tree.get("children") or ()))


class Display:
    """The story lines and the tree, on a terminal (live) or appended (plain).

    Live: story lines scroll as usual and the tree stays below them, redrawn
    in place a few times a second, each line overwritten and erased to its
    end (no blank frame, so no flicker). Plain: lines are written as they
    come, and the tree by :meth:`show_tree` only when :func:`signature` changed.
    """

    def __init__(self, out: TextIO, *, live: bool, color: bool) -> None:
        self.out, self.live, self.color = out, live, color
        self._lock = threading.RLock()
        self._pending: list[str] = []  # live: story lines not drawn yet
        self._footer = 0  # live: lines of the tree on screen, below the story
        self._blank = True  # the last story line is blank (the tree needs no gap)
        self._tree: dict[str, Any] | None = None
        self._shown: Any = None  # plain: the signature of the tree printed last
        self._sup: SupervisorRef | None = None
        self.frozen = False  # the supervisor is no longer asked (it is stopping)
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def who(self, role: str) -> str:
        """A role's name as the first column of a story line."""
        return self.paint(f"{role:<10}", BOLD)

    def say(self, line: str = "") -> None:
        """Add one line to the story (from any thread)."""
        with self._lock:
            if self.live:
                self._pending.append(line)
                self._draw()
            else:
                self.out.write(line + "\n")
                self.out.flush()

    def watch(self, sup: SupervisorRef) -> None:
        """Show the tree of ``sup`` from now on (live: redrawn by a thread of its own)."""
        self._sup = sup
        self.refresh()
        self.show_tree()
        if self.live and self._thread is None:
            self.out.write(_HIDE)
            self._thread = threading.Thread(target=self._run, name="otp-demo-display",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(1 / _FPS):
            try:
                self.refresh()
            except OSError:  # the terminal went away: the main thread will hear of it too
                return
            except Exception:  # noqa: BLE001, S112 - a frame missed is no reason for a traceback
                continue

    def refresh(self) -> None:
        """Ask the supervisor for its tree now (live: and redraw it)."""
        if self._sup is None or self.frozen:
            return
        tree = describe(self._sup, timeout=1.0)
        with self._lock:
            if not self.frozen:
                self._tree = tree
                if self.live:
                    self._draw()

    def mark_stopped(self, child_id: str | None = None) -> None:
        """Show ``child_id`` (None: the whole tree) as stopped: its Down has arrived."""
        with self._lock:
            tree = self._tree or {}
            for entry in [tree, *(tree.get("children") or ())]:
                if tree and (child_id is None or entry.get("id") == child_id):
                    entry.update(state="stopped", uptime=None)
            if self.live:
                self._draw()

    def show_tree(self) -> None:
        """Plain: print the tree if it changed since it was last printed."""
        with self._lock:
            if self.live or self._tree is None or signature(self._tree) == self._shown:
                return
            self._shown = signature(self._tree)
            lines = render(self._tree, color=self.color)
            self.out.write("".join(f"    {line}\n" for line in lines) + "\n")
            self.out.flush()

    def _draw(self) -> None:
        """Live: the new story lines over the old tree, then the tree (holding the lock)."""
        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        if self._pending:
            self._blank = self._pending[-1] == ""
        lines = [*self._pending, *self._footer_lines(width)]
        parts = [_UP.format(self._footer) if self._footer else ""]
        parts.extend(f"{line}{_ERASE_LINE}\n" for line in lines)
        self.out.write("".join(parts) + _CLEAR)
        self.out.flush()
        self._footer = len(lines) - len(self._pending)
        self._pending.clear()

    def _footer_lines(self, width: int) -> list[str]:
        if self._tree is None:
            return []
        title = "supervision tree, " + ("at the end" if self.frozen else
                                         "live (as the supervisor reports it)")
        lines = ([] if self._blank else [""]) + [self.paint(f"  {title}"[:width], DIM)]
        painted = render(self._tree, color=self.color)
        for bare, shown in zip(render(self._tree), painted, strict=True):
            lines.append(f"    {shown}" if len(bare) + 4 <= width else f"    {bare}"[:width])
        return lines

    def close(self) -> None:
        """Stop redrawing: the last frame stays, the cursor is shown again, and further
        lines are appended below it (callable more than once)."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self.frozen = True
            if self.live:
                self._draw()
                self.out.write(_SHOW + "\n")
                self.out.flush()
                self.live, self._footer = False, 0
