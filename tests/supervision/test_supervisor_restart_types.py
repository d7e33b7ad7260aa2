"""Restart types by exit reason, and what is kept of temporary children.

supervisor_SUITE cases 43-53 (permanent/transient/temporary x normal,
shutdown, abnormal; temporary_bystander), 39 (simple_one_for_one_corruption),
60 (do_not_save_start_parameters_for_temporary_children) and 61
(do_not_save_child_specs_for_temporary_children).

Reference items covered: S5 (restart types; killed is abnormal), S6 (a
temporary bystander is dropped), S12 (temporary children's start arguments
are not retained).
"""

from __future__ import annotations

import weakref
from typing import Any

import pytest
from sup_support import Payload, crash, restarted, suite_child, wait_collected

from otp import ChildCounts, ChildInfo, ChildSpec, Supervisor, SupervisorRef
from otp.actor import exit as send_exit
from otp.errors import AlreadyStarted, SupervisorError

pytestmark = pytest.mark.timeout(30)


def _sup_with(kind: Any, restart: str, **flags: Any) -> SupervisorRef:
    return Supervisor.start(children=[ChildSpec(id="child1", start=suite_child(kind),
                                                restart=restart)],
                            intensity=10, period=3600, **flags)


def _not_found(call: Any, *args: Any) -> None:
    with pytest.raises(SupervisorError) as info:
        call(*args)
    assert info.value.code == "not_found"


def _assert_spec_removed(sup: SupervisorRef, child_id: str = "child1") -> None:
    assert sup.which_children() == []
    assert sup.count_children() == ChildCounts(specs=0, active=0, supervisors=0, workers=0)
    _not_found(sup.get_childspec, child_id)
    _not_found(sup.restart_child, child_id)


def _assert_spec_kept_not_running(sup: SupervisorRef, child_id: str = "child1") -> None:
    assert sup.which_children() == [ChildInfo(child_id, None, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=1)


# -- normal (cases 43-45) ----------------------------------------------------------------


def test_permanent_normal(kind: Any) -> None:
    """A permanent child that exits normal is restarted."""
    sup = _sup_with(kind, "permanent")
    ref = sup.whereis("child1")
    assert crash(ref, "stop") == "normal"
    restarted(sup, "child1", ref)


def test_transient_normal(kind: Any) -> None:
    """A transient child that exits normal is not restarted; its spec is kept."""
    sup = _sup_with(kind, "transient")
    assert crash(sup.whereis("child1"), "stop") == "normal"
    _assert_spec_kept_not_running(sup)
    assert sup.restart_child("child1").is_alive()


def test_temporary_normal(kind: Any) -> None:
    """A temporary child that exits normal is not restarted; its spec is removed."""
    sup = _sup_with(kind, "temporary")
    assert crash(sup.whereis("child1"), "stop") == "normal"
    _assert_spec_removed(sup)


# -- shutdown (cases 46-48) --------------------------------------------------------------


@pytest.mark.parametrize("reason", ["shutdown", ("shutdown", "bye")])
def test_permanent_shutdown(kind: Any, reason: Any) -> None:
    """A permanent child is restarted after shutdown and after (shutdown, detail)."""
    sup = _sup_with(kind, "permanent")
    ref = sup.whereis("child1")
    assert crash(ref, ("exit", reason)) == reason
    ref = restarted(sup, "child1", ref)
    # The same reason as an exit signal from outside (the child traps exits and stops).
    send_exit(ref, reason)
    assert ref.join(timeout=5) == reason
    restarted(sup, "child1", ref)


@pytest.mark.parametrize("reason", ["shutdown", ("shutdown", "bye")])
def test_transient_shutdown(kind: Any, reason: Any) -> None:
    """A transient child exiting shutdown or (shutdown, detail) is not restarted."""
    sup = _sup_with(kind, "transient")
    assert crash(sup.whereis("child1"), ("exit", reason)) == reason
    _assert_spec_kept_not_running(sup)


@pytest.mark.parametrize("reason", ["shutdown", ("shutdown", "bye")])
def test_temporary_shutdown(kind: Any, reason: Any) -> None:
    """A temporary child exiting shutdown or (shutdown, detail) has its spec removed."""
    sup = _sup_with(kind, "temporary")
    assert crash(sup.whereis("child1"), ("exit", reason)) == reason
    _assert_spec_removed(sup)


# -- abnormal (cases 50-52) --------------------------------------------------------------


def test_permanent_abnormal(kind: Any) -> None:
    """A permanent child that crashes, or is killed, is restarted."""
    sup = _sup_with(kind, "permanent")
    ref = sup.whereis("child1")
    assert crash(ref) == "died"
    ref = restarted(sup, "child1", ref)
    ref.kill()
    assert ref.join(timeout=5) == "killed"
    restarted(sup, "child1", ref)


def test_transient_abnormal(kind: Any) -> None:
    """A transient child is restarted after any abnormal exit: a reason, an exception,
    or killed (S5: killed counts as abnormal)."""
    sup = _sup_with(kind, "transient")
    ref = sup.whereis("child1")
    assert crash(ref) == "died"
    ref = restarted(sup, "child1", ref)
    assert isinstance(crash(ref, ("raise", ValueError("bad"))), ValueError)
    ref = restarted(sup, "child1", ref)
    ref.kill()
    assert ref.join(timeout=5) == "killed"
    restarted(sup, "child1", ref)


@pytest.mark.parametrize("how", ["die", "raise", "kill"])
def test_temporary_abnormal(kind: Any, how: str) -> None:
    """A temporary child that crashes or is killed is not restarted; its spec is removed."""
    sup = _sup_with(kind, "temporary")
    ref = sup.whereis("child1")
    if how == "kill":
        ref.kill()
        assert ref.join(timeout=5) == "killed"
    elif how == "raise":
        assert isinstance(crash(ref, ("raise", ValueError("bad"))), ValueError)
    else:
        assert crash(ref) == "died"
    _assert_spec_removed(sup)


def test_temporary_bystander(kind: Any) -> None:
    """Under one_for_all a temporary bystander is stopped, not restarted; the supervisor lives."""
    child = suite_child(kind)
    permanent = ChildSpec(id="child1", start=child, shutdown=100)
    temporary = ChildSpec(id="child2", start=child, restart="temporary", shutdown=100)
    for order in ([permanent, temporary], [temporary, permanent]):
        sup = Supervisor.start(strategy="one_for_all", intensity=2, period=300, children=[])
        for spec in order:
            sup.start_child(spec)
        perm_ref, temp_ref = sup.whereis("child1"), sup.whereis("child2")
        assert crash(perm_ref, "stop") == "normal"
        assert temp_ref.join(timeout=5) == "shutdown"
        children = sup.which_children()
        assert [c.id for c in children] == ["child1"]
        assert children[0].ref not in (None, "restarting", perm_ref)
        assert children[0].ref.is_alive()
        assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
        assert sup.is_alive()


# -- temporary children keep nothing (cases 39, 60, 61; S12) -------------------------------


def _start_simple_children(sup: SupervisorRef, n: int) -> list[weakref.ref[Payload]]:
    """Start n children, each with its own Payload argument; return weakrefs to them."""
    refs = []
    for _ in range(n):
        payload = Payload()
        refs.append(weakref.ref(payload))
        child = sup.start_child(payload)
        assert payload not in sup.get_childspec(child).args
    return refs


def _stop_all_by_ref(sup: SupervisorRef) -> None:
    for info in sup.which_children():
        sup.terminate_child(info.ref)


def test_simple_one_for_one_corruption(kind: Any) -> None:
    """After the first temporary child dies, later children's arguments are still not kept."""
    sup = Supervisor.start(strategy="simple_one_for_one", intensity=2, period=3600, children=[
        ChildSpec(id="child", start=suite_child(kind), restart="temporary", shutdown=1000)])
    first = sup.start_child()
    assert crash(first) == "died"
    del first
    [payload_ref] = _start_simple_children(sup, 1)
    assert payload_ref() is not None  # the running child holds its own arguments
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    _stop_all_by_ref(sup)
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=0)
    wait_collected(payload_ref)


@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one",
                                      "simple_one_for_one"])
def test_do_not_save_start_parameters_for_temporary_children(kind: Any, strategy: str) -> None:
    """No reference to a temporary child's start arguments outlives the child."""
    child = suite_child(kind)
    if strategy == "simple_one_for_one":
        sup = Supervisor.start(strategy=strategy, children=[
            ChildSpec(id="child", start=child, restart="temporary")])
        payload_refs = _start_simple_children(sup, 20)
    else:
        sup = Supervisor.start(strategy=strategy, children=[])
        payload_refs = []
        for i in range(20):
            payload = Payload()
            payload_refs.append(weakref.ref(payload))
            sup.start_child(ChildSpec(id=f"child{i}", start=child, args=(payload,),
                                      restart="temporary"))
        del payload
    if strategy == "simple_one_for_one":
        _stop_all_by_ref(sup)
    else:
        for i in range(20):
            sup.terminate_child(f"child{i}")
    assert sup.which_children() == []
    wait_collected(*payload_refs)
    assert sup.is_alive()


@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one"])
@pytest.mark.parametrize("how", ["kill", "normal", "abnormal", "supervisor"])
def test_do_not_save_child_specs_for_temporary_children(
        kind: Any, strategy: str, how: str) -> None:
    """Permanent and transient specs are kept; a temporary one goes when its child exits."""
    child = suite_child(kind)
    sup = Supervisor.start(strategy=strategy, intensity=10, period=3600, children=[])

    def end(child_id: str) -> None:
        ref = sup.whereis(child_id)
        if how == "supervisor":
            sup.terminate_child(child_id)
        elif how == "kill":
            ref.kill()
        else:
            ref.tell("stop" if how == "normal" else "die")
        ref.join(timeout=5)

    for restart in ("permanent", "transient"):
        spec = ChildSpec(id=restart, start=child, restart=restart)
        sup.start_child(spec)
        end(restart)
        restarts = how != "supervisor" and (restart == "permanent" or how != "normal")
        if restarts:
            with pytest.raises(AlreadyStarted):
                sup.start_child(spec)
        else:
            with pytest.raises(SupervisorError) as info:
                sup.start_child(spec)
            assert info.value.code == "already_present"
            assert sup.restart_child(restart).is_alive()
    temporary = ChildSpec(id="temporary", start=child, restart="temporary")
    sup.start_child(temporary)
    end("temporary")
    _not_found(sup.get_childspec, "temporary")
    assert sup.start_child(temporary).is_alive()  # not already_present: nothing was kept


def test_s12_a_temporary_childs_arguments_are_released_when_it_exits(kind: Any) -> None:
    """A crashed temporary child leaves no reference to its arguments in the supervisor."""
    sup = Supervisor.start(children=[])
    payload = Payload()
    payload_ref = weakref.ref(payload)
    sup.start_child(ChildSpec(id="temp", start=suite_child(kind), args=(payload,),
                              restart="temporary"))
    del payload
    assert crash(sup.whereis("temp")) == "died"
    _not_found(sup.get_childspec, "temp")
    wait_collected(payload_ref)
