"""The supervisor API, validation, runtime reconfiguration and reports.

supervisor_SUITE cases 23-29 (child_adm ... multiple_restarts), 59
(get_callback_module, as the ``supervisor`` key of the reports), 67-70
(code_change*, as reconfigure/update_childspec at runtime) and 73-74
(format_log_*, as structlog events).

Reference items covered: S1 (flag errors), S2 (spec errors, duplicate ids,
bad_combination), S7 (the window, with a fake clock), S11 (the API and its
errors, noproc, check_childspecs).
"""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs
from sup_support import INFO, Starter, crash, restarted, suite_child

from otp import AgentRef, ChildCounts, ChildInfo, ChildSpec, Supervisor, SupFlags, whereis
from otp.errors import AlreadyStarted, NoProc, SpecError, SupervisorError
from otp.specs import check_childspecs

pytestmark = pytest.mark.timeout(30)


def _code(call: Any, *args: Any) -> str:
    """Run a supervisor call that must fail with SupervisorError; return its code."""
    with pytest.raises(SupervisorError) as info:
        call(*args)
    return info.value.code


# -- API (cases 23-25) -------------------------------------------------------------------


def test_child_adm(kind: Any) -> None:
    """The start/terminate/restart/delete matrix, and noproc for a supervisor that is gone."""
    child = suite_child(kind)
    spec = ChildSpec(id="child1", start=child)
    sup = Supervisor.start(children=[spec], intensity=2, period=3600)
    cref = sup.whereis("child1")
    assert sup.which_children() == [ChildInfo("child1", cref, "worker")]
    assert sup.count_children(timeout=5) == ChildCounts(specs=1, active=1, supervisors=0,
                                                        workers=1)
    # Start of a running child.
    with pytest.raises(AlreadyStarted) as started:
        sup.start_child(spec)
    assert started.value.holder == cref
    # Termination.
    assert _code(sup.terminate_child, "hej") == "not_found"
    assert sup.terminate_child("child1") is None
    assert cref.join(timeout=5) == "shutdown"
    assert sup.which_children() == [ChildInfo("child1", None, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=1)
    assert sup.whereis("child1") is None
    assert sup.terminate_child("child1") is None  # idempotent
    # Start of a stopped child.
    assert _code(sup.start_child, spec) == "already_present"
    # Restart.
    cref2 = sup.restart_child("child1")
    assert isinstance(cref2, AgentRef)
    assert cref2.is_alive()
    assert sup.which_children() == [ChildInfo("child1", cref2, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    assert _code(sup.restart_child, "child1") == "running"
    assert _code(sup.restart_child, "child2") == "not_found"
    # Deletion.
    assert _code(sup.delete_child, "child1") == "running"
    assert _code(sup.delete_child, "hej") == "not_found"
    assert sup.terminate_child("child1") is None
    assert sup.delete_child("child1") is None
    assert _code(sup.restart_child, "child1") == "not_found"
    assert _code(sup.get_childspec, "child1") == "not_found"
    assert sup.which_children() == []
    assert sup.count_children() == ChildCounts(specs=0, active=0, supervisors=0, workers=0)
    # Start.
    cref3 = sup.start_child(spec)
    assert sup.which_children() == [ChildInfo("child1", cref3, "worker")]
    assert sup.whereis("child1") == cref3
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)

    gone = Supervisor.start(children=[])
    gone.stop(timeout=5)
    for call, args in [(gone.start_child, (spec,)), (gone.terminate_child, ("child1",)),
                       (gone.restart_child, ("child1",)), (gone.delete_child, ("child1",)),
                       (gone.which_children, ()), (gone.count_children, ()),
                       (gone.get_childspec, ("child1",))]:
        with pytest.raises(NoProc):
            call(*args)


def test_child_adm_simple(kind: Any) -> None:
    """Under simple_one_for_one ids are refused and children are terminated by ref."""
    child = suite_child(kind)
    sup = Supervisor.start(strategy="simple_one_for_one", intensity=2, period=3600,
                           children=[ChildSpec(id="child1", start=child)])
    assert sup.which_children() == []
    assert sup.count_children() == ChildCounts(specs=1, active=0, supervisors=0, workers=0)
    cref1 = sup.start_child()
    assert sup.which_children() == [ChildInfo(None, cref1, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    cref2 = sup.start_child()
    children = sup.which_children()
    assert len(children) == 2
    assert ChildInfo(None, cref2, "worker") in children
    assert sup.count_children() == ChildCounts(specs=1, active=2, supervisors=0, workers=2)
    # Termination.
    assert _code(sup.terminate_child, "child1") == "simple_one_for_one"
    assert sup.count_children() == ChildCounts(specs=1, active=2, supervisors=0, workers=2)
    assert sup.terminate_child(cref1) is None
    assert cref1.join(timeout=5) == "shutdown"
    assert sup.which_children() == [ChildInfo(None, cref2, "worker")]
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    assert sup.terminate_child(cref1) is None  # a dead child: ok
    assert sup.count_children() == ChildCounts(specs=1, active=1, supervisors=0, workers=1)
    stranger = child.start()
    assert _code(sup.terminate_child, stranger) == "not_found"
    assert stranger.is_alive()
    # Restart and deletion take ids: refused.
    assert _code(sup.restart_child, "child1") == "simple_one_for_one"
    assert _code(sup.delete_child, "child1") == "simple_one_for_one"


def test_extra_return(kind: Any) -> None:
    """A start returning (ref, info) gives (ref, info) from start_child and restart_child."""
    start = Starter(kind)
    spec = ChildSpec(id="child1", start=start, args=("info",))
    sup = Supervisor.start(children=[spec], intensity=2, period=3600)
    cref = sup.whereis("child1")
    assert _code(sup.terminate_child, "hej") == "not_found"
    assert sup.terminate_child("child1") is None
    assert cref.join(timeout=5) == "shutdown"
    assert sup.which_children() == [ChildInfo("child1", None, "worker")]
    cref2, info = sup.restart_child("child1")
    assert info == INFO
    assert sup.which_children() == [ChildInfo("child1", cref2, "worker")]
    assert sup.terminate_child("child1") is None
    assert sup.delete_child("child1") is None
    cref3, info = sup.start_child(spec)
    assert info == INFO
    assert sup.which_children() == [ChildInfo("child1", cref3, "worker")]
    # It is restarted automatically too.
    assert crash(cref3) == "died"
    restarted(sup, "child1", cref3)


# -- Validation (cases 26-28) ------------------------------------------------------------


_BAD_FIELDS = [
    ({"start": "mfa"}, "invalid_mfa"),
    ({"args": "not a tuple"}, "invalid_mfa"),
    ({"restart": "prmanent"}, "invalid_restart_type"),
    ({"shutdown": -10}, "invalid_shutdown"),
    ({"shutdown": "forever"}, "invalid_shutdown"),
    ({"type": "wrker"}, "invalid_child_type"),
    ({"significant": "yes"}, "invalid_significant"),
    ({"id": ""}, "invalid_id"),
]


@pytest.mark.parametrize(("change", "code"), _BAD_FIELDS)
def test_child_specs(kind: Any, change: dict[str, Any], code: str) -> None:
    """Each bad field is refused by ChildSpec, check_childspecs, start and start_child."""
    child = suite_child(kind)
    bad = {"id": "child", "start": child, **change}
    with pytest.raises(SpecError) as info:
        ChildSpec(**bad)
    assert info.value.code == code
    with pytest.raises(SpecError) as info:
        check_childspecs([bad])
    assert info.value.code == code
    with pytest.raises(SpecError) as info:
        Supervisor.start(children=[bad])
    assert info.value.code == code
    sup = Supervisor.start(children=[])
    with pytest.raises(SpecError) as info:
        sup.start_child(bad)
    assert info.value.code == code
    assert sup.which_children() == []


def test_child_specs_duplicates_and_bad_start_spec(kind: Any) -> None:
    """Duplicate ids and a simple_one_for_one without exactly one spec are refused."""
    child = suite_child(kind)
    c1 = ChildSpec(id="child", start=child)
    c2 = ChildSpec(id="child2", start=child, restart="temporary", shutdown="brutal_kill")
    assert check_childspecs([c1, c2]) == [c1, c2]
    with pytest.raises(SpecError) as info:
        check_childspecs([c1, c2, c1])
    assert info.value.code == "duplicate_child_name"
    with pytest.raises(SpecError) as info:
        Supervisor.start(children=[c1, c1])
    assert info.value.code == "duplicate_child_name"
    for specs in ([], [c1, c2]):
        with pytest.raises(SpecError) as info:
            Supervisor.start(strategy="simple_one_for_one", children=specs)
        assert info.value.code == "bad_start_spec"
    sup = Supervisor.start(children=[])
    with pytest.raises(SpecError):
        sup.start_child("hej")


@pytest.mark.parametrize("auto_shutdown", ["never", "any_significant", "all_significant"])
@pytest.mark.parametrize("restart", ["permanent", "transient", "temporary"])
def test_child_specs_map(kind: Any, auto_shutdown: str, restart: str) -> None:
    """Map specs: significant needs a non-permanent child and auto_shutdown other than never."""
    child = suite_child(kind)
    plain = {"id": "plain", "start": child, "restart": restart}
    sup = Supervisor.start(children=[plain], auto_shutdown=auto_shutdown)
    assert sup.get_childspec("plain").significant is False
    significant = {"id": "sig", "start": child, "restart": restart, "significant": True}
    if restart != "permanent" and auto_shutdown != "never":
        other = Supervisor.start(children=[significant], auto_shutdown=auto_shutdown)
        assert other.get_childspec("sig").significant is True
        sup.start_child(significant)
        assert sup.get_childspec("sig").significant is True
    else:
        with pytest.raises(SpecError) as info:
            Supervisor.start(children=[significant], auto_shutdown=auto_shutdown)
        assert info.value.code == "bad_combination"
        with pytest.raises(SpecError) as info:
            sup.start_child(significant)
        assert info.value.code == "bad_combination"
        assert [c.id for c in sup.which_children()] == ["plain"]


@pytest.mark.parametrize(("flags", "code"), [
    ({"strategy": "foo"}, "invalid_strategy"),
    ({"intensity": -1}, "invalid_intensity"),
    ({"intensity": "1"}, "invalid_intensity"),
    ({"period": 0}, "invalid_period"),
    ({"period": -1.5}, "invalid_period"),
    ({"period": float("inf")}, "invalid_period"),
    ({"auto_shutdown": "sometimes"}, "invalid_auto_shutdown"),
])
def test_sup_flags(kind: Any, flags: dict[str, Any], code: str) -> None:
    """Invalid flags are refused, given to start or returned by init."""
    log: list[Any] = []
    spec = ChildSpec(id="child1", start=suite_child(kind), kwargs={"log": log, "tag": 1})
    with pytest.raises(SpecError) as info:
        Supervisor.start(children=[spec], **flags)
    assert info.value.code == code

    class FlagSup(Supervisor):
        def init(self) -> Any:
            return flags, [spec]

    with pytest.raises(SpecError) as info:
        FlagSup.start()
    assert info.value.code == code
    assert log == []


def test_sup_flags_unknown_keys_and_flag_objects(kind: Any) -> None:
    """init may return SupFlags or a mapping; unknown keys are refused (a documented
    departure from OTP, which ignores them)."""
    spec = ChildSpec(id="child1", start=suite_child(kind))

    class GoodSup(Supervisor):
        def init(self) -> Any:
            return SupFlags(strategy="one_for_all", intensity=0), [spec]

    sup = GoodSup.start()
    assert crash(sup.whereis("child1")) == "died"
    assert sup.join(timeout=5) == "shutdown"

    class TypoSup(Supervisor):
        def init(self) -> Any:
            return {"strategy": "one_for_one", "intesity": 2}, [spec]

    with pytest.raises(SpecError) as info:
        TypoSup.start()
    assert info.value.code == "unknown_key"


def test_multiple_restarts(kind: Any, clock: Any) -> None:
    """With intensity 1 and period 1, crashes 2.1 s apart never reach the limit."""
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=suite_child(kind))],
                           intensity=1, period=1, clock=clock)
    ref = sup.whereis("child1")
    for _ in range(4):
        assert crash(ref) == "died"
        ref = restarted(sup, "child1", ref)
        clock.advance(2.1)
    assert sup.is_alive()
    assert crash(ref) == "died"
    ref = restarted(sup, "child1", ref)
    assert crash(ref) == "died"  # the second within the period
    assert sup.join(timeout=5) == "shutdown"


# -- get_callback_module (case 59): the reports name the supervisor ---------------------------


def test_get_callback_module_reports_name_the_supervisor(kind: Any) -> None:
    """Reports carry the supervisor's registered name, or str(ref) if it has none."""
    child = suite_child(kind)
    with capture_logs() as logs:
        named = Supervisor.start(name="sup_named", children=[ChildSpec(id="a", start=child)])
        unnamed = Supervisor.start(children=[ChildSpec(id="b", start=child)])
    assert whereis("sup_named") == named
    started = [(e["supervisor"], e["child_id"], e["agent"])
               for e in logs if e["event"] == "child_started"]
    assert started == [("sup_named", "a", str(named.whereis("a"))),
                       (str(unnamed), "b", str(unnamed.whereis("b")))]
    named.stop(timeout=5)
    assert whereis("sup_named") is None


# -- code_change (cases 67-70): reconfiguring at runtime -----------------------------------


def test_code_change_reconfigures_flags_at_runtime(kind: Any, clock: Any) -> None:
    """reconfigure changes intensity and period; a strategy change or bad value is refused."""
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=suite_child(kind))],
                           intensity=1, period=3600, clock=clock)
    assert sup.reconfigure(intensity=3) is None
    ref = sup.whereis("child1")
    for _ in range(3):
        assert crash(ref) == "died"
        ref = restarted(sup, "child1", ref)
    with pytest.raises(SpecError) as info:
        sup.reconfigure(strategy="one_for_all")
    assert info.value.field == "strategy"
    with pytest.raises(SpecError) as info:
        sup.reconfigure(intensity=-1)
    assert info.value.code == "invalid_intensity"
    assert sup.reconfigure(period=10) is None
    clock.advance(10.5)  # the three restarts fall out of the new, shorter window
    for _ in range(3):
        assert crash(ref) == "died"
        ref = restarted(sup, "child1", ref)
    assert crash(ref) == "died"  # intensity 3 is still in force: the fourth is one too many
    assert sup.join(timeout=5) == "shutdown"


def test_code_change_map_updates_childspec_at_runtime(kind: Any) -> None:
    """update_childspec keeps the running child; its next start uses the new spec."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[{"id": "child1", "start": child, "args": ("v1",)}])
    ref = sup.whereis("child1")
    assert sup.update_childspec({"id": "child1", "start": child, "args": ("v2",),
                                 "restart": "transient"}) is None
    assert sup.whereis("child1") == ref
    assert ref.ask("args") == ("v1",)
    spec = sup.get_childspec("child1")
    assert (spec.args, spec.restart, spec.shutdown) == (("v2",), "transient", 5000)
    assert crash(ref) == "died"
    ref = restarted(sup, "child1", ref)
    assert ref.ask("args") == ("v2",)
    assert crash(ref, "stop") == "normal"  # transient now: a normal exit is not restarted
    assert sup.which_children() == [ChildInfo("child1", None, "worker")]
    assert _code(sup.update_childspec, {"id": "nope", "start": child}) == "not_found"
    with pytest.raises(SpecError) as info:
        sup.update_childspec({"id": "child1", "start": child, "restart": "sometimes"})
    assert info.value.code == "invalid_restart_type"
    assert sup.get_childspec("child1").restart == "transient"


def test_code_change_simple_reconfigures_flags_at_runtime(kind: Any, clock: Any) -> None:
    """Under simple_one_for_one: intensity changes at runtime; the strategy cannot."""
    sup = Supervisor.start(strategy="simple_one_for_one", intensity=5, period=3600,
                           clock=clock, children=[ChildSpec(id="child", start=suite_child(kind))])
    with pytest.raises(SpecError):
        sup.reconfigure(strategy="one_for_one")
    assert sup.reconfigure(intensity=0) is None
    ref, other = sup.start_child(), sup.start_child()
    assert crash(ref) == "died"
    assert sup.join(timeout=5) == "shutdown"
    assert other.join(timeout=5) == "shutdown"


def test_code_change_simple_map_updates_childspec_at_runtime(kind: Any) -> None:
    """Under simple_one_for_one an updated template applies to children started later."""
    child = suite_child(kind)
    sup = Supervisor.start(strategy="simple_one_for_one",
                           children=[{"id": "child", "start": child, "args": ("v1",)}])
    old = sup.start_child("a")
    assert sup.update_childspec({"id": "child", "start": child, "args": ("v2",)}) is None
    new = sup.start_child("b")
    assert old.ask("args") == ("v1", "a")
    assert new.ask("args") == ("v2", "b")
    assert sup.get_childspec(new).args == ("v2",)
    assert sup.count_children() == ChildCounts(specs=1, active=2, supervisors=0, workers=2)


# -- format_log (cases 73-74): structlog reports ---------------------------------------------


def test_format_log_child_terminated_report_has_otp_keys(kind: Any) -> None:
    """A crash logs child_terminated (supervisor, child_id, reason), then child_restarted."""
    sup = Supervisor.start(children=[ChildSpec(id="child1", start=suite_child(kind))])
    ref = sup.whereis("child1")
    with capture_logs() as logs:
        assert crash(ref) == "died"
        new = restarted(sup, "child1", ref)
        assert isinstance(crash(new, ("raise", RuntimeError("boom"))), RuntimeError)
        restarted(sup, "child1", new)
    reports = [e for e in logs if e["event"] in ("child_terminated", "child_restarted")]
    assert [e["event"] for e in reports] == ["child_terminated", "child_restarted"] * 2
    first, second, third, _ = reports
    assert (first["supervisor"], first["child_id"], str(first["reason"])) == (
        str(sup), "child1", "died")
    assert (second["supervisor"], second["child_id"], second["agent"]) == (
        str(sup), "child1", str(new))
    assert "boom" in str(third["reason"])


def test_format_log_child_terminated_only_for_abnormal_or_permanent_exits(kind: Any) -> None:
    """A permanent child exiting normal is reported; a transient one exiting normal is not."""
    child = suite_child(kind)
    sup = Supervisor.start(children=[ChildSpec(id="perm", start=child),
                                     ChildSpec(id="trans", start=child, restart="transient")])
    with capture_logs() as logs:
        assert crash(sup.whereis("perm"), "stop") == "normal"
        assert crash(sup.whereis("trans"), "stop") == "normal"
        sup.which_children()  # both exits handled
    terminated = [(e["child_id"], str(e["reason"]))
                  for e in logs if e["event"] == "child_terminated"]
    assert terminated == [("perm", "normal")]


def test_format_log_reached_max_restart_intensity_report_has_otp_keys(kind: Any) -> None:
    """Giving up logs reached_max_restart_intensity with supervisor, child_id and reason."""
    sup = Supervisor.start(name="sup_format_log", intensity=0,
                           children=[ChildSpec(id="child1", start=suite_child(kind))])
    with capture_logs() as logs:
        assert crash(sup.whereis("child1")) == "died"
        assert sup.join(timeout=5) == "shutdown"
    reports = [e for e in logs if e["event"] == "reached_max_restart_intensity"]
    assert [(e["supervisor"], e["child_id"], str(e["reason"])) for e in reports] == [
        ("sup_format_log", "child1", "died")]
