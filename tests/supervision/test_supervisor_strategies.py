"""Restart strategies, escalation and failed restarts: supervisor_SUITE cases 30-42, 64-66.

Also restart backoff (an agent-otp option, after Akka's BackoffSupervisor).

Reference items covered: S6 (one_for_one, one_for_all, rest_for_one,
simple_one_for_one), S7 (intensity window, escalation, exit "shutdown"),
S8 (failed restarts: "restarting", retried through the mailbox, counted
toward intensity, group retries), S10 (simple_one_for_one stops its children
all at once, under one shared timer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sup_support import (
    INFO,
    Starter,
    crash,
    restarted,
    settled_children,
    suite_child,
    wait_until,
)

from otp import AgentRef, Backoff, ChildCounts, ChildInfo, ChildSpec, Supervisor
from otp.errors import SupervisorError

pytestmark = pytest.mark.timeout(30)

Gate = Callable[[], threading.Event]


def _code(call: Any, *args: Any) -> str:
    with pytest.raises(SupervisorError) as info:
        call(*args)
    return info.value.code


def _refs(sup: Any) -> set[Any]:
    return {c.ref for c in sup.which_children()}


# -- one_for_one (cases 30-31) -----------------------------------------------------------


def test_one_for_one(kind: Any, clock: Any) -> None:
    """Only the failed child restarts; with (2, 3600) the third crash ends the supervisor."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=child),
                                     ChildSpec(id="child2", start=child)],
                           intensity=2, period=3600, clock=clock)
    ref1, ref2 = sup.whereis("child1"), sup.whereis("child2")
    assert crash(ref1) == "died"
    new1 = restarted(sup, "child1", ref1)
    assert sup.whereis("child2") == ref2
    assert crash(ref2) == "died"
    new2 = restarted(sup, "child2", ref2)
    assert sup.whereis("child1") == new1
    assert crash(new1) == "died"
    assert sup.join(timeout=5) == "shutdown"
    assert new2.join(timeout=5) == "shutdown"


def test_one_for_one_escalation(kind: Any, clock: Any) -> None:
    """Failed restarts use up the intensity; the supervisor and the sibling exit shutdown."""
    start = Starter(kind, works=1)
    sup = Supervisor.start(children=[], intensity=4, period=3600, clock=clock)
    ref1 = sup.start_child(ChildSpec(id="child1", start=start))
    ref2 = sup.start_child(ChildSpec(id="child2", start=suite_child(kind)))
    assert crash(ref1) == "died"
    assert sup.join(timeout=5) == "shutdown"
    assert ref2.join(timeout=5) == "shutdown"
    assert start.calls == 1 + 4  # the first start, then 4 failed attempts; the 5th is over


# -- one_for_all (cases 32-34) -----------------------------------------------------------


def test_one_for_all(kind: Any, clock: Any) -> None:
    """Every child gets a new ref; the limit holds."""
    child = suite_child(kind)
    sup = Supervisor.start(strategy="one_for_all", intensity=2, period=3600, clock=clock,
                           children=[ChildSpec(id="child1", start=child),
                                     ChildSpec(id="child2", start=child)])
    ref1, ref2 = sup.whereis("child1"), sup.whereis("child2")
    assert crash(ref1) == "died"
    assert ref2.join(timeout=5) == "shutdown"
    new1, new2 = restarted(sup, "child1", ref1), restarted(sup, "child2", ref2)
    assert crash(new2) == "died"
    assert new1.join(timeout=5) == "shutdown"
    last1 = restarted(sup, "child1", new1)
    restarted(sup, "child2", new2)
    assert crash(last1) == "died"
    assert sup.join(timeout=5) == "shutdown"


def test_one_for_all_escalation(kind: Any, clock: Any) -> None:
    """A sibling that fails to restart makes the group retry until the supervisor gives up."""
    start1, start2 = Starter(kind), Starter(kind, works=1)
    sup = Supervisor.start(strategy="one_for_all", intensity=4, period=3600, clock=clock,
                           children=[])
    ref1 = sup.start_child(ChildSpec(id="child1", start=start1))
    ref2 = sup.start_child(ChildSpec(id="child2", start=start2))
    assert crash(ref1) == "died"
    assert ref2.join(timeout=5) == "shutdown"
    assert sup.join(timeout=5) == "shutdown"
    assert start2.calls == 1 + 4
    assert all(not ref.is_alive() for ref in start1.refs)


def test_one_for_all_other_child_fails_restart(kind: Any, clock: Any) -> None:
    """When a sibling fails to start, the restarted child is shut down and the group retried."""
    start1, start2 = Starter(kind), Starter(kind, fail_on=(2,))
    sup = Supervisor.start(strategy="one_for_all", intensity=3, period=3600, clock=clock,
                           children=[ChildSpec(id="child1", start=start1),
                                     ChildSpec(id="child2", start=start2)])
    ref1, ref2 = start1.refs[0], start2.refs[0]
    assert crash(ref1) == "died"
    assert ref2.join(timeout=5) == "shutdown"
    children = settled_children(sup)
    assert len(start1.refs) == 3  # first start, the restart undone when child2 failed, the retry
    assert start1.refs[1].join(timeout=5) == "shutdown"
    assert start2.calls == 3
    assert children == [ChildInfo("child2", start2.refs[-1], "worker"),
                        ChildInfo("child1", start1.refs[-1], "worker")]
    assert all(c.ref.is_alive() for c in children)
    assert sup.is_alive()


# -- simple_one_for_one (cases 35-39) ------------------------------------------------------


def test_simple_one_for_one(kind: Any, clock: Any) -> None:
    """Dynamic children restart one for one; past the limit the supervisor exits shutdown."""
    sup = Supervisor.start(strategy="simple_one_for_one", intensity=2, period=3600, clock=clock,
                           children=[ChildSpec(id="child", start=suite_child(kind))])
    ref1, ref2 = sup.start_child(), sup.start_child()
    assert crash(ref1) == "died"
    refs = _refs(sup)
    assert len(refs) == 2
    assert ref1 not in refs
    assert ref2 in refs
    assert sup.count_children() == ChildCounts(specs=1, active=2, supervisors=0, workers=2)
    assert crash(ref2) == "died"
    refs = _refs(sup)
    assert len(refs) == 2
    assert ref2 not in refs
    victim, survivor = sorted(refs, key=str)
    assert crash(victim) == "died"
    assert sup.join(timeout=5) == "shutdown"
    assert survivor.join(timeout=5) == "shutdown"


def test_simple_one_for_one_shutdown(kind: Any, new_gate: Gate) -> None:
    """Children are shut down all at once under one shared timeout."""
    child = suite_child(kind)
    gate = new_gate()
    sup = Supervisor.start(strategy="simple_one_for_one", children=[
        ChildSpec(id="child", start=child, shutdown=400)])
    graceful = [sup.start_child(slow=0.2) for _ in range(3)]
    hanging = [sup.start_child(hang=gate) for _ in range(2)]
    began = time.monotonic()
    assert sup.stop(timeout=5) is True
    elapsed = time.monotonic() - began
    assert [ref.join(timeout=5) for ref in graceful] == ["shutdown"] * 3
    assert [ref.join(timeout=5) for ref in hanging] == ["killed"] * 2
    # One after the other would take at least 3 * 0.2 + 2 * 0.4 = 1.4 s.
    assert 0.39 <= elapsed < 1.2


def test_simple_one_for_one_extra(kind: Any) -> None:
    """Children started with (ref, info) restart like the others."""
    sup = Supervisor.start(strategy="simple_one_for_one", intensity=2, period=3600,
                           children=[ChildSpec(id="child", start=Starter(kind), args=("info",))])
    ref1, info1 = sup.start_child()
    ref2, info2 = sup.start_child()
    assert info1 == info2 == INFO
    assert crash(ref1) == "died"
    children = sup.which_children()
    assert len(children) == 2
    assert ChildInfo(None, ref2, "worker") in children
    assert ref1 not in {c.ref for c in children}
    assert sup.terminate_child(ref2) is None
    assert ref2.join(timeout=5) == "shutdown"
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)


def test_simple_one_for_one_escalation(kind: Any, clock: Any) -> None:
    """Failed restarts of a dynamic child escalate: the supervisor and its children exit."""
    sup = Supervisor.start(strategy="simple_one_for_one", intensity=4, period=3600, clock=clock,
                           children=[ChildSpec(id="child", start=Starter(kind))])
    ref1 = sup.start_child("once")  # its restarts will fail
    ref2 = sup.start_child()
    assert crash(ref1) == "died"
    assert sup.join(timeout=5) == "shutdown"
    assert ref2.join(timeout=5) == "shutdown"


# -- rest_for_one (cases 40-42) ------------------------------------------------------------


def test_rest_for_one(kind: Any, clock: Any) -> None:
    """Later children restart; earlier ones keep their refs; the limit holds."""
    child = suite_child(kind)
    sup = Supervisor.start(strategy="rest_for_one", intensity=2, period=3600, clock=clock,
                           children=[ChildSpec(id=f"child{i}", start=child) for i in (1, 2, 3)])
    ref1, ref2, ref3 = (sup.whereis(f"child{i}") for i in (1, 2, 3))
    assert crash(ref2) == "died"
    assert ref3.join(timeout=5) == "shutdown"
    assert sup.whereis("child1") == ref1
    new2, new3 = restarted(sup, "child2", ref2), restarted(sup, "child3", ref3)
    assert crash(ref1) == "died"
    assert new2.join(timeout=5) == "shutdown"
    assert new3.join(timeout=5) == "shutdown"
    new1 = restarted(sup, "child1", ref1)
    restarted(sup, "child2", new2)
    last3 = restarted(sup, "child3", new3)
    assert crash(new1) == "died"
    assert sup.join(timeout=5) == "shutdown"
    assert last3.join(timeout=5) == "shutdown"


def test_rest_for_one_escalation(kind: Any, clock: Any) -> None:
    """A later child that fails to restart escalates to the supervisor."""
    start2 = Starter(kind, works=1)
    sup = Supervisor.start(strategy="rest_for_one", intensity=4, period=3600, clock=clock,
                           children=[ChildSpec(id="child1", start=suite_child(kind)),
                                     ChildSpec(id="child2", start=start2)])
    ref1, ref2 = sup.whereis("child1"), sup.whereis("child2")
    assert crash(ref1) == "died"
    assert ref2.join(timeout=5) == "shutdown"
    assert sup.join(timeout=5) == "shutdown"
    assert start2.calls == 1 + 4


def test_rest_for_one_other_child_fails_restart(kind: Any, clock: Any) -> None:
    """The retry resumes at the child that failed: earlier restarted children are kept."""
    start1, start2, start3 = Starter(kind), Starter(kind, fail_on=(2,)), Starter(kind)
    sup = Supervisor.start(strategy="rest_for_one", intensity=3, period=3600, clock=clock,
                           children=[ChildSpec(id="child1", start=start1),
                                     ChildSpec(id="child2", start=start2),
                                     ChildSpec(id="child3", start=start3)])
    assert crash(start1.refs[0]) == "died"
    children = settled_children(sup)
    assert (start1.calls, start2.calls, start3.calls) == (2, 3, 2)
    assert children == [ChildInfo("child3", start3.refs[-1], "worker"),
                        ChildInfo("child2", start2.refs[-1], "worker"),
                        ChildInfo("child1", start1.refs[1], "worker")]
    assert all(c.ref.is_alive() for c in children)


# -- hanging restart loops (cases 64-66) -----------------------------------------------------


def test_hanging_restart_loop(kind: Any, clock: Any) -> None:
    """While a restart keeps failing the supervisor answers, and the child can be stopped."""
    start = Starter(kind, delay=0.02)
    spec = ChildSpec(id="child1", start=start, shutdown="brutal_kill")
    sup = Supervisor.start(children=[], intensity=1000, period=3600, clock=clock)
    ref1 = sup.start_child(spec)
    start.failing = True
    assert crash(ref1) == "died"
    assert _code(sup.start_child, spec) == "already_present"
    assert _code(sup.restart_child, "child1") == "restarting"
    assert _code(sup.delete_child, "child1") == "restarting"
    assert sup.which_children() == [ChildInfo("child1", "restarting", "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=1)
    assert sup.whereis("child1") is None
    assert sup.terminate_child("child1") is None
    calls = start.calls
    assert sup.which_children() == [ChildInfo("child1", None, "worker")]
    assert sup.which_children() == [ChildInfo("child1", None, "worker")]
    assert start.calls == calls  # no retry after terminate_child
    start.failing = False
    ref2 = sup.restart_child("child1")
    assert isinstance(ref2, AgentRef)
    assert ref2.is_alive()
    start.failing = True
    assert crash(ref2) == "died"
    assert sup.which_children() == [ChildInfo("child1", "restarting", "worker")]
    assert sup.stop(timeout=5) is True  # it can be stopped in the middle of the loop
    assert sup.join(timeout=5) == "normal"


def test_hanging_restart_loop_rest_for_one(kind: Any, clock: Any) -> None:
    """The same under rest_for_one: later children wait, not running, while one restarts."""
    start = Starter(kind, delay=0.02)
    child = suite_child(kind)
    spec2 = ChildSpec(id="child2", start=start, shutdown="brutal_kill")
    sup = Supervisor.start(strategy="rest_for_one", intensity=1000, period=3600, clock=clock,
                           children=[])
    ref1 = sup.start_child(ChildSpec(id="child1", start=child, shutdown="brutal_kill"))
    ref2 = sup.start_child(spec2)
    ref3 = sup.start_child(ChildSpec(id="child3", start=child, shutdown="brutal_kill"))
    start.failing = True
    assert crash(ref2) == "died"
    assert ref3.join(timeout=5) == "killed"
    assert _code(sup.start_child, spec2) == "already_present"
    assert _code(sup.restart_child, "child2") == "restarting"
    assert _code(sup.delete_child, "child2") == "restarting"
    assert sup.which_children() == [ChildInfo("child3", None, "worker"),
                                    ChildInfo("child2", "restarting", "worker"),
                                    ChildInfo("child1", ref1, "worker")]
    assert sup.count_children() == ChildCounts(specs=3, active=1, supervisors=0, workers=3)
    assert sup.terminate_child("child2") is None
    assert sup.which_children() == [ChildInfo("child3", None, "worker"),
                                    ChildInfo("child2", None, "worker"),
                                    ChildInfo("child1", ref1, "worker")]
    start.failing = False
    new2 = sup.restart_child("child2")
    assert sup.which_children() == [ChildInfo("child3", None, "worker"),
                                    ChildInfo("child2", new2, "worker"),
                                    ChildInfo("child1", ref1, "worker")]
    assert sup.stop(timeout=5) is True


def test_hanging_restart_loop_simple(kind: Any, clock: Any) -> None:
    """The same under simple_one_for_one: the restarting child is stopped by its old ref."""
    start = Starter(kind, delay=0.02)
    sup = Supervisor.start(strategy="simple_one_for_one", intensity=1000, period=3600,
                           clock=clock,
                           children=[ChildSpec(id="child1", start=start, shutdown="brutal_kill")])
    ref1 = sup.start_child()
    start.failing = True
    assert crash(ref1) == "died"
    assert _code(sup.restart_child, "child1") == "simple_one_for_one"
    assert _code(sup.delete_child, "child1") == "simple_one_for_one"
    assert sup.which_children() == [ChildInfo(None, "restarting", "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=1)
    assert sup.terminate_child(ref1) is None
    assert sup.which_children() == []
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=0)
    start.failing = False
    assert sup.start_child().is_alive()
    assert sup.stop(timeout=5) is True


# -- S6-S8 items not covered above ------------------------------------------------------------


def test_s7_intensity_zero_means_the_first_crash_ends_the_supervisor(
        kind: Any, clock: Any) -> None:
    """With intensity 0 no restart is allowed: the supervisor exits shutdown at once."""
    child = suite_child(kind)
    sup = Supervisor.start(intensity=0, clock=clock,
                           children=[ChildSpec(id="child1", start=child),
                                     ChildSpec(id="child2", start=child)])
    other = sup.whereis("child2")
    assert crash(sup.whereis("child1")) == "died"
    assert sup.join(timeout=5) == "shutdown"
    assert other.join(timeout=5) == "shutdown"


def test_s7_a_restart_exactly_period_old_still_counts(kind: Any, clock: Any) -> None:
    """The window keeps restarts with t >= now - period; a restart older than that is dropped."""
    sup = Supervisor.start(intensity=1, period=10, clock=clock,
                           children=[ChildSpec(id="child1", start=suite_child(kind))])
    ref = sup.whereis("child1")
    assert crash(ref) == "died"
    ref = restarted(sup, "child1", ref)
    clock.advance(10.5)
    assert crash(ref) == "died"  # the first restart has left the window
    ref = restarted(sup, "child1", ref)
    clock.advance(10.0)
    assert crash(ref) == "died"  # the second is exactly period old: still counted
    assert sup.join(timeout=5) == "shutdown"


def test_s8_a_failed_restart_shows_restarting_and_counts_toward_intensity(
        kind: Any, clock: Any) -> None:
    """A failing restart is retried until the supervisor heals it or gives up."""
    start = Starter(kind, delay=0.02)
    sup = Supervisor.start(intensity=1000, period=3600, clock=clock,
                           children=[ChildSpec(id="child1", start=start)])
    start.failing = True
    assert crash(start.refs[0]) == "died"
    assert sup.which_children() == [ChildInfo("child1", "restarting", "worker")]
    wait_until(lambda: start.calls >= 4)  # retried, through the mailbox, between calls
    start.failing = False
    children = settled_children(sup)
    assert children == [ChildInfo("child1", start.refs[-1], "worker")]
    assert sup.reconfigure(intensity=start.calls) is None  # one more failure is one too many
    start.failing = True
    assert crash(start.refs[-1]) == "died"
    assert sup.join(timeout=5) == "shutdown"


def test_s6_one_for_all_restarts_in_start_order_and_stops_in_reverse(
        kind: Any, clock: Any) -> None:
    """one_for_all stops the others in reverse start order, then starts all in order."""
    child = suite_child(kind)
    log: list[Any] = []
    sup = Supervisor.start(strategy="one_for_all", clock=clock,
                           children=[ChildSpec(id=t, start=child, kwargs={"log": log, "tag": t})
                                     for t in ("a", "b", "c")])
    log.clear()
    assert crash(sup.whereis("b")) == "died"
    sup.which_children()
    assert log == [("stop", "b", "died"), ("stop", "c", "shutdown"), ("stop", "a", "shutdown"),
                   ("start", "a"), ("start", "b"), ("start", "c")]


# -- backoff (agent-otp option) ----------------------------------------------------------------


def test_backoff_delays_a_restart_by_at_least_min(kind: Any) -> None:
    """With backoff a crash is followed by a restart only after min seconds; calls are answered."""
    sup = Supervisor.start(backoff=Backoff(min=0.3, max=0.6, random_factor=0),
                           children=[ChildSpec(id="child1", start=suite_child(kind))])
    ref = sup.whereis("child1")
    began = time.monotonic()
    assert crash(ref) == "died"
    assert sup.which_children() == [ChildInfo("child1", "restarting", "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=1)
    assert sup.whereis("child1") is None
    new = wait_until(lambda: sup.whereis("child1"))
    elapsed = time.monotonic() - began
    assert new != ref
    assert new.is_alive()
    assert 0.29 <= elapsed < 3.0


def test_backoff_given_as_a_mapping(kind: Any) -> None:
    """backoff may be a mapping; the child is restarted after the delay."""
    sup = Supervisor.start(backoff={"min": 0.05, "max": 0.2},
                           children=[ChildSpec(id="child1", start=suite_child(kind))])
    ref = sup.whereis("child1")
    began = time.monotonic()
    assert crash(ref) == "died"
    new = wait_until(lambda: sup.whereis("child1"))
    assert new != ref
    assert time.monotonic() - began >= 0.049
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
