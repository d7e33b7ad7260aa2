"""The demo's team: a researcher, a writer and a reviewer, each asking the scripted model.

They are ordinary agents, as you would write your own: each handler asks
the model, checks the reply and returns a result. ``team.yaml`` starts
them under one supervisor (the researcher and the writer as thread
agents, the reviewer as an async agent on the event loop), each named by
its import path, e.g. ``otp.demo.agents:Writer``.

The writer does not defend itself against a malformed reply: no retry
loop, no fallback. It raises, and the exception crashes it (let it
crash). Its supervisor starts a fresh writer from the spec; whoever asked
gets the exception and may retry.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from otp.actor import AgentActor
from otp.demo._model import Completion, ScriptedModel, get_model
from otp.errors import format_reason

__all__ = [
    "Draft",
    "MalformedOutput",
    "Notes",
    "Researcher",
    "Review",
    "Reviewer",
    "Writer",
    "narrate_to",
]


class MalformedOutput(Exception):
    """The model's reply could not be parsed."""


@dataclass(frozen=True)
class Notes:
    """The researcher's findings on a topic."""

    facts: list[str]
    completion: Completion


@dataclass(frozen=True)
class Draft:
    """The writer's paragraph."""

    text: str
    completion: Completion


@dataclass(frozen=True)
class Review:
    """The reviewer's verdict, and how many drafts it has reviewed in all."""

    verdict: str
    reviewed: int
    completion: Completion


_narrator: Callable[[str, str], None] | None = None


def narrate_to(narrator: Callable[[str, str], None] | None) -> None:
    """Send the agents' own remarks (their ``terminate``) to ``narrator(role, text)``.

    ``otp-node demo`` passes its display, so the remarks join the story;
    None (the default) prints them on stdout as ``role: text``.
    """
    global _narrator  # noqa: PLW0603 - the one hook between the agents and their audience
    _narrator = narrator


def _say(role: str, text: str) -> None:
    narrator = _narrator
    if narrator is not None:
        narrator(role, text)
    else:
        sys.stdout.write(f"{role}: {text}\n")
        sys.stdout.flush()


class _Member(AgentActor):
    """What the three share: a role, the model they ask, and a word when they terminate."""

    role = "member"

    def __init__(self, model: str = "scripted") -> None:
        super().__init__()
        self.model: ScriptedModel = get_model(model)

    def terminate(self, reason: Any) -> Any:
        self.model.close_session(self.role)  # the clean-up an agent owes: it takes a moment
        _say(self.role, f"terminate({format_reason(reason)})")


class Researcher(_Member):
    """Lists facts about a topic (a thread agent: plain blocking code)."""

    role = "researcher"

    def research(self, topic: str) -> Notes:
        reply = self.model.complete(f"List three facts about {topic}.", role=self.role)
        return Notes([line.removeprefix("- ") for line in reply.text.splitlines()], reply)


class Writer(_Member):
    """Writes a paragraph from notes; the model must answer ``{"draft": "..."}``."""

    role = "writer"

    def on_start(self) -> None:
        self.written = 0  # state: lost in a crash, the new writer starts from 0

    def write(self, topic: str, facts: list[str]) -> Draft:
        prompt = f'Write a paragraph on {topic} from {facts}. Answer {{"draft": "..."}}.'
        reply = self.model.complete(prompt, role=self.role)
        try:
            text = str(json.loads(reply.text)["draft"])
        except json.JSONDecodeError as exc:
            # No retry loop, no fallback: let it crash. The supervisor has the cure.
            msg = f"the model's reply is not valid JSON (char {exc.pos})"
            raise MalformedOutput(msg) from exc
        except (KeyError, TypeError) as exc:
            msg = f'the model\'s reply has no "draft": {reply.text[:40]!r}'
            raise MalformedOutput(msg) from exc
        self.written += 1
        return Draft(text, reply)

    def drafts_written(self) -> int:
        """How many drafts this writer (this incarnation) has written."""
        return self.written


class Reviewer(_Member):
    """Reviews drafts and counts them (an async agent: ``async def`` on the event loop)."""

    role = "reviewer"
    kind = "async"

    def on_start(self) -> None:  # a plain def is fine in an async agent when nothing is awaited
        self.reviewed = 0  # state: kept as long as this reviewer runs

    async def review(self, draft: str) -> Review:
        reply = await self.model.acomplete(f"Review this draft: {draft}", role=self.role)
        self.reviewed += 1
        return Review(reply.text, self.reviewed, reply)

    async def drafts_reviewed(self) -> int:
        """How many drafts this reviewer has reviewed."""
        return self.reviewed

    async def terminate(self, reason: Any) -> None:
        await self.model.aclose_session(self.role)  # awaited: the loop's other agents run on
        _say(self.role, f"terminate({format_reason(reason)})")
