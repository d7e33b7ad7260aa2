"""Introspection across nodes: children placed on other nodes, remote roots, the status request.

The supervisor runs in this test process's node (``t@127.0.0.1``); its
placed children, and a nested supervisor with its own children, run in a
real otp-node process. ``describe`` asks the nested supervisor there.
"""

from __future__ import annotations

import json
import time

import cli_agents
import pytest
import remote_agents
from cluster import COOKIE

import otp.node
from otp import ChildSpec, Supervisor
from otp.node._client import Client
from otp.supervision import describe

pytestmark = pytest.mark.timeout(60)


def _by_id(tree):  # type: ignore[no-untyped-def]
    return {c["id"]: c for c in tree["children"]}


def _placed(cluster, node):  # type: ignore[no-untyped-def]
    b = cluster("b", "--join", node.address)
    otp.node.wait_for(b.name, timeout=10)
    sup = Supervisor.start(name="spread", intensity=10, period=60, children=[
        ChildSpec(id="local", start=remote_agents.Echo),
        ChildSpec(id="echo", start=remote_agents.Echo, node=b.name),
        ChildSpec(id="team", start=cli_agents.Red, node=b.name)])
    return b, sup


def test_children_on_another_node_show_that_node_and_their_own_children(
        cluster, node) -> None:  # type: ignore[no-untyped-def]
    b, sup = _placed(cluster, node)
    first = sup.whereis("echo")
    with pytest.raises(RuntimeError, match="asked to crash"):
        first.ask("crash")
    deadline = time.monotonic() + 10
    while sup.whereis("echo") in (None, first) and time.monotonic() < deadline:
        time.sleep(0.02)
    tree = describe(sup, timeout=5)
    assert (tree["id"], tree["node"], tree["state"]) == ("spread", node.name, "running")
    local, echo, team = (_by_id(tree)[k] for k in ("local", "echo", "team"))
    assert (local["node"], local["kind"]) == (node.name, "thread")
    assert (echo["node"], echo["kind"], echo["class"], echo["restarts"]) == \
        (b.name, "thread", "Echo", 1)
    assert echo["agent"] == sup.whereis("echo").id
    assert (team["type"], team["node"], team["class"], team["strategy"], team["state"]) == \
        ("supervisor", b.name, "Red", "one_for_one", "running")
    assert [(c["id"], c["node"], c["class"], c["state"]) for c in team["children"]] == \
        [(m, b.name, "Member", "running") for m in cli_agents.MEMBERS]
    assert all(c["uptime"] >= 0 for c in team["children"])
    sup.stop()


def test_a_root_on_another_node_is_described_from_there(cluster, node) -> None:  # type: ignore[no-untyped-def]
    b = cluster("b", "--join", node.address)
    otp.node.wait_for(b.name, timeout=10)
    red = otp.node.spawn(b.name, cli_agents.Red)
    tree = describe(red, timeout=5)
    assert (tree["id"], tree["class"], tree["node"], tree["kind"]) == \
        ("Red", "Red", b.name, "thread")
    assert tree["uptime"] is not None and tree["uptime"] >= 0
    assert [c["id"] for c in tree["children"]] == list(cli_agents.MEMBERS)
    red.stop(timeout=10)


def test_the_status_request_walks_the_trees_off_the_io_thread(cluster, node) -> None:  # type: ignore[no-untyped-def]
    """The walk asks a supervisor on node b, whose answer comes in through this node's
    I/O thread: answered from the I/O thread itself, it could never arrive."""
    _b, sup = _placed(cluster, node)
    with Client(node.address, cookie=COOKIE, timeout=5) as client:
        status = client.status()
    assert (status["node"], status["address"]) == (node.name, node.address)
    [tree] = status["trees"]
    assert tree["id"] == "spread"
    team = _by_id(tree)["team"]
    assert team["state"] == "running" and len(team["children"]) == 3
    assert json.loads(json.dumps(status)) == status
    sup.stop()
