"""Agents that ``otp-node start --spawn cli_agents:Red=red`` starts in the CLI tests.

``Red`` and ``Blue`` are supervisors (``Team``) of three ``Member`` workers
(``first``, ``second``, ``third``). Each member prints ``terminate <team>
<id> <reason>`` to the node's stdout when it stops, and each team prints
``terminate <team> supervisor <reason>``, so a test can read the order in
which a node stopped its supervision trees.
"""

from __future__ import annotations

import sys
from typing import Any

from otp import AgentActor, ChildSpec, Supervisor

MEMBERS = ("first", "second", "third")


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Member(AgentActor):
    """A worker that says when it terminates (it traps exits, so terminate runs on shutdown)."""

    trap_exit = True

    def __init__(self, team: str, child_id: str) -> None:
        super().__init__()
        self.label = f"{team} {child_id}"

    def terminate(self, reason: Any) -> None:
        say(f"terminate {self.label} {reason}")


class Team(Supervisor):
    """one_for_one over three members, started in order (and stopped in reverse)."""

    team = "team"

    def init(self) -> tuple[Any, Any]:
        children = [ChildSpec(id=m, start=Member, args=(self.team, m)) for m in MEMBERS]
        return {"strategy": "one_for_one"}, children

    def terminate(self, reason: Any) -> Any:
        result = super().terminate(reason)  # stops the members, newest first
        say(f"terminate {self.team} supervisor {reason}")
        return result


class Red(Team):
    team = "red"


class Blue(Team):
    team = "blue"
