"""Pools of local agents: fan-out strategies, agreement, timeouts, membership, routing.

The members are ``pool_agents.Voter`` agents in this process (no node), told
what to answer per member by a plan (see ``pool_agents``). The same
behaviours over real otp-node processes are in
``tests/node/test_pool_remote.py``. Every wait is bounded; the suite-wide
clean-up stops the agents and supervisors a test leaves.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pool_agents import Voter
from pool_support import eventually, plan, timed_ask

from otp import AgentRef
from otp.errors import AgentExit, AskTimeout, NoProc
from otp.pool import NoConsensus, Pool, Quorum, quorum

WAIT = 5.0
SLOW = 3.0  # seconds a straggler sleeps: far longer than any prompt decision here
PROMPT = 1.0  # seconds a decision that does not wait for stragglers may take


_spawned: list[AgentRef[Any]] = []


@pytest.fixture(autouse=True)
def _kill_voters() -> Iterator[None]:
    """Kill the test's voters (a straggler still asleep would hold up the clean-up)."""
    yield
    while _spawned:
        _spawned.pop().kill()


def voters(n: int, default: Any = "yes") -> list[AgentRef[Any]]:
    refs = [Voter.spawn(args=(default,)) for _ in range(n)]
    _spawned.extend(refs)
    return refs


# -- strategies ----------------------------------------------------------------------------
def test_all_answers_in_member_order() -> None:
    ms = voters(3)
    pool = Pool.of(ms)
    result = pool.ask(plan((ms[0], ("value", 1)), (ms[1], ("sleep", 0.1, 2)), (ms[2], ("value", 3))),
                      timeout=WAIT)
    assert result.ok and result.reason == "decided" and result.strategy == "all"
    assert result.value == [1, 2, 3] == result.get()
    assert result.votes == {ms[0]: 1, ms[1]: 2, ms[2]: 3}
    assert result.errors == {} and result.missing == []
    assert result.agreed == ms


def test_first_takes_the_first_answer_and_ignores_the_stragglers() -> None:
    ms = voters(3)
    pool = Pool.of(ms)
    message = plan((ms[0], ("sleep", 0.6, "slow")), (ms[1], ("value", "fast")),
                   (ms[2], ("sleep", 0.6, "slow")))
    result, took = timed_ask(pool, message, strategy="first", timeout=WAIT)
    assert took < 0.5
    assert result.ok and result.value == "fast" and result.agreed == [ms[1]]
    assert result.votes == {ms[1]: "fast"}
    assert sorted(result.missing, key=ms.index) == [ms[0], ms[2]]
    # the stragglers answer later: the returned result does not change
    assert [m.ask("whoami", timeout=WAIT) for m in ms] == [m.id for m in ms]
    assert result.votes == {ms[1]: "fast"} and result.value == "fast"
    assert len(result.missing) == 2 and result.errors == {}


def test_first_skips_failures_and_reports_all_failed() -> None:
    ms = voters(3)
    message = plan((ms[0], ("raise", "KeyError", "k")), (ms[1], ("sleep", 0.2, "late")),
                   (ms[2], ("raise", "ValueError", "v")))
    result = Pool.of(ms).ask(message, strategy="first", timeout=WAIT)
    assert result.ok and result.value == "late"
    assert {type(e) for e in result.errors.values()} <= {KeyError, ValueError}
    failing = voters(2)
    result = Pool.of(failing).ask(plan((failing[0], ("raise", "KeyError", "a")),
                                       (failing[1], ("raise", "OSError", "b"))),
                                  strategy="first", timeout=WAIT)
    assert not result.ok and result.reason == "all_failed" and result.votes == {}
    assert type(result.errors[failing[0]]) is KeyError
    assert type(result.errors[failing[1]]) is OSError


def test_majority_is_decided_without_waiting_for_the_rest() -> None:
    ms = voters(5)
    message = plan((ms[3], ("sleep", SLOW, "no")), (ms[4], ("sleep", SLOW, "no")))
    result, took = timed_ask(Pool.of(ms), message, strategy="majority", timeout=WAIT)
    assert took < PROMPT
    assert result.ok and result.value == "yes" and result.strategy == "majority"
    assert sorted(result.agreed, key=ms.index) == ms[:3]
    assert sorted(result.missing, key=ms.index) == ms[3:]


def test_quorum_k_agree() -> None:
    ms = voters(5)
    message = plan((ms[0], ("value", "a")), (ms[1], ("sleep", 0.1, "b")),
                   (ms[2], ("sleep", 0.1, "b")), (ms[3], ("sleep", SLOW, "a")),
                   (ms[4], ("sleep", SLOW, "a")))
    result, took = timed_ask(Pool.of(ms), message, strategy=quorum(2), timeout=WAIT)
    assert took < PROMPT
    assert result.ok and result.value == "b" and result.strategy == "quorum(2)"
    assert sorted(result.agreed, key=ms.index) == [ms[1], ms[2]]
    assert result.votes == {ms[0]: "a", ms[1]: "b", ms[2]: "b"}


def test_a_tie_has_no_majority_and_get_raises_with_the_result() -> None:
    ms = voters(4)
    message = plan((ms[0], ("value", "a")), (ms[1], ("value", "b")),
                   (ms[2], ("value", "a")), (ms[3], ("value", "b")))
    result = Pool.of(ms).ask(message, strategy="majority", timeout=WAIT)
    assert not result.ok and result.reason == "no_majority" and result.value is None
    assert result.agreed == [] and result.missing == [] and len(result.votes) == 4
    with pytest.raises(NoConsensus, match="no_majority") as info:
        result.get()
    assert info.value.result is result


def test_no_quorum_is_decided_as_soon_as_no_group_can_reach_k() -> None:
    ms = voters(4)
    message = plan((ms[0], ("value", "a")), (ms[1], ("value", "b")), (ms[2], ("value", "c")),
                   (ms[3], ("sleep", SLOW, "a")))
    result, took = timed_ask(Pool.of(ms), message, strategy=quorum(3), timeout=WAIT)
    assert took < PROMPT  # 1 + 1 still to answer < 3: no need to wait for ms[3]
    assert not result.ok and result.reason == "no_quorum" and result.missing == [ms[3]]
    with pytest.raises(NoConsensus):
        result.get()


def test_failures_count_against_a_majority_early() -> None:
    ms = voters(3)
    message = plan((ms[0], ("raise", "KeyError", "x")), (ms[1], ("raise", "ValueError", "y")),
                   (ms[2], ("sleep", SLOW, "yes")))
    result, took = timed_ask(Pool.of(ms), message, strategy="majority", timeout=WAIT)
    assert took < PROMPT
    assert result.reason == "no_majority" and result.missing == [ms[2]]
    assert type(result.errors[ms[0]]) is KeyError and type(result.errors[ms[1]]) is ValueError


def test_quorum_larger_than_the_pool_is_not_decided_and_nobody_is_asked() -> None:
    ms = voters(2)
    result = Pool.of(ms).ask(("vote", {}), strategy=quorum(3), timeout=WAIT)
    assert not result.ok and result.reason == "no_quorum" and result.votes == {}


def test_all_fails_as_soon_as_a_member_fails_with_the_error_per_member() -> None:
    ms = voters(3)
    message = plan((ms[0], ("raise", "KeyError", "no such key")), (ms[1], ("value", "ok")),
                   (ms[2], ("sleep", SLOW, "late")))
    result, took = timed_ask(Pool.of(ms), message, timeout=WAIT)
    assert took < PROMPT  # "all" cannot succeed once a member has failed
    assert not result.ok and result.reason == "failed" and result.agreed == []
    err = result.errors[ms[0]]
    assert type(err) is KeyError and "no such key" in str(err)
    assert ms[2] in result.missing and ms[0] not in result.missing  # ms[1]: either
    assert result.votes in ({}, {ms[1]: "ok"})
    with pytest.raises(NoConsensus, match="failed"):
        result.get()


def test_first_when_everyone_fails_lists_each_error_with_its_type() -> None:
    ms = voters(3)
    message = plan((ms[0], ("raise", "KeyError", "k")), (ms[1], ("raise", "OSError", "o")),
                   (ms[2], ("raise", "ZeroDivisionError", "z")))
    result = Pool.of(ms).ask(message, strategy="first", timeout=WAIT)
    assert result.reason == "all_failed" and result.missing == [] and result.votes == {}
    assert [type(result.errors[m]) for m in ms] == [KeyError, OSError, ZeroDivisionError]


# -- agreement -----------------------------------------------------------------------------
def test_a_key_function_decides_what_agrees() -> None:
    ms = voters(3)
    message = plan((ms[0], ("sleep", 0.1, "Yes")), (ms[1], ("value", "no")),
                   (ms[2], ("sleep", 0.1, "YES")))
    pool = Pool.of(ms)
    assert pool.ask(message, strategy="majority", timeout=WAIT).reason == "no_majority"
    result = pool.ask(message, strategy="majority", key=str.lower, timeout=WAIT)
    assert result.ok and result.value in ("Yes", "YES")
    assert sorted(result.agreed, key=ms.index) == [ms[0], ms[2]]
    assert result.votes[ms[1]] == "no"


def test_a_key_function_that_raises_fails_that_member() -> None:
    ms = voters(4)
    message = plan((ms[0], ("sleep", 0.2, "a")), (ms[1], ("value", 7)),
                   (ms[2], ("sleep", 0.2, "A")), (ms[3], ("sleep", 0.2, "a")))
    result = Pool.of(ms).ask(message, strategy="majority", key=str.lower, timeout=WAIT)
    assert result.ok and result.value.lower() == "a" and len(result.agreed) == 3
    assert list(result.errors) == [ms[1]] and type(result.errors[ms[1]]) is TypeError
    assert ms[1] not in result.votes
    # "all" and "first" compare nothing: the key is not used
    result = Pool.of(ms).ask(message, strategy="all", key=str.lower, timeout=WAIT)
    assert result.ok and result.value == ["a", 7, "A", "a"]


def test_unhashable_answers_agree_by_equality() -> None:
    ms = voters(3)
    message = plan((ms[0], ("value", {"a": 1, "b": [2]})), (ms[1], ("value", [1])),
                   (ms[2], ("value", {"b": [2], "a": 1})))  # equal, though not the same repr
    result = Pool.of(ms).ask(message, strategy="majority", timeout=WAIT)
    assert result.ok and result.value == {"a": 1, "b": [2]}
    assert sorted(result.agreed, key=ms.index) == [ms[0], ms[2]]
    result = Pool.of(ms).ask(message, strategy=quorum(1), key=lambda v: [v], timeout=WAIT)
    assert result.ok  # an unhashable key from the key function works too


def test_an_answer_that_looks_like_an_unhashable_one_does_not_agree_with_it() -> None:
    ms = voters(2)
    message = plan((ms[0], ("value", [1])), (ms[1], ("value", ("unhashable", "[1]"))))
    result = Pool.of(ms).ask(message, strategy=quorum(2), timeout=WAIT)
    assert result.reason == "no_quorum"


# -- timeouts and stragglers ------------------------------------------------------------------
def test_the_timeout_lists_the_missing_with_ask_timeouts_and_returns_promptly() -> None:
    ms = voters(3)
    message = plan((ms[1], ("sleep", SLOW, "late")), (ms[2], ("sleep", SLOW, "late")))
    result, took = timed_ask(Pool.of(ms), message, strategy="majority", timeout=0.3)
    assert 0.25 < took < 0.3 + 0.5
    assert not result.ok and result.reason == "timeout"
    assert result.votes == {ms[0]: "yes"}
    assert result.missing == ms[1:]
    assert set(result.errors) == set(ms[1:])
    assert all(isinstance(e, AskTimeout) for e in result.errors.values())
    with pytest.raises(NoConsensus, match="timeout"):
        result.get()


def test_late_answers_do_not_change_a_returned_result() -> None:
    ms = voters(3)
    message = plan((ms[0], ("sleep", 0.4, "no")), (ms[1], ("sleep", 0.4, "no")))
    result = Pool.of(ms).ask(message, strategy="majority", timeout=0.1)
    assert result.reason == "timeout"
    snapshot = (dict(result.votes), dict(result.errors), list(result.missing))
    time.sleep(0.6)  # the stragglers have answered by now (they would have been a majority)
    assert [m.ask("whoami", timeout=WAIT) for m in ms] == [m.id for m in ms]
    assert (result.votes, result.errors, result.missing) == snapshot
    assert not result.ok and result.value is None


# -- membership ----------------------------------------------------------------------------------
def test_pool_of_leaves_out_dead_refs_and_counts_a_ref_once() -> None:
    ms = voters(3)
    ms[1].stop()
    pool = Pool.of([ms[0], ms[1], ms[2], ms[0]])
    assert pool.members() == [ms[0], ms[2]]
    result = pool.ask(("vote", {}), timeout=WAIT)
    assert result.ok and result.value == ["yes", "yes"]
    ms[0].kill()
    assert pool.members() == [ms[2]]  # a member that dies leaves at once
    assert pool.ask(("vote", {}), strategy="majority", timeout=WAIT).agreed == [ms[2]]
    with pytest.raises(TypeError):
        Pool.of([ms[2], "not a ref"])  # type: ignore[list-item]


def test_a_member_that_dies_after_being_chosen_is_reported_not_waited_for() -> None:
    ms = voters(2)
    ms[1].stop()
    from otp.pool._fanout import fan_out

    result = fan_out(ms, ("vote", {}), "all", WAIT)
    assert result.reason == "failed" and type(result.errors[ms[1]]) is NoProc


def test_a_member_killed_in_the_middle_of_a_fan_out_fails_with_its_exit() -> None:
    ms = voters(3)
    message = plan((ms[0], ("sleep", SLOW, "yes")), (ms[1], ("sleep", 0.3, "yes")),
                   (ms[2], ("sleep", 0.3, "no")))
    timer = threading.Timer(0.1, ms[0].kill)
    timer.start()
    result, took = timed_ask(Pool.of(ms), message, strategy="majority", timeout=WAIT)
    timer.join()
    assert took < PROMPT and result.reason == "no_majority"
    err = result.errors[ms[0]]
    assert isinstance(err, AgentExit) and err.reason == "killed"


def test_an_empty_pool() -> None:
    pool = Pool.of([])
    result = pool.ask("anything", strategy="majority", timeout=WAIT)
    assert not result.ok and result.reason == "no_members" and result.missing == []
    with pytest.raises(NoConsensus, match="no_members"):
        result.get()
    with pytest.raises(LookupError):
        pool.route("work")
    with pytest.raises(LookupError):
        pool.route_future("work")


def test_bad_arguments() -> None:
    pool = Pool.of(voters(1))
    with pytest.raises(ValueError, match="strategy"):
        pool.ask("x", strategy="most")
    with pytest.raises(ValueError, match="quorum"):
        pool.ask("x", strategy=Quorum(0))
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="quorum"):
            quorum(k)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="routing"):
        Pool.of([], routing="random")
    with pytest.raises(ValueError, match="routing"):
        Pool.start(Voter, 2, routing="random")
    with pytest.raises(ValueError, match="size"):
        Pool.start(Voter, 0)


def test_a_supervised_member_that_dies_leaves_and_rejoins_when_restarted() -> None:
    pool = Pool.start(Voter, 3)
    try:
        first = pool.members()
        assert len(first) == 3 and pool.supervisor is not None
        assert [c.id for c in sorted(pool.supervisor.which_children(), key=lambda c: c.id)] == \
            ["member-0", "member-1", "member-2"]
        first[1].kill()
        assert first[1] not in pool.members()  # at once, before the restart is seen
        assert eventually(lambda: len(pool.members()) == 3)
        now = pool.members()
        assert now[0] == first[0] and now[2] == first[2] and now[1] != first[1]
        assert pool.ask(("vote", {}), timeout=WAIT).agreed == now
    finally:
        pool.stop()
    assert pool.members() == []
    assert not any(m.is_alive() for m in first)


def test_members_in_start_order_past_ten() -> None:
    pool = Pool.start(Voter, 12)
    try:
        members = pool.members()
        ids = {c.ref: c.id for c in pool.supervisor.which_children()}  # type: ignore[union-attr]
        assert [ids[m] for m in members] == [f"member-{i}" for i in range(12)]
    finally:
        pool.stop()


def test_async_members() -> None:
    pool = Pool.start(Voter, 3, kind="async")
    try:
        assert {m.kind for m in pool.members()} == {"async"}
        assert pool.ask(("vote", {}), strategy="majority", timeout=WAIT).get() == "yes"
        assert pool.route("whoami", timeout=WAIT) in {m.id for m in pool.members()}
    finally:
        pool.stop()


def test_blocking_calls_are_refused_on_an_event_loop_and_route_future_is_awaitable() -> None:
    pool = Pool.of(voters(2))

    async def main() -> Any:
        with pytest.raises(RuntimeError, match="event loop"):
            pool.ask("x")
        with pytest.raises(RuntimeError, match="event loop"):
            pool.route("x")
        return await pool.route_future("whoami")

    assert asyncio.run(main()) in {m.id for m in pool.members()}


# -- routing ---------------------------------------------------------------------------------
def test_round_robin_spreads_evenly() -> None:
    ms = voters(4)
    pool = Pool.of(ms)
    answers = [pool.route("whoami", timeout=WAIT) for _ in range(40)]
    assert {m.id: answers.count(m.id) for m in ms} == {m.id: 10 for m in ms}


def test_least_loaded_avoids_a_busy_member() -> None:
    ms = voters(3)
    pool = Pool.of(ms, routing="least_loaded")
    busy = pool.route_future(("work", 0.5))
    busy_id = ms[0].id  # all idle: the first member took it
    others = [pool.route("whoami", timeout=WAIT) for _ in range(6)]
    assert busy_id not in others
    two = [pool.route_future(("work", 0.3)) for _ in range(2)]  # one on each idle member
    assert sorted(f.get(timeout=WAIT) for f in two) == sorted(m.id for m in ms[1:])
    assert busy.get(timeout=WAIT) == busy_id
    assert pool.router.in_flight == {}  # every answered ask counted back down


def test_route_returns_the_answer_or_raises_the_members_error() -> None:
    ms = voters(1)
    pool = Pool.of(ms)
    future = pool.route_future("whoami")
    assert future.get(timeout=WAIT) == ms[0].id
    with pytest.raises(ValueError, match="unknown message"):
        pool.route("nonsense", timeout=WAIT)  # the member crashes with it
    assert eventually(lambda: pool.members() == [])
    ms = voters(1)
    pool = Pool.of(ms, routing="least_loaded")
    with pytest.raises(AskTimeout):
        pool.route(("work", 0.5), timeout=0.1)
    assert eventually(lambda: pool.router.in_flight == {}, 2.0)


def test_hash_keeps_a_key_on_its_member_and_moves_only_a_leavers_keys() -> None:
    ms = voters(5)
    pool = Pool.of(ms, routing="hash")
    keys = [f"doc-{i}" for i in range(300)]
    owner = {k: pool.router.pick(pool.members(), k) for k in keys}
    assert len(set(owner.values())) == 5  # every member owns some keys
    assert min(list(owner.values()).count(m) for m in ms) > 20
    for k in keys[:10]:  # through real asks, repeatedly
        assert {pool.route("whoami", key=k, timeout=WAIT) for _ in range(3)} == {owner[k].id}
    leaver = ms[2]
    leaver.stop()
    after = {k: pool.router.pick(pool.members(), k) for k in keys}
    moved = {k for k in keys if after[k] != owner[k]}
    assert moved == {k for k in keys if owner[k] == leaver}
    assert leaver not in after.values()
    with pytest.raises(ValueError, match="key"):
        pool.route("whoami")


def test_a_restarted_member_takes_its_own_keys_back() -> None:
    """A supervised member sits on the ring by its child id: after a restart (a new ref)
    it owns exactly the keys it owned before, and no other member's keys moved."""
    pool = Pool.start(Voter, 4, routing="hash")
    try:
        keys = [f"doc-{i}" for i in range(200)]
        before = pool.members()
        slot = {m: i for i, m in enumerate(before)}
        owner = {k: slot[pool.router.pick(pool.members(), k, pool._labels)] for k in keys}
        assert len(set(owner.values())) == 4
        victim = before[1]
        victim.kill()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            now = pool.members()
            if len(now) == 4 and victim not in now:
                break
            time.sleep(0.02)
        now = pool.members()
        assert len(now) == 4 and victim not in now and now[1] != victim
        slot = {m: i for i, m in enumerate(now)}
        after = {k: slot[pool.router.pick(now, k, pool._labels)] for k in keys}
        assert after == owner
    finally:
        pool.stop()
        assert pool.supervisor is not None and not pool.supervisor.is_alive()


def test_size_must_be_a_positive_int_not_a_bool() -> None:
    with pytest.raises(ValueError, match="size"):
        Pool.start(Voter, True)  # type: ignore[arg-type]


def test_routing_is_safe_from_many_threads() -> None:
    ms = voters(3)
    pool = Pool.of(ms, routing="least_loaded")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                pool.route("whoami", timeout=WAIT)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert errors == [] and pool.router.in_flight == {}
