"""Supervised children placed on other nodes: ChildSpec(node=...) (issue: remote supervision).

The supervisor runs in this test process's node; its children run in real
otp-node processes. Killing a node (kill -9) fires the child's link with
``noconnection`` and the supervisor restarts the child on a live candidate.
"""

from __future__ import annotations

import time

import pytest
import remote_agents

import otp.node
from otp import ChildSpec, Inbox, Supervisor
from otp.errors import NOCONNECTION, SpecError, StartError


def _two_nodes(cluster, node):  # type: ignore[no-untyped-def]
    b = cluster("b", "--join", node.address, "--heartbeat", "0.5")
    c = cluster("c", "--join", node.address, "--heartbeat", "0.5")
    otp.node.wait_for(b.name, c.name, timeout=10)
    return b, c


@pytest.mark.timeout(60)
def test_child_starts_on_first_connected_candidate_and_moves_when_its_node_dies(
        cluster, node) -> None:  # type: ignore[no-untyped-def]
    b, c = _two_nodes(cluster, node)
    sup = Supervisor.start(strategy="one_for_one", intensity=3, period=10, children=[
        ChildSpec(id="worker", start=remote_agents.Echo, node=[b.name, c.name])])
    first = sup.whereis("worker")
    assert first is not None and first.node == b.name
    assert first.ask("hi") == ("echo", "hi")
    with Inbox() as inbox:
        inbox.monitor(first)
        killed_at = time.monotonic()
        b.kill()
        down = inbox.receive(5)
        assert down.reason == NOCONNECTION
        assert time.monotonic() - killed_at < 2.0
    deadline = time.monotonic() + 10
    moved = sup.whereis("worker")
    while (moved is None or moved == first) and time.monotonic() < deadline:
        time.sleep(0.02)
        moved = sup.whereis("worker")
    assert moved is not None and moved != first
    assert moved.node == c.name
    assert moved.ask("again") == ("echo", "again")
    assert sup.count_children().active == 1
    sup.stop()
    assert moved.join(5) == "shutdown"


@pytest.mark.timeout(60)
def test_a_crash_of_a_remote_child_is_restarted_in_place(cluster, node) -> None:  # type: ignore[no-untyped-def]
    b, _c = _two_nodes(cluster, node)
    sup = Supervisor.start(children=[ChildSpec(id="w", start=remote_agents.Echo, node=b.name)])
    first = sup.whereis("w")
    assert first is not None
    with pytest.raises(RuntimeError, match="asked to crash"):
        first.ask("crash")
    deadline = time.monotonic() + 10
    second = sup.whereis("w")
    while (second is None or second == first) and time.monotonic() < deadline:
        time.sleep(0.02)
        second = sup.whereis("w")
    assert second is not None and second != first and second.node == b.name
    assert sup.which_children()[0].id == "w"
    sup.stop()


@pytest.mark.timeout(60)
def test_no_connected_candidate_is_a_start_error(node) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StartError) as info:
        Supervisor.start(children=[ChildSpec(id="w", start=remote_agents.Echo,
                                             node="nobody@127.0.0.1")])
    assert "noconnection" in str(info.value)


@pytest.mark.timeout(60)
def test_own_node_name_means_here(node) -> None:  # type: ignore[no-untyped-def]
    sup = Supervisor.start(children=[ChildSpec(id="w", start=remote_agents.Echo, node=node.name)])
    ref = sup.whereis("w")
    assert ref is not None and ref.node == "" and ref.ask(1) == ("echo", 1)
    sup.stop()


@pytest.mark.timeout(60)
def test_a_failing_remote_start_is_a_start_error(cluster, node) -> None:  # type: ignore[no-untyped-def]
    b = cluster("b", "--join", node.address)
    otp.node.wait_for(b.name, timeout=10)
    with pytest.raises(StartError) as info:
        Supervisor.start(children=[ChildSpec(id="w", start=remote_agents.FailsToStart,
                                             node=b.name)])
    assert "no start today" in str(info.value)


def test_placement_without_a_node_is_a_start_error() -> None:
    assert otp.node.current() is None
    with pytest.raises(StartError, match="no node runs in this process"):
        Supervisor.start(children=[ChildSpec(id="w", start=remote_agents.Echo,
                                             node="b@127.0.0.1")])


@pytest.mark.parametrize("bad", ["no-at-sign", "", [], ["ok@h", 3], 7])
def test_node_field_is_checked(bad: object) -> None:
    with pytest.raises(SpecError) as info:
        ChildSpec(id="w", start=remote_agents.Echo, node=bad)
    assert info.value.code == "invalid_node" and info.value.field == "node"


def test_a_placed_child_needs_an_importable_class() -> None:
    class Local(remote_agents.Echo):
        pass

    with pytest.raises(SpecError, match="can import") as info:
        ChildSpec(id="w", start=Local, node="b@h")
    assert info.value.code == "invalid_node" and info.value.field == "start"
    with pytest.raises(SpecError, match="can import"):
        ChildSpec(id="w", start=lambda: None, node="b@h")


def test_candidates_keep_their_order() -> None:
    spec = ChildSpec(id="w", start=remote_agents.Echo, node=["b@h", "c@h"])
    assert spec.node == ("b@h", "c@h") and spec.candidates == ("b@h", "c@h")
    assert ChildSpec(id="w", start=remote_agents.Echo).candidates == ()
