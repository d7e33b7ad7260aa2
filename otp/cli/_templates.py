"""The files ``otp-node init`` and ``otp-node create`` write (``{name}`` fields filled in).

Each agent template is a module with one agent class and a test that
starts it under a supervisor and checks its answer; the tests pass as
written, so a new project starts green.
"""

from __future__ import annotations

__all__ = ["AGENTS", "CHILD", "CONFTEST", "PACKAGE_INIT", "README", "SYSTEM", "TEST"]

SYSTEM = """\
# yaml-language-server: $schema=system.schema.json
# The system: this node and its supervision trees. Check it with
#   otp-node check system.yaml
# and run it with
#   otp-node run system.yaml
# Every key is described in system.schema.json (`otp-node schema`).

node:
  name: {project}
  listen: tcp://127.0.0.1:*     # * picks a free port; the address is printed at start

log:
  level: info

supervisors:
  - id: main
    strategy: one_for_one       # restart only the child that crashed
    intensity: 3                # at most 3 restarts...
    period: 5                   # ...within 5 seconds, else give up
    children:
      - id: {agent}
        agent: {package}.{agent}:{cls}
"""

CHILD = """\
- id: {agent}
  agent: {package}.{agent}:{cls}
"""

CONFTEST = '''\
"""Tests import the project's agents from the project directory (this file's parent's)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
'''

PACKAGE_INIT = '"""The agents of {project}."""\n'

README = """\
# {project}

An agent-otp system.

    otp-node check system.yaml     # validate the system file
    otp-node run system.yaml       # run it (Ctrl-C stops it cleanly)
    otp-node status ADDRESS        # from another shell: the running tree
    python -m pytest tests         # the agents' tests
    otp-node create NAME --template async   # add an agent (basic, async or llm)
"""

BASIC = '''\
"""{cls}: a thread agent (plain blocking code, one OS thread)."""

from __future__ import annotations

from otp import AgentActor


class {cls}(AgentActor):
    """Counts the greetings it sends. A crash in a handler restarts it (let it crash)."""

    def on_start(self) -> None:
        self.greeted = 0

    def greet(self, who: str) -> str:
        self.greeted += 1
        return f"hello, {{who}} (greeting {{self.greeted}})"
'''

ASYNC = '''\
"""{cls}: an async agent (async def handlers on the node's event loop)."""

from __future__ import annotations

import asyncio

from otp import AgentActor


class {cls}(AgentActor):
    """Answers after awaiting; many async agents share one event loop."""

    kind = "async"

    async def on_start(self) -> None:
        self.greeted = 0

    async def greet(self, who: str) -> str:
        await asyncio.sleep(0)  # awaiting I/O (an API call, say) lets other agents run
        self.greeted += 1
        return f"hello, {{who}} (greeting {{self.greeted}})"
'''

LLM = '''\
"""{cls}: an agent that calls a language model through a small interface.

``model`` is anything with ``complete(prompt: str) -> str``. The default,
``CannedModel``, answers offline so the agent runs and tests with no key;
wrap your provider's client in the same method to use a real model.
"""

from __future__ import annotations

from typing import Protocol

from otp import AgentActor


class Model(Protocol):
    def complete(self, prompt: str) -> str: ...


class CannedModel:
    """An offline stand-in for a provider: a fixed answer, no network."""

    def complete(self, prompt: str) -> str:
        return f"(canned answer to: {{prompt}})"


class {cls}(AgentActor):
    """Asks the model; a provider error crashes the agent and its supervisor restarts it."""

    def __init__(self, model: Model | None = None) -> None:
        super().__init__()
        self.model = model or CannedModel()

    def greet(self, who: str) -> str:
        return self.model.complete(f"Say hello to {{who}}.")
'''

AGENTS = {"basic": BASIC, "async": ASYNC, "llm": LLM}

TEST = '''\
"""{cls} under a supervisor, as system.yaml runs it."""

from __future__ import annotations

import time

from otp import ChildSpec, Supervisor
from {package}.{agent} import {cls}


def test_{agent}_greets_and_is_restarted_after_a_crash() -> None:
    sup = Supervisor.start(children=[ChildSpec(id="{agent}", start={cls})])
    assert sup is not None
    try:
        agent = sup.whereis("{agent}")
        assert "world" in agent.proxy().greet("world").get(timeout=5)
        agent.kill()  # as a crash would: the supervisor starts a new one
        agent.join(timeout=5)
        for _ in range(100):  # at most 5 s: the restart takes milliseconds
            again = sup.whereis("{agent}")
            if again is not None and again != agent:
                break
            time.sleep(0.05)
        assert again is not None and again != agent
        assert "world" in again.proxy().greet("world").get(timeout=5)
    finally:
        sup.stop()


def test_the_system_file_is_valid() -> None:
    from pathlib import Path

    import otp.system

    plan = otp.system.load(Path(__file__).resolve().parent.parent / "system.yaml")
    assert [tree.entry.id for tree in plan.trees]
'''
