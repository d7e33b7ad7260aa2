"""Losing a node: kill -9, SIGSTOP (a hung node), a busy node, a node restarted.

Every link and monitor across a lost node fires with ``noconnection``;
watchers of ``monitor_nodes`` get ``NodeDown``. Both sides use a 0.5 s
heartbeat (``FAST``) so a silent peer is detected quickly; a node killed
outright is detected at once (its TCP connections are closed by the
kernel). The measured detection times are printed (``pytest -s``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from cluster import FAST, NodeProcess

import otp.node
from otp import AgentActor, AgentRef, Down, Exit, Inbox
from otp.errors import NOCONNECTION, AgentExit
from otp.node import NodeDown, NodeUp

WAIT = 5.0
KILL_BOUND = 2.0  # seconds: a killed node is detected at once; this bound is generous
STOP_BOUND = FAST + 1.5  # seconds: the heartbeat window and a margin for a loaded machine


class Linked(AgentActor):
    """A local agent that links to a ref when asked (and does not trap exits)."""

    def on_receive(self, message: Any) -> Any:
        self.link(message)
        return "linked"


def is_node_event(kind: type, name: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, kind) and m.node == name


def connect(start_node: Callable[..., otp.node.Node], *procs: NodeProcess) -> otp.node.Node:
    here = start_node(join=[p.address for p in procs], heartbeat=FAST)
    otp.node.wait_for(*(p.name for p in procs), timeout=10)
    return here


def test_kill_9_fires_links_monitors_asks_and_node_down(
        cluster: Callable[..., NodeProcess], start_node: Callable[..., otp.node.Node]) -> None:
    b = cluster("b", "--heartbeat", str(FAST))
    connect(start_node, b)
    echo = otp.node.spawn(b.name, "remote_agents:Echo")
    linked_to = otp.node.spawn(b.name, "remote_agents:Echo")
    local = Linked.spawn()
    local.ask(linked_to, timeout=WAIT)
    with Inbox() as inbox:
        otp.node.monitor_nodes(inbox.ref)
        mref = inbox.monitor(echo)
        lmon = inbox.monitor(local)
        inbox.link(linked_to)
        pending = echo.ask(("sleep", 30), block=False)
        time.sleep(0.1)  # let the ask reach b
        start = time.monotonic()
        b.kill()
        down = inbox.receive(WAIT, lambda m: isinstance(m, Down) and m.ref == mref)
        detected = time.monotonic() - start
        node_down = inbox.receive(WAIT, is_node_event(NodeDown, b.name))
        exit_ = inbox.receive(WAIT, lambda m: isinstance(m, Exit))
        local_down = inbox.receive(WAIT, lambda m: isinstance(m, Down) and m.ref == lmon)
        otp.node.demonitor_nodes(inbox.ref)
    print(f"\nkill -9 detected in {detected * 1000:.0f} ms")
    assert detected < KILL_BOUND
    assert down.reason == NOCONNECTION and down.agent == echo
    assert node_down == NodeDown(b.name, NOCONNECTION)
    assert exit_ == Exit(linked_to, NOCONNECTION)
    assert local_down.reason == NOCONNECTION  # the local agent died with its link
    with pytest.raises(AgentExit) as info:
        pending.get(timeout=WAIT)
    assert info.value.reason == NOCONNECTION
    assert not echo.is_alive() and echo.exit_reason == NOCONNECTION
    assert b.name not in otp.node.nodes()
    # what needs the lost node now fails at once, with noconnection
    with pytest.raises(AgentExit) as info:
        echo.ask("hi", timeout=WAIT)
    assert info.value.reason == NOCONNECTION
    with pytest.raises(AgentExit) as info:
        otp.node.spawn(b.name, "remote_agents:Echo", timeout=WAIT)
    assert info.value.reason == NOCONNECTION
    with Inbox() as inbox:
        mref = inbox.monitor(echo)
        assert inbox.receive(WAIT, lambda m: isinstance(m, Down)).reason == NOCONNECTION


@pytest.mark.parametrize("held", [0.0, 1.0], ids=["resumed-at-once", "held-1s"])
def test_sigstop_is_detected_by_heartbeats_and_sigcont_brings_it_back(
        cluster: Callable[..., NodeProcess], start_node: Callable[..., otp.node.Node],
        held: float) -> None:
    """Resumed at once, the paused node may not have been timed out by our side yet."""
    b = cluster("b", "--heartbeat", str(FAST))
    here = connect(start_node, b)
    echo = otp.node.spawn(b.name, "remote_agents:Echo")
    with Inbox() as inbox:
        otp.node.monitor_nodes(inbox.ref)
        mref = inbox.monitor(echo)
        start = time.monotonic()
        b.pause()
        try:
            down = inbox.receive(STOP_BOUND + 2, lambda m: isinstance(m, Down) and m.ref == mref)
            detected = time.monotonic() - start
            inbox.receive(WAIT, is_node_event(NodeDown, b.name))
            assert b.name not in otp.node.nodes()
            time.sleep(held)
        finally:
            b.resume()
        print(f"\nSIGSTOP detected in {detected * 1000:.0f} ms (heartbeat {FAST} s)")
        assert down.reason == NOCONNECTION
        assert FAST * 0.5 < detected < STOP_BOUND
        start = time.monotonic()
        inbox.receive(WAIT, is_node_event(NodeUp, b.name))
        print(f"back {(time.monotonic() - start) * 1000:.0f} ms after SIGCONT")
        otp.node.demonitor_nodes(inbox.ref)
    # both sides agree the pair was lost: b fired noconnection too
    assert b.wait_logged("node_down", timeout=WAIT, peer=here.name)["reason"] == NOCONNECTION
    # the agent ran on all along: the same ref works again, and so does a fresh spawn
    assert echo.is_alive()
    assert echo.ask("again", timeout=WAIT) == ("echo", "again")
    assert otp.node.spawn(b.name, "remote_agents:Echo").ask(1, timeout=WAIT) == ("echo", 1)


def test_a_busy_node_is_not_taken_for_a_lost_one(
        cluster: Callable[..., NodeProcess], start_node: Callable[..., otp.node.Node]) -> None:
    b = cluster("b", "--heartbeat", str(FAST))
    connect(start_node, b)
    echo = otp.node.spawn(b.name, "remote_agents:Echo")
    with Inbox() as inbox:
        otp.node.monitor_nodes(inbox.ref)
        mref = inbox.monitor(echo)
        busy = echo.proxy().busy(3.0)
        assert busy.get(timeout=WAIT + 3) == 3.0
        otp.node.demonitor_nodes(inbox.ref)
        assert inbox.pending() == []  # no NodeDown, no Down
        inbox.demonitor(mref)
    assert b.name in otp.node.nodes()
    assert echo.ask("still", timeout=WAIT) == ("echo", "still")
    assert not b.logged("node_down")


def test_a_node_restarted_under_its_name_at_a_new_address_is_reached(
        cluster: Callable[..., NodeProcess], start_node: Callable[..., otp.node.Node]) -> None:
    b = cluster("b", "--heartbeat", str(FAST))
    here = connect(start_node, b)
    old = otp.node.spawn(b.name, "remote_agents:Echo")
    with Inbox() as inbox:
        otp.node.monitor_nodes(inbox.ref)
        b.kill()
        inbox.receive(WAIT, is_node_event(NodeDown, b.name))
        b2 = cluster("b", "--heartbeat", str(FAST), "--join", here.address)
        assert b2.address != b.address
        inbox.receive(WAIT, is_node_event(NodeUp, b.name))
        otp.node.demonitor_nodes(inbox.ref)
    assert otp.node.nodes() == [b.name]
    ref = otp.node.spawn(b2.name, "remote_agents:Echo", timeout=WAIT)
    assert ref.ask("new", timeout=WAIT) == ("echo", "new")
    info = b2.info()
    assert [(p["name"], p["state"]) for p in info["nodes"]] == [(here.name, "up")]
    # while b2 is up, a third node named b is another node: refused, b2 undisturbed
    b3 = cluster("b", "--join", here.address)
    b3.wait_logged("peer_rejected", timeout=WAIT, reason="rejected_by_peer")
    assert not b3.logged("node_up")
    assert otp.node.nodes() == [b.name]
    assert ref.ask("still b2", timeout=WAIT) == ("echo", "still b2")
    b3.stop()
    # a ref to an agent of the old incarnation does not reach a namesake there
    with Inbox() as inbox:
        inbox.monitor(old)
        assert inbox.receive(WAIT, lambda m: isinstance(m, Down)).reason in ("noproc",
                                                                            NOCONNECTION)


def test_a_lost_node_fires_monitors_held_on_a_third_node(
        cluster: Callable[..., NodeProcess], start_node: Callable[..., otp.node.Node]) -> None:
    """b's agent monitors and links to agents on c; c is killed; b's agent reports noconnection."""
    b, c = cluster.many(("b", "--heartbeat", str(FAST)),  # type: ignore[attr-defined]
                        ("c", "--heartbeat", str(FAST)))
    connect(start_node, b, c)
    with Inbox() as inbox:
        relay = otp.node.spawn(b.name, "remote_agents:Relay", args=(inbox.ref,))
        on_c = otp.node.spawn(c.name, "remote_agents:Echo")
        linked_on_c = otp.node.spawn(c.name, "remote_agents:Echo")
        mref = relay.ask(("monitor", on_c), timeout=WAIT)
        relay.ask(("link", linked_on_c), timeout=WAIT)
        c.kill()
        got = {m[1]: m[2:] for m in (inbox.receive(WAIT, lambda m: m[0] == "relay")
                                     for _ in range(2))}
    assert got["Down"] == (mref, on_c, NOCONNECTION)
    assert got["Exit"] == (linked_on_c, NOCONNECTION)
    assert relay.is_alive() and b.name in otp.node.nodes()


def test_stopping_this_node_fires_what_spans_it_on_both_sides(
        cluster: Callable[..., NodeProcess], start_node: Callable[..., otp.node.Node]) -> None:
    """otp.node.stop() here: links and monitors across fire with noconnection on both sides."""
    b = cluster("b", "--heartbeat", str(FAST))
    here = connect(start_node, b)
    with Inbox() as report:
        relay = otp.node.spawn(b.name, "remote_agents:Relay", args=(report.ref, False))
        watcher = otp.node.spawn(b.name, "remote_agents:Relay", args=(report.ref,))
        linked = Linked.spawn()
        unlinked = Linked.spawn()
        relay.ask(("link", linked), timeout=WAIT)
        watcher.ask(("monitor", unlinked), timeout=WAIT)
        lmon = report.monitor(linked)
        otp.node.stop()
        assert report.receive(WAIT, lambda m: isinstance(m, Down) and m.ref == lmon).reason \
            == NOCONNECTION
        record = b.wait_logged("node_down", timeout=WAIT, peer=here.name)
        assert record["reason"] == NOCONNECTION
    assert unlinked.is_alive()  # agents keep running without their node
    start_node(join=[b.address], heartbeat=FAST)
    otp.node.wait_for(b.name, timeout=10)
    # on b: the relay linked to our agent died of noconnection; the watcher lives on
    assert relay.join(timeout=WAIT) in (NOCONNECTION, "noproc")
    assert watcher.is_alive()
    classes = [a["class"] for a in b.info()["agents"]]
    assert classes.count("Relay") == 1


def test_remote_refs_after_the_node_is_gone_for_good(
        cluster: Callable[..., NodeProcess], start_node: Callable[..., otp.node.Node]) -> None:
    """A tell to an agent of a lost node is a dead letter; stop() says it was not alive."""
    b = cluster("b", "--heartbeat", str(FAST))
    connect(start_node, b)
    echo: AgentRef[Any] = otp.node.spawn(b.name, "remote_agents:Echo")
    with Inbox() as inbox:
        mref = inbox.monitor(echo)
        b.kill()
        inbox.receive(WAIT, lambda m: isinstance(m, Down) and m.ref == mref)
    before = otp.dead_letters()
    echo.tell("into the void")
    assert otp.dead_letters() == before + 1
    assert echo.stop(timeout=WAIT) is False
