"""Supervisor start, ignore and child specs: supervisor_SUITE cases 1-15.

Reference items covered: S1 (flag defaults), S2 (child spec defaults),
S3 (start order, start errors, init results), S4 (ignore).
"""

from __future__ import annotations

from typing import Any

import pytest
from sup_support import (
    Starter,
    StartFailed,
    crash,
    restarted,
    root_cause,
    suite_child,
)

from otp import ChildCounts, ChildInfo, ChildSpec, Supervisor, SupervisorRef
from otp.errors import SpecError, StartError, SupervisorError

pytestmark = pytest.mark.timeout(30)


# -- Start (cases 1-12) ----------------------------------------------------------------


def test_sup_start_normal(kind: Any) -> None:
    """A supervisor starts with its children and stops normally, children first."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=child)])
    assert isinstance(sup, SupervisorRef)
    assert sup.is_alive()
    ref = sup.whereis("child1")
    assert ref.ask("ping") == "pong"
    assert sup.stop(timeout=5) is True
    assert sup.join(timeout=5) == "normal"
    assert ref.join(timeout=5) == "shutdown"


def test_sup_start_ignore_init(kind: Any) -> None:
    """init() returning None makes start() return None, and the supervisor exits normal."""
    seen: list[Any] = []

    class IgnoringSup(Supervisor):
        def init(self) -> Any:
            seen.append(self.actor_ref)
            return None

    assert IgnoringSup.start() is None
    assert len(seen) == 1
    assert seen[0].join(timeout=5) == "normal"


def test_sup_start_ignore_child(kind: Any) -> None:
    """An ignored permanent child keeps its spec with no ref: counts [2,1,0,2], newest first."""
    start = Starter(kind)
    sup = Supervisor.start(children=[], intensity=2, period=3600)
    assert sup.start_child(ChildSpec(id="child1", start=start, args=("ignore",))) is None
    ref2 = sup.start_child(ChildSpec(id="child2", start=start))
    assert sup.which_children() == [ChildInfo("child2", ref2, "worker"),
                                    ChildInfo("child1", None, "worker")]
    assert sup.count_children() == ChildCounts(specs=2, active=1, supervisors=0, workers=2)

    # The same through init.
    sup2 = Supervisor.start(children=[ChildSpec(id="child1", start=start, args=("ignore",)),
                                      ChildSpec(id="child2", start=start)])
    ref = sup2.whereis("child2")
    assert sup2.which_children() == [ChildInfo("child2", ref, "worker"),
                                     ChildInfo("child1", None, "worker")]
    assert sup2.count_children() == ChildCounts(specs=2, active=1, supervisors=0, workers=2)


def test_sup_start_ignore_temporary_child(kind: Any) -> None:
    """An ignored temporary child from init is not saved."""
    start = Starter(kind)
    sup = Supervisor.start(children=[
        ChildSpec(id="child1", start=start, args=("ignore",), restart="temporary"),
        ChildSpec(id="child2", start=start, restart="temporary"),
    ])
    ref = sup.whereis("child2")
    assert sup.which_children() == [ChildInfo("child2", ref, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    with pytest.raises(SupervisorError) as info:
        sup.get_childspec("child1")
    assert info.value.code == "not_found"


def test_sup_start_ignore_temporary_child_start_child(kind: Any) -> None:
    """An ignored temporary child from start_child is not saved."""
    start = Starter(kind)
    sup = Supervisor.start(children=[])
    spec1 = ChildSpec(id="child1", start=start, args=("ignore",), restart="temporary")
    assert sup.start_child(spec1) is None
    ref = sup.start_child(ChildSpec(id="child2", start=start, restart="temporary"))
    assert sup.which_children() == [ChildInfo("child2", ref, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    with pytest.raises(SupervisorError) as info:
        sup.get_childspec("child1")
    assert info.value.code == "not_found"


def test_sup_start_ignore_temporary_child_start_child_simple(kind: Any) -> None:
    """Under simple_one_for_one an ignored temporary child is not saved."""
    sup = Supervisor.start(strategy="simple_one_for_one", children=[
        ChildSpec(id="child", start=Starter(kind), restart="temporary")])
    assert sup.start_child("ignore") is None
    ref = sup.start_child()
    assert sup.which_children() == [ChildInfo(None, ref, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)


def test_sup_start_ignore_permanent_child_start_child_simple(kind: Any) -> None:
    """Under simple_one_for_one an ignored permanent child is not saved; stop is clean."""
    sup = Supervisor.start(strategy="simple_one_for_one", children=[
        ChildSpec(id="child", start=Starter(kind))])
    assert sup.start_child("ignore") is None
    ref = sup.start_child()
    assert sup.which_children() == [ChildInfo(None, ref, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    assert sup.stop(timeout=5) is True
    assert sup.join(timeout=5) == "normal"
    assert ref.join(timeout=5) == "shutdown"


def test_sup_start_error_return(kind: Any) -> None:
    """init() returning neither (flags, specs) nor None is a start error ("bad_return")."""

    class BadReturnSup(Supervisor):
        def init(self) -> Any:
            return "not flags and specs"

    with pytest.raises(StartError) as info:
        BadReturnSup.start()
    assert info.value.reason == ("bad_return", "not flags and specs")


def test_sup_start_fail(kind: Any) -> None:
    """init() raising is a start error whose reason is the exception."""

    class InitFailed(Exception):
        pass

    class CrashingSup(Supervisor):
        def init(self) -> Any:
            msg = "init crashed"
            raise InitFailed(msg)

    with pytest.raises(StartError) as info:
        CrashingSup.start()
    assert isinstance(info.value.reason, InitFailed)
    assert str(info.value.reason) == "init crashed"


def test_sup_start_child_returns_error(kind: Any) -> None:
    """A start that raises or returns a non-ref is a start_error; nothing is saved."""
    start = Starter(kind)
    sup = Supervisor.start(children=[])
    with pytest.raises(SupervisorError) as info:
        sup.start_child(ChildSpec(id="child1", start=start, args=("error",)))
    assert info.value.code == "start_error"
    assert isinstance(info.value.reason, StartFailed)
    with pytest.raises(SupervisorError) as info:
        sup.start_child(ChildSpec(id="child2", start=start, args=("bad",)))
    assert info.value.code == "start_error"
    assert info.value.reason == ("bad_return", "not a ref")
    # An agent class whose on_start raises.
    with pytest.raises(SupervisorError) as info:
        sup.start_child(ChildSpec(id="child3", start=suite_child(kind),
                                  kwargs={"fail_start": True}))
    assert info.value.code == "start_error"
    assert isinstance(root_cause(info.value.reason), StartFailed)
    assert sup.which_children() == []
    assert sup.count_children() == ChildCounts(specs=0, active=0, supervisors=0, workers=0)
    for child_id in ("child1", "child2", "child3"):
        with pytest.raises(SupervisorError) as info:
            sup.get_childspec(child_id)
        assert info.value.code == "not_found"


def test_sup_start_restart_child_returns_error(kind: Any) -> None:
    """restart_child returns the start error; the spec stays, not running."""
    start = Starter(kind, works=1)
    sup = Supervisor.start(children=[])
    ref = sup.start_child(ChildSpec(id="child1", start=start))
    assert sup.terminate_child("child1") is None
    assert ref.join(timeout=5) == "shutdown"
    with pytest.raises(SupervisorError) as info:
        sup.restart_child("child1")
    assert info.value.code == "start_error"
    assert isinstance(info.value.reason, StartFailed)
    assert sup.which_children() == [ChildInfo("child1", None, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=1)


def test_sup_start_child_returns_error_simple(kind: Any) -> None:
    """Under simple_one_for_one a failed start is a start_error with the bare reason."""
    sup = Supervisor.start(strategy="simple_one_for_one",
                           children=[ChildSpec(id="child", start=Starter(kind))])
    with pytest.raises(SupervisorError) as info:
        sup.start_child("error")
    assert info.value.code == "start_error"
    assert isinstance(info.value.reason, StartFailed)
    with pytest.raises(SupervisorError) as info:
        sup.start_child("bad")
    assert info.value.code == "start_error"
    assert info.value.reason == ("bad_return", "not a ref")
    assert sup.which_children() == []
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=0)


# -- Map specs (cases 13-15) -----------------------------------------------------------


def test_sup_start_map(kind: Any) -> None:
    """Specs given as dicts get their defaults; get_childspec returns them, or not_found."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[
        {"id": "child1", "start": child},
        {"id": "child2", "start": child, "restart": "temporary", "shutdown": "brutal_kill"},
        {"id": "team", "start": Supervisor, "kwargs": {"children": []}},
    ])
    spec1 = sup.get_childspec("child1")
    assert isinstance(spec1, ChildSpec)
    assert spec1 == ChildSpec(id="child1", start=child, args=(), kwargs={},
                              restart="permanent", shutdown=5000, type="worker",
                              significant=False)
    spec2 = sup.get_childspec("child2")
    assert (spec2.restart, spec2.shutdown, spec2.type) == ("temporary", "brutal_kill", "worker")
    team = sup.get_childspec("team")
    assert (team.type, team.shutdown, team.restart) == ("supervisor", "infinity", "permanent")
    assert sup.count_children() == ChildCounts(specs=3, active=3, supervisors=1, workers=2)
    with pytest.raises(SupervisorError) as info:
        sup.get_childspec("child3")
    assert info.value.code == "not_found"


def test_sup_start_map_simple(kind: Any) -> None:
    """Under simple_one_for_one get_childspec takes a child's ref."""
    child = suite_child(kind)
    sup = Supervisor.start(strategy="simple_one_for_one",
                           children=[{"id": "child", "start": child}])
    ref = sup.start_child()
    assert sup.get_childspec(ref) == ChildSpec(id="child", start=child, restart="permanent",
                                               shutdown=5000, type="worker")
    stranger = child.start()
    with pytest.raises(SupervisorError) as info:
        sup.get_childspec(stranger)
    assert info.value.code == "not_found"


def _faulty(child: type[Any]) -> dict[str, Any]:
    return {
        "missing_id": {"start": child, "restart": "permanent"},
        "missing_start": {"id": "child1"},
        "invalid_child_spec": "hej",
        # Departure from OTP (documented in otp/specs.py): unknown keys are rejected.
        "unknown_key": {"id": "child1", "start": child, "modules": ["m"]},
    }


@pytest.mark.parametrize("code", ["missing_id", "missing_start", "invalid_child_spec",
                                  "unknown_key"])
def test_sup_start_map_faulty_specs(kind: Any, code: str) -> None:
    """Faulty map specs are refused by start_child and by start; nothing is started."""
    child = suite_child(kind)
    bad = _faulty(child)[code]
    sup = Supervisor.start(children=[])
    with pytest.raises(SpecError) as info:
        sup.start_child(bad)
    assert info.value.code == code
    assert sup.which_children() == []
    log: list[Any] = []
    with pytest.raises(SpecError) as info:
        Supervisor.start(children=[{"id": "first", "start": child,
                                    "kwargs": {"log": log, "tag": "first"}}, bad])
    assert info.value.code == code
    assert log == []  # specs are validated before any child starts


# -- S1-S4 items not covered above ------------------------------------------------------


def test_s1_default_flags_are_one_for_one_three_restarts_in_five_seconds(
        kind: Any, clock: Any) -> None:
    """Defaults: one_for_one, intensity 3 (Elixir's, chosen on purpose), period 5 s."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=child),
                                     ChildSpec(id="child2", start=child)], clock=clock)
    other = sup.whereis("child2")
    ref = sup.whereis("child1")
    for _ in range(3):
        assert crash(ref) == "died"
        ref = restarted(sup, "child1", ref)
    assert sup.whereis("child2") == other  # one_for_one: the sibling is untouched
    clock.advance(5.01)  # the three restarts leave the window
    for _ in range(3):
        assert crash(ref) == "died"
        ref = restarted(sup, "child1", ref)
    assert crash(ref) == "died"  # the fourth within 5 s
    assert sup.join(timeout=5) == "shutdown"
    assert other.join(timeout=5) == "shutdown"


def test_s3_children_start_in_order_and_a_failure_stops_the_started_in_reverse(
        kind: Any) -> None:
    """Child k failing to start stops children 1..k-1 in reverse order; later ones never start."""
    child = suite_child(kind)
    log: list[Any] = []

    def spec(tag: str, **extra: Any) -> ChildSpec:
        return ChildSpec(id=tag, start=child, kwargs={"log": log, "tag": tag, **extra})

    with pytest.raises(StartError) as info:
        Supervisor.start(children=[spec("a"), spec("b"), spec("c", fail_start=True), spec("d")])
    tag, child_id, reason = info.value.reason
    assert (tag, child_id) == ("failed_to_start_child", "c")
    assert isinstance(root_cause(reason), StartFailed)
    assert log == [("start", "a"), ("start", "b"),
                   ("stop", "b", "shutdown"), ("stop", "a", "shutdown")]


def test_s3_simple_one_for_one_starts_nothing_at_init(kind: Any) -> None:
    """simple_one_for_one starts no child at init."""
    start = Starter(kind)
    sup = Supervisor.start(strategy="simple_one_for_one",
                           children=[ChildSpec(id="child", start=start)])
    assert start.calls == 0
    assert sup.which_children() == []
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=0)


def test_s3_subclass_start_arguments_go_to_init(kind: Any) -> None:
    """MySup.start(args) passes its arguments to __init__; init() returns (flags, specs)."""
    child = suite_child(kind)

    class TeamSup(Supervisor):
        def __init__(self, size: int) -> None:
            super().__init__()
            self.size = size

        def init(self) -> Any:
            specs = [ChildSpec(id=f"member{i}", start=child) for i in range(self.size)]
            return {"strategy": "one_for_all", "intensity": 0}, specs

    sup = TeamSup.start(3)
    assert [c.id for c in sup.which_children()] == ["member2", "member1", "member0"]
    assert crash(sup.whereis("member0")) == "died"
    assert sup.join(timeout=5) == "shutdown"  # intensity 0 came from init's flags
