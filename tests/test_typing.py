"""The package type-checks under ``mypy --strict`` (STYLE.md habit 9)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_otp_package_passes_mypy_strict() -> None:
    """Every module of ``otp`` passes ``mypy --strict`` with the config in pyproject."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "otp"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
