# /// script
# requires-python = ">=3.11"
# dependencies = ["agent-otp"]
#
# [tool.uv.sources]
# agent-otp = { path = "..", editable = true }
# ///
"""Async agents: many idle agents on one event loop, beside thread agents.

Four scenes:

1. 100,000 idle chat sessions, each an async agent, and the memory they
   take. They share the node's event loop, so they add no OS threads.
2. An async agent asks 1,000 of them at once (``asyncio.gather`` of
   ``ask_async``), without blocking the loop.
3. A supervisor with a thread child and an async child. The async child
   crashes on a malformed model reply and the supervisor restarts it.
4. A handler that calls ``time.sleep`` holds the whole loop. The runtime
   reports it as a ``loop_lag`` event. The same wait through
   ``asyncio.to_thread`` holds nothing.

Run it from the repository root: ``python examples/async_agents.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

from structlog.testing import capture_logs

import otp
from otp import AgentActor, AgentRef, ChildSpec, Supervisor
from otp.actor import set_loop_lag_threshold
from otp.errors import format_reason

SESSIONS = 100_000
SURVEYED = 1_000


def say(line: str = "") -> None:
    """Print one whole line at once (agents print from other threads)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def rss_bytes() -> int:
    """The resident memory of this process (VmRSS on Linux, peak RSS elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource  # where there is no /proc (macOS, BSD)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


# -- the agents ---------------------------------------------------------------------------------


class Session(AgentActor):
    """One user's chat session: idle almost all the time."""

    kind = "async"

    def __init__(self, user: int) -> None:
        super().__init__()
        self.user = user
        self.turns = 0

    def on_receive(self, message: Any) -> Any:
        match message:
            case "turns":
                return self.turns
            case "close":
                self.stop()  # after this message: terminate, then exit "normal"
        return None


class Coordinator(AgentActor):
    """Asks many sessions at once from a handler on the loop."""

    kind = "async"

    async def survey(self, sessions: list[AgentRef[Session]]) -> tuple[int, float]:
        start = time.monotonic()
        replies = await asyncio.gather(*(s.ask_async("turns") for s in sessions))
        return len(replies), time.monotonic() - start


class MalformedReply(Exception):
    """The model's reply was not valid JSON."""


class Chat(AgentActor):
    """Calls a (scripted) model with an async client: an async agent's job."""

    kind = "async"

    def __init__(self, replies: list[str]) -> None:
        super().__init__()
        self.replies = replies  # shared with the restarted chat: the next reply is fresh

    async def reply(self, prompt: str) -> str:
        await asyncio.sleep(0.05)  # "the network"; other agents run meanwhile
        raw = self.replies.pop(0)
        try:
            return str(json.loads(raw)["text"])
        except json.JSONDecodeError as exc:
            msg = f"the model's reply is not valid JSON (char {exc.pos})"
            raise MalformedReply(msg) from exc  # let it crash


class Indexer(AgentActor):
    """Uses a blocking library (time.sleep stands in for it): a thread agent's job."""

    def index(self, text: str) -> int:
        time.sleep(0.05)
        return len(text.split())


class Summarizer(AgentActor):
    """Calls a blocking SDK from an async agent: once wrongly, once rightly."""

    kind = "async"

    def blocking_call(self) -> str:
        time.sleep(0.5)  # a blocking HTTP call, for instance
        return "summary"

    def summarize_wrong(self) -> str:
        return self.blocking_call()  # holds the node loop for 0.5 s

    async def summarize(self) -> str:
        return await asyncio.to_thread(self.blocking_call)  # the loop runs on meanwhile


# -- the scenes ---------------------------------------------------------------------------------


def crowd() -> list[AgentRef[Session]]:
    say(f"1. {SESSIONS:,} idle chat sessions, each an async agent")
    threads = threading.active_count()
    Session.start(0).stop()  # the first async agent starts the node loop
    before, start = rss_bytes(), time.monotonic()
    sessions = [Session.start(user) for user in range(SESSIONS)]
    spawn_s = time.monotonic() - start
    per_agent = (rss_bytes() - before) / SESSIONS
    say(f"   started in {spawn_s:.1f} s; about {per_agent:,.0f} bytes each (VmRSS delta)")
    say(f"   OS threads: {threads} before, {threading.active_count()} now "
        "(the node loop and its watchdog)")
    return sessions


def survey(sessions: list[AgentRef[Session]]) -> None:
    say()
    say(f"2. An async agent asks {SURVEYED:,} sessions at once")
    coordinator = Coordinator.start()
    answered, seconds = coordinator.proxy().survey(sessions[:SURVEYED]).get()
    say(f"   {answered:,} replies, gathered in {seconds * 1000:.0f} ms")
    coordinator.stop()


def mixed_tree() -> None:
    say()
    say("3. One supervisor, a thread child and an async child")
    replies = ['{"text": "Hello!"}', '{"text": "Sure, he', '{"text": "Sure, here it is."}']
    sup = Supervisor.start(children=[
        ChildSpec(id="indexer", start=Indexer),  # the class says: thread (the default)
        ChildSpec(id="chat", start=Chat, args=(replies,)),  # the class says: async
    ])
    assert sup is not None
    for child in reversed(sup.which_children()):
        spec = sup.get_childspec(child.id)
        kind = spec.kind or getattr(spec.start, "kind", None)  # the spec's, else the class's
        say(f"   {child.id:<8} {spec.start.__name__:<8} kind {kind}")
    indexer, chat = sup.whereis("indexer"), sup.whereis("chat")
    assert indexer is not None and chat is not None
    say(f"   indexer: {indexer.proxy().index('supervision trees for agents').get()} words")
    say(f"   chat:    {chat.proxy().reply('hi').get()}")
    with capture_logs() as events:  # the crash and the restart are logged: keep them here
        try:
            chat.proxy().reply("write a haiku").get()
        except MalformedReply as exc:
            say(f"   the ask raised MalformedReply: {exc}")
        new_chat = sup.whereis("chat")  # the supervisor has handled the exit by now
    say(f"   chat exited with {format_reason(chat.exit_reason)}; "
        f"logged: {', '.join(e['event'] for e in events)}")
    assert new_chat is not None and new_chat != chat
    say(f"   the supervisor restarted chat: {new_chat.proxy().reply('write a haiku').get()}")
    sup.stop()
    say(f"   supervisor stopped: indexer {format_reason(indexer.exit_reason)}, "
        f"chat {format_reason(new_chat.exit_reason)}")


def blocked_loop(sessions: list[AgentRef[Session]]) -> None:
    say()
    say("4. A blocking call inside an async agent holds the whole loop")
    summarizer = Summarizer.start()
    for label, method in (("time.sleep(0.5) in a def handler", "summarize_wrong"),
                          ("await asyncio.to_thread(...)   ", "summarize")):
        with capture_logs() as events:
            pending = getattr(summarizer.proxy(), method)()
            time.sleep(0.05)  # the summarizer is busy now; ask a session meanwhile
            start = time.monotonic()
            sessions[7].ask("turns")
            waited = time.monotonic() - start
            pending.get()
            time.sleep(0.1)  # the watchdog's report comes once the loop runs again
        lags = [e for e in events if e["event"] == "loop_lag"]
        report = (f"loop_lag held_s={lags[0]['held_s']:.1f} agent={lags[0]['agent'].split()[0]}"
                  if lags else "no loop_lag")
        say(f"   {label}: a session answered in {waited * 1000:3.0f} ms; {report}")
    summarizer.stop()


def main() -> int:
    otp.configure_logging(level="warning")  # loop_lag is a warning
    # Python's full garbage collection pauses every thread, the node loop
    # included: about 0.1 s per 100,000 agents here. Report longer holds only.
    set_loop_lag_threshold(0.3)
    say("agent-otp: async agents")
    say()
    sessions = crowd()
    survey(sessions)
    mixed_tree()
    blocked_loop(sessions)

    say()
    say("5. Close the sessions")
    start = time.monotonic()
    for session in sessions:
        session.tell("close")  # returns at once; each session stops itself
    reasons = {format_reason(session.join()) for session in sessions}
    say(f"   {SESSIONS:,} sessions exited {', '.join(sorted(reasons))} in "
        f"{time.monotonic() - start:.1f} s; agents still alive: "
        f"{sum(s.is_alive() for s in sessions)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
