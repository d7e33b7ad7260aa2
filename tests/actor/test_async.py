"""The async kind: what the shared behaviour suite does not cover.

Loop-lag detection, mixed supervision trees, asks from threads and from event
loops (the node's and an application's own), choosing the kind, async on_start.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import structlog
from kinds import KINDS

import otp
from otp import ChildSpec, Inbox, Supervisor
from otp.actor import AgentActor, LoopFuture
from otp.actor._async import node_loop
from otp.errors import AskTimeout, StartError

AsyncAgent = KINDS["async"].Agent


def on_loop(coro: Any, timeout: float = 5.0) -> Any:
    """Run a coroutine on the node loop from the test thread and return its result."""
    return asyncio.run_coroutine_threadsafe(coro, node_loop.ensure()).result(timeout)


class Echo(AsyncAgent):
    def on_receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom")
        return message

    async def slow_double(self, x: int) -> int:
        await asyncio.sleep(0.01)
        return 2 * x


@pytest.fixture
def lag_threshold() -> Any:
    """A low loop-lag threshold for the test, restored afterwards."""
    before = node_loop.lag_threshold
    otp.actor.set_loop_lag_threshold(0.05)
    yield
    node_loop.lag_threshold = before


def test_a_handler_that_blocks_the_loop_is_reported_with_the_agent_and_the_time_held(
        lag_threshold: Any) -> None:
    """loop_lag names the agent whose plain handler held the loop, and for how long."""

    class Blocker(AsyncAgent):
        def on_receive(self, message: Any) -> Any:
            time.sleep(0.3)  # the mistake loop-lag detection is for

    ref = Blocker.start()
    with structlog.testing.capture_logs() as logs:
        ref.ask("block", timeout=5)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not any(e["event"] == "loop_lag" for e in logs):
            time.sleep(0.02)
    [event] = [e for e in logs if e["event"] == "loop_lag"]
    assert event["agent"] == str(ref)
    assert 0.2 <= event["held_s"] < 2


def test_an_async_handler_that_blocks_inside_its_task_is_named_too(lag_threshold: Any) -> None:
    """A blocking call inside an async def handler is found through the agent's task."""

    class Sloppy(AsyncAgent):
        async def on_receive(self, message: Any) -> Any:
            await asyncio.sleep(0)
            time.sleep(0.3)

    ref = Sloppy.start()
    with structlog.testing.capture_logs() as logs:
        ref.ask("block", timeout=5)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not any(e["event"] == "loop_lag" for e in logs):
            time.sleep(0.02)
    assert [e["agent"] for e in logs if e["event"] == "loop_lag"] == [str(ref)]


def test_a_bad_loop_lag_threshold_is_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="-1"):
        otp.actor.set_loop_lag_threshold(-1)


def test_one_supervisor_restarts_children_of_both_kinds() -> None:
    """A mixed tree: the crashed child comes back with its kind; the other keeps its ref."""

    class ThreadWorker(AgentActor):
        def on_receive(self, message: Any) -> Any:
            if message == "boom":
                raise RuntimeError("boom")
            return threading.current_thread().name

    sup = Supervisor.start(children=[ChildSpec(id="t", start=ThreadWorker),
                                     ChildSpec(id="a", start=ThreadWorker, kind="async")])
    t, a = sup.whereis("t"), sup.whereis("a")
    assert a.ask("where") == "otp-loop"
    assert t.ask("where") != "otp-loop"
    a.tell("boom")
    assert a.join(timeout=5) != "normal"
    new_a = sup.whereis("a")
    assert new_a != a and new_a.ask("where") == "otp-loop"
    assert sup.whereis("t") == t
    t.tell("boom")
    t.join(timeout=5)
    new_t = sup.whereis("t")
    assert new_t.ask("where") != "otp-loop" and sup.whereis("a") == new_a
    assert sup.stop(timeout=10) is True
    assert (new_t.exit_reason, new_a.exit_reason) == ("shutdown", "shutdown")


def test_an_async_supervisor_stops_thread_and_async_children_in_reverse_order() -> None:
    """An on-loop supervisor shuts down both kinds, last started first."""
    order: list[str] = []

    class Noted(AgentActor):
        def __init__(self, tag: str) -> None:
            super().__init__()
            self.tag = tag

        def terminate(self, reason: Any) -> None:
            order.append(self.tag)

    sup = Supervisor.start(kind="async", children=[
        ChildSpec(id="1", start=Noted, args=("1",), kind="async"),
        ChildSpec(id="2", start=Noted, args=("2",)),
        ChildSpec(id="3", start=Noted, args=("3",), kind="async")])
    assert sup.stop(timeout=10) is True
    assert order == ["3", "2", "1"]


def test_plain_threads_tell_and_ask_async_agents_safely() -> None:
    """tell and ask from many plain threads at once reach an async agent intact."""
    ref = Echo.start()
    results: list[int] = []
    lock = threading.Lock()

    def worker(base: int) -> None:
        for i in range(200):
            value = ref.ask(base + i, timeout=5)
            with lock:
                results.append(value)

    threads = [threading.Thread(target=worker, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == sorted(n * 1000 + i for n in range(4) for i in range(200))


def test_a_blocking_ask_inside_the_loop_is_refused_with_a_hint() -> None:
    """ask() would block the loop that must deliver the reply: refused, ask_async named."""
    ref = Echo.start()

    async def blocking_ask() -> Any:
        return ref.ask("x")

    with pytest.raises(RuntimeError, match="ask_async"):
        on_loop(blocking_ask())


def test_awaiting_an_ask_inside_an_async_handler_does_not_block_the_loop() -> None:
    """While one agent awaits a slow reply, other agents on the loop keep answering."""
    slow = Echo.start()

    class Asker(AsyncAgent):
        async def on_receive(self, message: Any) -> Any:
            return await slow.proxy().slow_double(21)

    asker, other = Asker.start(), Echo.start()
    future = asker.ask("go", block=False)
    assert other.ask("still here", timeout=1) == "still here"
    assert future.get(timeout=5) == 42


def test_ask_async_works_from_an_applications_own_event_loop() -> None:
    """An application's loop (asyncio.run in its own thread) awaits asks without blocking."""
    ref = Echo.start()

    async def app() -> list[Any]:
        replies = await asyncio.gather(*(ref.ask_async(i) for i in range(50)))
        proxied = await ref.proxy().slow_double(4)
        return [*replies, proxied]

    assert asyncio.run(app()) == [*range(50), 8]


def test_an_ask_async_that_gets_no_reply_times_out_naming_the_agent() -> None:
    class Silent(AsyncAgent):
        async def on_receive(self, message: Any) -> Any:
            await asyncio.sleep(1)

    ref = Silent.start()

    async def ask() -> Any:
        return await ref.ask_async("anyone?", timeout=0.05)

    with pytest.raises(AskTimeout, match="Silent"):
        on_loop(ask())


def test_a_future_made_on_a_loop_refuses_get() -> None:
    ref = Echo.start()

    async def get() -> Any:
        future = ref.ask(1, block=False)
        assert isinstance(future, LoopFuture)
        assert await future == 1
        return future.get()

    with pytest.raises(RuntimeError, match="await"):
        on_loop(get())


def test_the_kind_is_chosen_per_class_per_start_and_per_child_spec() -> None:
    class Where(AgentActor):
        def on_receive(self, message: Any) -> Any:
            return threading.current_thread().name

    assert Where.start().ask(0) != "otp-loop"
    assert Where.spawn(kind="async").ask(0) == "otp-loop"
    sup = Supervisor.start(children=[ChildSpec(id="w", start=Where, kind="async")])
    assert sup.whereis("w").ask(0) == "otp-loop"
    sup.stop()


def test_an_unknown_kind_is_refused_naming_the_kinds() -> None:
    with pytest.raises(ValueError, match="'fiber'.*'thread'.*'async'"):
        Echo.spawn(kind="fiber")


def test_an_async_on_start_is_awaited_when_started_from_a_thread() -> None:
    class Warm(AsyncAgent):
        async def on_start(self) -> None:
            await asyncio.sleep(0.01)
            self.ready = True

        def on_receive(self, message: Any) -> Any:
            return self.ready

    assert Warm.start().ask("ready?") is True


def test_an_async_on_start_that_fails_is_a_start_error() -> None:
    class Broken(AsyncAgent):
        async def on_start(self) -> None:
            await asyncio.sleep(0)
            raise ConnectionError("no model endpoint")

    with pytest.raises(StartError) as info:
        Broken.start()
    assert isinstance(info.value.reason, ConnectionError)


def test_an_async_on_start_cannot_be_awaited_by_a_start_made_on_the_loop() -> None:
    class Warm(AsyncAgent):
        async def on_start(self) -> None:
            await asyncio.sleep(0)

    async def start_on_loop() -> Any:
        return Warm.start()

    with pytest.raises(StartError, match="start it from a thread"):
        on_loop(start_on_loop())


def test_an_idle_async_agent_holds_no_task_and_no_mailbox() -> None:
    """The lean shape behind a million idle agents: nothing allocated until used."""
    ref = Echo.start()
    proc = ref._proc
    assert proc.task is None and proc.mailbox is None
    assert proc.links is None and proc.monitors is None and proc.exited is None
    assert ref.ask(1) == 1
    assert proc.task is None  # a plain handler ran inline: no task was made


def test_async_agents_answer_from_an_inbox_monitor_when_they_crash() -> None:
    """DOWN reaches a plain-thread Inbox from an agent on the loop."""
    ref = Echo.start()
    with Inbox() as inbox:
        mref = inbox.monitor(ref)
        ref.tell("boom")
        down = inbox.receive(timeout=5)
    assert down.ref == mref and isinstance(down.reason, RuntimeError)


def test_an_async_supervisor_awaits_async_on_start_of_its_children_and_restarts_them() -> None:
    """On the loop, a supervisor awaits a child's async on_start instead of refusing it."""
    starts: list[str] = []

    class Warm(AsyncAgent):
        async def on_start(self) -> None:
            await asyncio.sleep(0.005)
            starts.append("warm")

        def on_receive(self, message: Any) -> Any:
            if message == "boom":
                raise RuntimeError("boom")
            return len(starts)

    class ThreadWarm(AgentActor):
        def on_start(self) -> None:
            starts.append("thread")

    sup = Supervisor.start(kind="async", children=[ChildSpec(id="w", start=Warm),
                                                   ChildSpec(id="t", start=ThreadWarm)])
    first = sup.whereis("w")
    assert first.ask("n") == 2
    first.tell("boom")
    first.join(timeout=5)
    assert sup.whereis("w").ask("n") == 3  # restarted after an awaited on_start
    assert sup.stop(timeout=10) is True


def test_an_async_on_start_failure_under_an_async_supervisor_is_a_start_error() -> None:
    class Broken(AsyncAgent):
        async def on_start(self) -> None:
            await asyncio.sleep(0)
            raise ConnectionError("no model endpoint")

    with pytest.raises(StartError) as info:
        Supervisor.start(kind="async", children=[ChildSpec(id="b", start=Broken)])
    tag, child_id, reason = info.value.reason
    assert (tag, child_id) == ("failed_to_start_child", "b")
    assert isinstance(reason, ConnectionError)


def test_answered_asks_leave_nothing_waiting_for_their_deadline() -> None:
    """A reply takes its ask out of the timeout buckets: nothing answered is kept alive."""
    ref = Echo.start()

    async def many() -> int:
        for i in range(2000):
            await ref.ask_async(i, timeout=30)
        loop = asyncio.get_running_loop()
        return sum(len(b) for b in loop._otp_deadlines.buckets.values())  # type: ignore[attr-defined]

    assert on_loop(many()) == 0


def test_join_async_returns_the_exit_reason_or_times_out() -> None:
    ref, alive = Echo.start(), Echo.start()

    async def join() -> Any:
        ref.tell("boom")
        reason = await ref.join_async(timeout=5)
        with pytest.raises(AskTimeout, match="still alive"):
            await alive.join_async(timeout=0.05)
        return reason

    assert isinstance(on_loop(join()), RuntimeError)


def test_a_crashed_async_agent_is_freed_without_the_cyclic_garbage_collector() -> None:
    """After death the process lets go of the agent and the crash frames of their locals."""
    import gc
    import weakref

    class Doomed(AsyncAgent):
        def on_receive(self, message: Any) -> Any:
            state = {"big": "x" * 1000, "me": self}  # a local that points back at the agent
            raise RuntimeError(f"crash with {len(state)} locals")

    ref = Doomed.start()
    alive = weakref.ref(ref._proc.actor)
    gc.disable()
    try:
        ref.tell("go")
        assert isinstance(ref.join(timeout=5), RuntimeError)
        deadline = time.monotonic() + 2
        while alive() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert alive() is None
    finally:
        gc.enable()
