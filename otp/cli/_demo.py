"""``otp-node demo``: a supervised team at work, a crash and its restart, shown live.

The team is ``otp/demo/team.yaml``, started through ``otp.system`` as any
system file is; its agents ask an offline scripted model (``otp.demo``).
This module tells the story: it hands out the tasks, narrates, and draws
the tree that ``otp.supervision.describe`` reports.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otp import _log
from otp.actor import AgentRef, Down, Inbox
from otp.cli._live import BOLD, GREEN, RED, YELLOW, Display
from otp.demo import TEAM_FILE, ScriptedModel, register_model
from otp.demo.agents import MalformedOutput, narrate_to
from otp.errors import AskTimeout, OTPError, format_reason
from otp.system import System, load

if TYPE_CHECKING:
    from collections.abc import Callable


__all__ = ["DEMO_DOC", "add_parser", "demo"]

DEMO_DOC = """\
Watch a supervised team of three AI agents at work: a researcher, a writer
and a reviewer, under one supervisor, on an offline scripted model (no API
keys, no servers, nothing to set up). On the second task the model hands
the writer a malformed reply and the writer crashes; its supervisor
restarts it while the other two keep running, the step is retried, and the
team is stopped cleanly. About 20 seconds; Ctrl-C stops it cleanly at any
point.

The team is declared in otp/demo/team.yaml (try `otp-node check` on it);
its agents are in otp/demo/agents.py. On a terminal the supervision tree is
redrawn in place; piped, or with --plain, lines are only appended and the
tree is printed again whenever it changes.

exit codes: 0 the story ran and the team stopped cleanly; 1 something
went wrong; 130 interrupted (Ctrl-C), after a clean stop."""

CHILDREN = ("researcher", "writer", "reviewer")  # team.yaml's tree, in start order
_ASK = 30.0  # seconds any one wait may take, whatever the speed


def add_parser(sub: Any) -> None:
    """Add ``demo`` to ``otp-node``."""
    p = sub.add_parser("demo", help="watch a supervised team of agents: a crash, a restart, "
                       "a clean stop (offline, ~20 s)", description=DEMO_DOC,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--speed", type=_speed, default=1.0, metavar="FACTOR",
                   help="run FACTOR times faster (default: 1)")
    p.add_argument("--plain", action="store_true",
                   help="append lines only (no redraw in place), as when piped")
    p.add_argument("--no-color", action="store_true", help="no ANSI colours")


def _speed(text: str) -> float:
    with contextlib.suppress(ValueError):
        if 0 < float(text) <= 1000:
            return float(text)
    msg = f"use a number > 0 and <= 1000, e.g. 2 (got {text!r})"
    raise argparse.ArgumentTypeError(msg)


class _Interrupted(Exception):
    """Ctrl-C (or SIGTERM) arrived: the story ends early, and the team is stopped."""


class _Story:
    """The demo's script: start the team, two tasks (one with a crash), stop."""

    def __init__(self, display: Display, speed: float, interrupted: threading.Event) -> None:
        self.d, self.speed, self.interrupted = display, speed, interrupted
        self.system: System | None = None
        self.seen: list[AgentRef[Any]] = []  # every agent started, to count the living at the end

    # -- waits: every one is bounded, and ends at once on Ctrl-C ---------------------------
    def pause(self, seconds: float) -> None:
        if self.interrupted.wait(seconds / self.speed):
            raise _Interrupted

    def until(self, what: str, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + _ASK
        while not done():
            if time.monotonic() > deadline:
                msg = f"timed out waiting for {what}"
                raise TimeoutError(msg)
            self.pause(0.05 * self.speed)

    def ask(self, future: Any) -> Any:
        """The reply of an ask (or its exception), polled so that Ctrl-C is seen."""
        deadline = time.monotonic() + _ASK
        while True:
            try:
                return future.get(timeout=0.05)
            except AskTimeout:
                if time.monotonic() > deadline:
                    raise
            if self.interrupted.is_set():
                raise _Interrupted

    def member(self, child_id: str) -> AgentRef[Any]:
        """The running agent of ``child_id``: after a restart, a new one."""
        assert self.system is not None
        ref = self.system.whereis(f"team/{child_id}")
        if ref is None:
            msg = f"{child_id} is not running"
            raise LookupError(msg)
        if ref not in self.seen:
            self.seen.append(ref)
        return ref

    def alive(self) -> int:
        """How many of the agents this demo started are still alive."""
        return sum(ref.is_alive() for ref in self.seen)

    def step(self, who: str, completion: Any, result: str) -> None:
        c = completion
        self.d.say(f"  {self.d.who(who)}  asked the model: {c.input_tokens} tokens in, "
                   f"{c.output_tokens} out, {c.seconds:.2f}s → {result}")

    # -- the story -------------------------------------------------------------------------
    def run(self) -> int:
        d, p, indent = self.d, self.d.paint, " " * 14
        d.say(p("agent-otp demo: a supervised team of three AI agents", BOLD))
        d.say("The model is scripted (no API keys, no network); the rest is real: agents")
        d.say("with mailboxes, a supervisor, a system file. Ctrl-C stops it cleanly.")
        d.say()
        where = _shown_path(TEAM_FILE)
        plan = load(TEAM_FILE)
        tree, flags = plan.trees[0], plan.trees[0].flags
        d.say("A supervisor starts agents, watches them, and restarts any that crashes.")
        d.say(f"This tree is {flags.strategy}: a crash restarts only the agent that crashed.")
        d.say(f"More than {flags.intensity} restarts in {flags.period:g}s and it gives up: a "
              "crash loop is never hidden.")
        d.say()
        d.say(f"Starting tree {tree.entry.id!r} from {where}" + (
            " (its live view stays below)." if d.live else ":"))
        if d.live:
            d.say()
        self.system = System.start(plan, node=False)
        sup = self.system.supervisor(tree.entry.id)
        self.seen.append(sup)
        for child in CHILDREN:
            self.member(child)
        d.watch(sup)
        self.pause(3.0)

        d.say(p('Task 1: "supervision trees"', BOLD))
        self.finish("supervision trees", self.research("supervision trees"))
        self.pause(2.0)

        topic = "LLM agents that let it crash"
        d.say(p(f'Task 2: "{topic}"', BOLD))
        notes = self.research(topic)
        old = self.member("writer")
        with contextlib.suppress(MalformedOutput):
            self.ask(old.proxy().write(topic, notes))
            msg = "the scripted model was meant to break the writer"
            raise AssertionError(msg)
        d.say(f"  {d.who('writer')}  {p('crashed', RED)}: the model's reply was cut off "
              "mid-JSON. The writer")
        d.say(f"{indent}has no retry loop and no fallback: it lets it crash (its terminate")
        d.say(f"{indent}hook ran, above), as its state is suspect after an unexpected error.")
        self.until("the supervisor to act", lambda: self._writer(old) != "crashed")
        if flags.backoff is not None:
            d.say(f"  {d.who('supervisor')}  restarts the writer in {flags.backoff.min:g}s "
                  "(backoff: a struggling provider")
            d.say(f"{indent}gets a moment before the retry)")
        d.show_tree()
        self.until("the writer's restart", lambda: self._writer(old) == "restarted")
        d.say(f"  {d.who('supervisor')}  restarted the writer from its spec: a new agent "
              "(restarts 1,")
        d.say(f"{indent}uptime from 0); {flags.strategy} left the researcher and the reviewer "
              "running")
        d.show_tree()
        written = self.ask(self.member("writer").proxy().drafts_written())
        reviewed = self.ask(self.member("reviewer").proxy().drafts_reviewed())
        d.say(f"  The new writer starts fresh (drafts written: {written}); the reviewer kept "
              "its state")
        d.say(f"  (drafts reviewed: {reviewed}). The writer's step is retried, same notes:")
        self.pause(2.5)
        self.finish(topic, notes)
        self.pause(2.0)

        d.say(p("Stopping: children stop in reverse start order, each running terminate",
                BOLD))
        self.stop()
        d.close()
        alive = self.alive()
        d.say(f"  team stopped; agents still alive: {alive}")
        d.say()
        d.say("The crash cost one step, not the task: the supervisor replaced one agent")
        d.say("and the team carried on. That is OTP's bargain: simple agents, supervised.")
        d.say()
        d.say("Next: `otp-node init myproject` starts a project of your own (a system file,")
        d.say(f"an agent, its tests). This team: {where} and "
              f"{_shown_path(TEAM_FILE.with_name('agents.py'))}.")
        return 0 if alive == 0 else 1

    def _writer(self, old: AgentRef[Any]) -> str:
        """``crashed`` (the supervisor still has the old writer), ``restarting``
        (it waits for its backoff) or ``restarted`` (a new writer runs)."""
        assert self.system is not None
        ref = self.system.whereis("team/writer")
        self.d.refresh()  # after whereis: the tree shown is never older than the answer
        return "restarting" if ref is None else "crashed" if ref == old else "restarted"

    def research(self, topic: str) -> list[str]:
        notes = self.ask(self.member("researcher").proxy().research(topic))
        self.step("researcher", notes.completion, f"{len(notes.facts)} facts")
        return list(notes.facts)

    def finish(self, topic: str, facts: list[str]) -> None:
        draft = self.ask(self.member("writer").proxy().write(topic, facts))
        self.step("writer", draft.completion, f'"{_excerpt(draft.text, 26)}"')
        review = self.ask(self.member("reviewer").proxy().review(draft.text))
        self.step("reviewer", review.completion, review.verdict.split(":")[0])
        self.d.say(f"  {self.d.paint('done', GREEN)}: the draft is approved "
                   f"(drafts reviewed so far: {review.reviewed})")
        self.d.say()

    def stop(self) -> None:
        """Stop the team (if running), showing each child stop as its Down arrives."""
        system, self.system = self.system, None
        if system is None:
            return
        self.d.frozen = True  # a stopping supervisor cannot answer: the Downs tell the story
        with Inbox() as inbox:
            watched: dict[AgentRef[Any], str] = {}
            with contextlib.suppress(OTPError):  # a supervisor gone already: nothing to watch
                for child in CHILDREN:
                    ref = system.whereis(f"team/{child}", timeout=2.0)
                    if ref is not None:
                        inbox.monitor(ref)
                        watched[ref] = child
            stopper = threading.Thread(target=system.stop, name="otp-demo-stop", daemon=True)
            stopper.start()
            try:
                for _ in watched:
                    down = inbox.receive(timeout=10, match=lambda m: isinstance(m, Down))
                    self.d.mark_stopped(watched.get(down.agent))
            finally:
                stopper.join(timeout=60)
        self.d.mark_stopped(None)
        self.d.show_tree()


def _excerpt(text: str, width: int) -> str:
    """The first words of ``text`` that fit in ``width`` characters, then an ellipsis."""
    if len(text) <= width:
        return text
    return text[:width].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def demo(ns: Any) -> int:
    _log.configure_logging("critical")  # the story is told on stdout; stderr stays quiet
    tty = sys.stdout.isatty()
    display = Display(sys.stdout, live=tty and not ns.plain and os.environ.get("TERM") != "dumb",
                       color=tty and not ns.no_color and "NO_COLOR" not in os.environ)
    register_model("scripted", ScriptedModel(speed=ns.speed))  # fresh: the script starts over
    narrate_to(lambda role, text: display.say(f"  {display.who(role)}  {text}"))
    interrupted = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:  # only a flag: every wait checks it
        signals.append(signum)
        interrupted.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    story = _Story(display, ns.speed, interrupted)
    try:
        return story.run()
    except BrokenPipeError:  # `otp-node demo | head`: stop quietly, with nowhere to write
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except _Interrupted:
        display.say()
        display.say(display.paint("Interrupted: stopping the team cleanly", YELLOW))
        story.stop()
        display.close()
        display.say(f"  agents still alive: {story.alive()}")
        return 128 + signals[0]
    except Exception as exc:  # noqa: BLE001 - say what broke (no traceback), stop, exit 1
        print(f"otp-node demo: failed: {format_reason(exc)}", file=sys.stderr)
        return 1
    finally:
        try:
            with contextlib.suppress(Exception):
                story.stop()  # after a failure; a no-op once stopped
        finally:
            display.close()
            narrate_to(None)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
