"""``otp-node status``: the tree drawing, and the command against a real node.

The node is a real ``otp-node start --spawn cli_agents:Red=red`` process
(tests/node/cluster.py): the supervisor ``red`` with three members. A test
kills a member through ``cli_agents.Killer``, spawned on that node from this
process's own node, and the status then shows the restart.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NODE_TESTS = Path(__file__).resolve().parent / "node"
if str(NODE_TESTS) not in sys.path:  # the otp-node helpers and test agents live there
    sys.path.insert(0, str(NODE_TESTS))
from cluster import COOKIE, NodeProcess, node_env, this_node

from otp.cli._tree import format_uptime, render

pytestmark = pytest.mark.timeout(60)

# -- render: a pure function of the dict ----------------------------------------------------


def _leaf(child_id: str, cls: str | None, kind: str | None, state: str, uptime: float | None,
          restarts: int = 0, node: str | None = "a@127.0.0.1") -> dict[str, Any]:
    return {"id": child_id, "agent": None if cls is None else f"urn:uuid:{child_id}",
            "class": cls, "type": "worker", "kind": kind, "node": node, "state": state,
            "restarts": restarts, "uptime": uptime}


TREE: dict[str, Any] = {
    "id": "team", "agent": "urn:uuid:team", "class": "Supervisor", "type": "supervisor",
    "kind": "thread", "node": "a@127.0.0.1", "state": "running", "restarts": 0, "uptime": 12.34,
    "strategy": "one_for_one", "intensity": 3, "period": 5.0, "children": [
        _leaf("researcher", "Researcher", "thread", "running", 12.3),
        {**_leaf("tools", "Supervisor", "thread", "running", 192.5, 2, "b@127.0.0.1"),
         "type": "supervisor", "strategy": "one_for_all", "intensity": 3, "period": 5.0,
         "children": [_leaf("search", None, None, "restarting", None),
                      _leaf("fetch", "Fetch", "async", "running", 7530, 0, "b@127.0.0.1")]},
        _leaf("writer", "Writer", "thread", "running", 1.2, 1),
        {**_leaf("critic", "Supervisor", "async", "unknown", 300000.0), "type": "supervisor",
         "strategy": None, "intensity": None, "period": None, "children": []},
        _leaf("reviewer", None, None, "stopped", None),
    ]}

LINES = [
    "team            Supervisor  one_for_one  thread  running     up 12.3s",
    "├── researcher  Researcher               thread  running     up 12.3s",
    ("├── tools       Supervisor  one_for_all  thread  running     up 3m12s  restarts 2"
     "  on b@127.0.0.1"),
    "│   ├── search                                   restarting",
    ("│   └── fetch   Fetch                    async   running     up 2h05m              "
     "on b@127.0.0.1"),
    "├── writer      Writer                   thread  running     up 1.2s   restarts 1",
    "├── critic      Supervisor               async   unknown     up 3d11h",
    "└── reviewer                                     stopped",
]


def test_render_draws_the_tree_with_columns_aligned_across_it() -> None:
    assert render(TREE) == LINES


def test_render_colours_states_and_restarts_only_when_asked() -> None:
    coloured = render(TREE, color=True)
    assert not any("\x1b" in line for line in render(TREE))
    assert coloured[0] == ("team            Supervisor  one_for_one  thread  "
                           "\x1b[32mrunning\x1b[0m     up 12.3s")
    assert "\x1b[33mrestarting\x1b[0m" in coloured[3]
    assert "\x1b[33mrestarts 1\x1b[0m" in coloured[5]
    assert "\x1b[31munknown\x1b[0m" in coloured[6]
    assert coloured[7].endswith("\x1b[31mstopped\x1b[0m")
    strip = [line.replace("\x1b[32m", "").replace("\x1b[33m", "").replace("\x1b[31m", "")
             .replace("\x1b[0m", "") for line in coloured]
    assert strip == LINES  # the codes add no width


def test_render_is_a_pure_function_and_leaves_out_empty_columns() -> None:
    alone = {**TREE, "children": [], "uptime": None, "node": None}
    assert render(alone) == render(alone) == ["team  Supervisor  one_for_one  thread  running"]


@pytest.mark.parametrize(("seconds", "text"), [
    (None, ""), (0, "0.0s"), (4.25, "4.2s"), (59.99, "59.9s"), (60, "1m00s"), (192.7, "3m12s"),
    (3599, "59m59s"), (3600, "1h00m"), (7530, "2h05m"), (86400, "1d00h"), (273600, "3d04h")])
def test_uptimes_are_short_and_human(seconds: float | None, text: str) -> None:
    assert format_uptime(seconds) == text


# -- the command against a real node --------------------------------------------------------


def _otp(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``otp-node ARGS`` with the test cookie (in $OTP_COOKIE)."""
    return subprocess.run([sys.executable, "-m", "otp.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=node_env(COOKIE), check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def red() -> Iterator[NodeProcess]:
    """A node running the supervisor ``red`` (three members); stopped after the module."""
    node = NodeProcess("a", "--spawn", "cli_agents:Red=red")
    try:
        yield node
    finally:
        node.stop()


def _status_json(address: str) -> dict[str, Any]:
    result = _otp("status", address, "--json")
    assert result.returncode == 0, result.stderr
    status: dict[str, Any] = json.loads(result.stdout)
    return status


def test_status_prints_the_node_then_its_tree(red: NodeProcess) -> None:
    result = _otp("status", red.address)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"node {red.name} at {red.address}"
    assert lines[1].split()[:5] == ["red", "Red", "one_for_one", "thread", "running"]
    assert [line.split()[:5] for line in lines[2:]] == [
        [branch, member, "Member", "thread", "running"]
        for branch, member in (("├──", "first"), ("├──", "second"), ("└──", "third"))]
    assert "\x1b" not in result.stdout  # not a terminal: no colour
    assert all(" up " in line for line in lines[1:])


def test_status_json_prints_the_status_object(red: NodeProcess) -> None:
    status = _status_json(red.address)
    assert (status["node"], status["address"]) == (red.name, red.address)
    [tree] = status["trees"]
    assert (tree["id"], tree["class"], tree["type"], tree["node"]) == \
        ("red", "Red", "supervisor", red.name)
    assert [c["id"] for c in tree["children"]] == ["first", "second", "third"]


def test_a_killed_member_shows_one_restart(red: NodeProcess) -> None:
    import otp.node

    before = {c["id"]: c["restarts"] for c in _status_json(red.address)["trees"][0]["children"]}
    with this_node("t", join=[red.address]):
        otp.node.wait_for(red.name, timeout=10)
        killer = otp.node.spawn(red.name, "cli_agents:Killer", args=("red", "second"))
        killer.stop(timeout=5)
    result = _otp("status", red.address)
    assert result.returncode == 0, result.stderr
    second = next(line for line in result.stdout.splitlines() if " second " in line)
    assert second.endswith(f"restarts {before['second'] + 1}"), result.stdout
    after = {c["id"]: c["restarts"] for c in _status_json(red.address)["trees"][0]["children"]}
    assert after == {**before, "second": before["second"] + 1}


def test_a_node_without_supervisors_says_so() -> None:
    node = NodeProcess("n", "--spawn", "remote_agents:Echo=echo")
    try:
        result = _otp("status", node.address)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"node {node.name} at {node.address}\n(no supervision trees)\n"
        assert _status_json(node.address)["trees"] == []
    finally:
        node.stop()


def test_status_of_a_dead_address_exits_1_within_its_timeout() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    result = _otp("status", address, "--timeout", "0.5")
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"no answer from {address} within 0.5 s" in result.stderr
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("args", [
    ["status"],  # no address
    ["status", "tcp://127.0.0.1:1", "--timeout", "soon"],
    ["status", "tcp://127.0.0.1:1", "--bogus"],
    ["status", "localhost:7001"],  # not an address
])
def test_bad_options_exit_2(args: list[str]) -> None:
    result = _otp(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr


def test_help_explains_the_columns() -> None:
    result = _otp("status", "--help")
    assert result.returncode == 0, result.stderr
    for word in ("columns:", "restarts", "restarting", "unknown", "--json", "exit codes"):
        assert word in result.stdout
