"""Significant children and auto_shutdown: supervisor_SUITE cases 75-88.

Cases 82-88 (significant_upgrade_*) changed the flags through a code upgrade
in OTP; here they use ``reconfigure`` and ``update_childspec`` at runtime.

Reference items covered: S13 (only a significant child that terminates by
itself triggers auto_shutdown; not terminate_child, not a bystander; a
transient child only on a normal-ish exit; any_significant / all_significant;
the "shutdown" exit cascades to a parent), S2 (bad_combination at runtime).
"""

from __future__ import annotations

from typing import Any

import pytest
from sup_support import crash, restarted, suite_child

from otp import ChildInfo, ChildSpec, Supervisor, SupervisorRef
from otp.errors import SpecError

pytestmark = pytest.mark.timeout(30)

AUTO_MODES = ["never", "any_significant", "all_significant"]


def _spec(kind: Any, child_id: str, restart: str, significant: bool) -> ChildSpec:
    return ChildSpec(id=child_id, start=suite_child(kind), restart=restart,
                     significant=significant)


def _end(ref: Any, how: str) -> Any:
    """Make a child exit by itself: "normal", "abnormal" or "kill"; return its reason."""
    if how == "kill":
        ref.kill()
        return ref.join(timeout=5)
    return crash(ref, "stop" if how == "normal" else "die")


def _alive(sup: SupervisorRef) -> bool:
    """Whether the supervisor is still running once it has handled what it was sent."""
    sup.which_children()  # answered only after every queued exit was handled
    return sup.is_alive()


def _refs(sup: SupervisorRef) -> dict[str, Any]:
    return {c.id: c.ref for c in sup.which_children()}


# -- non-significant children never trigger (cases 75-76) ------------------------------------


@pytest.mark.parametrize("auto_shutdown", AUTO_MODES)
def test_nonsignificant_temporary(kind: Any, auto_shutdown: str) -> None:
    """A temporary non-significant child never triggers auto_shutdown, however it ends."""
    sup = Supervisor.start(intensity=5, auto_shutdown=auto_shutdown, children=[])
    spec = _spec(kind, "child1", "temporary", significant=False)
    ref = sup.start_child(spec)
    assert sup.terminate_child("child1") is None
    assert ref.join(timeout=5) == "shutdown"
    assert _alive(sup)
    for how, reason in (("kill", "killed"), ("abnormal", "died"), ("normal", "normal")):
        ref = sup.start_child(spec)
        assert _end(ref, how) == reason
        assert _alive(sup)
    assert sup.stop(timeout=5) is True


@pytest.mark.parametrize("auto_shutdown", AUTO_MODES)
def test_nonsignificant_transient(kind: Any, auto_shutdown: str) -> None:
    """A transient non-significant child never triggers auto_shutdown; it restarts as usual."""
    sup = Supervisor.start(intensity=5, auto_shutdown=auto_shutdown, children=[])
    ref = sup.start_child(_spec(kind, "child1", "transient", significant=False))
    assert sup.terminate_child("child1") is None
    assert ref.join(timeout=5) == "shutdown"
    assert _alive(sup)
    ref = sup.restart_child("child1")
    assert _end(ref, "kill") == "killed"
    assert _alive(sup)
    ref = restarted(sup, "child1", ref)
    assert _end(ref, "abnormal") == "died"
    assert _alive(sup)
    ref = restarted(sup, "child1", ref)
    assert _end(ref, "normal") == "normal"
    assert _alive(sup)
    assert sup.which_children() == [ChildInfo("child1", None, "worker")]
    assert sup.stop(timeout=5) is True


# -- significant children (cases 77-79) -----------------------------------------------------


def _three(kind: Any, restart: str, auto_shutdown: str) -> SupervisorRef:
    sup = Supervisor.start(intensity=5, auto_shutdown=auto_shutdown, children=[])
    sup.start_child(_spec(kind, "child1", restart, significant=True))
    sup.start_child(_spec(kind, "child2", restart, significant=True))
    sup.start_child(_spec(kind, "child3", restart, significant=False))
    assert [c.id for c in sup.which_children()] == ["child3", "child2", "child1"]
    return sup


def _assert_auto_shutdown(sup: SupervisorRef, survivors: list[Any]) -> None:
    assert sup.join(timeout=5) == "shutdown"
    assert [ref.join(timeout=5) for ref in survivors] == ["shutdown"] * len(survivors)


def test_significant_temporary(kind: Any) -> None:
    """Any exit of a temporary significant child triggers, except terminate_child."""
    # any_significant: terminate_child does not trigger; a kill does.
    sup1 = _three(kind, "temporary", "any_significant")
    refs = _refs(sup1)
    assert sup1.terminate_child("child1") is None
    assert refs["child1"].join(timeout=5) == "shutdown"
    assert _alive(sup1)
    assert refs["child2"].is_alive()
    assert refs["child3"].is_alive()
    sup1.start_child(_spec(kind, "child1", "temporary", significant=True))
    assert [c.id for c in sup1.which_children()] == ["child1", "child3", "child2"]
    refs = _refs(sup1)
    assert _end(refs["child1"], "kill") == "killed"
    _assert_auto_shutdown(sup1, [refs["child2"], refs["child3"]])
    # any_significant: an abnormal exit triggers, and so does a normal one.
    for how, reason in (("abnormal", "died"), ("normal", "normal")):
        sup = _three(kind, "temporary", "any_significant")
        refs = _refs(sup)
        assert _end(refs["child1"], how) == reason
        _assert_auto_shutdown(sup, [refs["child2"], refs["child3"]])
    # all_significant: only when the last significant child has exited.
    sup4 = _three(kind, "temporary", "all_significant")
    refs = _refs(sup4)
    assert _end(refs["child1"], "normal") == "normal"
    assert _alive(sup4)
    assert refs["child2"].is_alive()
    assert refs["child3"].is_alive()
    assert _end(refs["child2"], "normal") == "normal"
    _assert_auto_shutdown(sup4, [refs["child3"]])


def test_significant_transient(kind: Any) -> None:
    """A transient significant child triggers only on a normal-ish exit; else it restarts."""
    sup1 = _three(kind, "transient", "any_significant")
    refs = _refs(sup1)
    assert sup1.terminate_child("child1") is None
    assert refs["child1"].join(timeout=5) == "shutdown"
    assert _alive(sup1)
    sup1.restart_child("child1")
    for how, reason in (("kill", "killed"), ("abnormal", "died")):
        refs = _refs(sup1)
        assert _end(refs["child1"], how) == reason
        assert _alive(sup1)
        restarted(sup1, "child1", refs["child1"])
        assert refs["child2"].is_alive()
        assert refs["child3"].is_alive()
    refs = _refs(sup1)
    assert _end(refs["child1"], "normal") == "normal"
    _assert_auto_shutdown(sup1, [refs["child2"], refs["child3"]])
    # (shutdown, detail) is normal-ish too.
    sup2 = _three(kind, "transient", "any_significant")
    refs = _refs(sup2)
    assert crash(refs["child2"], ("exit", ("shutdown", "done"))) == ("shutdown", "done")
    _assert_auto_shutdown(sup2, [refs["child1"], refs["child3"]])
    # all_significant.
    sup3 = _three(kind, "transient", "all_significant")
    refs = _refs(sup3)
    assert _end(refs["child1"], "normal") == "normal"
    assert _alive(sup3)
    assert refs["child2"].is_alive()
    assert refs["child3"].is_alive()
    assert _end(refs["child2"], "normal") == "normal"
    _assert_auto_shutdown(sup3, [refs["child3"]])


@pytest.mark.parametrize("auto_shutdown", ["any_significant", "all_significant"])
def test_significant_simple(kind: Any, auto_shutdown: str) -> None:
    """Under simple_one_for_one (as in OTP 24): any_significant stops at the first exit,
    all_significant when no child is left."""
    sup = Supervisor.start(strategy="simple_one_for_one", auto_shutdown=auto_shutdown,
                           intensity=5, children=[_spec(kind, "child", "temporary", True)])
    ref1, ref2, ref3 = sup.start_child(), sup.start_child(), sup.start_child()
    assert sup.terminate_child(ref1) is None  # terminate_child never triggers
    assert ref1.join(timeout=5) == "shutdown"
    assert _alive(sup)
    assert _end(ref2, "normal") == "normal"
    if auto_shutdown == "any_significant":
        _assert_auto_shutdown(sup, [ref3])
    else:
        assert _alive(sup)
        assert _end(ref3, "abnormal") == "died"
        assert sup.join(timeout=5) == "shutdown"


@pytest.mark.parametrize("auto_shutdown", ["any_significant", "all_significant"])
@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one"])
def test_significant_bystander(kind: Any, strategy: str, auto_shutdown: str) -> None:
    """Significant children stopped because a sibling died do not trigger auto_shutdown."""
    sup = Supervisor.start(strategy=strategy, intensity=5, auto_shutdown=auto_shutdown,
                           children=[])
    sup.start_child(_spec(kind, "child1", "transient", significant=True))
    sup.start_child(_spec(kind, "child2", "transient", significant=False))
    sup.start_child(_spec(kind, "child3", "transient", significant=True))
    refs = _refs(sup)
    assert _end(refs["child2"], "kill") == "killed"
    assert _alive(sup)
    stopped = {"one_for_one": [], "one_for_all": ["child1", "child3"],
               "rest_for_one": ["child3"]}[strategy]
    for child_id in ("child1", "child3"):
        if child_id in stopped:
            assert refs[child_id].join(timeout=5) == "shutdown"
            restarted(sup, child_id, refs[child_id])
        else:
            assert sup.whereis(child_id) == refs[child_id]
    restarted(sup, "child2", refs["child2"])
    assert sup.stop(timeout=5) is True


def test_significant_bystander_temporary_is_dropped_without_trigger(kind: Any) -> None:
    """A temporary significant bystander is dropped by one_for_all without auto_shutdown."""
    sup = Supervisor.start(strategy="one_for_all", intensity=5,
                           auto_shutdown="all_significant", children=[
                               _spec(kind, "worker", "permanent", significant=False),
                               _spec(kind, "task", "temporary", significant=True)])
    refs = _refs(sup)
    assert crash(refs["worker"]) == "died"
    assert refs["task"].join(timeout=5) == "shutdown"
    assert _alive(sup)
    assert [c.id for c in sup.which_children()] == ["worker"]
    restarted(sup, "worker", refs["worker"])


def test_significant_escalation(kind: Any) -> None:
    """A significant child supervisor's auto_shutdown cascades to its parent; a
    non-significant one's does not."""
    worker = _spec(kind, "child1", "transient", significant=True)
    inner = {"auto_shutdown": "any_significant", "children": []}
    for significant in (True, False):
        top = Supervisor.start(auto_shutdown="any_significant", children=[])
        team = top.start_child(ChildSpec(id="sup1", start=Supervisor, kwargs=inner,
                                         restart="transient", significant=significant))
        assert isinstance(team, SupervisorRef)
        ref = team.start_child(worker)
        assert _end(ref, "normal") == "normal"
        assert team.join(timeout=5) == "shutdown"
        if significant:
            assert top.join(timeout=5) == "shutdown"
        else:
            assert _alive(top)
            assert top.which_children() == [ChildInfo("sup1", None, "supervisor")]
            assert top.stop(timeout=5) is True


# -- changing significance at runtime (cases 82-88) --------------------------------------------


def _two_significant(kind: Any) -> tuple[ChildSpec, ChildSpec]:
    return (_spec(kind, "child1", "transient", significant=True),
            _spec(kind, "child2", "transient", significant=True))


def test_significant_upgrade_never_any(kind: Any) -> None:
    """never -> any_significant: significant children become allowed and trigger."""
    child1, child2 = _two_significant(kind)
    sup = Supervisor.start(auto_shutdown="never", children=[])
    with pytest.raises(SpecError) as info:
        sup.start_child(child1)
    assert info.value.code == "bad_combination"
    assert sup.reconfigure(auto_shutdown="any_significant") is None
    ref1, ref2 = sup.start_child(child1), sup.start_child(child2)
    assert _end(ref1, "normal") == "normal"
    _assert_auto_shutdown(sup, [ref2])


def _upgrade_to_never(kind: Any, mode: str) -> None:
    """``mode`` -> never. Departure from OTP, whose code upgrade allowed it: "never" is
    refused while a significant child exists; once the child is made non-significant,
    "never" is accepted and its exit triggers nothing."""
    child1, child2 = _two_significant(kind)
    sup = Supervisor.start(auto_shutdown=mode, children=[])
    ref1 = sup.start_child(child1)
    with pytest.raises(SpecError) as info:
        sup.reconfigure(auto_shutdown="never")
    assert info.value.code == "bad_combination"
    assert sup.update_childspec(child1.with_(significant=False)) is None
    assert sup.reconfigure(auto_shutdown="never") is None
    assert _alive(sup)
    assert ref1.is_alive()
    with pytest.raises(SpecError) as info:
        sup.start_child(child2)
    assert info.value.code == "bad_combination"
    assert _end(ref1, "normal") == "normal"
    assert _alive(sup)
    ref2 = sup.restart_child("child1")
    assert ref2.is_alive()
    assert sup.stop(timeout=5) is True
    assert ref2.join(timeout=5) == "shutdown"


def test_significant_upgrade_any_never(kind: Any) -> None:
    """any_significant -> never (see _upgrade_to_never)."""
    _upgrade_to_never(kind, "any_significant")


def test_significant_upgrade_any_never_refused_keeps_the_old_mode(kind: Any) -> None:
    """A refused reconfigure changes nothing: the significant child still triggers."""
    child1, child2 = _two_significant(kind)
    sup = Supervisor.start(auto_shutdown="any_significant", children=[child1, child2])
    with pytest.raises(SpecError):
        sup.reconfigure(auto_shutdown="never", intensity=7)
    refs = _refs(sup)
    assert _end(refs["child1"], "normal") == "normal"
    _assert_auto_shutdown(sup, [refs["child2"]])


def test_significant_upgrade_never_all(kind: Any) -> None:
    """never -> all_significant: the last significant child to exit triggers."""
    child1, child2 = _two_significant(kind)
    sup = Supervisor.start(auto_shutdown="never", children=[])
    with pytest.raises(SpecError) as info:
        sup.start_child(child1)
    assert info.value.code == "bad_combination"
    assert sup.reconfigure(auto_shutdown="all_significant") is None
    ref1, ref2 = sup.start_child(child1), sup.start_child(child2)
    assert _end(ref1, "normal") == "normal"
    assert _alive(sup)
    assert ref2.is_alive()
    assert _end(ref2, "normal") == "normal"
    assert sup.join(timeout=5) == "shutdown"


def test_significant_upgrade_all_never(kind: Any) -> None:
    """all_significant -> never (see _upgrade_to_never)."""
    _upgrade_to_never(kind, "all_significant")


def test_significant_upgrade_any_all(kind: Any) -> None:
    """any_significant -> all_significant: one exit no longer suffices."""
    child1, child2 = _two_significant(kind)
    sup = Supervisor.start(auto_shutdown="any_significant", children=[])
    ref1, ref2 = sup.start_child(child1), sup.start_child(child2)
    assert sup.reconfigure(auto_shutdown="all_significant") is None
    assert ref1.is_alive()
    assert ref2.is_alive()
    assert _end(ref1, "normal") == "normal"
    assert _alive(sup)
    assert ref2.is_alive()
    assert _end(ref2, "normal") == "normal"
    assert sup.join(timeout=5) == "shutdown"


def test_significant_upgrade_all_any(kind: Any) -> None:
    """all_significant -> any_significant: the first exit now triggers."""
    child1, child2 = _two_significant(kind)
    sup = Supervisor.start(auto_shutdown="all_significant", children=[])
    ref1, ref2 = sup.start_child(child1), sup.start_child(child2)
    assert sup.reconfigure(auto_shutdown="any_significant") is None
    assert ref1.is_alive()
    assert ref2.is_alive()
    assert _end(ref1, "normal") == "normal"
    _assert_auto_shutdown(sup, [ref2])


def test_significant_upgrade_child(kind: Any) -> None:
    """A child flips significance through update_childspec (while it runs)."""
    plain = _spec(kind, "child", "transient", significant=False)
    significant = plain.with_(significant=True)
    # Under never, making it significant is refused; nothing changes.
    sup1 = Supervisor.start(auto_shutdown="never", children=[plain])
    ref = sup1.whereis("child")
    with pytest.raises(SpecError) as info:
        sup1.update_childspec(significant)
    assert info.value.code == "bad_combination"
    assert sup1.get_childspec("child").significant is False
    assert _alive(sup1)
    assert ref.is_alive()
    assert sup1.stop(timeout=5) is True
    assert ref.join(timeout=5) == "shutdown"
    # Non-significant -> significant: its normal exit now triggers.
    sup2 = Supervisor.start(auto_shutdown="any_significant", children=[plain])
    ref = sup2.whereis("child")
    assert sup2.update_childspec(significant) is None
    assert sup2.get_childspec("child").significant is True
    assert sup2.whereis("child") == ref
    assert _end(ref, "normal") == "normal"
    assert sup2.join(timeout=5) == "shutdown"
    # Significant -> non-significant: its normal exit no longer triggers.
    sup3 = Supervisor.start(auto_shutdown="any_significant", children=[significant])
    ref = sup3.whereis("child")
    assert sup3.update_childspec(plain) is None
    assert sup3.get_childspec("child").significant is False
    assert _end(ref, "normal") == "normal"
    assert _alive(sup3)
    assert sup3.which_children() == [ChildInfo("child", None, "worker")]
    assert sup3.stop(timeout=5) is True
