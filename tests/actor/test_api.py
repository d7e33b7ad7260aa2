"""Module-level functions of the actor runtime: shutdown_all."""

from __future__ import annotations

from typing import Any

import structlog

import otp.actor
from otp import ChildSpec, Supervisor


def test_shutdown_all_stops_supervision_trees_from_the_root_without_restarts(kind: Any) -> None:
    """Roots go first, so a supervisor stops its own children and restarts none of them."""

    class Worker(kind.Agent):
        pass

    sup = Supervisor.start(children=[ChildSpec(id="a", start=Worker),
                                     ChildSpec(id="b", start=Worker)])
    a, b = sup.whereis("a"), sup.whereis("b")
    loose = Worker.start()
    with structlog.testing.capture_logs() as logs:
        otp.actor.shutdown_all(timeout=5)
    assert [a.exit_reason, b.exit_reason] == ["shutdown", "shutdown"]
    assert sup.exit_reason == "shutdown" and loose.exit_reason == "shutdown"
    assert not [e for e in logs if e["event"] in ("child_restarted", "child_terminated")]
