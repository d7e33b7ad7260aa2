"""Agents that ``otp-node start --spawn cli_agents:Red=red`` starts in the CLI tests.

``Red`` and ``Blue`` are supervisors (``Team``) of three ``Member`` workers
(``first``, ``second``, ``third``). Each member prints ``terminate <team>
<id> <reason>`` to the node's stdout when it stops, and each team prints
``terminate <team> supervisor <reason>``, so a test can read the order in
which a node stopped its supervision trees.

``Killer`` (spawned on the node from a test, ``otp.node.spawn``) kills one
member of a team and waits until its supervisor has restarted it, so
``otp-node status`` then shows the restart.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from otp import AgentActor, ChildSpec, Supervisor, whereis

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


class Killer(AgentActor):
    """Kills member ``child_id`` of the team registered as ``team``, in ``on_start``, and
    returns once the supervisor has restarted it (within 5 s, else the start fails)."""

    def __init__(self, team: str, child_id: str) -> None:
        super().__init__()
        self.team, self.child_id = team, child_id

    def on_start(self) -> None:
        sup = whereis(self.team)
        assert sup is not None, f"no agent registered as {self.team!r}"
        old = sup.whereis(self.child_id)  # type: ignore[attr-defined]
        assert old is not None, f"{self.team} has no running {self.child_id!r}"
        old.kill()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            new = sup.whereis(self.child_id)  # type: ignore[attr-defined]
            if new is not None and new != old:
                return
            time.sleep(0.01)
        msg = f"{self.team}/{self.child_id} was not restarted within 5 s"
        raise RuntimeError(msg)
