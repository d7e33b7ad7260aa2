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
"""Nodes bench (issue 4): remote tell and ask between two processes on loopback, beside raw
pyzmq + msgpack between two processes, in one run.

Three processes: this one (the sender and asker), an ``otp-node start``
subprocess (node ``b``, which runs the counting agents, spawned there by
import path from ``bench/_node_agents.py``), and a raw pyzmq + msgpack
subprocess (this script with ``--raw-child``: two PULL sockets and a ROUTER,
polled by one thread, decoding every message). All on 127.0.0.1 over tcp.

Measured, interleaved over several rounds (the order alternates per round;
latency samples alternate between the sides in blocks within a round):

1. tell throughput, end to end: the sender sends N messages, then one
   request confirms that all of them arrived and were decoded (timed until
   its answer). Raw: a ~95-byte msgpack dict envelope per message, (a) 100
   of them packed per PUSH frame (the "batched raw figure") and (b) one per
   frame; a DEALER request ``("count", n)`` is answered once n have arrived.
   agent-otp: ``ref.tell(i)`` to a ``Counter`` on node b (thread kind, and
   async kind), then ``ref.ask("count?")``;
2. round-trip latency p50/p99, sequential, from a plain thread: raw
   DEALER/ROUTER (the child decodes the request and encodes a reply);
   agent-otp ``ref.ask(i)`` to the thread agent and to the async agent;
3. 100 requests in flight (req/s): raw DEALER with 100 outstanding; agent-otp
   ``ref.ask(i, block=False)`` futures, 100 outstanding (waited oldest first).

Each figure is the median over rounds; each ratio the median of the
per-round ratios (agent-otp / raw), with their range. Logs are silenced
(agent-otp's structlog at CRITICAL here, ``--log-level critical`` on node b).

Run from the repository root (agent-otp need not be installed: the repository
root is put on sys.path when ``import otp`` fails):

    python bench/bench_nodes.py [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import gc
import json
import statistics
import sys
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

import msgpack  # type: ignore[import-untyped]
import zmq
from _common import (
    COOKIE,
    START_S,
    Child,
    OtherNode,
    Results,
    Row,
    bench_options,
    blockwise,
    check_same_otp,
    child_env,
    chosen_sizes,
    command_line,
    header,
    log,
    pct,
    ratio_table,
    start_otp_node,
    timed,
    zmq_versions,
)

import otp.node
from otp.actor._process import new_id

QUICK_HELP = "smaller sizes, about 20 s"
WATCHDOG_S = 600  # the whole run is aborted (with every thread's traceback) past this
WAIT_S = 5.0  # an ask's timeout, a request's wait
COUNT_WAIT_S = 120.0  # the confirmation after a burst of tells
COUNT = "count?"  # _node_agents.COUNT
INFLIGHT = 100
BATCH = 100

# performance-anchors.md (same kind of machine, another day): raw figures and the alternatives
ANCHOR = {"batched": 936_000, "single": 339_000, "rtt_p50": 155.0, "rtt_p99": 313.0,
          "inflight": 80_000}
THESPIAN = {"tell": 3_000, "ask_p50": 522.0, "ask_p99": 1_270.0}
RAY = {"call_p50": 790.0, "call_p99": 1_277.0, "pipelined": 3_000}

perf = time.perf_counter
perf_ns = time.perf_counter_ns


# ---------------------------------------------------------------- sizes
@dataclass(frozen=True)
class Sizes:
    rounds: int
    raw_tells: int  # messages per raw throughput run (each of batched and single)
    tells: int  # agent-otp tells per run (each kind)
    asks: int  # round trips per side (raw, thread agent, async agent)
    warmup: int
    inflight_raw: int
    inflight: int  # agent-otp asks with 100 in flight (each kind)
    blocks: int = 10  # latency samples alternate between the sides in this many blocks


DEFAULT = Sizes(rounds=5, raw_tells=300_000, tells=50_000, asks=2_000, warmup=300,
                inflight_raw=50_000, inflight=10_000)
QUICK = Sizes(rounds=3, raw_tells=100_000, tells=10_000, asks=500, warmup=100,
              inflight_raw=10_000, inflight=2_000)


# ---------------------------------------------------------------- the raw child process
def raw_child() -> None:
    """Two PULL sockets (one message per frame; BATCH per frame) and a ROUTER, one thread.

    ROUTER requests: ``{"op": "count", "n": n, "corr": c}`` is answered with the count
    once ``n`` messages have arrived; ``{"op": "stop"}`` ends the process; anything
    else is answered at once with ``{"op": 3, "corr": c, "ok": True, "value": msg}``.
    """
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    ctx = zmq.Context()
    pull_one, pull_batch = ctx.socket(zmq.PULL), ctx.socket(zmq.PULL)
    router = ctx.socket(zmq.ROUTER)
    endpoints = {}
    for key, sock in (("one", pull_one), ("batch", pull_batch), ("router", router)):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        sock.bind("tcp://127.0.0.1:*")
        endpoints[key] = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
    print(json.dumps(endpoints), flush=True)
    poller = zmq.Poller()
    for sock in (pull_one, pull_batch, router):
        poller.register(sock, zmq.POLLIN)
    unpackb, packb = msgpack.unpackb, msgpack.packb
    unpacker = msgpack.Unpacker()
    count = 0
    pending: list[tuple[bytes, int, int]] = []
    while True:
        for sock, _ev in poller.poll():
            if sock is pull_one:
                while True:
                    try:
                        frame = pull_one.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    unpackb(frame)
                    count += 1
            elif sock is pull_batch:
                while True:
                    try:
                        frame = pull_batch.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    unpacker.feed(frame)
                    for _message in unpacker:
                        count += 1
            else:
                while True:
                    try:
                        rid, frame = router.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    req = unpackb(frame)
                    op = req["op"]
                    if op == "count":
                        pending.append((rid, req["n"], req["corr"]))
                    elif op == "stop":
                        return
                    else:
                        router.send_multipart(
                            [rid, packb({"op": 3, "corr": req["corr"], "ok": True,
                                         "value": req["msg"]})])
        if pending:
            still = []
            for rid, n, corr in pending:
                if count >= n:
                    router.send_multipart([rid, packb({"op": 3, "corr": corr, "ok": True,
                                                       "value": count})])
                else:
                    still.append((rid, n, corr))
            pending = still


# ---------------------------------------------------------------- the raw side (this process)
class Raw:
    """Client sockets to the raw child."""

    def __init__(self, endpoints: dict[str, str]) -> None:
        self.ctx = zmq.Context()
        self.push_one = self._sock(zmq.PUSH, endpoints["one"])
        self.push_batch = self._sock(zmq.PUSH, endpoints["batch"])
        self.dealer = self._sock(zmq.DEALER, endpoints["router"])
        self.to = [new_id(), "Counter", "b@127.0.0.1"]  # like a ref's fields
        self.corr = 0
        self.packb, self.unpackb = msgpack.packb, msgpack.unpackb

    def _sock(self, kind: int, endpoint: str) -> Any:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.setsockopt(zmq.RCVTIMEO, int(WAIT_S * 1000))  # a blocking recv raises zmq.Again
        sock.connect(endpoint)
        return sock

    def envelope(self, i: int) -> dict[str, Any]:
        return {"op": 1, "to": self.to, "kind": 0, "msg": i}

    def request(self, req: dict[str, Any], timeout: float = WAIT_S) -> Any:
        self.dealer.send(self.packb(req))
        if not self.dealer.poll(int(timeout * 1000), zmq.POLLIN):
            msg = f"raw child did not answer {req['op']!r} within {timeout} s"
            raise TimeoutError(msg)
        return self.unpackb(self.dealer.recv())["value"]  # a long wait: poll, then recv

    def count(self, n: int = 0, timeout: float = WAIT_S) -> int:
        self.corr += 1
        return int(self.request({"op": "count", "n": n, "corr": self.corr}, timeout))

    def tells_batched(self, n: int) -> float:
        c0 = self.count()
        pack, envelope, send = msgpack.Packer().pack, self.envelope, self.push_batch.send
        t0 = perf()
        for start in range(0, n, BATCH):
            send(b"".join([pack(envelope(i)) for i in range(start, start + BATCH)]))
        got = self.count(c0 + n, COUNT_WAIT_S)
        t1 = perf()
        assert got >= c0 + n, (got, c0, n)
        return n / (t1 - t0)

    def tells_single(self, n: int) -> float:
        c0 = self.count()
        pack, envelope, send = msgpack.Packer().pack, self.envelope, self.push_one.send
        t0 = perf()
        for i in range(n):
            send(pack(envelope(i)))
        got = self.count(c0 + n, COUNT_WAIT_S)
        t1 = perf()
        assert got >= c0 + n, (got, c0, n)
        return n / (t1 - t0)

    def round_trip(self, i: int) -> Any:
        self.corr += 1
        dealer = self.dealer
        dealer.send(self.packb({"op": 2, "to": self.to, "kind": 0, "msg": i, "corr": self.corr}))
        return self.unpackb(dealer.recv())["value"]  # RCVTIMEO: zmq.Again after WAIT_S

    def inflight(self, n: int) -> float:
        dealer, packb, unpackb, to = self.dealer, self.packb, self.unpackb, self.to

        def send(i: int) -> None:
            dealer.send(packb({"op": 2, "to": to, "kind": 0, "msg": i, "corr": i}))

        t0 = perf()
        sent = 0
        for _ in range(min(INFLIGHT, n)):
            send(sent)
            sent += 1
        for _ in range(n):
            unpackb(dealer.recv())  # RCVTIMEO: zmq.Again after WAIT_S
            if sent < n:
                send(sent)
                sent += 1
        return n / (perf() - t0)

    def close(self) -> None:
        try:
            self.dealer.send(self.packb({"op": "stop"}))
        except zmq.ZMQError:
            pass
        for sock in (self.push_one, self.push_batch, self.dealer):
            sock.close(0)
        self.ctx.term()


# ---------------------------------------------------------------- agent-otp's side
def otp_tells(ref: Any, n: int, peer: Any) -> tuple[float, float]:
    """Tell throughput (msg/s) and messages per frame sent."""
    c0 = ref.ask(COUNT, timeout=WAIT_S)
    frames0 = peer.frames_out
    tell = ref.tell
    t0 = perf()
    for i in range(n):
        tell(i)
    got = ref.ask(COUNT, timeout=COUNT_WAIT_S)
    t1 = perf()
    frames = peer.frames_out - frames0
    assert got - c0 == n, (got, c0, n)
    return n / (t1 - t0), (n + 1) / max(1, frames)


def otp_inflight(ref: Any, n: int) -> float:
    ask = ref.ask
    futures: collections.deque[Any] = collections.deque()
    t0 = perf()
    sent = 0
    for _ in range(min(INFLIGHT, n)):
        futures.append(ask(sent, block=False))
        sent += 1
    for _ in range(n):
        futures.popleft().get(timeout=WAIT_S)
        if sent < n:
            futures.append(ask(sent, block=False))
            sent += 1
    return n / (perf() - t0)


# ---------------------------------------------------------------- the run
def run(sizes: Sizes, log: Callable[[str], None]) -> Results:
    env = child_env()
    check_same_otp(env)
    raw_child_proc: Child | None = None
    b: OtherNode | None = None
    try:
        raw_child_proc = Child([sys.executable, str(Path(__file__).resolve()), "--raw-child"],
                               env, lambda line: line.startswith("{"))
        b = start_otp_node(env, "b")
        raw = Raw(json.loads(raw_child_proc.first))
        try:
            return measure(sizes, log, raw, b)
        finally:
            raw.close()
    finally:
        if b is not None:
            b.stop()
        if raw_child_proc is not None:
            raw_child_proc.stop()


def measure(sizes: Sizes, log: Callable[[str], None], raw: Raw, b: OtherNode) -> Results:
    b_name, b_address = b.name, b.address
    res = Results()
    node = otp.node.start("a", "tcp://127.0.0.1:*", join=[b_address], cookie=COOKIE)
    try:
        otp.node.wait_for(b_name, timeout=START_S)
        peer = node.peer_for(b_name)
        thread_ref = otp.node.spawn(b_name, "_node_agents:Counter")
        async_ref = otp.node.spawn(b_name, "_node_agents:AsyncCounter")
        assert async_ref.ask(COUNT) == 0 and thread_ref.ask(COUNT) == 0
        sides: dict[str, Callable[[int], Any]] = {"raw": raw.round_trip, "thread": thread_ref.ask, "async": async_ref.ask}
        for r in range(sizes.rounds):
            forward = r % 2 == 0
            t_round = perf()
            # throughput: the four runs, in an order that alternates per round
            runs: list[tuple[str, Callable[[], Any]]] = [
                ("raw_batched", lambda: raw.tells_batched(sizes.raw_tells)),
                ("tell_thread", lambda: otp_tells(thread_ref, sizes.tells, peer)),
                ("raw_single", lambda: raw.tells_single(sizes.raw_tells)),
                ("tell_async", lambda: otp_tells(async_ref, sizes.tells, peer)),
            ]
            for key, fn in runs if forward else reversed(runs):
                gc.collect()
                got = fn()
                if isinstance(got, tuple):
                    res.add(**{key: got[0], key + "_per_frame": got[1]})
                else:
                    res.add(**{key: got})
            # latency: the three sides take turns in blocks
            gc.collect()
            samplers = [timed(sides[k]) for k in ("raw", "thread", "async")]
            blockwise(samplers, sizes.warmup, 1, forward)
            rt, th, asy = blockwise(samplers, sizes.asks, sizes.blocks, forward)
            res.add(rtt_p50=pct(rt, 0.5), rtt_p99=pct(rt, 0.99), ask_thread_p50=pct(th, 0.5),
                    ask_thread_p99=pct(th, 0.99), ask_async_p50=pct(asy, 0.5),
                    ask_async_p99=pct(asy, 0.99))
            # 100 in flight
            flights: list[tuple[str, Callable[[], float]]] = [
                ("inflight_raw", lambda: raw.inflight(sizes.inflight_raw)),
                ("inflight_thread", lambda: otp_inflight(thread_ref, sizes.inflight)),
                ("inflight_async", lambda: otp_inflight(async_ref, sizes.inflight)),
            ]
            for key, fn in flights if forward else reversed(flights):
                gc.collect()
                res.add(**{key: fn()})
            v = res.values
            log(f"round {r + 1}/{sizes.rounds}: {perf() - t_round:.1f} s (tell thread "
                f"{v['tell_thread'][-1]:,.0f} vs raw batched {v['raw_batched'][-1]:,.0f} msg/s; "
                f"ask thread p50 {v['ask_thread_p50'][-1]:.0f} vs raw "
                f"{v['rtt_p50'][-1]:.0f} µs; in flight {v['inflight_thread'][-1]:,.0f} vs "
                f"{v['inflight_raw'][-1]:,.0f} req/s)")
    finally:
        node.stop()
    return res


# ---------------------------------------------------------------- the report
def rows(res: Results) -> list[Row]:
    def tell_ok(_v: float, ratio: float) -> bool:
        return ratio >= 0.5

    def ask_ok(_v: float, ratio: float) -> bool:
        return ratio <= 1.3

    return [
        Row("remote tell throughput, thread agent (vs raw, 100 messages per frame)",
            res["tell_thread"], res["raw_batched"], "msg/s", True, "ratio ≥ 0.50×", tell_ok),
        Row("remote tell throughput, async agent (vs raw, 100 messages per frame)",
            res["tell_async"], res["raw_batched"], "msg/s", True, "ratio ≥ 0.50×", tell_ok),
        Row("remote tell throughput, thread agent (vs raw, one message per frame) (info)",
            res["tell_thread"], res["raw_single"], "msg/s", True),
        Row("remote tell throughput, async agent (vs raw, one message per frame) (info)",
            res["tell_async"], res["raw_single"], "msg/s", True),
        Row("remote ask p50, thread agent (vs raw DEALER/ROUTER round trip)",
            res["ask_thread_p50"], res["rtt_p50"], "µs", False, "ratio ≤ 1.30×", ask_ok),
        Row("remote ask p99, thread agent", res["ask_thread_p99"], res["rtt_p99"], "µs", False,
            "ratio ≤ 1.30×", ask_ok),
        Row("remote ask p50, async agent", res["ask_async_p50"], res["rtt_p50"], "µs", False,
            "ratio ≤ 1.30×", ask_ok),
        Row("remote ask p99, async agent", res["ask_async_p99"], res["rtt_p99"], "µs", False,
            "ratio ≤ 1.30×", ask_ok),
        Row(f"{INFLIGHT} asks in flight, thread agent (vs raw DEALER, {INFLIGHT} in flight)",
            res["inflight_thread"], res["inflight_raw"], "req/s", True),
        Row(f"{INFLIGHT} asks in flight, async agent", res["inflight_async"],
            res["inflight_raw"], "req/s", True),
    ]


def anchors_table(res: Results) -> str:
    """The raw baseline beside performance-anchors.md: how fast this machine is today."""
    def m(key: str) -> float:
        return statistics.median(res[key])

    lines = ["| raw pyzmq + msgpack, this run | here | anchors | here / anchors |",
             "|---|---|---|---|"]
    for what, key, anchor, unit in (
            ("PUSH/PULL tcp, 100 messages packed per frame", "raw_batched", ANCHOR["batched"],
             "msg/s"),
            ("PUSH/PULL tcp, one message per frame", "raw_single", ANCHOR["single"], "msg/s"),
            ("DEALER/ROUTER round trip p50", "rtt_p50", ANCHOR["rtt_p50"], "µs"),
            ("DEALER/ROUTER round trip p99", "rtt_p99", ANCHOR["rtt_p99"], "µs"),
            (f"DEALER/ROUTER, {INFLIGHT} requests in flight", "inflight_raw", ANCHOR["inflight"],
             "req/s")):
        lines.append(f"| {what} | {m(key):,.0f} {unit} | {anchor:,.0f} {unit} "
                     f"| {m(key) / anchor:.2f}× |")
    return "\n".join(lines)


def alternatives_table(res: Results) -> str:
    """agent-otp beside Thespian's and Ray's figures from the anchors (another run).

    This machine's speed drifts from the anchors' by tens of percent, so agent-otp is also
    given scaled: its per-round ratio to the raw baseline times the anchors' raw figure.
    """
    def m(key: str) -> float:
        return statistics.median(res[key])

    def scaled(key: str, raw_key: str, anchor: float) -> float:
        ratios = [a / b for a, b in zip(res[key], res[raw_key], strict=True)]
        return statistics.median(ratios) * anchor

    tell_key = "tell_thread" if m("tell_thread") >= m("tell_async") else "tell_async"
    tell, tell_s = m(tell_key), scaled(tell_key, "raw_batched", ANCHOR["batched"])
    ask50, ask50_s = m("ask_thread_p50"), scaled("ask_thread_p50", "rtt_p50", ANCHOR["rtt_p50"])
    ask99, ask99_s = m("ask_thread_p99"), scaled("ask_thread_p99", "rtt_p99", ANCHOR["rtt_p99"])
    flight = m("inflight_thread")
    flight_s = scaled("inflight_thread", "inflight_raw", ANCHOR["inflight"])
    return "\n".join([
        "| what | agent-otp here | agent-otp scaled to the anchors' machine | Thespian "
        "multiprocTCPBase (anchors) | Ray, local, 2 CPUs (anchors) |",
        "|---|---|---|---|---|",
        f"| tell from outside, msg/s | {tell:,.0f} | {tell_s:,.0f} | {THESPIAN['tell']:,} | — |",
        f"| ask / call p50, µs | {ask50:,.0f} | {ask50_s:,.0f} | {THESPIAN['ask_p50']:,.0f} "
        f"| {RAY['call_p50']:,.0f} |",
        f"| ask / call p99, µs | {ask99:,.0f} | {ask99_s:,.0f} | {THESPIAN['ask_p99']:,.0f} "
        f"| {RAY['call_p99']:,.0f} |",
        f"| pipelined asks / calls, req/s | {flight:,.0f} | {flight_s:,.0f} | — "
        f"| {RAY['pipelined']:,} |"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench_options(parser, 5, QUICK_HELP)
    parser.add_argument("--raw-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.raw_child:
        raw_child()
        return 0
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

    print(header(f"Nodes bench: remote tell/ask between two processes vs raw pyzmq + msgpack, "
                 f"{sizes.rounds} interleaved rounds", command, *zmq_versions()))
    print(f"Sizes per round: {sizes.raw_tells:,} raw messages per throughput run; "
          f"{sizes.tells:,} agent-otp tells per kind; {sizes.asks:,} round trips per side "
          f"(+{sizes.warmup:,} warm-up), in {sizes.blocks} blocks; {sizes.inflight_raw:,} raw "
          f"and {sizes.inflight:,} agent-otp requests with {INFLIGHT} in flight. "
          f"Total run time {elapsed:.1f} s.\n")
    print(ratio_table(rows(res), "raw pyzmq + msgpack", "otp/raw"))
    per_frame = [statistics.median(res["tell_thread_per_frame"]),
                 statistics.median(res["tell_async_per_frame"])]
    print(f"\nagent-otp tells per frame sent (group commit): {per_frame[0]:.1f} (thread agent), "
          f"{per_frame[1]:.1f} (async agent).\n")
    print(anchors_table(res))
    print()
    print(alternatives_table(res))
    print("\nFigures: medians over rounds (p50/p99 are per round, then the median). Ratio: the "
          "median of the per-round ratios agent-otp/raw, with their range. Thespian and Ray "
          "figures are from performance-anchors.md (another run on the same kind of machine); "
          "'scaled' is agent-otp's ratio to the raw baseline here times the anchors' raw figure "
          "(tell: vs 100 messages per frame; asks: the thread agent).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
