"""Talking to agents on another node: tell, ask, proxies, stop and kill, links, monitors, spawn.

One otp-node ``a`` and this process's node ``t`` serve the whole module
(starting a node costs an interpreter start-up); every test starts its
own agents on ``a`` and leaves the nodes as it found them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import remote_agents
from cluster import FAST, NodeProcess, this_node

import otp.node
from otp import AgentActor, AgentRef, Down, Exit, Inbox
from otp.errors import NOCONNECTION, NOPROC, AgentExit, AskTimeout, NoProc, StartError

WAIT = 5.0  # seconds any single expected event may take


class Pair:
    def __init__(self, a: NodeProcess, here: otp.node.Node) -> None:
        self.a = a
        self.here = here

    def spawn(self, agent: Any = "remote_agents:Echo", **kwargs: Any) -> AgentRef[Any]:
        return otp.node.spawn(self.a.name, agent, **kwargs)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    a = NodeProcess("a", "--heartbeat", str(FAST))
    try:
        with this_node(join=[a.address], heartbeat=FAST) as here:
            otp.node.wait_for(a.name, timeout=10)
            yield Pair(a, here)
    finally:
        a.stop()


@pytest.fixture
def remote(pair: Pair) -> Pair:
    assert pair.a.proc.poll() is None, "otp-node a has exited"
    assert pair.a.name in otp.node.nodes()
    return pair


def is_down(mref: Any) -> Any:
    return lambda m: isinstance(m, Down) and m.ref == mref


class Collector(AgentActor):
    """A local agent that passes everything it receives to ``sink``."""

    def __init__(self, sink: AgentRef[Any], trap: bool = False) -> None:
        super().__init__()
        self.sink = sink
        self.trap_exit = trap

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message[:1] == ("link",):
            self.link(message[1])
            return "linked"
        self.sink.tell(("local", message))
        return None


# -- messages ----------------------------------------------------------------------------
def test_ask_answers_and_the_ref_knows_its_node(remote: Pair) -> None:
    ref = remote.spawn()
    assert ref.node == remote.a.name
    assert ref.class_name == "Echo"
    assert ref.ask("hi", timeout=WAIT) == ("echo", "hi")
    assert ref.ask({"k": [1, 2.5, b"x", None]}, timeout=WAIT) == ("echo", {"k": [1, 2.5, b"x", None]})


def test_tells_from_one_sender_arrive_in_order(remote: Pair) -> None:
    """Many tells (batched into frames) cross, and the remote agent's tells come back, in order."""
    ref = remote.spawn()
    n = 2000
    with Inbox() as inbox:
        for i in range(n):
            ref.tell(("tell", inbox.ref, i))
        got = [inbox.receive(WAIT) for _ in range(n)]
    assert got == list(range(n))


def test_tells_that_queue_up_share_frames(remote: Pair) -> None:
    """A burst of small tells to one peer leaves as batch frames, not a frame per message."""
    ref = remote.spawn()
    peer = remote.here.peer_for(remote.a.name)
    assert peer is not None
    before = peer.frames_out
    n = 5000
    for i in range(n):
        ref.tell(i)
    assert ref.ask("done", timeout=WAIT) == ("echo", "done")
    frames = peer.frames_out - before
    assert 1 <= frames <= n // 10, f"{n} tells took {frames} frames"
    assert ref.proxy().count.get(timeout=WAIT) == n + 1


def test_remote_exception_arrives_as_its_type_and_the_agent_has_crashed(remote: Pair) -> None:
    ref = remote.spawn()
    with Inbox() as inbox:
        mref = inbox.monitor(ref)
        with pytest.raises(RuntimeError, match="asked to crash"):
            ref.ask("crash", timeout=WAIT)
        down = inbox.receive(WAIT, is_down(mref))
    assert isinstance(down.reason, RuntimeError)
    assert down.agent == ref
    assert not ref.is_alive()
    with pytest.raises(NoProc):
        ref.ask("hi", timeout=WAIT)


def test_proxy_method_and_attributes(remote: Pair) -> None:
    ref = remote.spawn()
    proxy = ref.proxy()
    assert proxy.add(2, 3).get(timeout=WAIT) == 5
    with pytest.raises(KeyError, match="boom"):
        proxy.fail("boom").get(timeout=WAIT)
    ref = remote.spawn()  # fail() crashed the first one
    proxy = ref.proxy()
    ref.ask("one", timeout=WAIT)
    assert proxy.count.get(timeout=WAIT) == 1
    proxy.count = 41
    assert proxy.count.get(timeout=WAIT) == 41
    proxy.add.defer(1, 1)  # a tell: no answer, but it is handled in order
    assert ref.ask("x", timeout=WAIT) == ("echo", "x")
    assert proxy.count.get(timeout=WAIT) == 42
    with pytest.raises(AttributeError):
        proxy.missing.get(timeout=WAIT)


def test_a_private_name_is_refused_remotely_too(remote: Pair) -> None:
    ref = remote.spawn()
    with pytest.raises(AttributeError):
        ref.proxy()._otp_proc  # noqa: B018 - refused locally before anything is sent
    from pykka.messages import ProxyGetAttr

    with pytest.raises(ValueError, match="refused"):
        ref.ask(ProxyGetAttr(("_otp_proc",)), timeout=WAIT)
    assert ref.ask("still here", timeout=WAIT) == ("echo", "still here")


def test_big_messages_are_split_into_frames_in_order(remote: Pair) -> None:
    """Messages that queue up are batched, but never past the frame limit (1 MiB)."""
    ref = remote.spawn()
    blobs = [bytes([i]) * (400 << 10) for i in range(6)]  # 2.4 MiB in all
    with Inbox() as inbox:
        for i, blob in enumerate(blobs):
            ref.tell(("tell", inbox.ref, (i, blob)))
        got = [inbox.receive(WAIT) for _ in blobs]
    assert [i for i, _ in got] == list(range(6))
    assert [blob for _, blob in got] == blobs
    assert remote.here.codec.dropped.get("oversized", 0) == 0


def test_what_cannot_cross_is_refused_in_the_sender(remote: Pair) -> None:
    from otp.codec import CodecError

    ref = remote.spawn()
    with pytest.raises(CodecError, match="set"):
        ref.tell({1, 2})
    with pytest.raises(CodecError, match="set"):
        ref.ask({1, 2}, timeout=WAIT)
    # an answer that cannot cross: the asker gets the CodecError; the agent lives on
    with pytest.raises(CodecError, match="method"):
        ref.proxy().busy.get(timeout=WAIT)
    assert ref.ask("ok", timeout=WAIT) == ("echo", "ok")
    assert ref.proxy().count.get(timeout=WAIT) == 1


def test_async_agents_and_async_callers(remote: Pair) -> None:
    import asyncio

    ref = remote.spawn(kind="async")
    assert ref.ask("x", timeout=WAIT) == ("echo", "x")

    async def main() -> Any:
        return await ref.ask_async("y", timeout=WAIT)

    assert asyncio.run(main()) == ("echo", "y")
    with pytest.raises(AskTimeout, match="still alive"):
        ref.join(timeout=0.2)
    peer = remote.here.peer_for(remote.a.name)
    assert peer is not None and not peer.mon_out  # the join's monitor was removed


def test_ask_timeout_then_the_late_reply_is_dropped(remote: Pair) -> None:
    ref = remote.spawn()
    start = time.monotonic()
    with pytest.raises(AskTimeout):
        ref.ask(("sleep", 0.6), timeout=0.2)
    assert time.monotonic() - start < 0.5
    peer = remote.here.peer_for(remote.a.name)
    assert peer is not None
    # the next answer is its own, not the late ("slept", 0.6)
    assert ref.ask("after", timeout=WAIT) == ("echo", "after")
    assert not peer.asks  # the late reply found no waiter and was dropped
    assert remote.here.codec.dropped.get("bad_operation", 0) == 0


def test_ask_of_a_dead_remote_agent_raises_noproc(remote: Pair) -> None:
    ref = remote.spawn()
    ref.kill()
    with Inbox() as inbox:
        inbox.monitor(ref)
        inbox.receive(WAIT, lambda m: isinstance(m, Down))
    with pytest.raises(NoProc):
        ref.ask("hi", timeout=WAIT)
    # a ref learned over the wire after its agent died is dead too
    other = remote.spawn()
    other.stop(timeout=WAIT)
    with pytest.raises(NoProc):
        other.ask("hi", timeout=WAIT)


def test_remote_stop_and_kill(remote: Pair) -> None:
    ref = remote.spawn()
    assert ref.stop(timeout=WAIT) is True
    assert ref.join(timeout=WAIT) == "normal"
    assert not ref.is_alive()
    assert ref.stop(timeout=WAIT) is False
    ref = remote.spawn()
    with Inbox() as inbox:
        mref = inbox.monitor(ref)
        ref.kill()
        assert inbox.receive(WAIT, is_down(mref)).reason == "killed"
    assert not ref.is_alive()
    assert ref.join(timeout=WAIT) == "killed"


def test_stop_waits_for_the_queued_messages(remote: Pair) -> None:
    ref = remote.spawn()
    with Inbox() as inbox:
        for i in range(50):
            ref.tell(("tell", inbox.ref, i))
        assert ref.stop(timeout=WAIT) is True
        assert [inbox.receive(WAIT) for _ in range(50)] == list(range(50))


# -- links and monitors ------------------------------------------------------------------
def test_monitor_gives_down_with_the_reason_and_demonitor_stops_it(remote: Pair) -> None:
    ref = remote.spawn()
    other = remote.spawn()
    with Inbox() as inbox:
        m1 = inbox.monitor(ref)
        m2 = inbox.monitor(other)
        assert inbox.demonitor(m2) is True
        other.kill()
        ref.proxy().fail("x")
        down = inbox.receive(WAIT, is_down(m1))
        assert isinstance(down.reason, KeyError)
        m3 = inbox.monitor(other)
        assert inbox.receive(WAIT, is_down(m3)).reason in ("killed", NOPROC)
        assert not [m for m in inbox.pending() if isinstance(m, Down) and m.ref == m2]
        peer = remote.here.peer_for(remote.a.name)
        assert peer is not None
        assert m1 not in peer.mon_out and m2 not in peer.mon_out


def test_monitor_of_an_already_dead_remote_agent_gives_noproc(remote: Pair) -> None:
    ref = remote.spawn()
    ref.stop(timeout=WAIT)
    ref._proc.dead = False  # forget what we know: ask the node itself
    with Inbox() as inbox:
        mref = inbox.monitor(ref)
        down = inbox.receive(WAIT, is_down(mref))
    assert down.reason == NOPROC


def test_local_agent_linked_to_a_remote_one_dies_with_it(remote: Pair) -> None:
    ref = remote.spawn()
    with Inbox() as inbox:
        local = Collector.spawn(args=(inbox.ref,))
        assert local.ask(("link", ref), timeout=WAIT) == "linked"
        lmon = inbox.monitor(local)
        ref.proxy().fail("linked crash")
        down = inbox.receive(WAIT, is_down(lmon))
    assert isinstance(down.reason, KeyError)
    assert not local.is_alive()


def test_trapping_local_agent_gets_exit_with_the_remote_reason(remote: Pair) -> None:
    ref = remote.spawn()
    with Inbox() as inbox:
        local = Collector.spawn(args=(inbox.ref, True))
        local.ask(("link", ref), timeout=WAIT)
        ref.kill()
        _tag, exit_ = inbox.receive(WAIT, lambda m: m[0] == "local" and isinstance(m[1], Exit))
    assert exit_.agent == ref
    assert exit_.reason == "killed"
    assert local.is_alive()


def test_inbox_linked_to_remote_gets_exit(remote: Pair) -> None:
    ref = remote.spawn()
    with Inbox() as inbox:
        inbox.link(ref)
        ref.tell("crash")
        exit_ = inbox.receive(WAIT, lambda m: isinstance(m, Exit))
    assert exit_.agent == ref
    assert isinstance(exit_.reason, RuntimeError)


def test_remote_agent_linked_to_a_local_one_dies_with_it(remote: Pair) -> None:
    with Inbox() as inbox:
        relay = remote.spawn("remote_agents:Relay", args=(inbox.ref, False))
        local = Collector.spawn(args=(inbox.ref,))
        assert relay.ask(("link", local), timeout=WAIT) == "linked"
        rmon = inbox.monitor(relay)
        local.kill()
        down = inbox.receive(WAIT, is_down(rmon))
    assert down.reason == "killed"


def test_trapping_remote_agent_reports_exit_and_down_of_local_ones(remote: Pair) -> None:
    with Inbox() as inbox:
        relay = remote.spawn("remote_agents:Relay", args=(inbox.ref,))
        linked = Collector.spawn(args=(inbox.ref,))
        watched = Collector.spawn(args=(inbox.ref,))
        relay.ask(("link", linked), timeout=WAIT)
        mref = relay.ask(("monitor", watched), timeout=WAIT)
        assert mref.node == remote.a.name
        linked.kill()
        watched.stop(timeout=WAIT)
        got = {m[1]: m[2:] for m in (inbox.receive(WAIT, lambda m: m[0] == "relay")
                                     for _ in range(2))}
        assert got["Exit"] == (linked, "killed")
        assert got["Down"] == (mref, watched, "normal")
        # and a monitor from there of a local agent that is gone: noproc
        mref2 = relay.ask(("monitor", watched), timeout=WAIT)
        reported = inbox.receive(WAIT, lambda m: m[0] == "relay" and m[2] == mref2)
        assert reported == ("relay", "Down", mref2, watched, NOPROC)
        assert relay.is_alive()


def test_unlink_across_nodes(remote: Pair) -> None:
    with Inbox() as inbox:
        relay = remote.spawn("remote_agents:Relay", args=(inbox.ref, False))
        local = Collector.spawn(args=(inbox.ref,))
        relay.ask(("link", local), timeout=WAIT)
        relay.ask(("unlink", local), timeout=WAIT)
        local.kill()
        time.sleep(0.2)
        assert relay.ask(("monitor", local), timeout=WAIT) is not None  # still alive
        peer = remote.here.peer_for(remote.a.name)
        assert peer is not None
        assert not any(relay in pair for pair in peer.links)


# -- remote spawn --------------------------------------------------------------------------
def test_spawn_by_class_with_args_and_a_name(remote: Pair) -> None:
    with Inbox() as inbox:
        ref = remote.spawn(remote_agents.Relay, args=(inbox.ref,), name="relay1")
        assert ref.node == remote.a.name
        names = remote.a.info()["names"]["local"]
        assert "relay1" in names
        with pytest.raises(StartError, match="relay1"):
            remote.spawn(remote_agents.Relay, args=(inbox.ref,), name="relay1")
        ref.stop(timeout=WAIT)
    assert "relay1" not in remote.a.info()["names"]["local"]


def test_spawn_with_a_bad_import_path_says_why(remote: Pair) -> None:
    with pytest.raises(StartError, match="no_such_module"):
        remote.spawn("no_such_module:Agent")
    with pytest.raises(StartError, match="NoSuchClass"):
        remote.spawn("remote_agents:NoSuchClass")
    with pytest.raises(StartError, match="not an AgentActor"):
        remote.spawn("remote_agents:AgentRef")
    with pytest.raises(ValueError, match="package.module:Class"):
        remote.spawn("no colon")


def test_spawn_failing_on_start_raises_start_error(remote: Pair) -> None:
    with pytest.raises(StartError, match="no start today") as info:
        remote.spawn(remote_agents.FailsToStart)
    assert isinstance(info.value.reason, ValueError)


def test_spawn_on_an_unknown_node_is_noconnection(remote: Pair) -> None:
    with pytest.raises(AgentExit) as info:
        otp.node.spawn("nobody@127.0.0.1", "remote_agents:Echo", timeout=WAIT)
    assert info.value.reason == NOCONNECTION


def test_spawn_linked_to_a_local_agent(remote: Pair) -> None:
    with Inbox() as inbox:
        ref = remote.spawn(link=inbox.ref)
        ref.kill()
        exit_ = inbox.receive(WAIT, lambda m: isinstance(m, Exit))
    assert exit_.agent == ref and exit_.reason == "killed"


def test_spawn_on_this_node_by_name_runs_here(remote: Pair) -> None:
    ref = otp.node.spawn(remote.here.name, "remote_agents:Echo")
    assert ref.node == ""
    assert ref.ask("x", timeout=WAIT) == ("echo", "x")
