# /// script
# requires-python = ">=3.11"
# dependencies = ["agent-otp"]
#
# [tool.uv.sources]
# agent-otp = { path = "..", editable = true }
# ///
"""A supervised team of three agents (researcher, writer, reviewer) on a scripted model.

The model is a stand-in for an LLM provider: canned replies after a short
delay, no keys, no network. On the second task it hands the writer half a
JSON object. The writer does not try to cope: it lets it crash. Its monitor
hears a Down with the exception as reason, the supervisor restarts the writer
(one_for_one: the other two keep running, with their state), the task is
retried and completes, and the supervisor stops the team in reverse start
order.

Run it from the repository root::

    python examples/supervised_team.py          # the story
    python examples/supervised_team.py --log    # plus agent-otp's structlog events on stderr
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import otp
from otp import AgentActor, AgentRef, ChildSpec, Down, Inbox, Supervisor, SupervisorRef
from otp.errors import format_reason

PAUSE = 0.4  # seconds between scenes, so the story can be followed as it runs


def say(line: str = "") -> None:
    """Print one whole line at once (agents print from their own threads)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def short(ref: Any) -> str:
    """The first 8 hex digits of an agent's id (its urn:uuid)."""
    return ref.id.removeprefix("urn:uuid:")[:8] if isinstance(ref, AgentRef) else str(ref)


# -- the model: a scripted stand-in for an LLM provider ------------------------------------------


class MalformedOutput(Exception):
    """The model's reply could not be parsed."""


class ScriptedModel:
    """Replies from a script, one per call and per role, after ``delay`` seconds.

    Shared by the agents (each calls it from its own thread), and it outlives
    them: a restarted writer gets the next reply in the script, as a real
    provider would give a fresh answer to a retried request.
    """

    def __init__(self, script: dict[str, list[str]], delay: float = 0.25) -> None:
        self._replies = {role: iter(replies) for role, replies in script.items()}
        self._lock = threading.Lock()
        self.delay = delay

    def complete(self, role: str, prompt: str) -> str:
        time.sleep(self.delay)  # "network latency"
        with self._lock:
            return next(self._replies[role])


FACTS_SUPERVISION = (
    "- Erlang/OTP has supervised processes since 1998\n"
    "- a supervisor restarts a crashed child from its spec\n"
    "- restart intensity stops a crash loop"
)
FACTS_BURSTS = (
    "- LLM APIs fail in bursts: rate limits, 5xx, timeouts\n"
    "- a malformed reply is a transient fault\n"
    "- a fresh agent is cheaper than a defensive one"
)
SCRIPT = {
    "researcher": [FACTS_SUPERVISION, FACTS_BURSTS, FACTS_BURSTS],  # the third: the retry
    "writer": [
        (
            '{"draft": "Supervisors keep agents simple: an agent does its job, and when it '
            'crashes, its supervisor starts a fresh one from the spec."}'
        ),
        '{"draft": "Agents that call LLMs should let it cr',  # cut off: the crash
        (
            '{"draft": "LLM providers fail in bursts, so an agent should not defend against '
            'every malformed reply: it crashes, and a supervisor restarts it in milliseconds."}'
        ),
    ],
    "reviewer": [
        "APPROVED: clear and short.",
        "APPROVED: the point about bursts is well made.",
    ],
}


# -- the agents ---------------------------------------------------------------------------------


class TeamMember(AgentActor):
    """What the three agents share: a model, and a line when they terminate."""

    role = "member"

    def __init__(self, model: ScriptedModel) -> None:
        super().__init__()
        self.model = model

    def terminate(self, reason: Any) -> None:
        say(f"    {self.role:<10} terminate({format_reason(reason)})")


class Researcher(TeamMember):
    role = "researcher"

    def research(self, topic: str) -> list[str]:
        reply = self.model.complete(self.role, f"List three facts about {topic}.")
        return [line.removeprefix("- ") for line in reply.splitlines()]


class Writer(TeamMember):
    role = "writer"

    def write(self, topic: str, notes: list[str]) -> str:
        reply = self.model.complete(self.role, f"Write a paragraph on {topic} from {notes}.")
        try:
            return str(json.loads(reply)["draft"])
        except json.JSONDecodeError as exc:
            # No retry loop, no fallback: let it crash. The supervisor has the cure.
            msg = f"the model's reply is not valid JSON (char {exc.pos})"
            raise MalformedOutput(msg) from exc


class Reviewer(TeamMember):
    role = "reviewer"

    def on_start(self) -> None:
        self.reviewed = 0

    def review(self, draft: str) -> str:
        self.reviewed += 1
        return self.model.complete(self.role, f"Review this draft: {draft}")


# -- the story ----------------------------------------------------------------------------------

CHILDREN = ("researcher", "writer", "reviewer")
FLAGS = {"strategy": "one_for_one", "intensity": 3, "period": 5.0}


def show_tree(sup: SupervisorRef, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """Print the supervision tree; mark the refs that changed since ``before``."""
    say(f"  team (Supervisor {short(sup)}): {FLAGS['strategy']}, "
        f"at most {FLAGS['intensity']} restarts in {FLAGS['period']} s")
    children = list(reversed(sup.which_children()))  # which_children() is newest first
    refs = {}
    for i, child in enumerate(children):
        branch = "└──" if i == len(children) - 1 else "├──"
        spec = sup.get_childspec(child.id)
        alive = isinstance(child.ref, AgentRef) and child.ref.is_alive()
        note = ""
        if before is not None:
            old = before[child.id]
            note = "  (same)" if child.ref == old else f"  <- restarted, was {short(old)}"
        say(f"  {branch} {child.id:<11} {spec.start.__name__:<11} {child.type}, {spec.restart}, "
            f"{child.ref.kind if alive else spec.kind}  {'running' if alive else child.ref}  "
            f"ref {short(child.ref)}{note}")
        refs[child.id] = child.ref
    return refs


def member(sup: SupervisorRef, child_id: str) -> AgentRef[Any]:
    """Return the running agent of ``child_id``: the supervisor knows the current one."""
    ref = sup.whereis(child_id)
    if ref is None:
        msg = f"{child_id} is not running"
        raise LookupError(msg)
    return ref


def run_task(sup: SupervisorRef, topic: str) -> str:
    """Research, write and review ``topic``; each step is an ask through a proxy.

    The refs are looked up by child id for every task: after a restart the
    old ref points at a dead agent, and ``sup.whereis`` gives the new one.
    """
    researcher, writer, reviewer = (member(sup, cid) for cid in CHILDREN)
    start = time.monotonic()
    notes = researcher.proxy().research(topic).get(timeout=5)
    say(f"    researcher  {len(notes)} notes: {notes[0]!r}, ...")
    draft = writer.proxy().write(topic, notes).get(timeout=5)
    say(f'    writer      draft: "{draft[:58]}..."')
    verdict: str = reviewer.proxy().review(draft).get(timeout=5)
    say(f"    reviewer    {verdict}")
    say(f"    done in {time.monotonic() - start:.2f} s")
    return verdict


def main() -> int:
    otp.configure_logging(level="info" if "--log" in sys.argv else "critical")
    model = ScriptedModel(SCRIPT)
    say("agent-otp: a supervised team of three agents on a scripted model")
    say()
    say("1. Start the team under a supervisor")
    sup = Supervisor.start(
        name="team",
        children=[
            ChildSpec(id="researcher", start=Researcher, args=(model,)),
            ChildSpec(id="writer", start=Writer, args=(model,)),
            ChildSpec(id="reviewer", start=Reviewer, args=(model,)),
        ],
        **FLAGS,
    )
    assert sup is not None
    refs = show_tree(sup)
    time.sleep(PAUSE)

    with Inbox() as inbox:  # the script's own mailbox: it monitors every agent
        for ref in refs.values():
            inbox.monitor(ref)

        say()
        say("2. Task: 'supervision trees'")
        run_task(sup, "supervision trees")
        time.sleep(PAUSE)

        say()
        say("3. Task: 'LLM agents that let it crash' (the model sends broken JSON)")
        try:
            run_task(sup, "LLM agents that let it crash")
            raise AssertionError("the scripted model was meant to break the writer")
        except MalformedOutput as exc:
            error = exc  # the writer has crashed; the ask re-raised its exception here
        down = inbox.receive(timeout=5, match=lambda m: isinstance(m, Down))
        say(f"    the ask raised {type(error).__name__}: {error}")
        say(f"    monitor: Down from {down.agent.class_name} {short(down.agent)}, "
            f"reason {format_reason(down.reason)}")
        # The writer's exit reached the supervisor before the Down reached us, and
        # the supervisor handles it before our next call: this finds the new writer.
        new_writer = member(sup, "writer")
        assert new_writer != refs["writer"]
        inbox.monitor(new_writer)
        say(f"    supervisor: restarted the writer from its spec, as {short(new_writer)}")
        time.sleep(PAUSE)

        say()
        say("4. The tree after the restart (one_for_one: only the writer is new)")
        show_tree(sup, before=refs)
        reviewed = member(sup, "reviewer").proxy().reviewed.get(timeout=5)
        say(f"    the reviewer kept its state: {reviewed} draft reviewed so far")
        time.sleep(PAUSE)

        say()
        say("5. Retry the task")
        run_task(sup, "LLM agents that let it crash")
        time.sleep(PAUSE)

        say()
        say("6. Stop the supervisor: children stop in reverse start order")
        sup.stop()
        downs = [inbox.receive(timeout=5, match=lambda m: isinstance(m, Down)) for _ in CHILDREN]
        say("    monitor: " + ", ".join(f"Down from {d.agent.class_name} ({d.reason})"
                                    for d in downs))
        say(f"    team exited {sup.exit_reason}; agents still alive: "
            f"{sum(ref.is_alive() for ref in (*refs.values(), new_writer))}")
    if "--log" not in sys.argv:
        say()
        say("(run with --log to see agent-otp's own structlog events on stderr)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
