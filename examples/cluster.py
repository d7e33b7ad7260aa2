# /// script
# requires-python = ">=3.11"
# dependencies = ["agent-otp"]
#
# [tool.uv.sources]
# agent-otp = { path = "..", editable = true }
# ///
"""Two nodes, one supervision tree: remote spawn, remote refs, placement, and a node killed.

1. Start node ``b`` (an ``otp-node`` process; it can import
   ``cluster_agents`` because its ``PYTHONPATH`` holds this directory) and
   this process's node ``a``, joined to it. Both share one cookie.
2. Spawn a researcher on ``b`` by import path and talk to it through its
   ref (ask, proxy), exactly as to a local agent; register it cluster-wide.
3. A supervisor on ``a`` places its child on ``b`` (candidates ``b``, then
   ``a``).
4. Monitor both agents and watch the nodes, then ``kill -9`` node ``b``: the
   monitors fire with ``noconnection`` at once, the global name is released,
   and the supervisor restarts its child on the next candidate, ``a``.
5. Stop everything.

No API keys, no network beyond 127.0.0.1. Run it from the repository root::

    python examples/cluster.py
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cluster_agents import Researcher

import otp
import otp.node
from otp import AgentRef, ChildSpec, Down, Inbox, NodeDown, Supervisor

HERE = Path(__file__).resolve().parent
COOKIE = "example-cookie-not-secret"  # every node of a cluster shares one cookie


def say(line: str = "") -> None:
    """Print one whole line at once (agents print from their own threads)."""
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


def wait_for_new_child(sup: Any, child_id: str, old: AgentRef[Any]) -> AgentRef[Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ref = sup.whereis(child_id)
        if ref is not None and ref != old:
            return ref  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise TimeoutError(f"{child_id} was not restarted within 10 s")


def main() -> int:
    otp.configure_logging(level="critical")  # the story is on stdout; see otp-node for logs
    os.environ["OTP_COOKIE"] = COOKIE
    say("agent-otp: two nodes, one supervision tree")
    say()
    say("1. Start node b (an otp-node process) and this process's node a, joined to it")
    other, b, address = start_other_node("b")
    try:
        here = otp.node.start("a", "tcp://127.0.0.1:*", join=[address])
        otp.node.wait_for(b, timeout=10)
        say(f"    {here.name} is connected to {otp.node.nodes()}")

        say()
        say("2. Spawn a researcher on b by import path; its ref works as a local one does")
        researcher = otp.node.spawn(b, "cluster_agents:Researcher")
        say(f"    ref: {researcher.class_name} on {researcher.node}, kind {researcher.kind!r}")
        say(f"    ask:   {researcher.ask('actors', timeout=5)}")
        say(f"    proxy: {researcher.proxy().research('heartbeats').get(timeout=5)}")
        otp.node.register_global("librarian", researcher)
        found = otp.node.whereis_global("librarian")
        say(f"    register_global('librarian', ref); whereis_global('librarian') == ref: "
            f"{found == researcher}")

        say()
        say("3. A supervisor on a places its child on b (candidates: b, then a)")
        sup = Supervisor.start(children=[
            ChildSpec(id="scout", start=Researcher, node=[b, here.name])])
        assert sup is not None
        scout = sup.whereis("scout")
        assert scout is not None
        say(f"    child 'scout' runs on {scout.node}")

        with Inbox() as inbox:
            inbox.monitor(researcher)
            inbox.monitor(scout)
            otp.node.monitor_nodes(inbox.ref)

            say()
            say("4. kill -9 node b")
            killed_at = time.monotonic()
            other.kill()
            other.wait(10)
            for ref, label in ((researcher, "researcher"), (scout, "scout")):
                down = inbox.receive(timeout=5, match=lambda m, r=ref: isinstance(m, Down)
                                     and m.agent == r)
                say(f"    monitor: Down from the {label}, reason {down.reason!r}, "
                    f"{time.monotonic() - killed_at:.2f} s after the kill")
            lost = inbox.receive(timeout=5, match=lambda m: isinstance(m, NodeDown))
            say(f"    monitor_nodes: {lost}")
            say(f"    researcher.is_alive() -> {researcher.is_alive()}; "
                f"whereis_global('librarian') -> {otp.node.whereis_global('librarian')}")
            moved = wait_for_new_child(sup, "scout", scout)
            say(f"    supervisor: restarted 'scout' on {moved.node or here.name} "
                "(a local ref's node is '')")
            say(f"    ask:   {moved.ask('failover', timeout=5)}")

        say()
        say("5. Stop the supervisor and node a (node b is gone)")
        sup.stop()
        otp.node.stop()
        say(f"    scout exited {moved.exit_reason}; node b exit code {other.returncode}; "
            f"node running here: {otp.node.current()}")
    finally:
        if other.poll() is None:
            other.kill()
            other.wait(10)
        otp.node.stop()
        otp.shutdown_all(timeout=5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
