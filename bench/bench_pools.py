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
"""Pools bench (issue 5): fan-out latency against the slowest member, and routing throughput
against direct asks, on two nodes, in one run.

Two processes on 127.0.0.1 over tcp: this one (node ``a``: the caller, and
half of every pool) and an ``otp-node start`` subprocess (node ``b``: the
other half). Every pool is ``Pool.start(Worker, N, nodes=[a, b])`` (member
*i* on ``nodes[i % 2]``), for N = 10 and 100, with members of both kinds:
``_node_agents.AsyncWorker`` (``kind = "async"``, the node loop) and
``_node_agents.Worker`` (thread agents), imported by node b by path.

1. fan-out latency: ``pool.ask(("sleep", 0.001, i), strategy=s)`` from a plain
   thread, each member answering after a 1 ms service time (async: ``await
   asyncio.sleep``, thread: ``time.sleep``), for s = "all", "majority",
   "first". A fan-out that leaves stragglers (majority, first) is followed,
   untimed, by an "all" fan-out with no service time, so every sample starts
   on an idle pool (members answer in order).
   **Overhead** = p50 of the fan-out − p50 of the *slowest member alone*: the
   same message asked of one member on its own (``ref.ask``, sequential, from
   the same thread), cycling over the pool's members on node b. A remote
   member is the slowest: it pays the network round trip on top of the
   service time (the members on node a are measured too and are faster). All
   samplers of a pool take turns in blocks within a round (the order
   alternates), so machine drift falls on each alike. Both p50s come from
   the same round; the figure is the median over rounds of the per-round
   difference. Also measured in the same blocks: a hand-written fan-out with
   plain futures (``m.ask(msg, block=False)`` to every member, then
   ``.get()`` each), the pool's own machinery (ballot, members list) being
   the difference; and a floor for each kind, the same fan-out without
   agent-otp or network, in this process: over N plain Python threads (a
   ``SimpleQueue`` each, ``time.sleep``, one ``Condition``) and over N bare
   asyncio tasks on a loop of their own (``asyncio.gather`` of N coroutines
   awaiting ``asyncio.sleep``, from the calling thread with
   ``run_coroutine_threadsafe``), each against one thread / one task alone;
2. routing throughput (req/s): ``pool.route_future(i)`` with 100 in flight
   (waited oldest first), no service time, for routing = round_robin,
   least_loaded, hash (``key=i``) — three ``Pool(supervisor=...)`` views of
   one supervised pool — against direct pipelined asks to the same members
   in the same order (``members[i % N].ask(i, block=False)``, 100 in
   flight). The order of the four runs alternates per round.

Each figure is the median over rounds (p50/p99 per round, then the median).
Logs are silenced (structlog at CRITICAL here, ``--log-level critical`` on b).

Run from the repository root (agent-otp need not be installed: the repository
root is put on sys.path when ``import otp`` fails):

    python bench/bench_pools.py [--rounds N] [--quick]   # about 100 s; --quick about 35 s

``PYTHONPATH=/path/to/other/checkout python bench/bench_pools.py`` measures
another checkout (both nodes run the ``otp`` this process imported).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import faulthandler
import gc
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import otp
except ImportError:  # run from a checkout without installing agent-otp
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import otp

from _common import (
    COOKIE,
    START_S,
    OtherNode,
    Results,
    Row,
    bench_options,
    blockwise,
    check_same_otp,
    child_env,
    chosen_sizes,
    command_line,
    diff_table,
    header,
    log,
    pct,
    ratio_table,
    start_otp_node,
    timed,
    zmq_versions,
)
from _node_agents import SLEEP, AsyncWorker, Worker

import otp.node
from otp.pool import Pool

QUICK_HELP = "3 smaller rounds, about 35 s"
WATCHDOG_S = 600  # the whole run is aborted (with every thread's traceback) past this
WAIT_S = 10.0  # a fan-out's or an ask's timeout
SERVICE_S = 0.001  # each member's service time in the fan-out rows
TARGET_MS = 2.0  # fan-out overhead p50 target
INFLIGHT = 100
SIZES_N = (10, 100)
KINDS = {"async": AsyncWorker, "thread": Worker}
STRATEGIES = ("all", "majority", "first")
ROUTINGS = ("round_robin", "least_loaded", "hash")

perf = time.perf_counter


@dataclass(frozen=True)
class Sizes:
    rounds: int
    fan10: int  # samples per sampler per round, 10 members
    fan100: int  # samples per sampler per round, 100 members
    warmup: int  # untimed samples per sampler before each round's blocks
    requests: int  # requests per routing run
    blocks: int = 5  # the samplers of a pool take turns in this many blocks


DEFAULT = Sizes(rounds=5, fan10=100, fan100=40, warmup=5, requests=3_000)
QUICK = Sizes(rounds=3, fan10=30, fan100=12, warmup=3, requests=1_000)


# ---------------------------------------------------------------- the floor: plain threads
class _Gather:
    """Counts N answers; the asker waits on its Condition."""

    __slots__ = ("cond", "got", "n")

    def __init__(self, n: int) -> None:
        self.n, self.got, self.cond = n, 0, threading.Condition()

    def answer(self, _value: Any) -> None:
        with self.cond:
            self.got += 1
            if self.got == self.n:
                self.cond.notify_all()

    def wait(self) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.got >= self.n, WAIT_S):
                msg = f"plain threads: {self.got}/{self.n} answers within {WAIT_S} s"
                raise TimeoutError(msg)


class PlainThreads:
    """N plain threads, a SimpleQueue each, answering after ``time.sleep(service)``."""

    def __init__(self, n: int, service: float) -> None:
        self.service = service
        self.queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(n)]
        self.threads = [threading.Thread(target=self._run, args=(q,), daemon=True,
                                         name=f"plain-{i}") for i, q in enumerate(self.queues)]
        for t in self.threads:
            t.start()

    def _run(self, inbox: queue.SimpleQueue[Any]) -> None:
        get, sleep, service = inbox.get, time.sleep, self.service
        while True:
            item = get()
            if item is None:
                return
            sleep(service)
            item[1].answer(item[0])

    def fan_out(self, i: int) -> None:
        gather = _Gather(len(self.queues))
        for q in self.queues:
            q.put((i, gather))
        gather.wait()

    def alone(self, i: int) -> None:
        gather = _Gather(1)
        self.queues[i % len(self.queues)].put((i, gather))
        gather.wait()

    def stop(self) -> None:
        for q in self.queues:
            q.put(None)
        for t in self.threads:
            t.join(5)


class PlainTasks:
    """The async floor: N bare asyncio tasks on a loop of its own (a thread), each answering
    after ``await asyncio.sleep(service)``; asked from the calling thread."""

    def __init__(self, n: int, service: float) -> None:
        self.n, self.service = n, service
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="plain-loop")
        self.thread.start()

    async def _serve(self, i: int) -> int:
        await asyncio.sleep(self.service)
        return i

    async def _fan(self, i: int, n: int) -> None:
        serve = self._serve
        await asyncio.gather(*[serve(i) for _ in range(n)])

    def fan_out(self, i: int) -> None:
        asyncio.run_coroutine_threadsafe(self._fan(i, self.n), self.loop).result(WAIT_S)

    def alone(self, i: int) -> None:
        asyncio.run_coroutine_threadsafe(self._fan(i, 1), self.loop).result(WAIT_S)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


# ---------------------------------------------------------------- agent-otp's side
@dataclass
class Setup:
    """One supervised pool and what is measured against it."""

    kind: str
    n: int
    pool: Pool
    members: list[Any]
    remote: list[Any]  # the members on node b
    local: list[Any]  # the members on node a
    views: dict[str, Pool]  # routing -> a Pool over the same supervisor
    plain: PlainThreads | PlainTasks  # the floor: plain threads or bare asyncio tasks


def start_pools(a_name: str, b_name: str, log: Callable[[str], None],
                res: Results) -> list[Setup]:
    setups = []
    for kind, cls in KINDS.items():
        for n in SIZES_N:
            t0 = perf()
            pool = Pool.start(cls, n, nodes=[a_name, b_name])
            members = pool.members()
            took = perf() - t0
            res.add(**{f"start_{kind}_{n}": took})
            remote = [m for m in members if m.node == b_name]
            local = [m for m in members if m.node != b_name]
            if len(members) != n or len(remote) != n // 2:
                msg = f"pool of {n} {kind}: {len(members)} members, {len(remote)} on {b_name}"
                raise RuntimeError(msg)
            views = {r: Pool(supervisor=pool.supervisor, routing=r) for r in ROUTINGS}
            plain = PlainThreads(n, SERVICE_S) if kind == "thread" else PlainTasks(n, SERVICE_S)
            setups.append(Setup(kind, n, pool, members, remote, local, views, plain))
            log(f"Pool.start({cls.__name__}, {n}, nodes=[a, b]): {took:.2f} s")
    return setups


def fan_sampler(s: Setup, strategy: str) -> Callable[[int], float]:
    ask, settle = s.pool.ask, strategy != "all"
    pn = time.perf_counter_ns

    def sample(i: int) -> float:
        t0 = pn()
        result = ask((SLEEP, SERVICE_S, i), strategy=strategy, timeout=WAIT_S)
        t1 = pn()
        if not result.ok or (strategy != "all" and result.value != i):
            msg = f"{strategy} fan-out to {s.n} {s.kind} members: {result.reason}"
            raise RuntimeError(msg)
        if settle:  # let the stragglers finish before the next sample (members are FIFO)
            ask((SLEEP, 0.0, i), strategy="all", timeout=WAIT_S).get()
        return (t1 - t0) / 1000.0

    return sample


def futures_fan_out(s: Setup) -> Callable[[int], Any]:
    members = s.members

    def call(i: int) -> None:
        message = (SLEEP, SERVICE_S, i)
        futures = [m.ask(message, block=False) for m in members]
        for f in futures:
            f.get(timeout=WAIT_S)

    return call


def alone(refs: list[Any]) -> Callable[[int], Any]:
    def call(i: int) -> Any:
        return refs[i % len(refs)].ask((SLEEP, SERVICE_S, i), timeout=WAIT_S)

    return call


def pipelined(submit: Callable[[int], Any], n: int) -> float:
    """req/s of ``n`` requests with INFLIGHT outstanding, waited oldest first."""
    futures: collections.deque[Any] = collections.deque()
    t0 = perf()
    sent = 0
    for _ in range(min(INFLIGHT, n)):
        futures.append(submit(sent))
        sent += 1
    for i in range(n):
        got = futures.popleft().get(timeout=WAIT_S)
        if got != i:
            msg = f"request {i} answered {got!r}"
            raise RuntimeError(msg)
        if sent < n:
            futures.append(submit(sent))
            sent += 1
    return n / (perf() - t0)


def _hashed(view: Pool) -> Callable[[int], Any]:
    route = view.route_future

    def submit(i: int) -> Any:
        return route(i, key=i)

    return submit


def routing_runs(s: Setup, n: int) -> list[tuple[str, Callable[[], float]]]:
    members = s.members
    count = len(members)

    def direct(i: int) -> Any:
        return members[i % count].ask(i, block=False)

    runs: list[tuple[str, Callable[[], float]]] = [
        (f"direct_{s.kind}_{s.n}", lambda: pipelined(direct, n))]
    for routing, view in s.views.items():
        submit = _hashed(view) if routing == "hash" else view.route_future
        runs.append((f"route_{routing}_{s.kind}_{s.n}",
                     lambda submit=submit: pipelined(submit, n)))  # type: ignore[misc]
    return runs


def measure_round(setups: list[Setup], sizes: Sizes, forward: bool, res: Results) -> None:
    for s in setups if forward else reversed(setups):
        key = f"{s.kind}_{s.n}"
        names = [*STRATEGIES, "futures", "remote_alone", "local_alone", "plain_fan",
                 "plain_alone"]
        samplers = [*(fan_sampler(s, st) for st in STRATEGIES), timed(futures_fan_out(s)),
                    timed(alone(s.remote)), timed(alone(s.local)), timed(s.plain.fan_out),
                    timed(s.plain.alone)]
        gc.collect()
        blockwise(samplers, sizes.warmup * len(samplers), 1, forward)
        n = sizes.fan10 if s.n <= 10 else sizes.fan100
        samples = blockwise(samplers, n, sizes.blocks, forward)
        for name, got in zip(names, samples, strict=True):
            res.add(**{f"{name}_{key}_p50": pct(got, 0.5), f"{name}_{key}_p99": pct(got, 0.99)})
    for s in setups if not forward else reversed(setups):
        runs = routing_runs(s, sizes.requests)
        for name, fn in runs if forward else reversed(runs):
            gc.collect()
            res.add(**{name: fn()})


def run(sizes: Sizes, log: Callable[[str], None]) -> Results:
    env = child_env()
    check_same_otp(env)
    b: OtherNode | None = None
    res = Results()
    try:
        b = start_otp_node(env, "b")
        node = otp.node.start("a", "tcp://127.0.0.1:*", join=[b.address], cookie=COOKIE)
        setups: list[Setup] = []
        try:
            otp.node.wait_for(b.name, timeout=START_S)
            setups = start_pools(node.name, b.name, log, res)
            for r in range(sizes.rounds):
                t_round = perf()
                measure_round(setups, sizes, r % 2 == 0, res)
                v = res.values
                log(f"round {r + 1}/{sizes.rounds}: {perf() - t_round:.1f} s (all, 100 async: "
                    f"{v['all_async_100_p50'][-1]:,.0f} µs vs remote member alone "
                    f"{v['remote_alone_async_100_p50'][-1]:,.0f} µs; 100 thread: "
                    f"{v['all_thread_100_p50'][-1]:,.0f} vs "
                    f"{v['remote_alone_thread_100_p50'][-1]:,.0f} µs; round_robin 100 async "
                    f"{v['route_round_robin_async_100'][-1]:,.0f} vs direct "
                    f"{v['direct_async_100'][-1]:,.0f} req/s)")
        finally:
            for s in setups:
                s.pool.stop(timeout=WAIT_S)
                s.plain.stop()
            node.stop()
    finally:
        if b is not None:
            b.stop()
    return res


# ---------------------------------------------------------------- the report
def overhead_rows(res: Results) -> list[Row]:
    def ok(_v: float, diff_ms: float) -> bool:
        return diff_ms <= TARGET_MS

    def ms(key: str) -> list[float]:
        return [v / 1000.0 for v in res[key]]

    rows = []
    for kind in KINDS:
        for n in SIZES_N:
            key = f"{kind}_{n}"
            for strategy in STRATEGIES:
                rows.append(Row(f"{n} {kind} members, {strategy}, p50",
                                ms(f"{strategy}_{key}_p50"), ms(f"remote_alone_{key}_p50"),
                                "ms", False, f"≤ {TARGET_MS:g} ms", ok))
            rows.append(Row(f"{n} {kind} members, all, p99 (info)", ms(f"all_{key}_p99"),
                            ms(f"remote_alone_{key}_p99"), "ms", False))
    for kind, what in (("thread", "plain Python threads (a SimpleQueue each)"),
                       ("async", "bare asyncio tasks on one loop")):
        for n in SIZES_N:  # what the members' kind costs in one process, without agent-otp
            rows.append(Row(f"floor (info): {n} {what}, this process only, no agent-otp, "
                            "no network; baseline: one alone", ms(f"plain_fan_{kind}_{n}_p50"),
                            ms(f"plain_alone_{kind}_{n}_p50"), "ms", False))
    return rows


def ratio_rows(res: Results) -> list[Row]:
    rows = []
    for kind in KINDS:
        for n in SIZES_N:
            rows.append(Row(f"fan-out all p50, {n} {kind} members (vs hand-written: "
                            "ask(block=False) to each, then get() each)",
                            res[f"all_{kind}_{n}_p50"], res[f"futures_{kind}_{n}_p50"], "µs",
                            False))
    for kind in KINDS:
        for n in SIZES_N:
            for routing in ROUTINGS:
                rows.append(Row(f"route_future, {routing}, {n} {kind} members (vs direct asks)",
                                res[f"route_{routing}_{kind}_{n}"], res[f"direct_{kind}_{n}"],
                                "req/s", True))
    return rows


def baselines_table(res: Results) -> str:
    def m(key: str) -> str:
        return f"{statistics.median(res[key]) / 1000.0:,.2f} ms"

    lines = [("| members | remote member alone p50 (the baseline) | local member alone p50 | "
              "remote alone p99 | hand-written fan-out p50 | Pool.start |"),
             "|---|---|---|---|---|---|"]
    for kind in KINDS:
        for n in SIZES_N:
            key = f"{kind}_{n}"
            lines.append(f"| {n} {kind} | {m(f'remote_alone_{key}_p50')} "
                         f"| {m(f'local_alone_{key}_p50')} | {m(f'remote_alone_{key}_p99')} "
                         f"| {m(f'futures_{key}_p50')} "
                         f"| {statistics.median(res[f'start_{key}']):.2f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench_options(parser, 5, QUICK_HELP)
    args = parser.parse_args(argv)
    sizes = chosen_sizes(parser, args, DEFAULT, QUICK)

    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    otp.configure_logging("critical")
    command = command_line()
    log(f"{command}: {sizes}")
    t0 = perf()
    try:
        res = run(sizes, log)
    finally:
        faulthandler.cancel_dump_traceback_later()
    elapsed = perf() - t0

    print(header(f"Pools bench: fan-out overhead and routing throughput on two nodes, "
                 f"{sizes.rounds} interleaved rounds", command, *zmq_versions()))
    print(f"Sizes per round: {sizes.fan10:,} samples per sampler with 10 members and "
          f"{sizes.fan100:,} with 100 (+{sizes.warmup} warm-up), in {sizes.blocks} blocks; "
          f"{sizes.requests:,} requests per routing run, {INFLIGHT} in flight. Service time "
          f"{SERVICE_S * 1000:g} ms per member in the fan-out rows, none in the routing rows. "
          f"Total run time {elapsed:.1f} s.\n")
    print("Fan-out overhead = fan-out p50 − the slowest member's own p50 (a member on node b "
          "asked alone, same message), per round, then the median over rounds:\n")
    print(diff_table(overhead_rows(res), "slowest member alone",
                     "overhead (median of per-round differences, range)"))
    print()
    print(baselines_table(res))
    print()
    print(ratio_table(ratio_rows(res), "baseline", "pool/baseline"))
    print("\nFigures: medians over rounds (p50/p99 per round, then the median). Ratio: the "
          "median of the per-round ratios pool/baseline, with their range.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
