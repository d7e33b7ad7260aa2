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
"""Foundation bench (issue 2): agent-otp's thread agents beside raw pykka, in one run.

What is measured, each side by side with raw pykka in the same process run,
interleaved over several rounds (the side that goes first alternates):

1. tell throughput: N messages from the main thread to one agent, timed
   until an ask sent after them returns (FIFO);
2. ask latency p50/p99, sequential asks (and a proxy call p50 row);
3. spawn+stop rate, sequentially;
4. crash -> replacement answering, p50/p99: agent-otp under a one_for_one
   Supervisor (an Inbox monitors the child; after its Down the supervisor is
   asked for the new child, which is then asked); raw pykka under a minimal
   hand-written supervisor thread that publishes the replacement on a queue.
   An information row times agent-otp the way the raw baseline is timed: the
   replacement publishes its own ref from on_start (no Down, no supervisor
   call), which isolates the runtime's crash-and-restart path from the cost
   of finding the new child. Two more information rows repeat the target
   measurement with logging on for both sides (agent-otp's
   ``configure_logging("info")`` console renderer, pykka's stdlib logger at
   INFO; both writing to /dev/null), as an application would run.

Each figure is the median over rounds; each ratio is the median of the
per-round ratios (agent-otp / pykka), with their range. Outside the
"logs on" rows, log output is silenced on both sides (agent-otp's structlog
at CRITICAL, the "pykka" stdlib logger at CRITICAL), so crashes cost no
formatting or I/O on either.

Run from the repository root (agent-otp need not be installed: the repository
root is put on sys.path when ``import otp`` fails):

    python bench/bench_foundation.py [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import logging
import os
import queue
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import otp
except ImportError:  # run from a checkout without installing agent-otp
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import otp

import pykka
from _common import bench_options, chosen_sizes, command_line, header, log, pct, version

from otp import AgentActor, ChildSpec, Down, Inbox, Supervisor

WATCHDOG_S = 600  # the whole run is aborted (with every thread's traceback) past this
WAIT_S = 5.0  # every single wait in a measurement is bounded by this

perf = time.perf_counter
perf_ns = time.perf_counter_ns


# ---------------------------------------------------------------- sizes
@dataclass(frozen=True)
class Sizes:
    rounds: int
    tells: int
    asks: int
    proxy_calls: int
    warmup: int
    spawns: int
    crashes: int
    logged_crashes: int


DEFAULT = Sizes(rounds=5, tells=100_000, asks=20_000, proxy_calls=5_000, warmup=500,
                spawns=2_000, crashes=500, logged_crashes=30)
QUICK = Sizes(rounds=3, tells=50_000, asks=5_000, proxy_calls=2_000, warmup=300,
              spawns=500, crashes=150, logged_crashes=10)


# ---------------------------------------------------------------- the actors
SENTINEL = "count?"
CRASH = "crash"


class OtpCounter(AgentActor):
    """Counts plain messages; answers SENTINEL with the count, anything else with itself."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def on_receive(self, message: Any) -> Any:
        if message == SENTINEL:
            return self.n
        if message == CRASH:
            raise RuntimeError("boom (bench crash)")
        self.n += 1
        return message

    def ping(self, x: Any) -> Any:
        return x


class RawCounter(pykka.ThreadingActor):
    """The same actor on raw pykka."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def on_receive(self, message: Any) -> Any:
        if message == SENTINEL:
            return self.n
        self.n += 1
        return message

    def ping(self, x: Any) -> Any:
        return x


class OtpAnnouncer(OtpCounter):
    """An OtpCounter that publishes its own ref from on_start (the information row)."""

    def __init__(self, published: queue.SimpleQueue[Any]) -> None:
        super().__init__()
        self._published = published

    def on_start(self) -> None:
        self._published.put(self.actor_ref)


class OtpEmpty(AgentActor):
    """An agent that does nothing: for spawn+stop."""


class RawEmpty(pykka.ThreadingActor):
    """An actor that does nothing: for spawn+stop."""


# ---- raw pykka's minimal hand-written supervisor (the crash baseline)
class RawWorker(pykka.ThreadingActor):
    """Answers asks; crashes on CRASH; reports its death to its supervisor's queue."""

    def __init__(self, notices: queue.SimpleQueue[Any]) -> None:
        super().__init__()
        self._notices = notices

    def on_receive(self, message: Any) -> Any:
        if message == CRASH:
            raise RuntimeError("boom (bench crash)")
        return message

    def on_failure(self, *_exc_info: Any) -> None:
        self._notices.put(self.actor_ref)


class RawSupervisor:
    """A thread that restarts a RawWorker when it dies and publishes the new ref."""

    def __init__(self) -> None:
        self.notices: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.published: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.child = RawWorker.start(self.notices)
        self.thread = threading.Thread(target=self._run, name="raw-supervisor", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            dead = self.notices.get()
            if dead is None:
                return
            self.child = RawWorker.start(self.notices)
            self.published.put(self.child)

    def stop(self) -> None:
        self.notices.put(None)
        self.thread.join(WAIT_S)
        if self.child.is_alive():
            self.child.stop(timeout=WAIT_S)


# ---------------------------------------------------------------- helpers
def settle(baseline_threads: int) -> None:
    """Collect garbage and wait (bounded) for exiting actor threads to finish."""
    deadline = perf() + WAIT_S
    while threading.active_count() > baseline_threads and perf() < deadline:
        time.sleep(0.001)
    gc.collect()


# ---------------------------------------------------------------- 1. tell throughput
def tell_otp(n: int) -> float:
    ref = OtpCounter.start()
    try:
        tell = ref.tell
        t0 = perf()
        for i in range(n):
            tell(i)
        count = ref.ask(SENTINEL, timeout=60.0)
        t1 = perf()
    finally:
        ref.stop()
    assert count == n, (count, n)
    return n / (t1 - t0)


def tell_raw(n: int) -> float:
    ref = RawCounter.start()
    try:
        tell = ref.tell
        t0 = perf()
        for i in range(n):
            tell(i)
        count = ref.ask(SENTINEL, timeout=60.0)
        t1 = perf()
    finally:
        ref.stop(timeout=WAIT_S)
    assert count == n, (count, n)
    return n / (t1 - t0)


# ---------------------------------------------------------------- 2. ask latency
def _asks(ask: Any, n: int, warmup: int) -> list[float]:
    for i in range(warmup):
        ask(i)
    out: list[float] = []
    append = out.append
    for i in range(n):
        t0 = perf_ns()
        ask(i)
        append((perf_ns() - t0) / 1000.0)
    return out


def ask_otp(n: int, warmup: int) -> list[float]:
    ref = OtpCounter.start()
    try:
        return _asks(ref.ask, n, warmup)
    finally:
        ref.stop()


def ask_raw(n: int, warmup: int) -> list[float]:
    ref = RawCounter.start()
    try:
        return _asks(ref.ask, n, warmup)
    finally:
        ref.stop(timeout=WAIT_S)


def proxy_otp(n: int, warmup: int) -> list[float]:
    ref = OtpCounter.start()
    try:
        proxy = ref.proxy()
        return _asks(lambda x: proxy.ping(x).get(), n, warmup)
    finally:
        ref.stop()


def proxy_raw(n: int, warmup: int) -> list[float]:
    ref = RawCounter.start()
    try:
        proxy = ref.proxy()
        return _asks(lambda x: proxy.ping(x).get(), n, warmup)
    finally:
        ref.stop(timeout=WAIT_S)


# ---------------------------------------------------------------- 3. spawn+stop
def spawn_otp(n: int) -> float:
    start = OtpEmpty.start
    t0 = perf()
    for _ in range(n):
        start().stop()
    return n / (perf() - t0)


def spawn_raw(n: int) -> float:
    start = RawEmpty.start
    t0 = perf()
    for _ in range(n):
        start().stop(timeout=WAIT_S)
    return n / (perf() - t0)


# ---------------------------------------------------------------- 4. crash -> replacement
def _down_matcher(mref: Any) -> Any:
    def is_down(message: Any) -> bool:
        return isinstance(message, Down) and message.ref == mref

    return is_down


def crash_otp(n: int) -> list[float]:
    # intensity is never reached; the short period keeps the restart window as
    # short as a real supervisor's (intensity 3-10) instead of thousands long.
    sup = Supervisor.start(children=[ChildSpec(id="w", start=OtpCounter)],
                           strategy="one_for_one", intensity=1_000_000, period=0.01)
    assert sup is not None
    out: list[float] = []
    try:
        with Inbox() as inbox:
            child = sup.whereis("w")
            assert child is not None
            child.ask("warm")
            for _ in range(n):
                is_down = _down_matcher(inbox.monitor(child))
                t0 = perf_ns()
                child.tell(CRASH)
                down = inbox.receive(WAIT_S, match=is_down)
                # The Exit reached the supervisor before the Down reached us, and its
                # mailbox is FIFO: the first whereis answers with the replacement.
                for _attempt in range(100):  # bounded all the same
                    new = sup.whereis("w", timeout=WAIT_S)
                    if new is not None and new != child:
                        break
                else:
                    msg = f"no replacement for {child} after {down}"
                    raise RuntimeError(msg)
                new.ask("ping", timeout=WAIT_S)
                out.append((perf_ns() - t0) / 1000.0)
                child = new
    finally:
        sup.stop(timeout=WAIT_S)
    return out


def crash_otp_announced(n: int) -> list[float]:
    published: queue.SimpleQueue[Any] = queue.SimpleQueue()
    sup = Supervisor.start(children=[ChildSpec(id="w", start=OtpAnnouncer, args=(published,))],
                           strategy="one_for_one", intensity=1_000_000, period=0.01)
    assert sup is not None
    out: list[float] = []
    try:
        child = published.get(timeout=WAIT_S)
        child.ask("warm")
        for _ in range(n):
            t0 = perf_ns()
            child.tell(CRASH)
            new = published.get(timeout=WAIT_S)
            new.ask("ping", timeout=WAIT_S)
            out.append((perf_ns() - t0) / 1000.0)
            child = new
    finally:
        sup.stop(timeout=WAIT_S)
    return out


def crash_raw(n: int) -> list[float]:
    sup = RawSupervisor()
    out: list[float] = []
    try:
        child = sup.child
        child.ask("warm")
        for _ in range(n):
            t0 = perf_ns()
            child.tell(CRASH)
            new = sup.published.get(timeout=WAIT_S)
            new.ask("ping", timeout=WAIT_S)
            out.append((perf_ns() - t0) / 1000.0)
            child = new
    finally:
        sup.stop()
    return out


@contextlib.contextmanager
def logs_on() -> Iterator[None]:
    """Both sides log as an application would (INFO), into /dev/null; silenced again after."""
    with open(os.devnull, "w") as devnull:
        saved, sys.stderr = sys.stderr, devnull
        try:
            otp.configure_logging("info")  # its console renderer binds the current sys.stderr
        finally:
            sys.stderr = saved
        handler = logging.StreamHandler(devnull)
        pykka_log = logging.getLogger("pykka")
        pykka_log.addHandler(handler)
        pykka_log.setLevel(logging.INFO)
        pykka_log.propagate = False
        try:
            yield
        finally:
            pykka_log.removeHandler(handler)
            pykka_log.propagate = True
            silence_logs()


def crash_otp_logged(n: int) -> list[float]:
    with logs_on():
        return crash_otp(n)


def crash_raw_logged(n: int) -> list[float]:
    with logs_on():
        return crash_raw(n)


# ---------------------------------------------------------------- the run
@dataclass
class Series:
    """Per-round values of one measured quantity on both sides."""

    otp: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)

    def add(self, otp_value: float, raw_value: float) -> None:
        self.otp.append(otp_value)
        self.raw.append(raw_value)


def run(sizes: Sizes, log: Any) -> dict[str, Series]:
    results: dict[str, Series] = {k: Series() for k in (
        "tell", "ask_p50", "ask_p99", "proxy_p50", "spawn", "crash_p50", "crash_p99",
        "crash_ann_p50", "crash_ann_p99", "crash_log_p50", "crash_log_p99")}
    base_threads = threading.active_count()

    def interleaved(fns: list[Any], forward: bool) -> list[Any]:
        """Run each fn once, in the given or reversed order; return results in given order."""
        got: dict[int, Any] = {}
        for i in (range(len(fns)) if forward else reversed(range(len(fns)))):
            settle(base_threads)
            got[i] = fns[i]()
        settle(base_threads)
        return [got[i] for i in range(len(fns))]

    def pair(otp_fn: Any, raw_fn: Any, otp_first: bool) -> list[Any]:
        return interleaved([otp_fn, raw_fn], otp_first)

    for r in range(sizes.rounds):
        first = r % 2 == 0
        t_round = perf()
        o, w = pair(lambda: tell_otp(sizes.tells), lambda: tell_raw(sizes.tells), first)
        results["tell"].add(o, w)
        o, w = pair(lambda: ask_otp(sizes.asks, sizes.warmup),
                    lambda: ask_raw(sizes.asks, sizes.warmup), first)
        results["ask_p50"].add(pct(o, 0.50), pct(w, 0.50))
        results["ask_p99"].add(pct(o, 0.99), pct(w, 0.99))
        o, w = pair(lambda: proxy_otp(sizes.proxy_calls, sizes.warmup),
                    lambda: proxy_raw(sizes.proxy_calls, sizes.warmup), first)
        results["proxy_p50"].add(pct(o, 0.50), pct(w, 0.50))
        o, w = pair(lambda: spawn_otp(sizes.spawns), lambda: spawn_raw(sizes.spawns), first)
        results["spawn"].add(o, w)
        o, a, w = interleaved([lambda: crash_otp(sizes.crashes),
                               lambda: crash_otp_announced(sizes.crashes),
                               lambda: crash_raw(sizes.crashes)], first)
        results["crash_p50"].add(pct(o, 0.50), pct(w, 0.50))
        results["crash_p99"].add(pct(o, 0.99), pct(w, 0.99))
        results["crash_ann_p50"].add(pct(a, 0.50), pct(w, 0.50))
        results["crash_ann_p99"].add(pct(a, 0.99), pct(w, 0.99))
        o, w = pair(lambda: crash_otp_logged(sizes.logged_crashes),
                    lambda: crash_raw_logged(sizes.logged_crashes), first)
        results["crash_log_p50"].add(pct(o, 0.50), pct(w, 0.50))
        results["crash_log_p99"].add(pct(o, 0.99), pct(w, 0.99))
        log(f"round {r + 1}/{sizes.rounds}: {perf() - t_round:.1f} s "
            f"(tell {results['tell'].otp[-1]:,.0f} vs {results['tell'].raw[-1]:,.0f} msg/s; "
            f"ask p50 {results['ask_p50'].otp[-1]:.0f} vs {results['ask_p50'].raw[-1]:.0f} µs; "
            f"crash p50 {results['crash_p50'].otp[-1]:.0f} vs "
            f"{results['crash_p50'].raw[-1]:.0f} µs)")
    return results


# ---------------------------------------------------------------- the report
@dataclass(frozen=True)
class Row:
    what: str
    key: str
    unit: str
    higher_is_better: bool
    target: str
    check: Any  # (otp median, ratio median) -> bool, or None for an information row


ROWS = [
    Row("tell throughput", "tell", "msg/s", True, "ratio ≥ 0.90×",
        lambda _v, ratio: ratio >= 0.90),
    Row("ask latency p50", "ask_p50", "µs", False, "ratio ≤ 1.15×",
        lambda _v, ratio: ratio <= 1.15),
    Row("ask latency p99", "ask_p99", "µs", False, "—", None),
    Row("proxy call p50", "proxy_p50", "µs", False, "—", None),
    Row("spawn+stop", "spawn", "agents/s", True, "—", None),
    Row("crash → replacement answering p50", "crash_p50", "µs", False, "agent-otp ≤ 400 µs",
        lambda v, _ratio: v <= 400.0),
    Row("crash → replacement answering p99", "crash_p99", "µs", False, "—", None),
    Row("crash → replacement answering p50, replacement announces itself (info)",
        "crash_ann_p50", "µs", False, "—", None),
    Row("crash → replacement answering p99, replacement announces itself (info)",
        "crash_ann_p99", "µs", False, "—", None),
    Row("crash → replacement answering p50, logs on at INFO (info)",
        "crash_log_p50", "µs", False, "—", None),
    Row("crash → replacement answering p99, logs on at INFO (info)",
        "crash_log_p99", "µs", False, "—", None),
]


def _fmt(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value:,.0f} µs"
    return f"{value:,.0f} {unit}"


def table(results: dict[str, Series]) -> str:
    lines = ["| what | agent-otp | raw pykka | ratio (otp/pykka) | target | verdict |",
             "|---|---|---|---|---|---|"]
    for row in ROWS:
        s = results[row.key]
        o, w = statistics.median(s.otp), statistics.median(s.raw)
        ratios = [a / b for a, b in zip(s.otp, s.raw, strict=True)]
        ratio = statistics.median(ratios)
        better = "higher" if row.higher_is_better else "lower"
        ratio_txt = f"{ratio:.2f}× ({min(ratios):.2f}–{max(ratios):.2f}; {better} is better)"
        verdict = "—" if row.check is None else ("met" if row.check(o, ratio) else "**MISSED**")
        lines.append(f"| {row.what} | {_fmt(o, row.unit)} | {_fmt(w, row.unit)} | {ratio_txt} "
                     f"| {row.target} | {verdict} |")
    return "\n".join(lines)


def versions() -> tuple[str, str]:
    """pykka's and structlog's versions for the Machine line (and whether rich formats tracebacks)."""
    rich = "no rich" if version("rich") == "?" else "rich " + version("rich")
    return f"pykka {version('pykka')}", f"structlog {version('structlog')} ({rich})"


def silence_logs() -> None:
    otp.configure_logging("critical")  # agent-otp's structlog: error events become no-ops
    logging.getLogger("pykka").setLevel(logging.CRITICAL)  # pykka's "Unhandled exception"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench_options(parser, 5, "smaller sizes, for a run under ~20 s")
    args = parser.parse_args(argv)
    sizes = chosen_sizes(parser, args, DEFAULT, QUICK)

    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    silence_logs()
    command = command_line()
    log(f"{command}: {sizes}")
    t0 = perf()
    try:
        results = run(sizes, log)
    finally:  # every measurement stops what it starts; this is only a safety net
        leftover = otp.shutdown_all(timeout=WAIT_S)
        leftover_raw = len(pykka.ActorRegistry.stop_all(block=True, timeout=WAIT_S))
        faulthandler.cancel_dump_traceback_later()
    elapsed = perf() - t0
    log(f"left running at the end (stopped now): {leftover} agent-otp agents, "
        f"{leftover_raw} pykka actors; {threading.active_count()} threads alive")

    print(header(f"Foundation bench: agent-otp vs raw pykka, {sizes.rounds} interleaved rounds",
                 command, *versions()))
    print(f"Sizes per round and side: {sizes.tells:,} tells; {sizes.asks:,} asks; "
          f"{sizes.proxy_calls:,} proxy calls; {sizes.spawns:,} spawn+stop; "
          f"{sizes.crashes:,} crashes ({sizes.logged_crashes:,} with logs on). "
          f"Total run time {elapsed:.1f} s.\n")
    print(table(results))
    print("\nFigures: medians over rounds (p50/p99 are per round, then the median). "
          "Ratio: median of the per-round ratios agent-otp/pykka, with their range. "
          "Crash rows: agent-otp under a one_for_one Supervisor, timed from the tell that "
          "crashes the child until the replacement answers an ask; the target row finds the "
          "replacement by waiting for the old child's Down (Inbox monitor) and then calling "
          "sup.whereis(); in the 'announces itself' rows the replacement publishes its own "
          "ref from on_start, as the raw baseline's hand-written supervisor thread publishes "
          "its replacement. Logs are silenced on both sides except in the 'logs on' rows, where "
          "agent-otp runs configure_logging('info') (console renderer) and pykka's stdlib "
          "logger logs at INFO, both into /dev/null.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
