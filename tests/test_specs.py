"""Child specs and supervisor flags: defaults, every error code, map specs, combinations."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from otp.errors import SpecError
from otp.specs import Backoff, ChildSpec, SupFlags, check_childspecs, check_combination


def start_worker() -> None:
    """A stand-in for a function that starts an agent and returns its ref."""


class FakeSupervisor:
    __otp_child_type__ = "supervisor"


def spec_error(make: Any, *args: Any, **kwargs: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        make(*args, **kwargs)
    assert type(info.value) is SpecError  # never pydantic's ValidationError
    return info.value


# -- defaults ---------------------------------------------------------------------


def test_a_minimal_child_spec_has_every_default_filled_in() -> None:
    spec = ChildSpec(id="worker", start=start_worker)
    assert spec.args == ()
    assert spec.kwargs == {}
    assert spec.restart == "permanent"
    assert spec.shutdown == 5000
    assert spec.type == "worker"
    assert spec.significant is False
    assert spec.name is None
    assert spec.kind is None


def test_a_supervisor_child_defaults_to_infinity_shutdown() -> None:
    spec = ChildSpec(id="sup", start=start_worker, type="supervisor")
    assert spec.shutdown == "infinity"


def test_a_start_marked_as_supervisor_makes_the_child_a_supervisor() -> None:
    spec = ChildSpec(id="sup", start=FakeSupervisor)
    assert spec.type == "supervisor"
    assert spec.shutdown == "infinity"


def test_an_explicit_type_wins_over_the_start_marker() -> None:
    spec = ChildSpec(id="sup", start=FakeSupervisor, type="worker")
    assert (spec.type, spec.shutdown) == ("worker", 5000)


@pytest.mark.parametrize("shutdown", ["brutal_kill", "infinity", 0, 1, 30_000])
def test_an_explicit_shutdown_is_kept(shutdown: Any) -> None:
    assert ChildSpec(id="w", start=start_worker, shutdown=shutdown).shutdown == shutdown


def test_args_given_as_a_list_are_stored_as_a_tuple() -> None:
    assert ChildSpec(id="w", start=start_worker, args=[1, 2]).args == (1, 2)


def test_kwargs_are_copied_so_later_changes_to_the_dict_do_not_leak_in() -> None:
    kwargs = {"topic": "actors"}
    spec = ChildSpec(id="w", start=start_worker, kwargs=kwargs)
    kwargs["topic"] = "changed"
    assert spec.kwargs == {"topic": "actors"}


def test_args_and_kwargs_may_hold_arbitrary_objects() -> None:
    thing = object()
    spec = ChildSpec(id="w", start=start_worker, args=(thing,), kwargs={"x": thing})
    assert spec.args[0] is thing and spec.kwargs["x"] is thing


def test_name_and_kind_are_stored() -> None:
    spec = ChildSpec(id="w", start=start_worker, name="researcher", kind="thread")
    assert (spec.name, spec.kind) == ("researcher", "thread")


def test_sup_flags_default_to_three_restarts_in_five_seconds() -> None:
    flags = SupFlags()
    assert flags.strategy == "one_for_one"
    assert (flags.intensity, flags.period) == (3, 5.0)
    assert flags.auto_shutdown == "never"
    assert flags.max_children is None
    assert flags.backoff is None


def test_sup_flags_store_an_int_period_as_float_seconds() -> None:
    assert SupFlags(period=60).period == 60.0


def test_sup_flags_turn_a_backoff_mapping_into_a_backoff() -> None:
    flags = SupFlags(backoff={"min": 1, "max": 30})
    assert flags.backoff == Backoff(min=1.0, max=30.0)
    assert flags.backoff is not None and flags.backoff.reset_after == 15.5


# -- every child spec error code -----------------------------------------------------

CHILD_ERRORS = [
    # (given, code, field, value, fragments of the message)
    ({"start": start_worker}, "missing_id", "id", None, ["child spec", "'id' is required"]),
    ({"id": "", "start": start_worker}, "invalid_id", "id", "", ["non-empty str"]),
    ({"id": 7, "start": start_worker}, "invalid_id", "id", 7, ["id=7"]),
    ({"id": "w"}, "missing_start", "start", None, ["child 'w'", "'start' is required"]),
    ({"id": "w", "start": "mfa"}, "invalid_mfa", "start", "mfa", ["start='mfa'", "agent class"]),
    ({"id": "w", "start": start_worker, "args": "ab"}, "invalid_mfa", "args", "ab", ["tuple"]),
    ({"id": "w", "start": start_worker, "kwargs": [1]}, "invalid_mfa", "kwargs", [1], ["dict"]),
    ({"id": "w", "start": start_worker, "kwargs": {1: 2}}, "invalid_mfa", "kwargs", {1: 2},
     ["str keys"]),
    ({"id": "worker", "start": start_worker, "restart": "forever"}, "invalid_restart_type",
     "restart", "forever",
     ["invalid_restart_type: child 'worker': restart='forever' is not allowed; "
      "use 'permanent', 'transient' or 'temporary'"]),
    ({"id": "w", "start": start_worker, "restart": None}, "invalid_restart_type", "restart",
     None, ["restart=None"]),
    ({"id": "w", "start": start_worker, "shutdown": -10}, "invalid_shutdown", "shutdown", -10,
     ["shutdown=-10", "'brutal_kill', an int >= 0 (milliseconds) or 'infinity'"]),
    ({"id": "w", "start": start_worker, "shutdown": True}, "invalid_shutdown", "shutdown", True,
     ["shutdown=True"]),
    ({"id": "w", "start": start_worker, "shutdown": 1.5}, "invalid_shutdown", "shutdown", 1.5,
     ["shutdown=1.5"]),
    ({"id": "w", "start": start_worker, "shutdown": "forever"}, "invalid_shutdown", "shutdown",
     "forever", ["shutdown='forever'"]),
    ({"id": "w", "start": start_worker, "type": "wrker"}, "invalid_child_type", "type",
     "wrker", ["type='wrker'", "'worker' or 'supervisor'"]),
    ({"id": "w", "start": start_worker, "significant": "maybe"}, "invalid_significant",
     "significant", "maybe", ["significant='maybe'", "True or False"]),
    ({"id": "w", "start": start_worker, "significant": 1}, "invalid_significant",
     "significant", 1, ["significant=1"]),
    ({"id": "w", "start": start_worker, "significant": True}, "bad_combination", "significant",
     {"restart": "permanent", "significant": True}, ["restart='permanent'", "'transient'"]),
    ({"id": "w", "start": start_worker, "name": ""}, "invalid_name", "name", "", ["name=''"]),
    ({"id": "w", "start": start_worker, "name": 3}, "invalid_name", "name", 3, ["name=3"]),
    ({"id": "w", "start": start_worker, "kind": "fiber"}, "invalid_kind", "kind", "fiber",
     ["kind='fiber'", "'thread'", "'async'"]),
]


@pytest.mark.parametrize(("given", "code", "field", "value", "fragments"), CHILD_ERRORS)
def test_a_bad_child_spec_raises_spec_error_naming_field_value_and_fix(
        given: dict[str, Any], code: str, field: str, value: Any, fragments: list[str]) -> None:
    for make in (lambda: ChildSpec(**given), lambda: ChildSpec.model_validate(given)):
        error = spec_error(make)
        assert (error.code, error.field, error.value) == (code, field, value)
        assert str(error).startswith(f"{code}: ")
        for fragment in fragments:
            assert fragment in str(error)


def test_a_spec_error_is_a_value_error() -> None:
    assert isinstance(spec_error(ChildSpec, id="w", start=1), ValueError)


def test_an_unknown_key_is_rejected_with_a_did_you_mean() -> None:
    error = spec_error(ChildSpec, id="worker", start=start_worker, restrat="transient")
    assert (error.code, error.field, error.value) == ("unknown_key", "restrat", "transient")
    assert "child 'worker'" in str(error)
    assert "did you mean 'restart'?" in str(error)


def test_an_unknown_key_with_nothing_close_lists_the_allowed_keys() -> None:
    error = spec_error(ChildSpec, id="w", start=start_worker, zzz=1)
    assert error.code == "unknown_key"
    assert "did you mean" not in str(error)
    assert "id, start, args, kwargs, restart" in str(error)


def test_an_unknown_key_is_reported_before_a_missing_id() -> None:
    assert spec_error(ChildSpec, idd="w", start=start_worker).code == "unknown_key"


def test_something_other_than_a_mapping_is_an_invalid_child_spec() -> None:
    error = spec_error(ChildSpec.model_validate, "hej")
    assert (error.code, error.value) == ("invalid_child_spec", "hej")


def test_a_long_bad_value_is_shortened_in_the_message() -> None:
    error = spec_error(ChildSpec, id="w", start=start_worker, restart="x" * 500)
    assert error.value == "x" * 500
    assert len(str(error)) < 250


# -- map specs, copies, frozen -------------------------------------------------------------


def test_a_map_spec_validates_like_keyword_arguments() -> None:
    given = {"id": "w", "start": start_worker, "restart": "transient", "shutdown": "brutal_kill"}
    assert ChildSpec.model_validate(given) == ChildSpec(**given)


def test_model_validate_returns_a_spec_it_is_given() -> None:
    spec = ChildSpec(id="w", start=start_worker)
    assert ChildSpec.model_validate(spec) is spec


def test_with_returns_a_validated_changed_copy() -> None:
    spec = ChildSpec(id="w", start=start_worker)
    assert spec.with_(restart="transient").restart == "transient"
    assert spec.restart == "permanent"
    assert spec_error(spec.with_, restart="forever").code == "invalid_restart_type"


def test_with_keeps_resolved_defaults_unless_they_are_reset_to_none() -> None:
    spec = ChildSpec(id="w", start=start_worker)
    assert spec.with_(type="supervisor").shutdown == 5000
    assert spec.with_(type="supervisor", shutdown=None).shutdown == "infinity"


def test_model_copy_with_an_update_is_validated_too() -> None:
    spec = ChildSpec(id="w", start=start_worker)
    assert spec.model_copy(update={"restart": "temporary"}).restart == "temporary"
    assert spec_error(spec.model_copy, update={"shutdown": -1}).code == "invalid_shutdown"
    assert spec.model_copy() == spec


def test_a_child_spec_is_frozen() -> None:
    spec = ChildSpec(id="w", start=start_worker)
    error = spec_error(setattr, spec, "restart", "transient")
    assert (error.code, error.field, error.value) == ("frozen", "restart", "transient")
    assert "child 'w' is immutable" in str(error) and ".with_(restart=...)" in str(error)
    assert spec_error(delattr, spec, "id").code == "frozen"
    assert spec.restart == "permanent"


def test_sup_flags_and_backoff_are_frozen() -> None:
    assert spec_error(setattr, SupFlags(), "intensity", 10).code == "frozen"
    assert spec_error(setattr, Backoff(min=1, max=2), "min", 0.5).code == "frozen"


# -- check_childspecs ----------------------------------------------------------------------


def test_check_childspecs_converts_mappings_and_keeps_the_order() -> None:
    specs = check_childspecs([{"id": "a", "start": start_worker},
                              ChildSpec(id="b", start=start_worker)])
    assert [spec.id for spec in specs] == ["a", "b"]
    assert all(isinstance(spec, ChildSpec) for spec in specs)


def test_check_childspecs_accepts_an_empty_list() -> None:
    assert check_childspecs([]) == []


def test_check_childspecs_rejects_a_repeated_id() -> None:
    spec = {"id": "child", "start": start_worker}
    error = spec_error(check_childspecs, [spec, spec])
    assert (error.code, error.field, error.value) == ("duplicate_child_name", "id", "child")
    assert "child 'child'" in str(error)


@pytest.mark.parametrize("specs", [{"id": "w", "start": start_worker}, "ab", 42])
def test_check_childspecs_wants_a_list(specs: Any) -> None:
    assert spec_error(check_childspecs, specs).code == "invalid_child_spec"


def test_check_childspecs_reports_the_first_bad_spec() -> None:
    error = spec_error(check_childspecs, [{"id": "a", "start": start_worker}, "hej"])
    assert error.code == "invalid_child_spec"


# -- supervisor_SUITE case 27: child_specs_map ---------------------------------------------

CS0 = {"id": "child", "start": start_worker}


@pytest.mark.parametrize(("given", "code"), [
    ({}, "missing_id"),
    ({"id": "child"}, "missing_start"),
    ({"start": start_worker}, "missing_id"),
    ({**CS0, "start": "mfa"}, "invalid_mfa"),
    ({**CS0, "restart": "prmanent"}, "invalid_restart_type"),
    ({**CS0, "shutdown": -10}, "invalid_shutdown"),
    ({**CS0, "type": "wrker"}, "invalid_child_type"),
    ({**CS0, "significant": "maybe"}, "invalid_significant"),
])
def test_child_specs_map_faulty_specs_give_otp_codes(given: dict[str, Any], code: str) -> None:
    assert spec_error(check_childspecs, [given]).code == code


def test_child_specs_map_rejects_unknown_keys_unlike_otp() -> None:
    assert spec_error(check_childspecs, [{**CS0, "dummy": "dummy"}]).code == "unknown_key"


def test_child_specs_map_duplicate_ids() -> None:
    assert spec_error(check_childspecs, [CS0, CS0]).code == "duplicate_child_name"


ABSENT = object()


@pytest.mark.parametrize("significant", [ABSENT, True, False])
@pytest.mark.parametrize("restart", [ABSENT, "permanent", "transient", "temporary"])
@pytest.mark.parametrize("auto_shutdown", [ABSENT, "never", "any_significant", "all_significant"])
def test_child_specs_map_significant_combination_matrix(
        auto_shutdown: Any, restart: Any, significant: Any) -> None:
    """OTP's matrix; ABSENT auto_shutdown is check_childspecs/1 (no flags to check against).

    OTP reports the auto_shutdown=never clash first; here a ChildSpec is checked
    on its own before it meets the flags, so significant+permanent is reported
    first. Both are bad_combination.
    """
    for shutdown, type_ in itertools.product([ABSENT, 0, 1000, "infinity", "brutal_kill"],
                                             [ABSENT, "supervisor", "worker"]):
        given = {key: value for key, value in
                 [("restart", restart), ("shutdown", shutdown), ("type", type_),
                  ("significant", significant)] if value is not ABSENT}
        spec = {**CS0, **given}

        def check() -> list[ChildSpec]:
            if auto_shutdown is ABSENT:
                return check_childspecs([spec])
            return check_combination(SupFlags(auto_shutdown=auto_shutdown), [spec])

        if significant is True and restart in (ABSENT, "permanent"):
            error = spec_error(check)
            assert error.code == "bad_combination"
            assert error.value == {"restart": "permanent", "significant": True}
        elif significant is True and auto_shutdown == "never":
            error = spec_error(check)
            assert (error.code, error.field) == ("bad_combination", "significant")
            assert error.value == {"auto_shutdown": "never", "significant": True}
            assert "auto_shutdown='never'" in str(error) and "'any_significant'" in str(error)
        else:
            [checked] = check()
            assert checked.significant is (significant is True)


# -- check_combination -----------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 2])
def test_simple_one_for_one_needs_exactly_one_spec(count: int) -> None:
    specs = [{"id": f"c{i}", "start": start_worker} for i in range(count)]
    error = spec_error(check_combination, SupFlags(strategy="simple_one_for_one"), specs)
    assert (error.code, error.field) == ("bad_start_spec", "children")
    assert f"got {count}" in str(error)


def test_simple_one_for_one_with_one_spec_is_fine() -> None:
    flags = {"strategy": "simple_one_for_one"}
    assert [spec.id for spec in check_combination(flags, [CS0])] == ["child"]


def test_simple_one_for_one_counts_specs_before_checking_them() -> None:
    error = spec_error(check_combination, SupFlags(strategy="simple_one_for_one"), [CS0, CS0])
    assert error.code == "bad_start_spec"


def test_check_combination_validates_flags_given_as_a_mapping() -> None:
    assert spec_error(check_combination, {"strategy": "nope"}, []).code == "invalid_strategy"


# -- supervisor_SUITE case 28: sup_flags -----------------------------------------------------

FLAG_ERRORS = [
    ({"strategy": "none_for_one"}, "invalid_strategy", "strategy",
     ["strategy='none_for_one'", "'one_for_one', 'one_for_all', 'rest_for_one' or "
      "'simple_one_for_one'"]),
    ({"intensity": "infinity"}, "invalid_intensity", "intensity", ["int >= 0"]),
    ({"intensity": -1}, "invalid_intensity", "intensity", ["intensity=-1"]),
    ({"intensity": True}, "invalid_intensity", "intensity", ["intensity=True"]),
    ({"intensity": 1.5}, "invalid_intensity", "intensity", ["intensity=1.5"]),
    ({"period": 0}, "invalid_period", "period", ["period=0", "> 0"]),
    ({"period": -5}, "invalid_period", "period", ["period=-5"]),
    ({"period": math.inf}, "invalid_period", "period", ["period=inf", "finite"]),
    ({"period": math.nan}, "invalid_period", "period", ["period=nan"]),
    ({"period": "infinity"}, "invalid_period", "period", ["period='infinity'"]),
    ({"period": True}, "invalid_period", "period", ["period=True"]),
    ({"auto_shutdown": "sometimes"}, "invalid_auto_shutdown", "auto_shutdown",
     ["'never', 'any_significant' or 'all_significant'"]),
    ({"max_children": -1}, "invalid_max_children", "max_children", ["max_children=-1"]),
    ({"max_children": 2.0}, "invalid_max_children", "max_children", ["max_children=2.0"]),
    ({"backoff": 3}, "invalid_backoff", "backoff", ["backoff=3"]),
    ({"backoff": {"min": 0, "max": 1}}, "invalid_backoff", "min", ["backoff: min=0"]),
]


@pytest.mark.parametrize(("given", "code", "field", "fragments"), FLAG_ERRORS)
def test_sup_flags_invalid_values_give_otp_codes(
        given: dict[str, Any], code: str, field: str, fragments: list[str]) -> None:
    for make in (lambda: SupFlags(**given), lambda: SupFlags.model_validate(given)):
        error = spec_error(make)
        assert (error.code, error.field) == (code, field)
        assert "supervisor flags" in str(error) or "backoff" in str(error)
        for fragment in fragments:
            assert fragment in str(error)


def test_sup_flags_reject_unknown_flags_unlike_otp() -> None:
    error = spec_error(SupFlags, silly_flag=True)
    assert (error.code, error.field) == ("unknown_key", "silly_flag")
    assert "did you mean" not in str(error)
    assert spec_error(SupFlags, intensty=5).code == "unknown_key"
    assert "did you mean 'intensity'?" in str(spec_error(SupFlags, intensty=5))


def test_sup_flags_that_are_not_a_mapping_are_an_invalid_type() -> None:
    assert spec_error(SupFlags.model_validate, ("one_for_one", 2)).code == "invalid_type"


def test_sup_flags_from_json_raise_spec_error_too() -> None:
    assert SupFlags.model_validate_json('{"period": 2}').period == 2.0
    assert spec_error(SupFlags.model_validate_json, '{"period": 0}').code == "invalid_period"


@pytest.mark.parametrize("strategy", ["one_for_one", "one_for_all", "rest_for_one",
                                      "simple_one_for_one"])
def test_sup_flags_accept_every_strategy(strategy: str) -> None:
    assert SupFlags(strategy=strategy).strategy == strategy


def test_sup_flags_accept_zero_intensity_and_a_fractional_period() -> None:
    flags = SupFlags(intensity=0, period=0.5, max_children=0)
    assert (flags.intensity, flags.period, flags.max_children) == (0, 0.5, 0)
