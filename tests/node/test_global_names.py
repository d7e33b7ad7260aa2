"""Names global across the cluster: register_global, whereis_global, unregister_global.

Nodes ``a`` and ``b`` are otp-node processes; what they see is asked of a
``remote_agents:Names`` agent running on each (or read from ``otp-node ls``
output). Every table is eventually consistent: reads from the other nodes
are polled, with a bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest
from cluster import FAST, NodeProcess, eventually, this_node

import otp.node
from otp import AgentActor, AgentRef, Down, Inbox
from otp.errors import NameTaken

WAIT = 5.0


class Idle(AgentActor):
    pass


class Trio(NamedTuple):
    a: NodeProcess
    b: NodeProcess
    here: otp.node.Node
    names: dict[str, AgentRef[Any]]  # a Names agent on a and on b


@pytest.fixture(scope="module")
def trio() -> Iterator[Trio]:
    """a and b (otp-nodes) and this node, joined to both, for the whole module.

    Tests leave no names behind; a test that kills a node starts its own.
    """
    procs = [NodeProcess(n, "--heartbeat", str(FAST), wait=False) for n in ("a", "b")]
    try:
        for proc in procs:
            proc.wait_ready()
        a, b = procs
        with this_node(join=[a.address, b.address], heartbeat=FAST) as here:
            otp.node.wait_for(a.name, b.name, timeout=10)
            names = {p.name: otp.node.spawn(p.name, "remote_agents:Names") for p in (a, b)}
            # a and b are connected to each other too (each learned of the other from us)
            both = sorted([here.name, b.name])
            assert eventually(lambda: names[a.name].proxy().nodes().get(timeout=WAIT),
                              both) == both
            yield Trio(a, b, here, names)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.stop()


@pytest.fixture
def nodes(trio: Trio) -> Iterator[Trio]:
    """The module's nodes; names a test leaves registered are released after it."""
    yield trio
    for name in trio.here.names.names():
        otp.node.unregister_global(name)


def where(names: AgentRef[Any], name: str) -> Any:
    return names.proxy().whereis(name).get(timeout=WAIT)


def test_a_name_registered_here_is_seen_everywhere_and_released_on_exit(
        nodes: Trio) -> None:
    a, b, _here, names = nodes
    agent = Idle.spawn()
    otp.node.register_global("svc", agent)
    assert otp.node.whereis_global("svc") == agent
    for node in (a, b):
        assert eventually(lambda n=node: where(names[n.name], "svc"), agent) == agent
    assert "svc" in a.info()["names"]["global"]
    agent.stop()
    assert otp.node.whereis_global("svc") is None
    for node in (a, b):
        assert eventually(lambda n=node: where(names[n.name], "svc"), None) is None


def test_a_remote_agent_registered_from_here(
        nodes: Trio) -> None:
    a, b, _here, names = nodes
    echo = otp.node.spawn(a.name, "remote_agents:Echo")
    otp.node.register_global("echo", echo)
    assert eventually(lambda: where(names[b.name], "echo"), echo) == echo
    assert otp.node.whereis_global("echo").ask("via name", timeout=WAIT) == ("echo", "via name")
    echo.kill()  # its DOWN reaches the node that registered it, which releases the name
    assert eventually(lambda: otp.node.whereis_global("echo"), None) is None
    assert eventually(lambda: where(names[b.name], "echo"), None) is None


def test_a_taken_name_is_refused_here_and_there(
        nodes: Trio) -> None:
    a, _b, _here, names = nodes
    first = Idle.spawn()
    otp.node.register_global("taken", first)
    with pytest.raises(NameTaken) as info:
        otp.node.register_global("taken", Idle.spawn())
    assert info.value.holder == first
    otp.node.register_global("taken", first)  # the holder itself: no error
    eventually(lambda: where(names[a.name], "taken"), first)
    assert names[a.name].proxy().register("taken").get(timeout=WAIT).startswith("taken:")
    assert otp.node.whereis_global("taken") == first
    # a name registered on a is refused here
    assert names[a.name].proxy().register("from_a").get(timeout=WAIT) == "ok"
    assert otp.node.whereis_global("from_a") == names[a.name]
    with pytest.raises(NameTaken):
        otp.node.register_global("from_a", first)
    with pytest.raises(TypeError):
        otp.node.register_global("", first)
    dead = Idle.spawn()
    dead.stop()
    with pytest.raises(NameTaken, match="not alive"):
        otp.node.register_global("ghost", dead)


def test_unregister_releases_the_name_everywhere(
        nodes: Trio) -> None:
    a, b, _here, names = nodes
    agent = Idle.spawn()
    otp.node.register_global("temp", agent)
    eventually(lambda: where(names[b.name], "temp"), agent)
    otp.node.unregister_global("temp")
    assert otp.node.whereis_global("temp") is None
    for node in (a, b):  # b's claim is checked by a too: wait until both know
        assert eventually(lambda n=node: where(names[n.name], "temp"), None) is None
    assert names[b.name].proxy().register("temp").get(timeout=WAIT) == "ok"
    assert agent.is_alive()


def test_names_of_a_killed_node_are_released(
        nodes: Trio, cluster: Callable[..., NodeProcess]) -> None:
    a, _b, here, names = nodes
    d = cluster("d", "--heartbeat", str(FAST), "--join", here.address)
    otp.node.wait_for(d.name, timeout=10)
    on_d = otp.node.spawn(d.name, "remote_agents:Names")
    assert on_d.proxy().register("on_d").get(timeout=WAIT) == "ok"
    assert otp.node.whereis_global("on_d") == on_d
    assert eventually(lambda: where(names[a.name], "on_d"), on_d) == on_d
    with Inbox() as inbox:
        inbox.monitor(on_d)
        d.kill()
        inbox.receive(WAIT, lambda m: isinstance(m, Down))
    assert otp.node.whereis_global("on_d") is None
    assert eventually(lambda: where(names[a.name], "on_d"), None) is None
    otp.node.register_global("on_d", Idle.spawn())  # the name is free again


def test_a_node_that_joins_later_learns_the_names(
        nodes: Trio, cluster: Callable[..., NodeProcess]) -> None:
    _a, _b, here, _names = nodes
    agent = Idle.spawn()
    otp.node.register_global("early", agent)
    c = cluster("c", "--join", here.address)
    otp.node.wait_for(c.name, timeout=10)
    on_c = otp.node.spawn(c.name, "remote_agents:Names")
    assert eventually(lambda: where(on_c, "early"), agent) == agent
    assert "early" in c.info()["names"]["global"]
