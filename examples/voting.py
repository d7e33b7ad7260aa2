# /// script
# requires-python = ">=3.11"
# dependencies = ["agent-otp"]
#
# [tool.uv.sources]
# agent-otp = { path = "..", editable = true }
# ///
"""Three researchers voting on an answer, on two nodes, and one node killed.

1. Start node ``b`` (an ``otp-node`` process; it imports ``voting_agents``
   because its ``PYTHONPATH`` holds this directory) and this process's node
   ``a``, joined to it.
2. Start a pool of three researchers spread over ``b`` and ``a``. A
   researcher answers from its node's almanac (a scripted stand-in for an
   LLM): ``b`` has the 2024 edition, ``a`` the 2018 one.
3. Ask the pool by majority: the two researchers on ``b`` agree, and the
   one on ``a``, slower, is a straggler whose answer is ignored.
4. Ask again with ``quorum(3)``: the researcher on ``a`` disagrees, so no
   quorum.
5. ``kill -9`` node ``b`` in the middle of a vote: its members fail with
   ``noconnection`` and no majority is left.
6. The pool shrinks, and its supervisor restarts the lost members here.
7. A new vote with ``quorum(3)``.
8. Stop everything.

No API keys, no network beyond 127.0.0.1. Run it from the repository root::

    python examples/voting.py
"""

from __future__ import annotations

import atexit
import os
import selectors
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from voting_agents import MOST_MOONS, SATURN_MOONS, Researcher

import otp
import otp.node
from otp import AgentRef
from otp.pool import FanOutResult, Pool, quorum

HERE = Path(__file__).resolve().parent
COOKIE = "example-cookie-not-secret"  # every node of a cluster shares one cookie
KILL_AFTER = 1.0  # seconds into the vote of step 5


def say(line: str = "") -> None:
    """Print one whole line at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def start_other_node(name: str) -> tuple[subprocess.Popen[str], str, str]:
    """Run ``otp-node start`` in a subprocess; return it, its node name and its address."""
    env = {**os.environ, "OTP_COOKIE": COOKIE, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "otp.cli", "start", "--name", name,
         "--listen", "tcp://127.0.0.1:*", "--log-level", "critical"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    atexit.register(proc.kill)  # never leave it running, whatever happens
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:  # wait for "node NAME listening on ADDRESS"
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=20):
            proc.kill()
            raise TimeoutError(f"otp-node {name} did not start within 20 s")
    words = proc.stdout.readline().split()
    if words[:1] != ["node"]:
        proc.kill()
        raise RuntimeError(f"otp-node {name} did not start (exit code {proc.wait(10)})")
    return proc, words[1], words[-1]


def by_answer(answer: dict[str, str]) -> str:
    """What is compared for agreement: the answer, not its source."""
    return answer["answer"]


class Labels:
    """Names a member by its child id and node: ``member-1 on a@127.0.0.1``."""

    def __init__(self, pool: Pool, here: str) -> None:
        self.pool, self.here = pool, here
        self.ids: dict[AgentRef[Any], str] = {}

    def __call__(self, member: AgentRef[Any]) -> str:
        if member not in self.ids:
            assert self.pool.supervisor is not None
            for child in self.pool.supervisor.which_children(timeout=5):
                if isinstance(child.ref, AgentRef) and child.id is not None:
                    self.ids[child.ref] = child.id
        return f"{self.ids.get(member, '?')} on {member.node or self.here}"


def show(result: FanOutResult, members: list[AgentRef[Any]], label: Labels) -> None:
    """Print what each member said, in member order, and what was decided."""
    for member in members:
        if member in result.votes:
            vote = result.votes[member]
            said = f"{vote['answer']} ({vote['source']})"
        elif member in result.errors:
            exc = result.errors[member]
            said = f"failed: {type(exc).__name__}, reason {getattr(exc, 'reason', None)!r}"
        else:
            said = "had not answered when it was decided (a straggler: ignored)"
        say(f"    {label(member)}: {said}")
    if result.ok:
        who = ", ".join(label(m).split()[0] for m in members if m in result.agreed)
        say(f"    -> decided: {by_answer(result.value)}, agreed by {who} "
            f"({len(result.agreed)} of {len(members)})")
    else:
        say(f"    -> not decided: {result.reason}")


def main() -> int:
    otp.configure_logging(level="critical")  # the story is on stdout
    os.environ["OTP_COOKIE"] = COOKIE
    say("agent-otp: three researchers voting on an answer")
    say()
    say("1. Start node b (an otp-node process) and this process's node a, joined to it")
    other, b, address = start_other_node("b")
    try:
        here = otp.node.start("a", "tcp://127.0.0.1:*", join=[address])
        otp.node.wait_for(b, timeout=10)
        say(f"    {here.name} is connected to {otp.node.nodes()}")

        say()
        say("2. A pool of three researchers, spread over b and a")
        pool = Pool.start(Researcher, 3, nodes=[b, here.name])
        label = Labels(pool, here.name)
        members = pool.members()
        say(f"    Pool.start(Researcher, 3, nodes=[{b!r}, {here.name!r}]) -> {pool}")
        say(f"    members: {', '.join(label(m) for m in members)}")

        say()
        say(f"3. {MOST_MOONS!r} by majority (2 of 3 must agree)")
        result = pool.ask(MOST_MOONS, strategy="majority", key=by_answer)
        show(result, members, label)

        say()
        say("4. The same question with quorum(3): all three must agree")
        result = pool.ask(MOST_MOONS, strategy=quorum(3), key=by_answer)
        show(result, members, label)
        counts = [by_answer(v) for v in result.votes.values()]
        common = max(set(counts), key=counts.count)
        dissent = [f"{label(m)} said {by_answer(v)}" for m, v in result.votes.items()
                   if by_answer(v) != common]
        say(f"    who disagreed: {'; '.join(dissent)}")

        say()
        say(f"5. {SATURN_MOONS!r} by majority; kill -9 node b {KILL_AFTER:.0f} s into the vote")
        killer = threading.Timer(KILL_AFTER, other.kill)
        started = time.monotonic()
        killer.start()
        result = pool.ask(SATURN_MOONS, strategy="majority", key=by_answer, timeout=10)
        took = time.monotonic() - started
        killer.join()
        other.wait(10)
        show(result, members, label)
        say(f"    the vote ended {took:.2f} s after it began; node b exit code {other.returncode}")

        say()
        say("6. The pool shrinks, and the supervisor restarts the lost members here")
        alive = Pool.of(members).members()  # the members of step 2 that are still alive
        say(f"    of the three members before the kill, alive: "
            f"{', '.join(label(m) for m in alive)}")
        deadline = time.monotonic() + 10
        while (time.monotonic() < deadline
               and [m.node for m in pool.members()] != ["", "", ""]):
            time.sleep(0.02)
        before, members = members, pool.members()
        say("    the pool now: " + ", ".join(
            label(m) + ("" if m in before else " (restarted)") for m in members))

        say()
        say("7. A new vote with quorum(3)")
        result = pool.ask(MOST_MOONS, strategy=quorum(3), key=by_answer)
        show(result, members, label)
        say("    (three copies of one almanac agree: agreement is not independence)")

        say()
        say("8. Stop the pool and node a (node b is gone)")
        pool.stop()
        otp.node.stop()
        say(f"    members left: {len(pool.members())}; node running here: {otp.node.current()}")
    finally:
        if other.poll() is None:
            other.kill()
            other.wait(10)
        otp.node.stop()
        otp.shutdown_all(timeout=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
