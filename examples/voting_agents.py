# /// script
# requires-python = ">=3.11"
# dependencies = ["agent-otp"]
#
# [tool.uv.sources]
# agent-otp = { path = "..", editable = true }
# ///
"""The researchers of ``examples/voting.py``, in a module every node can import.

A pool places members on other nodes by remote spawn, which imports the
class there, so it lives at the top level of a module on every node's
``PYTHONPATH`` (``examples/voting.py`` starts its ``otp-node`` with
``PYTHONPATH=examples``).

A researcher is a scripted stand-in for an LLM agent: it answers from the
almanac of the node it runs on, so the example is the same on every run and
needs no API key. Node ``b`` has the 2024 edition, every other node the
2018 one, which is out of date on the question of moons. Run on its own,
it answers from the 2018 almanac::

    python examples/voting_agents.py
"""

from __future__ import annotations

import time
from typing import Any

import otp.node
from otp import AgentActor

MOST_MOONS = "Which planet has the most moons?"
SATURN_MOONS = "How many moons does Saturn have?"

# node (short name) -> (almanac, {question: (answer, seconds it takes to find it)})
ALMANACS: dict[str, tuple[str, dict[str, tuple[str, float]]]] = {
    "b": ("almanac 2024", {MOST_MOONS: ("Saturn", 0.05),
                           SATURN_MOONS: ("146", 30.0)}),  # counts them one by one
    "*": ("almanac 2018", {MOST_MOONS: ("Jupiter", 0.5),  # a printed book: slower
                           SATURN_MOONS: ("62", 0.5)}),
}


def where() -> str:
    """The name of the node this code runs on."""
    node = otp.node.current()
    return node.name if node is not None else "no node"


class Researcher(AgentActor):
    """Answers a question from its node's almanac: ``{"answer": ..., "source": ...}``."""

    def on_start(self) -> None:
        short = where().split("@")[0]
        self.source, self.table = ALMANACS.get(short, ALMANACS["*"])

    def on_receive(self, question: Any) -> dict[str, str]:
        answer, seconds = self.table.get(question, ("I don't know", 0.0))
        time.sleep(seconds)  # stands in for the model thinking
        return {"answer": answer, "source": self.source}


if __name__ == "__main__":
    researcher = Researcher.start()
    print(researcher.ask(MOST_MOONS))
    print(researcher.ask(SATURN_MOONS))
    researcher.stop()
