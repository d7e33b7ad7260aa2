"""DynamicSupervisor: simple_one_for_one under a friendlier name (reference E2, S6, S10).

Covers: start with a class or a spec, start_child with extra args and kwargs,
max_children (restarting children count), restarts of dynamic children,
concurrent shutdown, and bad input.
"""

from __future__ import annotations

from typing import Any

import pytest
from sup_support import crash, suite_child, wait_until

from otp import ChildSpec, DynamicSupervisor, SupervisorRef
from otp.errors import SpecError, SupervisorError


def _worker(kind: Any) -> type[Any]:
    class Worker(kind.Agent):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__()
            self.args, self.kwargs = args, kwargs

        def on_receive(self, message: Any) -> Any:
            if message == "die":
                raise RuntimeError("died")
            return (self.args, self.kwargs)

    return Worker


def test_a_dynamic_supervisor_starts_empty_and_takes_a_class_as_template(kind: Any) -> None:
    """Given a class, the template's id is the class name; no child runs at start."""
    sup = DynamicSupervisor.start(_worker(kind))
    assert isinstance(sup, SupervisorRef)
    assert sup.which_children() == []
    assert sup.count_children().specs == 1
    assert sup.get_childspec(sup.start_child()).id == "Worker"
    sup.stop(timeout=5)


def test_start_child_appends_extra_args_and_merges_extra_kwargs(kind: Any) -> None:
    """A child's args are the template's followed by the extra ones; kwargs are merged."""
    spec = ChildSpec(id="w", start=_worker(kind), args=(1,), kwargs={"a": 1, "b": 2})
    sup = DynamicSupervisor.start(child=spec)
    ref = sup.start_child(2, 3, b=20, c=30)
    assert ref.ask("state") == ((1, 2, 3), {"a": 1, "b": 20, "c": 30})
    sup.stop(timeout=5)


def test_max_children_refuses_one_more_child(kind: Any) -> None:
    """E2: past max_children start_child raises SupervisorError max_children."""
    sup = DynamicSupervisor.start(_worker(kind), max_children=2)
    sup.start_child()
    sup.start_child()
    with pytest.raises(SupervisorError) as info:
        sup.start_child()
    assert info.value.code == "max_children"
    assert "max_children (2)" in str(info.value)
    assert sup.count_children().active == 2
    sup.stop(timeout=5)


def test_a_crashed_dynamic_child_is_restarted_with_its_own_args(kind: Any) -> None:
    """S6: one_for_one over dynamic children; a permanent child comes back with its args."""
    sup = DynamicSupervisor.start(_worker(kind), intensity=5, period=60)
    keep = sup.start_child("keep")
    victim = sup.start_child("victim")
    assert crash(victim) != "normal"
    refs = wait_until(lambda: [c.ref for c in sup.which_children() if c.ref != keep])
    assert len(refs) == 1 and refs[0] != victim
    assert refs[0].ask("state") == (("victim",), {})
    assert keep.is_alive()
    sup.stop(timeout=5)


def test_temporary_dynamic_children_are_forgotten_when_they_exit(kind: Any) -> None:
    """S5/S12: a temporary dynamic child is not restarted and leaves no trace."""
    spec = ChildSpec(id="w", start=suite_child(kind), restart="temporary")
    sup = DynamicSupervisor.start(child=spec)
    ref = sup.start_child()
    assert crash(ref) == "died"
    assert sup.which_children() == []
    assert sup.count_children().workers == 0
    sup.stop(timeout=5)


def test_stopping_a_dynamic_supervisor_stops_all_children_at_once(kind: Any) -> None:
    """S10: dynamic children are shut down together; each exits shutdown."""
    sup = DynamicSupervisor.start(_worker(kind))
    refs = [sup.start_child(i) for i in range(20)]
    assert sup.stop(timeout=10) is True
    assert {ref.join(timeout=5) for ref in refs} == {"shutdown"}


def test_ids_are_refused_by_a_dynamic_supervisor(kind: Any) -> None:
    """S11: terminate_child, restart_child and delete_child by id answer simple_one_for_one."""
    sup = DynamicSupervisor.start(_worker(kind))
    for call in (sup.terminate_child, sup.restart_child, sup.delete_child):
        with pytest.raises(SupervisorError) as info:
            call("Worker")
        assert info.value.code == "simple_one_for_one"
    sup.stop(timeout=5)


def test_a_bad_template_or_flag_is_a_spec_error_naming_the_value(kind: Any) -> None:
    """Bad input gets a SpecError naming the field and value; nothing starts."""
    with pytest.raises(SpecError) as info:
        DynamicSupervisor.start(_worker(kind), max_children=-1)
    assert info.value.code == "invalid_max_children"
    assert "-1" in str(info.value)
    with pytest.raises(SpecError) as info:
        DynamicSupervisor.start()
    assert info.value.code == "bad_start_spec"
