"""Node-level behaviour: NodeUp/NodeDown, joining a cluster through one member, control commands."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cluster import COOKIE, FAST, NodeProcess, eventually

import otp.node
from otp import Inbox
from otp.errors import AskTimeout
from otp.node import NodeDown, NodeUp
from otp.node._client import Client

WAIT = 5.0


def peers_up(proc: NodeProcess) -> list[str]:
    return sorted(p["name"] for p in proc.info()["nodes"] if p["state"] == "up")


def test_monitor_nodes_reports_up_and_down_until_demonitored(
        cluster: Callable[..., NodeProcess], start_node: Callable[..., otp.node.Node]) -> None:
    here = start_node(heartbeat=FAST)
    with Inbox() as inbox:
        otp.node.monitor_nodes(inbox.ref)
        a, b = cluster.many(("a", "--join", here.address),  # type: ignore[attr-defined]
                            ("b", "--join", here.address))
        ups = {inbox.receive(WAIT), inbox.receive(WAIT)}
        assert ups == {NodeUp(a.name), NodeUp(b.name)}
        assert sorted(otp.node.wait_for(a.name, b.name, timeout=WAIT)) == sorted([a.name, b.name])
        assert a.stop() == 0
        assert inbox.receive(WAIT) == NodeDown(a.name, "noconnection")
        assert otp.node.nodes() == [b.name]
        otp.node.demonitor_nodes(inbox.ref)
        b.kill()
        assert eventually(otp.node.nodes, []) == []
        with pytest.raises(AskTimeout):
            inbox.receive(0.2)


def test_joining_one_member_connects_to_all(
        tmp_path: Path, cluster: Callable[..., NodeProcess],
        start_node: Callable[..., otp.node.Node]) -> None:
    """c joins b, which joined a: a sees c. This node joins a only, and meets b and c.

    On ipc:// addresses, known before the nodes start: they start at once, each
    joining a node that may not listen yet (the link retries until it does).
    """
    ipc = {n: f"ipc://{tmp_path}/{n}.sock" for n in "abc"}
    a, b, c = cluster.many(("a", "--listen", ipc["a"]),  # type: ignore[attr-defined]
                           ("b", "--listen", ipc["b"], "--join", ipc["a"]),
                           ("c", "--listen", ipc["c"], "--join", ipc["b"]))
    assert eventually(lambda: peers_up(a), sorted([b.name, c.name])) == sorted([b.name, c.name])
    start_node(join=[a.address])
    assert sorted(otp.node.wait_for(a.name, b.name, c.name, timeout=WAIT)) == \
        sorted([a.name, b.name, c.name])
    for proc in (a, b, c):
        expected = sorted({a.name, b.name, c.name, "t@127.0.0.1"} - {proc.name})
        assert eventually(lambda p=proc: peers_up(p), expected) == expected
    # and they work with each other: an agent on c is reached from here directly
    echo = otp.node.spawn(c.name, "remote_agents:Echo")
    assert echo.ask("mesh", timeout=WAIT) == ("echo", "mesh")


def test_hidden_clients_are_not_peers(cluster: Callable[..., NodeProcess],
                                      start_node: Callable[..., otp.node.Node]) -> None:
    a = cluster("a")
    here = start_node(join=[a.address])
    otp.node.wait_for(a.name, timeout=WAIT)
    with Inbox() as inbox:
        otp.node.monitor_nodes(inbox.ref)
        with Client(a.address, cookie=COOKIE) as client:
            client.ping()
            info = client.info()
        with pytest.raises(AskTimeout):
            inbox.receive(0.3)
    assert [p["name"] for p in info["nodes"]] == [here.name]
    assert otp.node.nodes() == [a.name]


def test_wait_for_times_out_with_what_is_connected(start_node: Callable[..., otp.node.Node]
                                                   ) -> None:
    start_node()
    with pytest.raises(TimeoutError, match=r"nobody@127\.0\.0\.1 not connected within 0\.2 s"):
        otp.node.wait_for("nobody@127.0.0.1", timeout=0.2)
    with pytest.raises(TimeoutError, match="1 node"):
        otp.node.wait_for(timeout=0.1)


def test_one_node_per_process(start_node: Callable[..., otp.node.Node]) -> None:
    here = start_node()
    assert otp.node.current() is here
    with pytest.raises(otp.node.ConfigError, match="already running"):
        otp.node.start("u")
    otp.node.stop()
    assert otp.node.current() is None
    with pytest.raises(otp.node.ConfigError, match="otp.node.start"):
        otp.node.nodes()
    otp.node.stop()  # stopping no node: nothing happens


def test_a_node_does_not_join_itself(start_node: Callable[..., otp.node.Node]) -> None:
    here = start_node()
    here.transport.call_soon(here._join, here.address.replace("127.0.0.1", "localhost"), None)
    time.sleep(0.5)
    assert otp.node.nodes() == []
    assert here.name not in here.peers
