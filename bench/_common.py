"""Helpers shared by the bench scripts (not a bench itself): percentiles, the ratio table, the
commit line, a run's options and heading, per-round results, blockwise sampling, and other
nodes as subprocesses.

The scripts are run as ``python bench/bench_x.py``, so ``bench/`` is
``sys.path[0]`` and they import this module as ``_common``.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["BENCH", "COOKIE", "START_S", "Child", "OtherNode", "Results", "Row",
           "bench_options", "blockwise", "check_same_otp", "child_env", "chosen_sizes",
           "command_line", "diff_table", "git_commit", "header", "log", "machine", "otp_root",
           "pct", "ratio_table", "start_otp_node", "timed", "version", "zmq_versions"]


def pct(samples: list[float], q: float) -> float:
    """The ``q`` quantile of ``samples`` (nearest rank, no interpolation)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def git_commit(package_file: str) -> str:
    """The commit of the checkout a package was imported from (``pkg.__file__``), and whether
    its ``otp/`` has uncommitted changes; says so when it is not this checkout."""
    root = Path(package_file).resolve().parent.parent
    where = "" if root == Path(__file__).resolve().parent.parent else f" (otp from {root})"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False, cwd=root).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "otp"],
                               capture_output=True, text=True, timeout=10, check=False,
                               cwd=root).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?" + where
    if not head:
        return "?" + where
    return f"{head}{' + uncommitted changes in otp/' if dirty else ''}{where}"


@dataclass(frozen=True)
class Row:
    """One line of a ratio table: agent-otp's per-round values beside a baseline's."""

    what: str
    ours: list[float]
    base: list[float]
    unit: str
    higher_is_better: bool
    target: str = "—"
    check: Callable[[float, float], bool] | None = None  # (our median, median ratio) -> met?


def fmt(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value:,.1f} µs" if value < 100 else f"{value:,.0f} µs"
    if unit == "ms":
        return f"{value:,.2f} ms"
    if unit == "KiB":
        return f"{value:,.2f} KiB"
    return f"{value:,.0f} {unit}"


def diff_table(rows: list[Row], base_label: str, diff_label: str) -> str:
    """A markdown table of differences: medians over rounds, and the median of the per-round
    differences (ours − baseline) with their range. ``row.check`` gets (our median, median
    difference); ``row.unit`` is the unit of all three."""
    lines = [f"| what | agent-otp | {base_label} | {diff_label} | target | verdict |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        ours, base = statistics.median(row.ours), statistics.median(row.base)
        diffs = [a - b for a, b in zip(row.ours, row.base, strict=True)]
        diff = statistics.median(diffs)
        verdict: Any = "—" if row.check is None else (
            "met" if row.check(ours, diff) else "**MISSED**")
        lines.append(f"| {row.what} | {fmt(ours, row.unit)} | {fmt(base, row.unit)} "
                     f"| **{fmt(diff, row.unit)}** ({fmt(min(diffs), row.unit)} – "
                     f"{fmt(max(diffs), row.unit)}) | {row.target} | {verdict} |")
    return "\n".join(lines)


def ratio_table(rows: list[Row], base_label: str, ratio_label: str) -> str:
    """A markdown table: medians over rounds, and the median of the per-round ratios
    (ours / baseline) with their range."""
    lines = [f"| what | agent-otp | {base_label} | ratio ({ratio_label}) | target | verdict |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        ours, base = statistics.median(row.ours), statistics.median(row.base)
        ratios = [a / b for a, b in zip(row.ours, row.base, strict=True)]
        ratio = statistics.median(ratios)
        better = "higher" if row.higher_is_better else "lower"
        ratio_txt = f"{ratio:.2f}× ({min(ratios):.2f}–{max(ratios):.2f}; {better} is better)"
        verdict: Any = "—" if row.check is None else (
            "met" if row.check(ours, ratio) else "**MISSED**")
        lines.append(f"| {row.what} | {fmt(ours, row.unit)} | {fmt(base, row.unit)} "
                     f"| {ratio_txt} | {row.target} | {verdict} |")
    return "\n".join(lines)


def version(dist: str) -> str:
    """The installed version of a distribution, or ``?``."""
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def zmq_versions() -> tuple[str, str]:
    """The pyzmq/libzmq and msgpack parts of ``machine()`` for the benches between nodes."""
    import zmq

    return (f"pyzmq {zmq.__version__} (libzmq {zmq.zmq_version()})",
            f"msgpack {version('msgpack')}")


def machine(*parts: str) -> str:
    """Python, agent-otp, the given parts (library versions, RAM), CPUs usable, OS."""
    import platform

    import otp

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return ", ".join([f"Python {platform.python_version()} ({platform.python_implementation()})",
                      f"agent-otp {otp.__version__}", *parts, f"{cpus} CPUs usable (nproc)",
                      f"{platform.system()} {platform.machine()}"])


# ---------------------------------------------------------------- running a bench
def bench_options(parser: argparse.ArgumentParser, default_rounds: int, quick: str) -> None:
    """Add ``--rounds`` and ``--quick`` (``quick``: what --quick does, for its help)."""
    parser.add_argument("--rounds", type=int, default=None,
                        help=f"interleaved rounds (default {default_rounds}; 3 with --quick)")
    parser.add_argument("--quick", action="store_true", help=quick)


def chosen_sizes(parser: argparse.ArgumentParser, args: argparse.Namespace, default: Any,
                 quick: Any) -> Any:
    """The sizes dataclass for ``--quick``, with ``--rounds`` applied."""
    sizes = quick if args.quick else default
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error("--rounds must be >= 1")
        sizes = dataclasses.replace(sizes, rounds=args.rounds)
    return sizes


def command_line() -> str:
    """How this bench was run, as a shell command."""
    return "python " + shlex.join([os.path.relpath(sys.argv[0]), *sys.argv[1:]])


def log(text: str) -> None:
    """Progress goes to stderr; the results (markdown) to stdout."""
    print(text, file=sys.stderr, flush=True)


def header(title: str, command: str, *machine_parts: str) -> str:
    """The heading and the Command / Date / Machine lines of a results section."""
    import otp

    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"## {title}\n\nCommand: `{command}`  \n"
            f"Date: {date}, agent-otp at {git_commit(otp.__file__)}  \n"
            f"Machine: {machine(*machine_parts)}  ")


# ---------------------------------------------------------------- results over rounds
@dataclass
class Results:
    """Per-round values by key (``res.add(k=v)`` once per round; ``res[k]`` the list)."""

    values: dict[str, list[float]] = field(default_factory=lambda: collections.defaultdict(list))

    def add(self, **kw: float) -> None:
        for k, v in kw.items():
            self.values[k].append(v)

    def __getitem__(self, key: str) -> list[float]:
        return self.values[key]


def blockwise(samplers: list[Callable[[int], float]], n: int, blocks: int,
              forward: bool) -> list[list[float]]:
    """``n`` samples from each sampler, the samplers taking turns in ``blocks`` blocks."""
    out: list[list[float]] = [[] for _ in samplers]
    per = max(1, n // blocks)
    for b in range(blocks):
        order = list(range(len(samplers)))
        if (b % 2 == 0) != forward:
            order.reverse()
        for i in order:
            sample, append = samplers[i], out[i].append
            for k in range(per):
                append(sample(k))
    return out


def timed(call: Callable[[int], Any]) -> Callable[[int], float]:
    """A sampler: ``call(i)``'s wall time in µs."""
    def sample(i: int) -> float:
        t0 = time.perf_counter_ns()
        call(i)
        return (time.perf_counter_ns() - t0) / 1000.0

    return sample


# ---------------------------------------------------------------- other nodes (subprocesses)
START_S = 30.0  # a subprocess must be up within this
COOKIE = "agent-otp-bench-not-secret"
BENCH = Path(__file__).resolve().parent


def otp_root() -> Path:
    """The checkout the ``otp`` this process imported comes from (both nodes run it)."""
    import otp

    return Path(otp.__file__).resolve().parent.parent


def _pump(stream: IO[str] | None, sink: Callable[[str], None]) -> threading.Thread:
    def run() -> None:
        assert stream is not None
        for line in stream:
            sink(line.rstrip("\n"))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


class Child:
    """A subprocess whose first stdout line we wait for (bounded); stopped by SIGTERM, then kill."""

    def __init__(self, cmd: list[str], env: dict[str, str], ready: Callable[[str], bool]) -> None:
        # cwd: `python -m` puts the working directory first on sys.path, so the child
        # imports the same otp as this process (otp_root()), not a checkout it runs in
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=otp_root())
        self.lines: collections.deque[str] = collections.deque()
        self.stderr: list[str] = []
        ready_event = threading.Event()
        self.first = ""

        def on_line(line: str) -> None:
            self.lines.append(line)
            if not ready_event.is_set() and ready(line):
                self.first = line
                ready_event.set()

        self._readers = [_pump(self.proc.stdout, on_line), _pump(self.proc.stderr,
                                                                  self.stderr.append)]
        if not ready_event.wait(START_S):
            self.stop()
            msg = f"{cmd[:4]} did not start within {START_S} s:\n" + "\n".join(self.stderr[-30:])
            raise RuntimeError(msg)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def child_env() -> dict[str, str]:
    """bench/ (for _node_agents) and the checkout ``otp`` was imported from, first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(BENCH), str(otp_root()),
                                         env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env["OTP_COOKIE"] = COOKIE
    return env


def check_same_otp(env: dict[str, str]) -> None:
    """The other node must run the otp this process runs (a checkout in the cwd would win)."""
    import otp

    out = subprocess.run([sys.executable, "-c", "import otp; print(otp.__file__)"], env=env,
                         cwd=otp_root(), capture_output=True, text=True, timeout=60, check=True)
    theirs = Path(out.stdout.strip()).resolve()
    if theirs != Path(otp.__file__).resolve():
        msg = f"the other node would import {theirs}, this process runs {otp.__file__}"
        raise RuntimeError(msg)


@dataclass
class OtherNode:
    """An ``otp-node start`` subprocess: its ``Child``, node name and address."""

    child: Child
    name: str
    address: str

    def stop(self) -> None:
        self.child.stop()


def start_otp_node(env: dict[str, str], name: str = "b", *extra: str) -> OtherNode:
    """Start ``otp-node start --name NAME`` on a free loopback port, logs at critical
    (``extra``: more options, such as ``--spawn MODULE:CLASS``); returns once it listens."""
    child = Child([sys.executable, "-m", "otp.cli", "start", "--name", name,
                   "--listen", "tcp://127.0.0.1:*", "--log-level", "critical", *extra], env,
                  lambda line: line.startswith("node ") and " listening on " in line)
    _node, node_name, rest = child.first.split(" ", 2)
    return OtherNode(child, node_name, rest.removeprefix("listening on ").strip())
