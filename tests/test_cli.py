"""The otp-node command: --help, --version, exit codes, and each command against real nodes."""

from __future__ import annotations

import json
import shutil
import socket
import stat
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
from cluster import COOKIE, NodeProcess, node_env


def _otp_node() -> list[str]:
    """Return the command that runs otp-node from the test interpreter's environment."""
    bindir = Path(sys.executable).parent
    script = shutil.which("otp-node", path=str(bindir))
    return [script] if script else [sys.executable, "-m", "otp.cli"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_otp_node(), *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_help_describes_the_project_and_exit_codes_and_exits_0() -> None:
    result = _run("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: otp-node")
    assert "agent-otp is Erlang/OTP for AI agents" in result.stdout
    assert "exit codes:" in result.stdout


def test_version_prints_the_package_version() -> None:
    result = _run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "otp-node 0.1.0"


def test_no_arguments_prints_help_to_stderr_and_exits_2() -> None:
    result = _run()
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: otp-node" in result.stderr


def test_an_unknown_option_is_a_usage_error() -> None:
    result = _run("--bogus")
    assert result.returncode == 2
    assert "unrecognized arguments: --bogus" in result.stderr


def test_python_m_otp_cli_runs_the_same_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otp.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("otp-node ")


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_main_returns_0_for_informational_options(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from otp.cli import main

    assert main(argv) == 0
    assert capsys.readouterr().out.startswith(("otp-node", "usage: otp-node"))


# -- against real nodes ------------------------------------------------------------------------
# The nodes are real `otp-node start` processes (tests/node/cluster.py), on 127.0.0.1 with the
# test cookie; every one is stopped by the fixture or test that started it.

NODE_TEST_TIMEOUT = 60


def _otp(*args: str, cookie: str = COOKIE, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run otp-node with the test cookie (in $OTP_COOKIE) and the test agents importable."""
    return subprocess.run([*_otp_node(), *args], capture_output=True, text=True, timeout=timeout,
                          env=node_env(cookie), check=False)


def _free_port() -> int:
    """A port nothing listens on (bound, then closed at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _ls_json(address: str) -> dict[str, Any]:
    result = _otp("ls", address, "--json")
    assert result.returncode == 0, result.stderr
    info: dict[str, Any] = json.loads(result.stdout)
    return info


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[NodeProcess, NodeProcess]]:
    """Node a (agents: supervisor ``red`` with three members, ``echo``) and node b joined to it."""
    a = NodeProcess("a", "--spawn", "cli_agents:Red=red", "--spawn", "remote_agents:Echo=echo")
    b: NodeProcess | None = None
    try:
        b = NodeProcess("b", "--join", a.address)
        deadline = time.monotonic() + 15
        while not any(p["name"] == b.name and p["state"] == "up" for p in _ls_json(a.address)["nodes"]):
            assert time.monotonic() < deadline, f"{b.name} did not connect to {a.name}"
            time.sleep(0.1)
        yield a, b
    finally:
        if b is not None:
            b.stop()
        a.stop()


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_ping_prints_pong_from_the_node_and_exits_0(pair: tuple[NodeProcess, NodeProcess]) -> None:
    a, _b = pair
    result = _otp("ping", a.address)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"pong from {a.name} ({a.address}) in ")
    assert result.stdout.rstrip().endswith(" ms")


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_ping_with_no_node_listening_prints_pang_and_exits_1_within_its_timeout() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    result = _otp("ping", address, "--timeout", "0.5")
    assert result.returncode == 1
    assert result.stdout == f"pang: no node answered at {address}\n"
    assert f"no answer from {address} within 0.5 s" in result.stderr
    assert time.monotonic() - started < 10


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
@pytest.mark.parametrize("command", ["ls", "stop"])
def test_ls_and_stop_with_no_node_listening_exit_1(command: str) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = _otp(command, address, "--timeout", "0.5")
    assert result.returncode == 1
    assert f"no answer from {address}" in result.stderr


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_ping_with_the_wrong_cookie_exits_1_and_says_the_cookies_differ(
        pair: tuple[NodeProcess, NodeProcess]) -> None:
    a, _b = pair
    result = _otp("ping", a.address, "--timeout", "5", cookie="not-the-cluster-cookie")
    assert result.returncode == 1
    assert result.stdout.startswith("pang: refused")
    assert "did not prove the cookie" in result.stderr
    assert "same cookie" in result.stderr and "$OTP_COOKIE" in result.stderr


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_ls_lists_the_peers_agents_and_names(pair: tuple[NodeProcess, NodeProcess]) -> None:
    a, b = pair
    result = _otp("ls", a.address)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"node {a.name} at {a.address}"
    nodes, agents, names = (lines.index(h) for h in ("nodes:", "agents:", "names:"))
    assert nodes < agents < names
    peer, = lines[nodes + 1:agents]
    assert peer.split() == [b.name, "up", b.address]
    classes = sorted(line.split()[0] for line in lines[agents + 1:names])
    assert classes == ["Echo", "Member", "Member", "Member", "Red"]
    assert any(line.split()[:3] == ["Echo", "echo", "thread"] for line in lines[agents + 1:names])
    assert lines[names + 1:] == ["  echo (local)", "  red (local)"]


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_ls_json_prints_one_object_with_nodes_agents_and_names(
        pair: tuple[NodeProcess, NodeProcess]) -> None:
    a, b = pair
    info = _ls_json(a.address)
    assert info["node"] == a.name
    assert info["address"] == a.address
    assert info["nodes"] == [{"name": b.name, "address": b.address, "state": "up"}]
    by_name = {agent["name"]: agent for agent in info["agents"] if agent["name"]}
    assert by_name["echo"]["class"] == "Echo"
    assert by_name["echo"]["kind"] == "thread"
    assert by_name["echo"]["id"].startswith("urn:uuid:")
    assert by_name["red"]["class"] == "Red"
    assert sorted(agent["class"] for agent in info["agents"]) == [
        "Echo", "Member", "Member", "Member", "Red"]
    assert info["names"] == {"local": ["echo", "red"], "global": {}}
    assert info["stats"]["rejected"] >= 0
    assert _ls_json(b.address)["nodes"] == [{"name": a.name, "address": a.address, "state": "up"}]


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_stop_makes_the_node_print_stopped_and_exit_0() -> None:
    node = NodeProcess("stopme")
    try:
        result = _otp("stop", node.address)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"stopping {node.name}\n"
        assert node.wait_exit(15) == 0, "\n".join(node.stderr)
    finally:
        node.stop()
    assert f"node {node.name} stopped" in list(node.lines.queue)
    assert node.logged("node_stopped")


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_sigterm_stops_each_supervision_tree_newest_first_in_reverse_start_order_then_exits_0(
        ) -> None:
    node = NodeProcess("trees", "--spawn", "cli_agents:Red=red", "--spawn", "cli_agents:Blue=blue")
    code = node.stop()
    assert code == 0, "\n".join(node.stderr)
    said = [line for line in node.lines.queue if line.startswith(("terminate ", "node "))]
    assert said == [
        "terminate blue third shutdown",
        "terminate blue second shutdown",
        "terminate blue first shutdown",
        "terminate blue supervisor shutdown",
        "terminate red third shutdown",
        "terminate red second shutdown",
        "terminate red first shutdown",
        "terminate red supervisor shutdown",
        f"node {node.name} stopped",
    ]


def _start_fails(*args: str, cookie: str = COOKIE) -> subprocess.CompletedProcess[str]:
    return _otp("start", "--name", "bad", *args, cookie=cookie)


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
@pytest.mark.parametrize(("args", "named"), [
    (["--listen", "udp://127.0.0.1:7001"], "'udp://127.0.0.1:7001' is not a ZeroMQ endpoint"),
    (["--listen", "tcp://127.0.0.1"], "'tcp://127.0.0.1' needs a host and a port"),
    (["--join", "127.0.0.1:7001"], "'127.0.0.1:7001' is not a ZeroMQ endpoint"),
    (["--listen", "tcp://0.0.0.0:7001"], "CURVE encryption is required beyond loopback"),
    (["--heartbeat", "0"], "heartbeat=0.0: use seconds between 0.05 and 3600"),
    (["--heartbeat", "inf"], "heartbeat=inf: use seconds between 0.05 and 3600"),
    (["--heartbeat", "soon"], "argument --heartbeat: invalid float value: 'soon'"),
    (["--name", "a b"], "node name 'a b@127.0.0.1'"),
    (["--spawn", "no_such_module:Agent"], "No module named 'no_such_module'"),
    (["--spawn", "remote_agents"], "'remote_agents' must look like 'package.module:Class'"),
    (["--spawn", "remote_agents:FailsToStart"], "ValueError('no start today')"),
    (["--curve-secret", "missing.key_secret"], "CURVE needs both curve_secret"),
], ids=lambda v: v[-1] if isinstance(v, list) else None)
def test_start_with_a_bad_value_exits_2_naming_it(args: list[str], named: str) -> None:
    result = _start_fails(*args)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_start_with_a_cookie_file_others_can_read_exits_2_and_says_chmod(tmp_path: Path) -> None:
    cookie = tmp_path / "cookie"
    cookie.write_text("secret\n")
    cookie.chmod(0o644)
    result = _start_fails("--cookie-file", str(cookie))
    assert result.returncode == 2
    assert f"cookie file '{cookie}' is readable by others" in result.stderr
    assert f"chmod 600 {cookie}" in result.stderr


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_start_on_an_address_in_use_exits_3(pair: tuple[NodeProcess, NodeProcess]) -> None:
    a, _b = pair
    result = _start_fails("--listen", a.address)
    assert result.returncode == 3
    assert a.address in result.stderr
    assert "in use" in result.stderr


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_keys_writes_a_secret_only_the_owner_can_read_and_prints_the_public_key(
        tmp_path: Path) -> None:
    result = _otp("keys", "--dir", str(tmp_path / "keys"), "--name", "a")
    assert result.returncode == 0, result.stderr
    public, secret = tmp_path / "keys" / "a.key", tmp_path / "keys" / "a.key_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o644
    key = result.stdout.splitlines()[0].removeprefix("public key: ")
    assert len(key) == 40
    assert f'public-key = "{key}"' in public.read_text()
    assert f"public-key = \"{key}\"" in secret.read_text()
    assert "secret-key" in secret.read_text()
    assert "secret-key" not in public.read_text()
    assert f"wrote {public} (share it) and {secret} (keep it secret)" in result.stdout


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_keys_never_overwrites_a_key_pair(tmp_path: Path) -> None:
    assert _otp("keys", "--dir", str(tmp_path), "--name", "a").returncode == 0
    before = (tmp_path / "a.key_secret").read_text()
    result = _otp("keys", "--dir", str(tmp_path), "--name", "a")
    assert result.returncode == 2
    assert "already exists" in result.stderr
    assert (tmp_path / "a.key_secret").read_text() == before


@pytest.mark.timeout(NODE_TEST_TIMEOUT)
def test_a_curve_node_answers_a_client_with_its_key_and_not_one_without(tmp_path: Path) -> None:
    for name in ("n", "cli"):
        assert _otp("keys", "--dir", str(tmp_path / name), "--name", name).returncode == 0
    shutil.copy(tmp_path / "cli" / "cli.key", tmp_path / "n")
    public = (tmp_path / "n" / "n.key").read_text().split('public-key = "')[1].split('"')[0]
    node = NodeProcess("n", "--curve-secret", str(tmp_path / "n" / "n.key_secret"),
                       "--curve-allow", str(tmp_path / "n"))
    try:
        secure = f"{node.address}#curve={public}"
        ok = _otp("ping", secure, "--curve-secret", str(tmp_path / "cli" / "cli.key_secret"))
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith(f"pong from {node.name}")
        plain = _otp("ping", node.address, "--timeout", "1")
        assert plain.returncode == 1
        assert "--curve-secret and ADDR#curve=KEY" in plain.stderr
    finally:
        node.stop()


@pytest.mark.parametrize(("command", "says"), [
    ("start", "Run a node in the foreground"),
    ("ping", "check that a node answers"),
    ("ls", "list a node's peers, agents and names"),
    ("stop", "stop a node: its supervision trees in order"),
    ("keys", "Write a CURVE key pair"),
])
def test_every_subcommand_explains_itself_in_help_and_exits_0(command: str, says: str) -> None:
    result = _run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: otp-node {command}")
    assert says in result.stdout
    assert "exit code" in result.stdout
