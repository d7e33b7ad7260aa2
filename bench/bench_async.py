# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "pykka>=4.1",
#     "msgpack>=1.0",
#     "pyzmq>=25",
#     "pydantic>=2.6",
#     "structlog>=24.1",
# ]
# ///
"""Async-kind bench (issue 3): agent-otp's async agents beside a bare asyncio actor, in one run.

Everything measured runs on the node's event loop (``node_loop.ensure()``),
both sides in the same process run, interleaved over several rounds (the
side that goes first alternates). Asks and crashes are interleaved more
finely still: within a round, the sides take turns in blocks of a few
milliseconds (``blocks``), so that the drift of a shared machine falls on
every side alike:

1. same-loop tell throughput: N tells from a coroutine on the loop to one
   agent, timed until an ask sent after them returns (FIFO);
2. ask latency p50/p99: sequential awaited asks from a coroutine on the loop
   (an information row repeats agent-otp's with ``timeout=None``);
3. spawn rate: agents started from a coroutine on the loop (``Echo.start()``;
   the bare actor's constructor), timed until every one is ready (the loop is
   yielded to once, so the bare actors' tasks reach their first ``await``);
   then the stop of them all, timed separately (no target);
4. crash -> replacement answering p50/p99, from the tell that crashes the
   child (on the loop) until the replacement answers an ask. agent-otp: a
   one_for_one ``Supervisor`` started with ``kind="async"`` (on the loop); if
   that is not available yet, a thread Supervisor, and the rows say so.
   Bare: a minimal supervisor task that awaits death notices on an
   ``asyncio.Queue``, starts a new actor and publishes it. The replacement
   is found three ways, the same way on both sides: it announces itself
   (agent-otp from ``on_start``, the bare supervisor after starting it) into
   an ``asyncio.Queue`` that the bench coroutine awaits (target row); after
   the old child's exit is observed (``await old.join_async()``; the bare side
   awaits the old task) the supervisor is asked (``sup.proxy().whereis_child``;
   the bare side reads its supervisor's current child) (target row); and by
   polling ``whereis_child`` until it answers with a new ref (information).
   The supervisor's flags
   are intensity=1_000_000, period=1; one more information row repeats the
   target row with period=0.01 (a restart window that holds few restarts);
5. resident memory per idle agent, each in a fresh subprocess: VmRSS from
   /proc/self/status before and after spawning N idle agents from a
   coroutine on the loop (gc.collect() before each reading), at 100k per
   round for both sides (and agent-otp after one message each, information),
   and once at 1M for agent-otp (skipped by --quick), with its spawn time and
   the process's RSS. The bare actor is measured at 100k only: a million bare
   actors took 51 s to spawn here, at 4.61 KiB each (as at 100k).

Each figure is the median over rounds; each ratio is the median of the
per-round ratios (agent-otp / bare), with their range. Log output is
silenced (agent-otp's structlog at CRITICAL). Every wait on the loop is
bounded by the bound on the whole measurement (the main thread waits for
the measuring coroutine at most MEASURE_S seconds, then cancels it), so
no per-operation ``wait_for`` distorts the microsecond figures.

Run from the repository root (agent-otp need not be installed: the repository
root is put on sys.path when ``import otp`` fails):

    python bench/bench_async.py [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

try:
    import otp
except ImportError:  # run from a checkout without installing agent-otp
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import otp

from _common import bench_options, chosen_sizes, command_line, header, log, pct, version

from otp import AgentActor, ChildSpec, Supervisor

try:
    from otp.actor._loop import node_loop
except ImportError:  # before the loop had a module of its own
    from otp.actor._async import node_loop

WATCHDOG_S = 600  # the whole run is aborted (with every thread's traceback) past this
WAIT_S = 5.0  # an ask's timeout, a stop's wait
MEASURE_S = 120.0  # one measuring coroutine on the loop is cancelled past this
MEMORY_CHILD_S = 300.0  # one memory subprocess is killed past this

T = TypeVar("T")
ANCHOR_BARE_TELL = 1_360_000  # performance-anchors.md: minimal asyncio actor, tell, same loop
ANCHOR_BARE_ASK = 6.4  # performance-anchors.md: minimal asyncio actor, ask p50 (µs)

perf = time.perf_counter
perf_ns = time.perf_counter_ns


# ---------------------------------------------------------------- sizes
@dataclass(frozen=True)
class Sizes:
    rounds: int
    tells: int
    asks: int
    warmup: int
    spawns: int
    crashes: int
    memory_n: int  # idle agents per memory subprocess, per round
    memory_big: int  # the one big memory run (0: skipped)
    blocks: int = 10  # asks and crashes alternate between the sides in this many blocks


DEFAULT = Sizes(rounds=7, tells=200_000, asks=20_000, warmup=1_000, spawns=20_000,
                crashes=1_000, memory_n=100_000, memory_big=1_000_000)
QUICK = Sizes(rounds=3, tells=50_000, asks=5_000, warmup=500, spawns=5_000,
              crashes=200, memory_n=100_000, memory_big=0)


# ---------------------------------------------------------------- the bare asyncio actor
class BareActor:
    """A minimal asyncio actor: one Queue and one task; tell = put_nowait, ask = a future."""

    __slots__ = ("handler", "notices", "queue", "task")

    def __init__(self, handler: Callable[[Any], Any],
                 notices: asyncio.Queue[Any] | None = None) -> None:
        self.handler = handler
        self.notices = notices  # the supervisor's queue of death notices
        self.queue: asyncio.Queue[tuple[Any, asyncio.Future[Any] | None]] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        get, handler = self.queue.get, self.handler
        while True:
            message, future = await get()
            try:
                result = handler(message)
            except Exception as exc:  # noqa: BLE001 - let it crash
                if future is not None and not future.done():
                    future.set_exception(exc)
                if self.notices is not None:
                    self.notices.put_nowait(self)
                return
            if future is not None and not future.done():
                future.set_result(result)

    def tell(self, message: Any) -> None:
        self.queue.put_nowait((message, None))

    async def ask(self, message: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((message, future))
        return await future

    def stop(self) -> None:
        self.task.cancel()


class BareSupervisor:
    """A task that restarts a crashed BareActor and publishes the replacement."""

    def __init__(self, handler: Callable[[Any], Any]) -> None:
        self.handler = handler
        self.notices: asyncio.Queue[Any] = asyncio.Queue()
        self.published: asyncio.Queue[BareActor] = asyncio.Queue()
        self.child = BareActor(handler, self.notices)
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await self.notices.get()
            self.child = BareActor(self.handler, self.notices)
            self.published.put_nowait(self.child)

    def stop(self) -> None:
        self.task.cancel()
        self.child.stop()


# ---------------------------------------------------------------- the agents
SENTINEL = "count?"
DIE = "die"


class Counter(AgentActor):
    """Counts plain messages; answers SENTINEL with the count, anything else with itself."""

    kind = "async"

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def on_receive(self, message: Any) -> Any:
        if message == SENTINEL:
            return self.n
        self.n += 1
        return message


class BareCounter:
    """The same handler for the bare actor (a callable with state)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, message: Any) -> Any:
        if message == SENTINEL:
            return self.n
        self.n += 1
        return message


class Echo(AgentActor):
    """Answers with the message: the idle agent of the spawn and memory rows."""

    kind = "async"

    def on_receive(self, message: Any) -> Any:
        return message


def echo(message: Any) -> Any:
    return message


class Crashy(AgentActor):
    """Answers asks; raises on DIE."""

    kind = "async"

    def on_receive(self, message: Any) -> Any:
        if message == DIE:
            raise RuntimeError("boom (bench crash)")
        return message


class CrashyAnnouncer(Crashy):
    """A Crashy that publishes its own ref from on_start (always run on the node loop)."""

    def __init__(self, published: asyncio.Queue[Any]) -> None:
        super().__init__()
        self._published = published

    def on_start(self) -> None:
        self._published.put_nowait(self.actor_ref)


def crashy_handler(message: Any) -> Any:
    if message == DIE:
        raise RuntimeError("boom (bench crash)")
    return message


# ---------------------------------------------------------------- helpers
def on_loop(coro: Coroutine[Any, Any, T], timeout: float = MEASURE_S) -> T:
    """Run ``coro`` on the node loop and wait (bounded) for its result from this thread."""
    cfut = asyncio.run_coroutine_threadsafe(coro, node_loop.ensure())
    try:
        return cfut.result(timeout)
    except TimeoutError:
        cfut.cancel()
        raise


def settle() -> None:
    """Let the loop run what is queued (bounded), then collect garbage."""
    async def _yield() -> None:
        for _ in range(3):
            await asyncio.sleep(0)

    on_loop(_yield(), WAIT_S)
    gc.collect()


# ---------------------------------------------------------------- 1. tell throughput
async def tell_otp(n: int) -> float:
    ref = Counter.start()
    try:
        tell = ref.tell
        t0 = perf()
        for i in range(n):
            tell(i)
        count = await ref.ask_async(SENTINEL, timeout=60.0)
        t1 = perf()
    finally:
        ref.kill()
    assert count == n, (count, n)
    return n / (t1 - t0)


async def tell_bare(n: int) -> float:
    actor = BareActor(BareCounter())
    try:
        tell = actor.tell
        t0 = perf()
        for i in range(n):
            tell(i)
        count = await actor.ask(SENTINEL)
        t1 = perf()
    finally:
        actor.stop()
    assert count == n, (count, n)
    return n / (t1 - t0)


# ---------------------------------------------------------------- interleaving in blocks
Sampler = Callable[[], Awaitable[float]]


async def blockwise(samplers: list[Sampler], n: int, blocks: int,
                    forward: bool) -> list[list[float]]:
    """Take ``n`` samples from each sampler, alternating between them in ``blocks`` blocks.

    The machines this runs on drift by tens of percent over seconds; blocks a
    few milliseconds long put every side under the same conditions.
    """
    out: list[list[float]] = [[] for _ in samplers]
    per = max(1, n // blocks)
    for b in range(blocks):
        order = list(range(len(samplers)))
        if (b % 2 == 0) != forward:
            order.reverse()
        for i in order:
            sample, append = samplers[i], out[i].append
            for _ in range(per):
                append(await sample())
    return out


# ---------------------------------------------------------------- 2. ask latency
def ask_sampler(ask: Callable[[Any], Awaitable[Any]]) -> Sampler:
    async def sample() -> float:
        t0 = perf_ns()
        await ask(t0)
        return (perf_ns() - t0) / 1000.0

    return sample


async def asks(n: int, warmup: int, blocks: int, forward: bool) -> list[list[float]]:
    """Samples of: agent-otp ask_async(timeout=5), ask_async(timeout=None), the bare ask."""
    ref = Echo.start()
    actor = BareActor(echo)
    ask_async = ref.ask_async

    def otp_ask(timeout: float | None) -> Callable[[Any], Awaitable[Any]]:
        return lambda x: ask_async(x, timeout=timeout)

    samplers = [ask_sampler(otp_ask(WAIT_S)), ask_sampler(otp_ask(None)),
                ask_sampler(actor.ask)]
    try:
        await blockwise(samplers, warmup, 1, forward)
        return await blockwise(samplers, n, blocks, forward)
    finally:
        ref.kill()
        actor.stop()


# ---------------------------------------------------------------- 3. spawn, then stop
async def spawn_otp(n: int) -> tuple[float, float]:
    start = Echo.start
    t0 = perf()
    refs = [start() for _ in range(n)]
    await asyncio.sleep(0)
    t1 = perf()
    assert await refs[-1].ask_async("ready?") == "ready?"
    t2 = perf()
    for ref in refs:
        ref.kill()  # stop() waits, so it is refused on the loop; kill() is immediate
    await asyncio.sleep(0)
    t3 = perf()
    assert not refs[0].is_alive()
    return n / (t1 - t0), n / (t3 - t2)


async def spawn_bare(n: int) -> tuple[float, float]:
    t0 = perf()
    actors = [BareActor(echo) for _ in range(n)]
    await asyncio.sleep(0)  # every task runs up to its first await: ready
    t1 = perf()
    assert await actors[-1].ask("ready?") == "ready?"
    t2 = perf()
    for actor in actors:
        actor.stop()
    await asyncio.sleep(0)  # every task handles its cancellation: stopped
    t3 = perf()
    assert actors[0].task.done()
    return n / (t1 - t0), n / (t3 - t2)


# ---------------------------------------------------------------- 4. crash -> replacement
SHORT_PERIOD = 0.01  # an information row: a restart window that holds few restarts
SUP_MODE: dict[str, str] = {}  # "async" or "thread": how agent-otp's supervisor runs


def start_supervisor(spec: ChildSpec, period: float = 1) -> Any:
    """A one_for_one Supervisor on the loop (kind="async"); a thread one while unavailable."""
    flags: dict[str, Any] = {"strategy": "one_for_one", "intensity": 1_000_000, "period": period}
    try:
        sup = Supervisor.start(kind="async", children=[spec], **flags)
    except (TypeError, ValueError) as exc:  # SpecError is a ValueError
        if "kind" not in str(exc):
            raise
        SUP_MODE.setdefault("mode", "thread")
        SUP_MODE.setdefault("why", f"{type(exc).__name__}: {exc}")
        sup = Supervisor.start(children=[spec], **flags)
    else:
        SUP_MODE.setdefault("mode", "async")
    assert sup is not None
    return sup


async def whereis(sup: Any) -> Any:
    status, ref = await sup.proxy().whereis_child("w")
    assert status == "ok", (status, ref)
    return ref


class OtpAnnounced:
    """agent-otp, the replacement announces itself from on_start."""

    def __init__(self, period: float = 1) -> None:  # on the main thread
        self.published: asyncio.Queue[Any] = asyncio.Queue()  # used on the loop only
        self.sup = start_supervisor(
            ChildSpec(id="w", start=CrashyAnnouncer, args=(self.published,)), period)

    async def setup(self) -> None:
        self.child = await self.published.get()
        await self.child.ask_async("warm")

    async def sample(self) -> float:
        t0 = perf_ns()
        self.child.tell(DIE)
        new = await self.published.get()
        await new.ask_async("ping")
        t1 = perf_ns()
        self.child = new
        return (t1 - t0) / 1000.0

    def close(self) -> None:  # on the main thread
        self.sup.stop(timeout=WAIT_S)


class OtpFound:
    """agent-otp, the replacement found through the supervisor (after join_async, or polling)."""

    def __init__(self, poll: bool) -> None:
        self.poll = poll
        self.sup = start_supervisor(ChildSpec(id="w", start=Crashy))

    async def setup(self) -> None:
        self.child = await whereis(self.sup)
        await self.child.ask_async("warm")

    async def sample(self) -> float:
        child = self.child
        t0 = perf_ns()
        child.tell(DIE)
        if not self.poll:
            await child.join_async(timeout=WAIT_S)
        for _attempt in range(100_000):  # bounded all the same
            new = await whereis(self.sup)
            if new is not None and new != child:
                break
        else:
            msg = f"no replacement for {child}"
            raise RuntimeError(msg)
        await new.ask_async("ping")
        t1 = perf_ns()
        self.child = new
        return (t1 - t0) / 1000.0

    def close(self) -> None:
        self.sup.stop(timeout=WAIT_S)


class BarePublished:
    """The bare supervisor publishes the replacement on a Queue."""

    async def setup(self) -> None:  # on the loop
        self.sup = BareSupervisor(crashy_handler)
        self.child = self.sup.child
        await self.child.ask("warm")

    async def sample(self) -> float:
        t0 = perf_ns()
        self.child.tell(DIE)
        new = await self.sup.published.get()
        await new.ask("ping")
        t1 = perf_ns()
        self.child = new
        return (t1 - t0) / 1000.0

    def close(self) -> None:
        self.sup.stop()


class BareFound(BarePublished):
    """The bare side found through its supervisor (after the old task ends, or polling)."""

    def __init__(self, poll: bool) -> None:
        self.poll = poll

    async def sample(self) -> float:
        child, sup = self.child, self.sup
        t0 = perf_ns()
        child.tell(DIE)
        if not self.poll:
            await child.task  # the old actor has exited
        for _attempt in range(100_000):  # bounded all the same
            new = sup.child
            if new is not child:
                break
            await asyncio.sleep(0)
        else:
            msg = "no replacement"
            raise RuntimeError(msg)
        await new.ask("ping")
        t1 = perf_ns()
        self.child = new
        return (t1 - t0) / 1000.0


def crashes(n: int, blocks: int, forward: bool) -> list[list[float]]:
    """Samples of: OtpAnnounced (period 1, then SHORT_PERIOD), OtpFound (join, poll),
    BarePublished, BareFound (join, poll); interleaved in blocks."""
    otp_sides: list[Any] = []
    bare_sides: list[Any] = [BarePublished(), BareFound(poll=False), BareFound(poll=True)]
    try:
        for make in (OtpAnnounced, lambda: OtpAnnounced(SHORT_PERIOD),
                     lambda: OtpFound(poll=False), lambda: OtpFound(poll=True)):
            otp_sides.append(make())
        sides = otp_sides + bare_sides

        async def measure() -> list[list[float]]:
            try:
                for side in sides:
                    await side.setup()
                return await blockwise([s.sample for s in sides], n, blocks, forward)
            finally:
                for side in bare_sides:
                    if hasattr(side, "sup"):
                        side.close()

        return on_loop(measure())
    finally:
        for side in otp_sides:
            side.close()


# ---------------------------------------------------------------- 5. memory (subprocesses)
def vm_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    msg = "no VmRSS in /proc/self/status"
    raise RuntimeError(msg)


def memory_child(side: str, n: int, messaged: bool) -> dict[str, float]:
    """In a fresh process: RSS before and after spawning ``n`` idle agents on the loop."""
    faulthandler.dump_traceback_later(MEMORY_CHILD_S, exit=True)
    otp.configure_logging("critical")
    node_loop.ensure()

    async def spawn() -> tuple[list[Any], float]:
        t0 = perf()
        if side == "otp":
            start = Echo.start
            agents: list[Any] = [start() for _ in range(n)]
            await asyncio.sleep(0)
            if messaged:  # each handles one message, then is idle again (its mailbox stays)
                for ref in agents:
                    ref.tell("hello")
                await agents[-1].ask_async("hello", timeout=60.0)  # FIFO: all done before
        else:
            agents = [BareActor(echo) for _ in range(n)]
            await asyncio.sleep(0)  # every task reaches its first await: idle
        return agents, perf() - t0

    async def noop() -> None:
        await asyncio.sleep(0)

    on_loop(noop())  # the loop, the heartbeat and the ask deadlines exist before "before"
    gc.collect()
    before = vm_rss_kib()
    agents, spawn_s = on_loop(spawn(), MEMORY_CHILD_S)
    gc.collect()
    after = vm_rss_kib()
    assert len(agents) == n
    return {"n": n, "before_kib": before, "after_kib": after,
            "per_agent_kib": (after - before) / n, "spawn_s": spawn_s}


def measure_memory(side: str, n: int, messaged: bool = False) -> dict[str, float]:
    """Run memory_child in a fresh interpreter; return its figures."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", side, str(n)]
    if messaged:
        cmd.append("--messaged")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=MEMORY_CHILD_S,
                          check=False)
    if done.returncode != 0:
        msg = f"memory child {side} {n} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        raise RuntimeError(msg)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the run
@dataclass
class Series:
    """Per-round values of one measured quantity on both sides."""

    otp: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)

    def add(self, otp_value: float, bare_value: float) -> None:
        self.otp.append(otp_value)
        self.bare.append(bare_value)


KEYS = ("tell", "ask_p50", "ask_p99", "ask_nt_p50", "spawn", "stop",
        "crash_p50", "crash_p99", "crash_short_p50", "crash_join_p50", "crash_join_p99",
        "crash_poll_p50", "crash_poll_p99", "mem", "mem_msg")


def run(sizes: Sizes, log: Callable[[str], None]) -> tuple[dict[str, Series], dict[str, Any]]:
    results: dict[str, Series] = {k: Series() for k in KEYS}
    once: dict[str, Any] = {}

    def interleaved(fns: list[Callable[[], Any]], forward: bool) -> list[Any]:
        """Run each fn once, in the given or reversed order; return results in given order."""
        got: dict[int, Any] = {}
        for i in (range(len(fns)) if forward else reversed(range(len(fns)))):
            settle()
            got[i] = fns[i]()
        settle()
        return [got[i] for i in range(len(fns))]

    def pair(otp_fn: Callable[[], Any], bare_fn: Callable[[], Any], first: bool) -> list[Any]:
        return interleaved([otp_fn, bare_fn], first)

    for r in range(sizes.rounds):
        first = r % 2 == 0
        t_round = perf()
        o, b = pair(lambda: on_loop(tell_otp(sizes.tells)),
                    lambda: on_loop(tell_bare(sizes.tells)), first)
        results["tell"].add(o, b)
        settle()
        o, nt, b = on_loop(asks(sizes.asks, sizes.warmup, sizes.blocks, first))
        results["ask_p50"].add(pct(o, 0.50), pct(b, 0.50))
        results["ask_p99"].add(pct(o, 0.99), pct(b, 0.99))
        results["ask_nt_p50"].add(pct(nt, 0.50), pct(b, 0.50))
        (os_, ot), (bs, bt) = pair(lambda: on_loop(spawn_otp(sizes.spawns)),
                                   lambda: on_loop(spawn_bare(sizes.spawns)), first)
        results["spawn"].add(os_, bs)
        results["stop"].add(ot, bt)
        settle()
        o, sh, j, p, b, bj, bp = crashes(sizes.crashes, sizes.blocks, first)
        results["crash_p50"].add(pct(o, 0.50), pct(b, 0.50))
        results["crash_p99"].add(pct(o, 0.99), pct(b, 0.99))
        results["crash_short_p50"].add(pct(sh, 0.50), pct(b, 0.50))
        results["crash_join_p50"].add(pct(j, 0.50), pct(bj, 0.50))
        results["crash_join_p99"].add(pct(j, 0.99), pct(bj, 0.99))
        results["crash_poll_p50"].add(pct(p, 0.50), pct(bp, 0.50))
        results["crash_poll_p99"].add(pct(p, 0.99), pct(bp, 0.99))
        mo, mb = pair(lambda: measure_memory("otp", sizes.memory_n),
                      lambda: measure_memory("bare", sizes.memory_n), first)
        results["mem"].add(mo["per_agent_kib"], mb["per_agent_kib"])
        mm = measure_memory("otp", sizes.memory_n, messaged=True)
        results["mem_msg"].add(mm["per_agent_kib"], mb["per_agent_kib"])
        log(f"round {r + 1}/{sizes.rounds}: {perf() - t_round:.1f} s "
            f"(tell {results['tell'].otp[-1]:,.0f} vs {results['tell'].bare[-1]:,.0f} msg/s; "
            f"ask p50 {results['ask_p50'].otp[-1]:.1f} vs {results['ask_p50'].bare[-1]:.1f} µs; "
            f"spawn {results['spawn'].otp[-1]:,.0f} vs {results['spawn'].bare[-1]:,.0f}/s; "
            f"crash p50 {results['crash_p50'].otp[-1]:.0f} vs "
            f"{results['crash_p50'].bare[-1]:.0f} µs; "
            f"memory {results['mem'].otp[-1]:.2f} vs {results['mem'].bare[-1]:.2f} KiB/agent)")
    if sizes.memory_big:
        t_big = perf()
        once["big"] = measure_memory("otp", sizes.memory_big)
        log(f"{sizes.memory_big:,} idle agents: {once['big']['per_agent_kib']:.2f} KiB each, "
            f"spawned in {once['big']['spawn_s']:.1f} s ({perf() - t_big:.1f} s with the process)")
    return results, once


# ---------------------------------------------------------------- the report
@dataclass(frozen=True)
class Row:
    what: str
    key: str
    unit: str
    higher_is_better: bool
    target: str
    check: Any  # (otp median, ratio median) -> bool, or None for an information row


def _rows(sizes: Sizes) -> list[Row]:
    sup = "on-loop Supervisor" if SUP_MODE.get("mode") == "async" else \
        "**thread** Supervisor (fallback: kind='async' not available)"
    k = f"{sizes.memory_n // 1000}k"
    return [
        Row("same-loop tell throughput", "tell", "msg/s", True, "≥ 1,000,000 msg/s and ratio ≥ 0.70×",
            lambda v, ratio: v >= 1_000_000 and ratio >= 0.70),
        Row("ask latency p50", "ask_p50", "µs", False, "agent-otp ≤ 10 µs",
            lambda v, _ratio: v <= 10.0),
        Row("ask latency p99", "ask_p99", "µs", False, "—", None),
        Row("ask latency p50, ask_async(timeout=None) (info)", "ask_nt_p50", "µs", False, "—", None),
        Row("spawn rate", "spawn", "agents/s", True, "agent-otp ≥ 100,000/s",
            lambda v, _ratio: v >= 100_000),
        Row("stop rate (agent-otp: kill(); bare: task.cancel())", "stop", "agents/s", True, "—",
            None),
        Row(f"crash → replacement answering p50, replacement announces itself; {sup}",
            "crash_p50", "µs", False, "agent-otp ≤ 50 µs", lambda v, _ratio: v <= 50.0),
        Row("crash → replacement answering p99, replacement announces itself", "crash_p99", "µs",
            False, "—", None),
        Row(f"crash → replacement answering p50, announces itself, period={SHORT_PERIOD} s "
            "(info)", "crash_short_p50", "µs", False, "—", None),
        Row("crash → replacement answering p50, join_async then whereis_child", "crash_join_p50",
            "µs", False, "agent-otp ≤ 50 µs", lambda v, _ratio: v <= 50.0),
        Row("crash → replacement answering p99, join_async then whereis_child", "crash_join_p99",
            "µs", False, "—", None),
        Row("crash → replacement answering p50, polling whereis_child (info)", "crash_poll_p50",
            "µs", False, "—", None),
        Row("crash → replacement answering p99, polling whereis_child (info)", "crash_poll_p99",
            "µs", False, "—", None),
        Row(f"resident memory per idle agent, {k} agents", "mem", "KiB", False,
            "agent-otp ≤ 3 KiB", lambda v, _ratio: v <= 3.0),
        Row(f"resident memory per idle agent, {k} agents, after one message each (info; "
            "bare: as above)", "mem_msg", "KiB", False, "—", None),
    ]


def _fmt(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value:,.1f} µs" if value < 100 else f"{value:,.0f} µs"
    if unit == "KiB":
        return f"{value:,.2f} KiB"
    return f"{value:,.0f} {unit}"


def mem_total_kib() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0


def table(results: dict[str, Series], once: dict[str, Any], sizes: Sizes) -> str:
    lines = ["| what | agent-otp | bare asyncio actor | ratio (otp/bare) | target | verdict |",
             "|---|---|---|---|---|---|"]
    for row in _rows(sizes):
        s = results[row.key]
        o, b = statistics.median(s.otp), statistics.median(s.bare)
        ratios = [x / y for x, y in zip(s.otp, s.bare, strict=True)]
        ratio = statistics.median(ratios)
        better = "higher" if row.higher_is_better else "lower"
        ratio_txt = f"{ratio:.2f}× ({min(ratios):.2f}–{max(ratios):.2f}; {better} is better)"
        verdict = "—" if row.check is None else ("met" if row.check(o, ratio) else "**MISSED**")
        lines.append(f"| {row.what} | {_fmt(o, row.unit)} | {_fmt(b, row.unit)} | {ratio_txt} "
                     f"| {row.target} | {verdict} |")
    big = once.get("big")
    if big is not None:
        n = int(big["n"])
        total_gib = big["after_kib"] / 2**20
        fits = big["after_kib"] < mem_total_kib()
        per = big["per_agent_kib"]
        lines.append(f"| resident memory per idle agent, {n // 1_000_000}M agents (one run) "
                     f"| {per:.2f} KiB | — | — | agent-otp ≤ 3 KiB | "
                     f"{'met' if per <= 3.0 else '**MISSED**'} |")
        lines.append(f"| {n:,} idle agents: process RSS, spawn time (one run) "
                     f"| {total_gib:.2f} GiB, {big['spawn_s']:.1f} s "
                     f"({n / big['spawn_s']:,.0f} agents/s) | — | — "
                     f"| fits in {mem_total_kib() / 2**20:.0f} GiB | "
                     f"{'met' if fits else '**MISSED**'} |")
    return "\n".join(lines)


def versions() -> tuple[str, str, str]:
    """pykka's and structlog's versions and the RAM, for the Machine line."""
    return (f"pykka {version('pykka')}", f"structlog {version('structlog')}",
            f"{mem_total_kib() / 2**20:.1f} GiB RAM")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench_options(parser, 7, "smaller sizes and no 1M-agent run, for a run under ~30 s")
    parser.add_argument("--memory-child", nargs=2, metavar=("SIDE", "N"),
                        help=argparse.SUPPRESS)  # internal: one memory measurement
    parser.add_argument("--messaged", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        side, n = args.memory_child
        print(json.dumps(memory_child(side, int(n), args.messaged)), flush=True)
        os._exit(0)  # at once: tearing down n agents (or pending tasks) is not measured
    sizes = chosen_sizes(parser, args, DEFAULT, QUICK)

    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    otp.configure_logging("critical")  # agent-otp's structlog: error events become no-ops
    command = command_line()
    log(f"{command}: {sizes}")
    node_loop.ensure()
    t0 = perf()
    try:
        results, once = run(sizes, log)
    finally:  # every measurement stops what it starts; this is only a safety net
        leftover = otp.shutdown_all(timeout=WAIT_S)
        faulthandler.cancel_dump_traceback_later()
    elapsed = perf() - t0
    log(f"left running at the end (stopped now): {leftover} agent-otp agents; "
        f"{threading.active_count()} threads alive")

    print(header(f"Async bench: agent-otp async agents vs a bare asyncio actor, "
                 f"{sizes.rounds} interleaved rounds", command, *versions()))
    sup_line = ("one_for_one Supervisor on the loop (kind='async')"
                if SUP_MODE.get("mode") == "async" else
                f"one_for_one **thread** Supervisor (Supervisor.start(kind='async') failed: "
                f"{SUP_MODE.get('why', '?')})")
    print(f"Crash rows: {sup_line}  ")
    print(f"Sizes per round and side: {sizes.tells:,} tells; {sizes.asks:,} asks "
          f"(+{sizes.warmup:,} warm-up); {sizes.spawns:,} spawns then stops; "
          f"{sizes.crashes:,} crashes per crash row; {sizes.memory_n:,} idle agents per "
          f"memory subprocess"
          + (f"; one run of {sizes.memory_big:,} idle agent-otp agents" if sizes.memory_big
             else "") + f". Total run time {elapsed:.1f} s.\n")
    print(table(results, once, sizes))
    bare_tell = statistics.median(results["tell"].bare)
    bare_ask = statistics.median(results["ask_p50"].bare)
    print(f"\nThis machine, this run: the bare actor's tell {bare_tell:,.0f} msg/s and ask p50 "
          f"{bare_ask:.1f} µs, against {ANCHOR_BARE_TELL:,} msg/s and {ANCHOR_BARE_ASK} µs in "
          f"performance-anchors.md ({bare_tell / ANCHOR_BARE_TELL:.2f}× and "
          f"{bare_ask / ANCHOR_BARE_ASK:.2f}× the anchors' figures).")
    print("\nFigures: medians over rounds (p50/p99 are per round, then the median). "
          "Ratio: median of the per-round ratios agent-otp/bare, with their range. All "
          "measuring coroutines run on the node loop (run_coroutine_threadsafe). The bare actor "
          "is an asyncio.Queue and a task per actor (tell = put_nowait, ask = a loop future "
          "awaited, no timeout); its supervisor is a task awaiting death notices on a Queue. "
          "agent-otp asks are ask_async(timeout=5.0) unless marked. Crash rows: timed from the "
          "tell that crashes the child until the replacement answers an ask; 'announces itself': "
          "the agent-otp replacement puts its ref on an asyncio.Queue from on_start, the bare "
          "supervisor puts the new actor on one; 'join_async then whereis_child': await "
          "old.join_async() then sup.proxy().whereis_child('w') (bare: await the old task, then "
          "read the supervisor's child); 'polling': whereis_child until it answers a new ref "
          "(bare: read the supervisor's child, yielding to the loop, until it changes). Memory: "
          "VmRSS of a fresh process after gc.collect(), before and after spawning the agents "
          "from a coroutine on the loop, divided by their number.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
