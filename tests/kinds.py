"""The execution kinds as the behaviour tests see them: ``kind.Agent`` is the base class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otp.actor import AgentActor


@dataclass(frozen=True)
class Kind:
    """One execution kind as the tests see it."""

    name: str
    Agent: type[Any]


class AsyncAgent(AgentActor):
    """The behaviour tests' base class for the async kind."""

    kind = "async"


KINDS = {"thread": Kind("thread", AgentActor), "async": Kind("async", AsyncAgent)}
