"""AgentActor: start, on_start errors, let it crash, terminate, stop, kill, self-call, proxy.

Mirrors otp/actor/_agent.py. Every test runs once per execution kind.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from gates import until

import otp.actor
from otp.actor import AgentFuture, Down, Exit, Inbox
from otp.errors import AgentExit, CallSelfError, StartError, StopTimeout


def _crasher(kind: Any, terminated: list[Any] | None = None) -> Any:
    """An agent that raises any exception it is told or asked, and echoes the rest."""

    class Crasher(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if isinstance(message, BaseException):
                raise message
            return message

        def terminate(self, reason: Any) -> None:
            if terminated is not None:
                terminated.append(reason)

    return Crasher


# -- start ---------------------------------------------------------------------------


def test_start_returns_only_after_on_start_has_finished(kind: Any) -> None:
    """Y1: __init__ runs in the caller's thread, on_start in the agent's; start waits for it."""
    threads: dict[str, threading.Thread] = {}

    class Slow(kind.Agent):
        def __init__(self) -> None:
            super().__init__()
            threads["init"] = threading.current_thread()

        def on_start(self) -> None:
            time.sleep(0.05)  # the agent is slow; the test does not sleep
            threads["on_start"] = threading.current_thread()

    ref = Slow.start()

    assert "on_start" in threads
    assert threads["init"] is threading.current_thread()
    assert threads["on_start"] is not threading.current_thread()
    assert ref.is_alive()


def test_start_passes_its_arguments_to_init(kind: Any) -> None:
    class Greeter(kind.Agent):
        def __init__(self, greeting: str, *, name: str) -> None:
            super().__init__()
            self.text = f"{greeting}, {name}"

        def on_receive(self, message: Any) -> Any:
            return self.text

    ref = Greeter.start("hello", name="otp")

    assert ref.ask("?", timeout=5) == "hello, otp"


def test_an_exception_in_on_start_raises_start_error_with_the_exception_as_reason_and_cause(
        kind: Any) -> None:
    boom = ValueError("no database")

    class Failing(kind.Agent):
        def on_start(self) -> None:
            raise boom

    with pytest.raises(StartError) as info:
        Failing.start()

    assert info.value.reason is boom
    assert info.value.__cause__ is boom
    assert "Failing" in str(info.value)
    assert "no database" in str(info.value)


def test_an_agent_whose_on_start_raises_is_dead_and_does_not_run_terminate(kind: Any) -> None:
    """Y1: a failing on_start stops the agent; the failure hook (terminate) is not called."""
    refs: list[Any] = []
    terminated: list[Any] = []
    boom = RuntimeError("boom")

    class Failing(kind.Agent):
        def on_start(self) -> None:
            refs.append(self.actor_ref)
            raise boom

        def terminate(self, reason: Any) -> None:
            terminated.append(reason)

    with pytest.raises(StartError):
        Failing.start()

    assert refs[0].join(timeout=5) is boom
    assert not refs[0].is_alive()
    assert terminated == []


def test_start_gives_up_after_start_timeout_and_the_agent_is_dead(kind: Any, new_gate: Any) -> None:
    refs: list[Any] = []
    gate = new_gate()

    class Stuck(kind.Agent):
        start_timeout = 0.1

        def on_start(self) -> None:
            refs.append(self.actor_ref)
            gate.wait(5)

    started = time.monotonic()
    with pytest.raises(StartError) as info:
        Stuck.start()

    assert time.monotonic() - started < 2
    assert "0.1" in str(info.value)
    assert not refs[0].is_alive()
    assert refs[0].join(timeout=0) == "killed"


def test_on_start_raising_ignore_makes_start_raise_start_error_with_reason_ignore(
        kind: Any) -> None:
    """P6: init may return ignore; a direct start reports it as a start error."""
    refs: list[Any] = []
    terminated: list[Any] = []

    class Declining(kind.Agent):
        def on_start(self) -> None:
            refs.append(self.actor_ref)
            raise otp.actor.Ignore

        def terminate(self, reason: Any) -> None:
            terminated.append(reason)

    with pytest.raises(StartError) as info:
        Declining.start()

    assert info.value.reason == "ignore"
    assert "Declining" in str(info.value)
    assert refs[0].join(timeout=5) == "normal"
    assert terminated == []


def test_forgetting_super_init_raises_runtime_error_with_a_hint(kind: Any) -> None:
    class Forgetful(kind.Agent):
        def __init__(self) -> None:
            self.state = 1  # no super().__init__()

    with pytest.raises(RuntimeError, match=r"super\(\)\.__init__\(\)") as info:
        Forgetful.start()

    assert "Forgetful" in str(info.value)


# -- let it crash --------------------------------------------------------------------


def test_an_exception_in_a_tell_handler_crashes_the_agent_with_that_exception(kind: Any) -> None:
    boom = ValueError("bad message")
    ref = _crasher(kind).start()

    ref.tell(boom)

    assert ref.join(timeout=5) is boom
    assert ref.exit_reason is boom
    assert not ref.is_alive()


def test_an_exception_in_an_ask_handler_crashes_the_agent_and_reaches_the_caller(
        kind: Any) -> None:
    boom = KeyError("missing")
    ref = _crasher(kind).start()

    with pytest.raises(KeyError) as info:
        ref.ask(boom, timeout=5)

    assert info.value is boom
    assert ref.join(timeout=5) is boom


def test_an_exception_in_a_proxy_called_method_crashes_the_agent_and_reaches_the_caller(
        kind: Any) -> None:
    boom = ZeroDivisionError("division by zero")

    class Calculator(kind.Agent):
        def divide(self, a: int, b: int) -> float:
            if b == 0:
                raise boom
            return a / b

    ref = Calculator.start()

    assert ref.proxy().divide(6, 3).get(timeout=5) == 2
    with pytest.raises(ZeroDivisionError) as info:
        ref.proxy().divide(1, 0).get(timeout=5)

    assert info.value is boom
    assert ref.join(timeout=5) is boom


def test_links_and_monitors_hear_of_a_crash_with_the_exception(kind: Any) -> None:
    boom = ValueError("crash")
    ref = _crasher(kind).start()
    with Inbox() as inbox:
        inbox.link(ref)
        mref = inbox.monitor(ref)

        ref.tell(boom)

        got_exit = inbox.receive(timeout=5, match=lambda m: isinstance(m, Exit))
        got_down = inbox.receive(timeout=5, match=lambda m: isinstance(m, Down))
    assert got_exit == Exit(ref, boom)
    assert got_exit.reason is boom
    assert got_down == Down(mref, ref, boom)
    assert got_down.reason is boom


def test_terminate_runs_with_the_exception_that_crashed_the_agent(kind: Any) -> None:
    terminated: list[Any] = []
    boom = TypeError("wrong type")
    ref = _crasher(kind, terminated).start()

    ref.tell(boom)
    ref.join(timeout=5)

    assert len(terminated) == 1
    assert terminated[0] is boom


def test_a_failing_terminate_does_not_hide_the_exit_reason(kind: Any) -> None:
    boom = ValueError("first")

    class BadCleanup(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            raise boom

        def terminate(self, reason: Any) -> None:
            raise RuntimeError("cleanup failed too")

    ref = BadCleanup.start()
    ref.tell("go")

    assert ref.join(timeout=5) is boom


# -- exit reasons and stopping -----------------------------------------------------------


@pytest.mark.parametrize("reason", ["normal", "shutdown", ("shutdown", "x"), "custom"],
                         ids=["normal", "shutdown", "shutdown-detail", "custom"])
def test_self_stop_ends_the_agent_with_the_given_reason_after_terminate(
        kind: Any, reason: Any) -> None:
    terminated: list[Any] = []

    class Quitter(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            self.stop(reason)
            return "bye"

        def terminate(self, why: Any) -> None:
            terminated.append(why)

    ref = Quitter.start()

    assert ref.ask("quit", timeout=5) == "bye"  # stop takes effect after the current message
    assert ref.join(timeout=5) == reason
    assert terminated == [reason]


def test_stop_handles_the_messages_sent_before_it_and_returns_true(kind: Any) -> None:
    """Y2: stop is a FIFO message."""
    handled: list[int] = []
    terminated: list[Any] = []

    class Worker(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            handled.append(message)

        def terminate(self, reason: Any) -> None:
            terminated.append(reason)

    ref = Worker.start()
    for i in range(100):
        ref.tell(i)

    assert ref.stop() is True
    assert handled == list(range(100))
    assert terminated == ["normal"]
    assert ref.exit_reason == "normal"
    assert not ref.is_alive()


def test_a_second_stop_returns_false(kind: Any) -> None:
    ref = _crasher(kind).start()

    assert ref.stop() is True
    assert ref.stop() is False


def test_stop_of_a_stuck_agent_raises_stop_timeout_and_the_stop_stays_queued(
        kind: Any, new_gate: Any) -> None:
    gate = new_gate()
    terminated: list[Any] = []

    class Stuck(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            gate.wait(5)

        def terminate(self, reason: Any) -> None:
            terminated.append(reason)

    ref = Stuck.start()
    ref.tell("block")

    with pytest.raises(StopTimeout) as info:
        ref.stop(timeout=0.05)

    assert isinstance(info.value, TimeoutError)
    assert str(ref) in str(info.value)
    assert "kill()" in str(info.value)
    assert ref.is_alive()
    gate.set()
    assert ref.join(timeout=5) == "normal"
    assert terminated == ["normal"]


def test_asks_queued_behind_a_stop_fail_with_agent_exit(kind: Any, new_gate: Any) -> None:
    """Y2: after a stop, queued asks get an error at once."""
    gate = new_gate()

    class Stuck(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if message == "block":
                gate.wait(5)
            return message

    ref = Stuck.start()
    ref.tell("block")
    with pytest.raises(StopTimeout):
        ref.stop(timeout=0.01)
    late = ref.ask("late", block=False)

    gate.set()

    with pytest.raises(AgentExit) as info:
        late.get(timeout=5)
    assert info.value.reason == "normal"


def test_kill_ends_an_agent_with_reason_killed(kind: Any) -> None:
    ref = _crasher(kind).start()

    ref.kill()

    assert ref.join(timeout=5) == "killed"


def test_kill_declares_a_blocked_thread_agent_dead_at_once(kind: Any, new_gate: Any) -> None:
    """Kill means kill: reason killed, name released and monitors fired while the handler runs."""
    gate = new_gate()
    entered = threading.Event()

    class Blocked(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            entered.set()
            gate.wait(5)

    ref = Blocked.spawn(name="blocked-agent")
    with Inbox() as inbox:
        mref = inbox.monitor(ref)
        ref.tell("block")
        assert entered.wait(5)

        ref.kill()

        assert ref.exit_reason == "killed"
        assert not ref.is_alive()
        assert otp.actor.whereis("blocked-agent") is None
        assert inbox.receive(timeout=5) == Down(mref, ref, "killed")


def test_an_agent_killed_while_blocked_neither_runs_terminate_nor_delivers_later_sends(
        kind: Any, new_gate: Any) -> None:
    gate = new_gate()
    entered, finished = threading.Event(), threading.Event()
    agent_thread: list[threading.Thread] = []
    terminated: list[Any] = []

    with Inbox() as inbox:

        class Blocked(kind.Agent):
            async def on_receive(self, message: Any) -> Any:
                agent_thread.append(threading.current_thread())
                entered.set()
                try:
                    await until(gate)  # a thread agent keeps going; an async one is cancelled
                    inbox.ref.tell("sent after the kill")
                finally:
                    finished.set()

            def terminate(self, reason: Any) -> None:
                terminated.append(reason)

        ref = Blocked.start()
        ref.tell("block")
        assert entered.wait(5)
        ref.kill()

        gate.set()
        assert finished.wait(5)
        if kind.name == "thread":  # the abandoned thread finishes its handler, then ends
            agent_thread[0].join(timeout=5)
            assert not agent_thread[0].is_alive()

        assert inbox.pending() == []
        assert terminated == []
        assert ref.exit_reason == "killed"


def test_killing_an_async_agent_cancels_its_task_at_the_await(new_gate: Any) -> None:
    """Kill means kill: an async agent's task is cancelled where it awaits."""
    from kinds import KINDS

    gate = new_gate()
    entered, cancelled = threading.Event(), threading.Event()

    class Awaiting(KINDS["async"].Agent):
        async def on_receive(self, message: Any) -> Any:
            entered.set()
            try:
                await until(gate)
            except asyncio.CancelledError:
                cancelled.set()
                raise

    ref = Awaiting.start()
    ref.tell("wait")
    assert entered.wait(5)
    ref.kill()
    assert cancelled.wait(5)
    assert ref.exit_reason == "killed"


def test_a_shutdown_request_lets_the_current_message_finish_then_runs_terminate(
        kind: Any, new_gate: Any) -> None:
    """The supervisor's way to stop a child: finish the message, terminate("shutdown")."""
    gate = new_gate()
    entered = threading.Event()
    terminated: list[Any] = []

    class Worker(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if message == "slow":
                entered.set()
                gate.wait(5)
            return f"done {message}"

        def terminate(self, reason: Any) -> None:
            terminated.append(reason)

    ref = Worker.start()
    current = ref.ask("slow", block=False)
    assert entered.wait(5)
    queued = [ref.ask(i, block=False) for i in range(3)]

    ref._proc.request_shutdown("shutdown")
    gate.set()

    assert current.get(timeout=5) == "done slow"
    assert ref.join(timeout=5) == "shutdown"
    assert terminated == ["shutdown"]
    for future in queued:
        with pytest.raises(AgentExit) as info:
            future.get(timeout=1)
        assert info.value.reason == "shutdown"


# -- self-call ----------------------------------------------------------------------------


def test_an_agent_asking_itself_gets_call_self_error_at_once(kind: Any) -> None:
    """P6: calling yourself is an error, not a deadlock."""

    class Narcissus(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            if message == "self-ask":
                try:
                    self.actor_ref.ask("hello", timeout=5)
                except CallSelfError as exc:
                    return exc
            return "unreachable"

        def ping(self) -> str:
            return "pong"

        def call_own_proxy(self) -> Any:
            try:
                self.actor_ref.proxy().ping()
            except CallSelfError as exc:
                return exc
            return "unreachable"

    ref = Narcissus.start()
    started = time.monotonic()

    by_ask = ref.ask("self-ask", timeout=5)
    by_proxy = ref.proxy().call_own_proxy().get(timeout=5)

    assert time.monotonic() - started < 1
    assert isinstance(by_ask, CallSelfError)
    assert isinstance(by_proxy, CallSelfError)
    assert str(ref) in str(by_ask)
    assert ref.is_alive()


def test_an_uncaught_call_self_error_crashes_the_agent(kind: Any) -> None:
    class Narcissus(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            return self.actor_ref.ask("again", timeout=5)

    ref = Narcissus.start()

    with pytest.raises(CallSelfError):
        ref.ask("go", timeout=5)
    assert isinstance(ref.join(timeout=5), CallSelfError)


# -- proxy --------------------------------------------------------------------------------


def _counter(kind: Any) -> Any:
    class Counter(kind.Agent):
        def on_start(self) -> None:
            self.count = 0
            self._secret = "hidden"

        def add(self, n: int = 1) -> int:
            self.count += n
            return self.count

    return Counter


def test_a_proxy_method_call_returns_a_future_of_the_result(kind: Any) -> None:
    ref = _counter(kind).start()

    future = ref.proxy().add(5)

    assert isinstance(future, AgentFuture)
    assert future.get(timeout=5) == 5


def test_a_proxy_defer_call_tells_without_a_reply(kind: Any) -> None:
    ref = _counter(kind).start()
    proxy = ref.proxy()

    assert proxy.add.defer(2) is None
    proxy.add.defer(3)

    assert proxy.count.get(timeout=5) == 5


def test_a_proxy_reads_and_sets_attributes(kind: Any) -> None:
    ref = _counter(kind).start()
    proxy = ref.proxy()

    proxy.count = 41

    assert proxy.count.get(timeout=5) == 41
    assert proxy.add().get(timeout=5) == 42


def test_a_proxy_refuses_private_names_with_attribute_error(kind: Any) -> None:
    ref = _counter(kind).start()
    proxy = ref.proxy()

    with pytest.raises(AttributeError, match="_secret"):
        proxy._secret  # noqa: B018
    with pytest.raises(AttributeError, match="_secret"):
        proxy._secret = "changed"
    assert ref.is_alive()
    assert "Counter" in repr(proxy)


def test_a_proxy_call_of_a_missing_method_crashes_the_agent_with_attribute_error(
        kind: Any) -> None:
    ref = _counter(kind).start()

    with pytest.raises(AttributeError):
        ref.proxy().no_such_method().get(timeout=5)

    assert isinstance(ref.join(timeout=5), AttributeError)


def test_an_ask_from_a_killed_thread_agent_fails_at_once_instead_of_waiting() -> None:
    """A killed agent whose thread still runs gets AgentExit at once from its asks.

    Thread kind only: a killed async agent's task is cancelled instead (see
    test_killing_an_async_agent_cancels_its_task_at_the_await).
    """
    import threading
    import time

    from kinds import KINDS

    from otp.errors import AgentExit

    kind = KINDS["thread"]

    release = threading.Event()
    running = threading.Event()
    outcome: list[Any] = []

    class Target(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            return message

    class Stuck(kind.Agent):
        def on_receive(self, message: Any) -> Any:
            running.set()
            release.wait(5)
            started = time.monotonic()
            try:
                message.ask("hello", timeout=3)
            except AgentExit as exc:
                outcome.append((exc.reason, time.monotonic() - started))

    target = Target.start()
    stuck = Stuck.start()
    stuck.tell(target)
    assert running.wait(5)
    stuck.kill()
    release.set()
    deadline = time.monotonic() + 5
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.01)
    assert outcome and outcome[0][0] == "killed"
    assert outcome[0][1] < 1.0
