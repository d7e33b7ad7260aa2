"""``otp-node run | schema | init | create`` as subprocesses (``check`` is in tests/system)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

NODE_TESTS = Path(__file__).resolve().parent / "node"
SYSTEM_TESTS = Path(__file__).resolve().parent / "system"
if str(NODE_TESTS) not in sys.path:
    sys.path.insert(0, str(NODE_TESTS))
from cluster import NodeProcess, node_env, this_node

TIMEOUT = 60.0


def otp_node(*args: str, cwd: Path | None = None,
             timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "otp.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=node_env(), check=False)


def system_file(tmp_path: Path, body: str, node: str = "") -> Path:
    path = tmp_path / "system.yaml"
    path.write_text(f"python_path: [{json.dumps(str(SYSTEM_TESTS))}]\n{node}{body}",
                    encoding="utf-8")
    return path


TEAM = """\
supervisors:
  - id: team
    intensity: 1
    period: 30
    children:
      - {id: first, agent: 'sys_agents:Worker', args: [first],
         kwargs: {global_name: first-worker}}
      - {id: second, agent: 'sys_agents:Worker', args: [second]}
  - id: other
    children:
      - {id: third, agent: 'sys_agents:Worker', args: [third]}
"""


@pytest.fixture
def running(tmp_path: Path) -> Iterator[NodeProcess]:
    path = system_file(tmp_path, TEAM, "node: {name: sys, listen: 'tcp://127.0.0.1:*'}\n")
    node = NodeProcess("sys", command=["run", str(path), "--log-format", "json"])
    try:
        yield node
    finally:
        node.stop()


def _lines(node: NodeProcess) -> list[str]:
    out = []
    while not node.lines.empty():
        out.append(node.lines.get_nowait())
    return out


@pytest.mark.timeout(TIMEOUT)
def test_run_starts_the_node_and_its_trees_and_stop_stops_them_in_reverse(
        running: NodeProcess) -> None:
    assert running.name == "sys@127.0.0.1"
    status = running.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    trees = json.loads(status.stdout)["trees"]
    assert [t["id"] for t in trees] == ["team", "other"]
    assert [c["id"] for c in trees[0]["children"]] == ["first", "second"]
    assert running.cli("stop").returncode == 0
    assert running.wait_exit() == 0
    said = [ln for ln in _lines(running) if ln.startswith(("terminate", "started", "node"))]
    assert said == ["started tree team (2 children)", "started tree other (1 child)",
                    "terminate third shutdown", "terminate second shutdown",
                    "terminate first shutdown", "node sys@127.0.0.1 stopped"]


@pytest.mark.timeout(TIMEOUT)
def test_run_stops_cleanly_on_sigterm(running: NodeProcess) -> None:
    running.signal(signal.SIGTERM)
    assert running.wait_exit() == 0
    assert "node sys@127.0.0.1 stopped" in _lines(running)


@pytest.mark.timeout(TIMEOUT)
def test_a_tree_that_gives_up_stops_the_node_with_exit_1(running: NodeProcess) -> None:
    import otp.node

    # intensity 1 in 30 s: the second crash is one too many, and the team gives up.
    with this_node("tester", join=[running.address]):
        otp.node.wait_for(running.name)
        previous = None
        for _ in range(2):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                ref = otp.node.whereis_global("first-worker")
                if ref is not None and ref != previous:
                    break
                time.sleep(0.02)
            assert ref is not None and ref != previous
            ref.tell("crash")
            previous = ref
        assert running.wait_exit(timeout=20) == 1
    assert any("tree 'team' ended (shutdown): stopping the node" in ln
               for ln in running.stderr), running.stderr[-5:]


@pytest.mark.timeout(TIMEOUT)
def test_run_with_an_invalid_file_lists_the_problems_and_exits_2(tmp_path: Path) -> None:
    path = system_file(tmp_path, "supervisors:\n  - id: t\n    strategy: fastest\n")
    result = otp_node("run", str(path))
    assert result.returncode == 2
    assert "system.yaml:4:15: supervisors[0].strategy: 'fastest': must be" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.timeout(TIMEOUT)
def test_run_with_a_tree_that_cannot_start_exits_1(tmp_path: Path) -> None:
    path = system_file(tmp_path, "supervisors:\n  - id: t\n    children:\n"
                       "      - {id: x, agent: 'sys_agents:FailsToStart'}\n")
    result = otp_node("run", str(path))
    assert result.returncode == 1
    assert "tree 't' failed to start" in result.stderr
    assert "no start today" in result.stderr


@pytest.mark.timeout(TIMEOUT)
def test_run_on_an_address_in_use_exits_3(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = system_file(tmp_path, TEAM, f"node: {{name: sys, listen: 'tcp://127.0.0.1:{port}'}}\n")
        result = otp_node("run", str(path))
    assert result.returncode == 3, result.stderr
    assert "Address already in use" in result.stderr


@pytest.mark.timeout(TIMEOUT)
def test_schema_prints_a_json_schema(tmp_path: Path) -> None:
    result = otp_node("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "agent-otp system file"
    assert "supervisors" in schema["properties"]


@pytest.mark.timeout(TIMEOUT * 2)
def test_init_makes_a_project_whose_check_and_tests_pass_and_which_runs(tmp_path: Path) -> None:
    result = otp_node("init", "my-project", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "my-project"
    assert sorted(p.name for p in root.iterdir()) == [
        "README.md", "my_project", "system.schema.json", "system.yaml", "tests"]
    assert otp_node("check", "system.yaml", cwd=root).returncode == 0
    for template in ("basic", "async", "llm"):
        made = otp_node("create", f"{template}_agent", "--template", template, cwd=root)
        assert made.returncode == 0, made.stderr
        assert f"added child '{template}_agent' to tree 'main'" in made.stdout
    checked = otp_node("check", "system.yaml", cwd=root)
    assert checked.stdout.endswith("trees: main (4 children)\n"), checked.stderr
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests"], cwd=root, capture_output=True, text=True,
                           timeout=TIMEOUT, env=node_env(), check=False)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "8 passed" in tests.stdout
    node = NodeProcess("my_project", command=["run", str(root / "system.yaml")])
    try:
        status = node.cli("status")
        assert status.returncode == 0, status.stderr
        for line in ("main", "├── greeter", "├── basic_agent", "├── async_agent",
                     "└── llm_agent"):
            assert line in status.stdout
    finally:
        assert node.stop() == 0


@pytest.mark.timeout(TIMEOUT)
def test_init_and_create_never_overwrite_and_name_what_is_wrong(tmp_path: Path) -> None:
    assert otp_node("init", "p", cwd=tmp_path).returncode == 0
    again = otp_node("init", "p", cwd=tmp_path)
    assert again.returncode == 2 and "already exists: init never overwrites" in again.stderr
    root = tmp_path / "p"
    before = (root / "system.yaml").read_text()
    for args, message in [
        (["greeter"], "'p/greeter.py' already exists"),
        (["Bad-Name"], "NAME 'Bad-Name': use lower_case_with_underscores"),
        (["class"], "NAME 'class'"),
        (["x", "--tree", "nope"], "--tree 'nope': the trees in system.yaml are main"),
        (["x", "--template", "nope"], "invalid choice: 'nope'"),
        (["x", "--dir", str(tmp_path)], "no package"),
    ]:
        result = otp_node("create", *args, cwd=root)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    assert (root / "system.yaml").read_text() == before


@pytest.mark.timeout(TIMEOUT)
def test_create_refuses_a_broken_system_file(tmp_path: Path) -> None:
    assert otp_node("init", "p", cwd=tmp_path).returncode == 0
    root = tmp_path / "p"
    (root / "system.yaml").write_text("supervisors: []\n")
    result = otp_node("create", "helper", cwd=root)
    assert result.returncode == 2
    assert "fix the system file first" in result.stderr
    assert not (root / "p" / "helper.py").exists()


def test_help_of_each_new_command_explains_it() -> None:
    for command, words in [("run", "exit codes"), ("check", "without starting anything"),
                           ("init", "never"), ("create", "templates:"), ("schema", "editor")]:
        result = otp_node(command, "--help")
        assert result.returncode == 0
        assert words in result.stdout, (command, result.stdout)

