# /// script
# requires-python = ">=3.11"
# dependencies = ["agent-otp"]
#
# [tool.uv.sources]
# agent-otp = { path = "..", editable = true }
# ///
"""The agents that ``examples/newsroom.yaml`` declares (imported by their path there).

Scripted stand-ins for LLM agents, so the example needs no key and gives
the same story on every run: a ``Reporter`` drafts, ``Checker`` members of
a pool vote on a claim, and an ``Editor`` counts what it has approved. Run
on its own, it shows one of each answering::

    python examples/newsroom_agents.py
"""

from __future__ import annotations

import sys
from typing import Any

from otp import AgentActor


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Reporter(AgentActor):
    """Drafts a story; ``draft("")`` is a malformed request: it crashes (let it crash)."""

    def __init__(self, beat: str) -> None:
        super().__init__()
        self.beat = beat

    def draft(self, topic: str) -> str:
        if not topic:
            raise ValueError("an empty topic: the model returned nothing to write about")
        return f"{topic}: a {self.beat} story in three paragraphs"


class Checker(AgentActor):
    """Checks a claim against its sources; every checker of the example agrees."""

    def on_receive(self, message: Any) -> Any:
        return "true" if "OTP" in str(message) else "unsure"


class Editor(AgentActor):
    """Approves drafts and counts them; its count survives the reporter's crash."""

    kind = "async"

    def on_start(self) -> None:
        self.approved = 0

    async def approve(self, draft: str) -> str:
        self.approved += 1
        return f"approved #{self.approved}: {draft}"

    def terminate(self, reason: Any) -> None:
        say(f"  editor stops ({reason}) after approving {self.approved}")


if __name__ == "__main__":
    reporter = Reporter.start("tech")
    editor = Editor.start()
    print(editor.proxy().approve(reporter.proxy().draft("actors").get()).get())
    print(Checker.start().ask("OTP is from 1998"))
    for agent in (reporter, editor):
        agent.stop()
