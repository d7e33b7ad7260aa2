"""Introspection of running trees: restart counts, uptimes, states, ``describe``, ``trees``.

Each supervisor counts the restarts of each child (whatever strategy caused
them) and remembers when its current incarnation started; ``describe`` walks
a tree asking every nested supervisor, within one bound on the whole walk.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from kinds import KINDS
from sup_support import crash, suite_child, wait_until

from otp import AgentActor, Backoff, ChildSpec, DynamicSupervisor, Supervisor
from otp.actor import AgentProxy
from otp.supervision import describe, roots, trees

pytestmark = pytest.mark.timeout(30)

ROOT_KEYS = {"id", "agent", "class", "type", "kind", "node", "state", "restarts", "uptime",
             "strategy", "intensity", "period", "children"}
WORKER_KEYS = ROOT_KEYS - {"strategy", "intensity", "period", "children"}


def _children(tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in tree["children"]}


def _restarts(tree: dict[str, Any]) -> list[int]:
    return [c["restarts"] for c in tree["children"]]


def suite_child_thread() -> type[Any]:
    return suite_child(KINDS["thread"])


def _specs(child: type[Any], *ids: str, **extra: Any) -> list[ChildSpec]:
    return [ChildSpec(id=i, start=child, **extra) for i in ids]


def test_describe_shows_the_flags_and_each_child_in_start_order(kind: Any) -> None:
    """The tree has the documented keys; a root is named by its registered name."""
    child = suite_child(kind)
    sup = Supervisor.start(name="team", strategy="one_for_one", intensity=4, period=7,
                           children=_specs(child, "a", "b", "c"))
    tree = describe(sup)
    assert set(tree) == ROOT_KEYS
    assert {k: tree[k] for k in ROOT_KEYS - {"children", "uptime"}} == {
        "id": "team", "agent": sup.id, "class": "Supervisor", "type": "supervisor",
        "kind": kind.name, "node": None, "state": "running", "restarts": 0,
        "strategy": "one_for_one", "intensity": 4, "period": 7.0}
    assert 0 <= tree["uptime"] < 10
    assert [c["id"] for c in tree["children"]] == ["a", "b", "c"]
    for entry in tree["children"]:
        ref = sup.whereis(entry["id"])
        assert set(entry) == WORKER_KEYS
        assert entry["agent"] == ref.id
        assert entry["class"] == child.__name__
        assert (entry["type"], entry["kind"], entry["state"]) == ("worker", kind.name, "running")
        assert entry["restarts"] == 0
        assert 0 <= entry["uptime"] < 10
    json.dumps(tree)  # JSON-able as it is


def test_a_root_without_a_name_is_identified_by_its_class() -> None:
    class Team(Supervisor):
        pass

    sup = Team.start(children=_specs(suite_child_thread(), "a"))
    tree = describe(sup)
    assert (tree["id"], tree["class"]) == ("Team", "Team")


def test_one_for_one_counts_only_the_crashed_child_and_resets_its_uptime(kind: Any) -> None:
    sup = Supervisor.start(strategy="one_for_one", intensity=10, period=60,
                           children=_specs(suite_child(kind), "a", "b"))
    time.sleep(0.2)  # so that a new incarnation is measurably younger
    crash(sup.whereis("a"))
    crash(sup.whereis("a"))
    tree = describe(sup)
    assert _restarts(tree) == [2, 0]
    a, b = _children(tree)["a"], _children(tree)["b"]
    assert a["agent"] == sup.whereis("a").id
    assert a["uptime"] < b["uptime"] - 0.1
    assert tree["restarts"] == 0


def test_one_for_all_counts_a_restart_for_every_child_it_restarts(kind: Any) -> None:
    sup = Supervisor.start(strategy="one_for_all", intensity=10, period=60,
                           children=_specs(suite_child(kind), "a", "b", "c"))
    crash(sup.whereis("b"))
    assert _restarts(describe(sup)) == [1, 1, 1]
    crash(sup.whereis("a"))
    assert _restarts(describe(sup)) == [2, 2, 2]


def test_rest_for_one_counts_the_crashed_child_and_those_started_after_it(kind: Any) -> None:
    sup = Supervisor.start(strategy="rest_for_one", intensity=10, period=60,
                           children=_specs(suite_child(kind), "a", "b", "c"))
    crash(sup.whereis("b"))
    assert _restarts(describe(sup)) == [0, 1, 1]
    crash(sup.whereis("c"))
    assert _restarts(describe(sup)) == [0, 1, 2]


def test_a_dynamic_supervisors_children_are_listed_under_the_template_id(kind: Any) -> None:
    sup = DynamicSupervisor.start(child=ChildSpec(id="job", start=suite_child(kind)),
                                  intensity=10, period=60)
    first = sup.start_child()
    sup.start_child()
    crash(first)
    tree = describe(sup)
    assert tree["strategy"] == "simple_one_for_one"
    assert [(c["id"], c["restarts"]) for c in tree["children"]] == [("job", 1), ("job", 0)]


def test_a_terminated_child_is_stopped_and_restart_child_is_not_counted(kind: Any) -> None:
    """restart_child() is a start asked for, not a restart by the supervisor."""
    sup = Supervisor.start(children=_specs(suite_child(kind), "a", "b"))
    sup.terminate_child("a")
    a = _children(describe(sup))["a"]
    assert {k: a[k] for k in ("agent", "class", "kind", "node", "state", "restarts", "uptime")} \
        == {"agent": None, "class": None, "kind": None, "node": None, "state": "stopped",
            "restarts": 0, "uptime": None}
    sup.restart_child("a")
    a = _children(describe(sup))["a"]
    assert (a["state"], a["restarts"]) == ("running", 0)


def test_a_child_waiting_for_its_backoff_is_restarting_then_running(kind: Any) -> None:
    sup = Supervisor.start(children=_specs(suite_child(kind), "a"), intensity=10, period=60,
                           backoff=Backoff(min=0.5, max=1.0, random_factor=0.0))
    crash(sup.whereis("a"))
    a = describe(sup)["children"][0]
    assert (a["state"], a["agent"], a["uptime"], a["restarts"]) == ("restarting", None, None, 0)
    a = wait_until(lambda: next((c for c in describe(sup)["children"]
                                 if c["state"] == "running"), None))
    assert a["restarts"] == 1


def test_nested_supervisors_are_described_with_their_own_children(kind: Any) -> None:
    child = suite_child(kind)
    inner = ChildSpec(id="inner", start=Supervisor,
                      kwargs={"strategy": "one_for_all", "intensity": 10, "period": 60,
                              "children": _specs(child, "x", "y")})
    sup = Supervisor.start(name="outer", intensity=10, period=60,
                           children=[*_specs(child, "w"), inner])
    crash(sup.whereis("inner").whereis("y"))
    tree = describe(sup)
    assert [c["id"] for c in tree["children"]] == ["w", "inner"]
    nested = _children(tree)["inner"]
    assert set(nested) == ROOT_KEYS
    assert (nested["type"], nested["class"], nested["strategy"], nested["restarts"]) == \
        ("supervisor", "Supervisor", "one_for_all", 0)
    assert nested["kind"] == kind.name
    assert [(c["id"], c["restarts"], c["state"]) for c in nested["children"]] == \
        [("x", 1, "running"), ("y", 1, "running")]


def test_a_nested_supervisor_that_does_not_answer_in_time_is_unknown(
        new_gate: Callable[[], threading.Event]) -> None:
    """One busy supervisor (stopping a child that hangs) does not hold up the whole walk."""
    child = suite_child_thread()
    gate, terminating = new_gate(), threading.Event()
    busy = ChildSpec(id="busy", start=Supervisor, kwargs={"children": [ChildSpec(
        id="hangs", start=child, kwargs={"hang": gate, "terminating": terminating},
        shutdown=10_000)]})
    sup = Supervisor.start(children=[busy, *_specs(child, "w")])
    inner = sup.whereis("busy")
    stopping = threading.Thread(target=inner.terminate_child, args=("hangs",), daemon=True)
    stopping.start()
    assert terminating.wait(5)
    started = time.monotonic()
    tree = describe(sup, timeout=0.5)
    assert time.monotonic() - started < 2.0
    assert tree["state"] == "running"
    nested, w = _children(tree)["busy"], _children(tree)["w"]
    assert (nested["state"], nested["children"], nested["strategy"]) == ("unknown", [], None)
    assert (nested["agent"], nested["class"]) == (inner.id, "Supervisor")
    assert w["state"] == "running"
    gate.set()
    stopping.join(5)
    assert _children(describe(sup))["busy"]["state"] == "running"


def test_roots_and_trees_list_this_nodes_root_supervisors_oldest_first() -> None:
    child = suite_child_thread()
    inner = ChildSpec(id="inner", start=Supervisor, kwargs={"children": _specs(child, "x")})
    first = Supervisor.start(name="first", children=[inner])
    child.spawn()  # a worker without a parent is not a tree
    second = Supervisor.start(name="second", children=_specs(child, "y"))
    assert roots() == [first, second]
    described = trees(timeout=5)
    assert [t["id"] for t in described] == ["first", "second"]
    assert described[0]["children"][0]["children"][0]["id"] == "x"
    second.stop()
    assert [t["id"] for t in trees()] == ["first"]


def test_describe_of_a_worker_is_a_leaf_and_of_a_stopped_supervisor_is_stopped() -> None:
    class Worker(AgentActor):
        pass

    worker = Worker.start()
    leaf = describe(worker)
    assert set(leaf) == WORKER_KEYS
    assert (leaf["type"], leaf["class"], leaf["state"]) == ("worker", "Worker", "running")
    sup = Supervisor.start(children=_specs(suite_child_thread(), "a"))
    sup.stop()
    tree = describe(sup)
    assert (tree["state"], tree["agent"], tree["children"]) == ("stopped", None, [])


def test_the_status_call_answers_plain_values_and_the_children_refs() -> None:
    sup = Supervisor.start(children=_specs(suite_child_thread(), "a"))
    ok, status = AgentProxy(sup).supervisor_status().get(timeout=5)
    assert ok == "ok"
    assert (status["strategy"], status["class"], status["kind"]) == \
        ("one_for_one", "Supervisor", "thread")
    [entry] = status["children"]
    assert entry["ref"] == sup.whereis("a")
    assert entry["askable"] is False
    assert sup.which_children()[0].id == "a"  # OTP's calls are unchanged
    assert sup.count_children().active == 1


def test_describe_refuses_to_block_a_running_event_loop() -> None:
    sup = Supervisor.start(children=_specs(suite_child_thread(), "a"))

    async def inside() -> None:
        describe(sup)

    with pytest.raises(RuntimeError, match="to_thread"):
        asyncio.run(inside())
