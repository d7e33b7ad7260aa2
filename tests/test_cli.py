"""The otp-node command: --help, --version and exit codes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


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
