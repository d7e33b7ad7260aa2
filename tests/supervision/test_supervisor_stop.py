"""Stopping children: supervisor_SUITE cases 16-22, 54 (child_unlink), 71 (order_of_children).

Reference items covered: S9 (child shutdown: brutal_kill, timeout then kill,
infinity; shutdown_error; a monitor, not the link), S10 (start order, reverse
stop order, a dynamically added child goes last).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs
from sup_support import crash, suite_child

from otp import ChildInfo, ChildSpec, Supervisor

pytestmark = pytest.mark.timeout(30)

Gate = Callable[[], threading.Event]


def _events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


# -- Stop (cases 16-22) ----------------------------------------------------------------


def test_sup_stop_infinity(kind: Any) -> None:
    """A worker may have shutdown "infinity": it is asked to stop and exits shutdown."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=child, shutdown="infinity")])
    ref = sup.whereis("child1")
    assert sup.get_childspec("child1").shutdown == "infinity"
    assert sup.stop(timeout=5) is True
    assert ref.join(timeout=5) == "shutdown"
    assert sup.join(timeout=5) == "normal"


def test_sup_stop_timeout(kind: Any, new_gate: Gate) -> None:
    """A child that does not finish shutting down within its timeout is killed."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[
        ChildSpec(id="child1", start=child, shutdown=1000),
        ChildSpec(id="child2", start=child, shutdown=100, kwargs={"hang": new_gate()}),
    ])
    ref1, ref2 = sup.whereis("child1"), sup.whereis("child2")
    with capture_logs() as logs:
        began = time.monotonic()
        assert sup.stop(timeout=5) is True
        elapsed = time.monotonic() - began
    assert ref2.join(timeout=5) == "killed"
    assert ref1.join(timeout=5) == "shutdown"
    assert sup.join(timeout=5) == "normal"
    assert elapsed >= 0.09  # it was given its 100 ms
    errors = _events(logs, "shutdown_error")
    assert [(e["child_id"], str(e["reason"])) for e in errors] == [("child2", "killed")]


def test_sup_stop_timeout_dynamic(kind: Any, new_gate: Gate) -> None:
    """Under simple_one_for_one children that hang in terminate are killed after the timeout."""
    child = suite_child(kind)
    gate = new_gate()
    sup = Supervisor.start(strategy="simple_one_for_one", children=[
        ChildSpec(id="child", start=child, shutdown=100, kwargs={"hang": gate})])
    refs = [sup.start_child() for _ in range(3)]
    assert sup.stop(timeout=5) is True
    assert [ref.join(timeout=5) for ref in refs] == ["killed"] * 3
    assert sup.join(timeout=5) == "normal"


def test_sup_stop_brutal_kill(kind: Any) -> None:
    """brutal_kill kills the child at once: its terminate does not run."""
    child = suite_child(kind)
    log: list[Any] = []
    sup = Supervisor.start(children=[
        ChildSpec(id="child1", start=child, shutdown="brutal_kill",
                  kwargs={"log": log, "tag": "child1"}),
        ChildSpec(id="child2", start=child, shutdown="brutal_kill",
                  kwargs={"log": log, "tag": "child2"}),
    ])
    ref1, ref2 = sup.whereis("child1"), sup.whereis("child2")
    assert sup.terminate_child("child2") is None
    assert ref2.join(timeout=5) == "killed"
    assert sup.stop(timeout=5) is True
    assert ref1.join(timeout=5) == "killed"
    assert sup.join(timeout=5) == "normal"
    assert [entry for entry in log if entry[0] == "stop"] == []


def test_sup_stop_brutal_kill_dynamic(kind: Any) -> None:
    """Under simple_one_for_one all ten brutal_kill children are killed."""
    child = suite_child(kind)
    sup = Supervisor.start(strategy="simple_one_for_one", children=[
        ChildSpec(id="child", start=child, shutdown="brutal_kill")])
    refs = [sup.start_child() for _ in range(10)]
    assert sup.stop(timeout=5) is True
    assert [ref.join(timeout=5) for ref in refs] == ["killed"] * 10
    assert sup.join(timeout=5) == "normal"


_REASONS = ["normal", "shutdown", ("shutdown", "test"), "other"]


def _is_shutdown_error(restart: str, reason: Any) -> bool:
    """S9: only shutdown is expected; a non-permanent child may also exit normal-ish."""
    if reason == "shutdown":
        return False
    return restart == "permanent" or reason not in ("normal", ("shutdown", "test"))


def test_sup_stop_race(kind: Any) -> None:
    """Children exiting by themselves, for any reason, while the supervisor shuts down
    cause no stall; each keeps its own reason."""
    child = suite_child(kind)
    terminating = threading.Event()
    sup = Supervisor.start(children=[], intensity=2, period=3600)
    ref_a = sup.start_child(ChildSpec(id="child_a", start=child, restart="temporary",
                                      shutdown=3000))
    racers: dict[str, tuple[Any, str, Any]] = {}
    for restart in ("temporary", "transient", "permanent"):
        for n, reason in enumerate(_REASONS):
            child_id = f"{restart}_{n}"
            ref = sup.start_child(ChildSpec(id=child_id, start=child, restart=restart,
                                            shutdown=3000))
            racers[child_id] = (ref, restart, reason)
    ref_z = sup.start_child(ChildSpec(id="child_z", start=child, restart="temporary",
                                      shutdown=2000,
                                      kwargs={"slow": 0.8, "terminating": terminating}))
    stopper = threading.Thread(target=sup.stop, kwargs={"timeout": 5})
    with capture_logs() as logs:
        began = time.monotonic()
        stopper.start()
        assert terminating.wait(5)  # the supervisor is busy stopping child_z (0.8 s)
        for ref, _restart, reason in racers.values():
            ref.tell(("exit", reason))
        stopper.join(5)
        elapsed = time.monotonic() - began
    assert sup.join(timeout=5) == "normal"
    assert elapsed < 2.5  # no child's 3 s kill timer was waited out
    assert ref_z.join(timeout=5) == "shutdown"
    assert ref_a.join(timeout=5) == "shutdown"
    for ref, _restart, reason in racers.values():
        assert ref.join(timeout=5) == reason
    errors = {(e["child_id"], str(e["reason"])) for e in _events(logs, "shutdown_error")}
    assert errors == {(child_id, str(reason)) for child_id, (_, restart, reason) in racers.items()
                      if _is_shutdown_error(restart, reason)}


@pytest.mark.parametrize("restart", ["temporary", "transient", "permanent"])
def test_sup_stop_non_shutdown_exit_dynamic(kind: Any, restart: str) -> None:
    """Under simple_one_for_one, children exiting with other reasons during shutdown
    cause no stall; each keeps its reason; unexpected ones are shutdown_error."""
    child = suite_child(kind)
    sup = Supervisor.start(strategy="simple_one_for_one", children=[
        ChildSpec(id="child", start=child, restart=restart, shutdown=3000)])
    refs = [(sup.start_child(), reason) for reason in _REASONS]
    busy = [threading.Event() for _ in refs]
    for (ref, reason), started in zip(refs, busy, strict=True):
        ref.tell(("work_then_exit", started, 0.5, reason))  # still busy when shutdown comes
    assert all(started.wait(5) for started in busy)
    with capture_logs() as logs:
        began = time.monotonic()
        assert sup.stop(timeout=5) is True
        elapsed = time.monotonic() - began
    assert [ref.join(timeout=5) for ref, _ in refs] == _REASONS
    assert elapsed < 2.5  # the 3 s kill timer was not waited out
    assert sup.join(timeout=5) == "normal"
    errors = sorted(str(e["reason"]) for e in _events(logs, "shutdown_error"))
    assert errors == sorted(str(r) for r in _REASONS if _is_shutdown_error(restart, r))


# -- Misc: child_unlink (case 54), order_of_children (case 71) -------------------------------


def test_child_unlink(kind: Any) -> None:
    """A child that unlinks from its supervisor is still shut down (a monitor is used)."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[ChildSpec(id="naughty_child", start=child, shutdown=1000)])
    ref = sup.whereis("naughty_child")
    ref.ask(("unlink", sup))
    began = time.monotonic()
    assert sup.terminate_child("naughty_child") is None
    assert time.monotonic() - began < 0.9  # it did not wait for the kill timer
    assert ref.join(timeout=5) == "shutdown"
    assert sup.which_children() == [ChildInfo("naughty_child", None, "worker")]
    assert sup.stop(timeout=5) is True
    assert sup.join(timeout=5) == "normal"


def test_order_of_children(kind: Any, clock: Any) -> None:
    """Start order 1..5; rest_for_one after 3 dies stops 5 then 4; stopping stops 5..1."""
    child = suite_child(kind)
    log: list[Any] = []
    sup = Supervisor.start(strategy="rest_for_one", intensity=2, period=3600, clock=clock,
                           children=[ChildSpec(id=f"child{i}", start=child,
                                               kwargs={"log": log, "tag": i})
                                     for i in range(1, 6)])
    assert log == [("start", i) for i in range(1, 6)]
    assert [c.id for c in sup.which_children()] == [f"child{i}" for i in range(5, 0, -1)]
    log.clear()
    assert crash(sup.whereis("child3")) == "died"
    assert [c.id for c in sup.which_children()] == [f"child{i}" for i in range(5, 0, -1)]
    assert log == [("stop", 3, "died"), ("stop", 5, "shutdown"), ("stop", 4, "shutdown"),
                   ("start", 3), ("start", 4), ("start", 5)]
    log.clear()
    assert sup.stop(timeout=5) is True
    assert log == [("stop", i, "shutdown") for i in range(5, 0, -1)]


# -- S9 and S10 items not covered above ---------------------------------------------------


def test_s9_shutdown_lets_the_child_finish_its_current_message(kind: Any) -> None:
    """With a timeout, a busy child finishes its message, runs terminate and exits shutdown."""
    child = suite_child(kind)
    log: list[Any] = []
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=child, shutdown=3000,
                                               kwargs={"log": log, "tag": "child1"})])
    ref = sup.whereis("child1")
    busy = threading.Event()
    ref.tell(("work", busy, 0.2))
    assert busy.wait(5)
    assert sup.terminate_child("child1") is None
    assert ref.join(timeout=5) == "shutdown"
    assert log[1:] == [("done", "child1"), ("stop", "child1", "shutdown")]


def test_s9_timeout_kills_a_child_stuck_in_a_handler(kind: Any, new_gate: Gate) -> None:
    """A child busy in a handler past its shutdown timeout is killed; terminate_child returns."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=child, shutdown=100)])
    ref = sup.whereis("child1")
    busy = threading.Event()
    ref.tell(("block", busy, new_gate()))
    assert busy.wait(5)
    began = time.monotonic()
    assert sup.terminate_child("child1") is None
    assert time.monotonic() - began >= 0.09
    assert ref.join(timeout=5) == "killed"
    assert sup.which_children() == [ChildInfo("child1", None, "worker")]


def test_s9_infinity_waits_for_a_slow_terminate(kind: Any) -> None:
    """With shutdown "infinity" a slow terminate is waited for, never killed."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=child, shutdown="infinity",
                                               kwargs={"slow": 0.3})])
    ref = sup.whereis("child1")
    began = time.monotonic()
    assert sup.terminate_child("child1") is None
    assert time.monotonic() - began >= 0.29
    assert ref.join(timeout=5) == "shutdown"


def test_s9_shutdown_error_does_not_stop_the_sequence(kind: Any, new_gate: Gate) -> None:
    """A child killed during shutdown is logged as shutdown_error; the others still stop."""
    child = suite_child(kind)
    log: list[Any] = []
    sup = Supervisor.start(children=[
        ChildSpec(id="a", start=child, kwargs={"log": log, "tag": "a"}),
        ChildSpec(id="b", start=child, shutdown=100,
                  kwargs={"log": log, "tag": "b", "hang": new_gate()}),
        ChildSpec(id="c", start=child, kwargs={"log": log, "tag": "c"}),
    ])
    refs = [sup.whereis(i) for i in ("a", "b", "c")]
    log.clear()
    with capture_logs() as logs:
        assert sup.stop(timeout=5) is True
    assert [ref.join(timeout=5) for ref in refs] == ["shutdown", "killed", "shutdown"]
    assert log == [("stop", "c", "shutdown"), ("stop", "b", "shutdown"),
                   ("stop", "a", "shutdown")]
    assert [e["child_id"] for e in _events(logs, "shutdown_error")] == ["b"]


def test_s10_a_dynamically_added_child_goes_last_and_stops_first(kind: Any) -> None:
    """start_child appends: the new child is newest in which_children and stops first."""
    child = suite_child(kind)
    log: list[Any] = []
    sup = Supervisor.start(children=[ChildSpec(id=t, start=child, kwargs={"log": log, "tag": t})
                                     for t in ("a", "b")])
    sup.start_child(ChildSpec(id="c", start=child, kwargs={"log": log, "tag": "c"}))
    assert [c.id for c in sup.which_children()] == ["c", "b", "a"]
    assert log == [("start", "a"), ("start", "b"), ("start", "c")]
    log.clear()
    assert sup.stop(timeout=5) is True
    assert log == [("stop", "c", "shutdown"), ("stop", "b", "shutdown"),
                   ("stop", "a", "shutdown")]
