"""``otp-node demo``: the story runs, plain and live, stops cleanly, also on Ctrl-C."""

from __future__ import annotations

import fcntl
import os
import pty
import queue
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from otp.demo import TEAM_FILE, ScriptedModel

ROOT = Path(__file__).resolve().parent.parent


def _otp_node() -> list[str]:
    """The command that runs otp-node from the test interpreter's environment."""
    script = shutil.which("otp-node", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "otp.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    return {**env, "TERM": "xterm", **extra}


def _in_order(text: str, needles: list[str]) -> None:
    """Each of ``needles`` is in ``text``, after the previous one."""
    at = 0
    for needle in needles:
        found = text.find(needle, at)
        assert found >= 0, f"{needle!r} not found after position {at} in:\n{text}"
        at = found + len(needle)


@pytest.mark.timeout(60)
def test_the_plain_story_crashes_restarts_retries_and_stops_in_reverse_order() -> None:
    result = subprocess.run([*_otp_node(), "demo", "--speed", "20", "--plain"], cwd=ROOT,
                            env=_env(), capture_output=True, text=True, timeout=50, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    out = result.stdout
    assert "\x1b[" not in out  # plain: no redraws, no colours
    _in_order(out, [
        "├── researcher", "└── reviewer    Reviewer                 async   running",
        'Task 1: "supervision trees"',
        "researcher  asked the model", "writer      asked the model",
        "reviewer    asked the model", "drafts reviewed so far: 1",
        "Task 2",
        'writer      terminate(MalformedOutput("the model\'s reply is not valid JSON',
        "writer      crashed",
        "├── writer", "restarting",
        "restarted the writer from its spec",
        "restarts 1",
        "drafts written: 0", "drafts reviewed: 1",
        "writer      asked the model", "drafts reviewed so far: 2",
        "reverse start order",
        "reviewer    terminate(shutdown)", "writer      terminate(shutdown)",
        "researcher  terminate(shutdown)",
        "stopped", "agents still alive: 0",
    ])
    # The tree is printed when it changes (start, restarting, restarted, stopped), never
    # merely because uptimes grew.
    assert out.count("└── reviewer") == 4
    # The tree shows the new writer, then the stopped one, with its restart counted.
    assert re.search(r"├── writer +Writer +thread +running +up \S+ +restarts 1\n", out), out
    assert re.search(r"├── writer +Writer +thread +stopped +restarts 1\n", out), out
    assert "Traceback" not in out


def _read_pty(fd: int, proc: subprocess.Popen[bytes], deadline: float) -> bytes:
    """Everything the child writes to the terminal until it exits (or the deadline)."""
    chunks = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks)


@pytest.mark.timeout(60)
def test_on_a_terminal_the_tree_is_redrawn_in_place_and_the_cursor_restored() -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    proc = subprocess.Popen([*_otp_node(), "demo", "--speed", "10"], cwd=ROOT, env=_env(),
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            start_new_session=True)
    os.close(slave)
    try:
        raw = _read_pty(master, proc, time.monotonic() + 50)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stderr.close()
    out = raw.decode("utf-8", "replace")
    assert err == b""
    ups = [m.start() for m in re.finditer(r"\x1b\[\d+F", out)]  # cursor up: a redraw
    assert len(ups) > 10  # redrawn in place, many times
    assert "\x1b[?25l" in out and "\x1b[?25h" in out  # the cursor hidden, then shown again
    assert out.rindex("\x1b[?25h") > max(out.rindex("\x1b[?25l"), ups[-1])
    assert "\x1b[33mrestarting" in out  # the restart, live and in colour
    assert "restarts 1" in out and "agents still alive: 0" in out
    assert "Traceback" not in out


def _read_lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


@pytest.mark.timeout(60)
def test_ctrl_c_midway_stops_the_team_cleanly_without_a_traceback() -> None:
    proc = subprocess.Popen([*_otp_node(), "demo", "--speed", "2", "--plain"], cwd=ROOT,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    seen = []
    try:
        deadline = time.monotonic() + 30
        while not any("Task 1" in line for line in seen):
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get_nowait())
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.stdout is not None
    proc.stdout.close()
    out = "".join(seen)
    assert err == ""
    assert "Traceback" not in out
    _in_order(out, ["Task 1", "Interrupted: stopping the team cleanly",
                    "reviewer    terminate(shutdown)", "researcher  terminate(shutdown)",
                    "agents still alive: 0"])


@pytest.mark.timeout(30)
def test_help_explains_the_demo_and_its_options() -> None:
    result = subprocess.run([*_otp_node(), "demo", "--help"], capture_output=True, text=True,
                            timeout=20, check=False)
    assert result.returncode == 0, result.stderr
    for text in ("supervised team", "researcher", "crashes", "restarts", "--speed", "--plain",
                 "--no-color", "Ctrl-C", "team.yaml", "exit codes"):
        assert text in result.stdout
    top = subprocess.run([*_otp_node(), "--help"], capture_output=True, text=True, timeout=20,
                         check=False)
    assert top.stdout.index("otp-node demo") < top.stdout.index("otp-node init")


@pytest.mark.timeout(30)
def test_team_yaml_passes_otp_node_check() -> None:
    result = subprocess.run([*_otp_node(), "check", str(TEAM_FILE)], capture_output=True,
                            text=True, timeout=20, check=False)
    assert result.returncode == 0, result.stderr
    assert "trees: team (3 children)" in result.stdout


@pytest.mark.timeout(10)
def test_the_model_gives_a_retried_request_the_next_reply_and_runs_out_loudly() -> None:
    model = ScriptedModel({"writer": ["one", "two"]}, speed=1000)
    assert model.complete("p", role="writer").text == "one"
    again = model.complete("p", role="writer")  # a retry: a fresh answer, as a provider gives
    assert again.text == "two" and again.input_tokens == 1 and again.output_tokens == 1
    with pytest.raises(LookupError, match="no reply 3 for 'writer'"):
        model.complete("p", role="writer")
    with pytest.raises(ValueError, match="speed must be > 0"):
        ScriptedModel(speed=0)
