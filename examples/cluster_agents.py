# /// script
# requires-python = ">=3.11"
# dependencies = ["agent-otp"]
#
# [tool.uv.sources]
# agent-otp = { path = "..", editable = true }
# ///
"""The agents of ``examples/cluster.py``, in a module every node can import.

A node starts an agent for another node by import path
(``cluster_agents:Researcher``), so the class must live at the top level of
a module on that node's ``PYTHONPATH``, not in ``__main__``.
``examples/cluster.py`` and ``docs/clustering.md`` start an ``otp-node`` with
``PYTHONPATH=examples`` for that reason.

Run on its own, it shows the agent working locally::

    python examples/cluster_agents.py
"""

from __future__ import annotations

from typing import Any

import otp.node
from otp import AgentActor


def where() -> str:
    """The name of the node this code runs on."""
    node = otp.node.current()
    return node.name if node is not None else "no node"


class Researcher(AgentActor):
    """Takes notes on topics and says which node took them (a stand-in for an LLM agent)."""

    def on_start(self) -> None:
        self.notes: list[str] = []

    def research(self, topic: str) -> str:
        self.notes.append(topic)
        return f"note {len(self.notes)} on {topic!r}, taken on {where()}"

    def on_receive(self, message: Any) -> Any:
        return self.research(str(message))


if __name__ == "__main__":
    researcher = Researcher.start()
    print(researcher.ask("supervision trees"))
    print(researcher.proxy().research("heartbeats").get(timeout=5))
    researcher.stop()
