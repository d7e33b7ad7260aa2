"""Pools whose members run on real otp-node processes (issue #5).

Two otp-nodes ``b`` and ``c`` and this process's node ``t`` serve the
module; each test starts its own pool, ``Pool.start(Voter, 6, nodes=[b, c, t])``
(two members on each node), and ends it. The node-loss test starts a node
of its own, ``d``, and kill -9s it in the middle of a fan-out. The members
are ``pool_agents.Voter`` (see there for the plans that tell each member
what to answer).
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cluster import FAST, NodeProcess, this_node
from pool_agents import Voter
from pool_support import eventually, plan, timed_ask

import otp.node
from otp import AgentRef
from otp.errors import NOCONNECTION, AgentExit, AskTimeout
from otp.pool import FanOutResult, NoConsensus, Pool, quorum

WAIT = 5.0
SLOW = 1.5  # seconds a straggler sleeps (it is killed when its test ends)
PROMPT = 1.0  # seconds a decision that does not wait for stragglers may take


class Cluster:
    def __init__(self, b: NodeProcess, c: NodeProcess, here: otp.node.Node) -> None:
        self.b, self.c, self.here = b, c, here
        self.nodes = [b.name, c.name, here.name]


@pytest.fixture(scope="module")
def three() -> Iterator[Cluster]:
    b = NodeProcess("b", "--heartbeat", str(FAST), wait=False)
    c = NodeProcess("c", "--heartbeat", str(FAST), wait=False)
    try:
        b.wait_ready()
        c.wait_ready()
        with this_node(join=[b.address, c.address], heartbeat=FAST) as here:
            otp.node.wait_for(b.name, c.name, timeout=10)
            yield Cluster(b, c, here)
    finally:
        b.terminate()
        c.terminate()
        b.stop()
        c.stop()


def end(pool: Pool) -> None:
    """Kill the pool's supervisor: its members die with it at once, even mid-handler."""
    members = pool.members()
    sup = pool.supervisor
    assert sup is not None
    sup.kill()
    for m in members:
        m.join(WAIT)


@pytest.fixture
def start_pool(three: Cluster) -> Iterator[Callable[..., Pool]]:
    """``start_pool(size=6, nodes=...)``: a pool of Voters over b, c and t, ended after the test."""
    for proc in (three.b, three.c):
        assert proc.proc.poll() is None, f"otp-node {proc.name} has exited"
    assert set(otp.node.nodes()) >= {three.b.name, three.c.name}
    pools: list[Pool] = []

    def start(size: int = 6, nodes: list[str] | None = None, **kwargs: Any) -> Pool:
        pool = Pool.start(Voter, size, nodes=nodes or three.nodes, **kwargs)
        pools.append(pool)
        return pool

    yield start
    for pool in pools:
        end(pool)


def where(cluster: Cluster, ref: AgentRef[Any]) -> str:
    return ref.node or cluster.here.name


# -- strategies over three nodes ----------------------------------------------------------
def test_members_are_spread_over_the_nodes_and_all_answer(
        three: Cluster, start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    assert [where(three, m) for m in ms] == three.nodes * 2
    assert [m.ask("whoami", timeout=WAIT) for m in ms] == [m.id for m in ms]
    result = pool.ask(plan(*((m, ("value", i)) for i, m in enumerate(ms))), timeout=WAIT)
    assert result.ok and result.value == list(range(6)) and result.agreed == ms


def test_first_over_nodes(start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    fast = ms[4]  # on c
    message = plan(*((m, ("value", "fast") if m == fast else ("sleep", SLOW, "slow")) for m in ms))
    result, took = timed_ask(pool, message, strategy="first", timeout=WAIT)
    assert took < PROMPT
    assert result.ok and result.value == "fast" and result.agreed == [fast]
    assert len(result.missing) == 5
    time.sleep(SLOW + 0.2)  # the stragglers answer: the result stays as it was
    assert result.votes == {fast: "fast"} and len(result.missing) == 5


def test_majority_over_nodes(three: Cluster, start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    on_b = [m for m in ms if m.node == three.b.name]
    result = pool.ask(plan(*((m, ("value", "no")) for m in on_b)), strategy="majority",
                      timeout=WAIT)
    assert result.ok and result.value == "yes"
    assert set(result.agreed) == set(ms) - set(on_b)


def test_quorum_over_nodes_decides_without_the_stragglers(
        three: Cluster, start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    x = [ms[0], ms[1]]  # one on b, one on c
    message = plan(*((m, ("value", "x") if m in x else ("sleep", SLOW, "y")) for m in ms))
    result, took = timed_ask(pool, message, strategy=quorum(2), timeout=WAIT)
    assert took < PROMPT
    assert result.ok and result.value == "x" and set(result.agreed) == set(x)
    assert {m.node for m in x} == {three.b.name, three.c.name}


def test_a_tie_over_nodes_has_no_majority(start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    result = pool.ask(plan(*((m, ("value", "ab"[i % 2])) for i, m in enumerate(ms))),
                      strategy="majority", timeout=WAIT)
    assert not result.ok and result.reason == "no_majority" and len(result.votes) == 6
    with pytest.raises(NoConsensus) as info:
        result.get()
    assert info.value.result is result


def test_no_quorum_over_nodes_is_decided_early(start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    message = plan(*((m, ("value", i)) for i, m in enumerate(ms[:5])), (ms[5], ("sleep", SLOW, 0)))
    result, took = timed_ask(pool, message, strategy=quorum(3), timeout=WAIT)
    assert took < PROMPT
    assert result.reason == "no_quorum" and result.missing == [ms[5]]


def test_remote_failures_are_reported_per_member_with_their_type(
        three: Cluster, start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    errors = {three.b.name: KeyError, three.c.name: ValueError, three.here.name: OSError}
    fails = {m: ("raise", errors[where(three, m)].__name__, "no") for m in ms}
    result = pool.ask(plan(*fails.items()), strategy="first", timeout=WAIT)
    assert result.reason == "all_failed" and result.votes == {} and result.missing == []
    assert {m: type(e) for m, e in result.errors.items()} == \
        {m: errors[where(three, m)] for m in ms}
    # the crashed members are restarted by the pool's supervisor and rejoin
    assert eventually(lambda: len(pool.members()) == 6 and not set(pool.members()) & set(ms))
    # "all" is failed by the first failure, whichever member it is
    ms = pool.members()
    fails = {m: ("raise", "KeyError", "k") for m in ms if m.node == three.b.name}
    result = pool.ask(plan(*fails.items()), timeout=WAIT)
    assert result.reason == "failed" and result.errors and set(result.errors) <= set(fails)
    assert all(type(e) is KeyError for e in result.errors.values())


def test_key_functions_and_unhashable_answers_over_nodes(start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    cases = ["Yes", "YES", "yes", "no", "yEs", "No"]
    result = pool.ask(plan(*((m, ("value", v)) for m, v in zip(ms, cases, strict=True))),
                      strategy="majority", key=str.casefold, timeout=WAIT)
    assert result.ok and result.value.casefold() == "yes" and len(result.agreed) == 4
    answers = [{"a": [1]}, [1, 2], {"a": [1]}, [1, 2], {"a": [1]}, [3]]
    result = pool.ask(plan(*((m, ("value", v)) for m, v in zip(ms, answers, strict=True))),
                      strategy=quorum(3), timeout=WAIT)
    assert result.ok and result.value == {"a": [1]}
    assert set(result.agreed) == {ms[0], ms[2], ms[4]}


def test_the_timeout_over_nodes(three: Cluster, start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    late = [m for m in ms if m.node == three.b.name]
    message = plan(*((m, ("sleep", SLOW, "yes")) for m in late))
    result, took = timed_ask(pool, message, timeout=0.4)
    assert 0.35 < took < 0.4 + 0.5
    assert result.reason == "timeout" and result.missing == late
    assert all(type(result.errors[m]) is AskTimeout for m in late)
    assert len(result.votes) == 4


# -- membership ----------------------------------------------------------------------------------
def test_a_killed_remote_member_leaves_and_rejoins(
        three: Cluster, start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    first = pool.members()
    victim = first[1]  # on c
    victim.kill()
    assert eventually(lambda: victim not in pool.members(), 2.0)
    assert eventually(lambda: len(pool.members()) == 6)
    now = pool.members()
    assert now[1] != victim and now[1].node == three.c.name
    assert [m for i, m in enumerate(now) if i != 1] == [m for i, m in enumerate(first) if i != 1]
    assert pool.ask(("vote", {}), timeout=WAIT).value == ["yes"] * 6


def test_a_node_killed_in_the_middle_of_a_fan_out(
        three: Cluster, start_pool: Callable[..., Pool]) -> None:
    d = NodeProcess("d", "--heartbeat", str(FAST), "--join", three.here.address)
    try:
        otp.node.wait_for(d.name, timeout=10)
        pool = start_pool(nodes=[d.name, three.c.name, three.here.name])
        ms = pool.members()
        on_d = [m for m in ms if m.node == d.name]
        assert len(on_d) == 2
        # d's members would answer in 10 s; the others say "yes" in 2 s
        message = plan(*((m, ("sleep", 10, "late") if m in on_d else ("sleep", 2.0, "yes"))
                         for m in ms))
        results: dict[str, tuple[FanOutResult, float]] = {}

        def ask(strategy: Any) -> None:
            result = pool.ask(message, strategy=strategy, timeout=8)
            results[str(strategy)] = (result, time.monotonic())

        threads = [threading.Thread(target=ask, args=(s,)) for s in ("majority", quorum(5))]
        for t in threads:  # the majority first: every member takes its ask first
            t.start()
            time.sleep(0.2)
        time.sleep(0.1)  # both fan-outs have reached every member
        killed_at = time.monotonic()
        d.kill()
        for t in threads:
            t.join(10)
        assert not set(pool.members()) & set(on_d)  # they left the pool with their node
        # 5 cannot agree without d's members: decided as soon as the loss is seen
        failed, at = results["quorum(5)"]
        print(f"\nkill -9 of d: quorum(5) failed {at - killed_at:.3f} s later")
        assert failed.reason == "no_quorum"
        assert at - killed_at < 1.5
        assert set(failed.errors) == set(on_d) and len(failed.missing) == 4
        # the majority is decided from the rest, without waiting for the 8 s timeout
        decided, at = results["majority"]
        assert decided.ok and decided.value == "yes", decided
        assert at - killed_at < 3.5
        assert set(decided.agreed) == set(ms) - set(on_d)
        assert set(decided.errors) == set(on_d)
        for m in on_d:
            err = decided.errors[m]
            assert isinstance(err, AgentExit) and err.reason == NOCONNECTION
        # d's members are restarted on c (the next of the pool's nodes) and rejoin
        assert eventually(lambda: len(pool.members()) == 6, 10)
        now = pool.members()
        assert not set(now) & set(on_d)
        assert [where(three, m) for m in now].count(three.c.name) == 4
        # (the others are still busy with the quorum(5) ask: the two new members answer)
        assert pool.ask(("vote", {}), strategy=quorum(2), timeout=WAIT).get() == "yes"
    finally:
        d.stop()


# -- routing ---------------------------------------------------------------------------------
def test_round_robin_over_nodes(three: Cluster, start_pool: Callable[..., Pool]) -> None:
    pool = start_pool()
    ms = pool.members()
    answers = [pool.route("whoami", timeout=WAIT) for _ in range(18)]
    assert {m.id: answers.count(m.id) for m in ms} == {m.id: 3 for m in ms}


def test_least_loaded_over_nodes(three: Cluster, start_pool: Callable[..., Pool]) -> None:
    pool = start_pool(3, routing="least_loaded")
    ms = pool.members()
    busy = pool.route_future(("work", 0.6))  # all idle: the first member (on b) takes it
    assert ms[0].node == three.b.name
    assert ms[0].id not in {pool.route("whoami", timeout=WAIT) for _ in range(6)}
    assert busy.get(timeout=WAIT) == ms[0].id
    # a route that times out, or a future dropped, is counted down when the answer comes
    with pytest.raises(AskTimeout):
        pool.route(("work", 0.5), timeout=0.1)
    pool.route_future(("work", 0.3))
    gc.collect()
    assert eventually(lambda: pool.router.in_flight == {}, 3.0), pool.router.in_flight


def test_hash_over_nodes_moves_only_the_keys_of_a_member_that_leaves(
        three: Cluster) -> None:
    ms = [otp.node.spawn(n, Voter) for n in three.nodes * 2]
    pool = Pool.of(ms, routing="hash")
    keys = list(range(200))
    owner = {k: pool.router.pick(pool.members(), k) for k in keys}
    assert len(set(owner.values())) == 6
    for k in (0, 1, 2, 3):
        assert {pool.route("whoami", key=k, timeout=WAIT) for _ in range(3)} == {owner[k].id}
    leaver = ms[1]  # on c
    leaver.kill()
    assert eventually(lambda: leaver not in pool.members(), 2.0)
    after = {k: pool.router.pick(pool.members(), k) for k in keys}
    assert {k for k in keys if after[k] != owner[k]} == {k for k in keys if owner[k] == leaver}
    with pytest.raises(ValueError, match="key"):
        pool.route_future("whoami")
    pool.stop()
    for m in ms:
        m.kill()
