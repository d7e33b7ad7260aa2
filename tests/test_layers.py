"""The layer and third-party-confinement contracts of DESIGN.md hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "otp"

# importlinter.cli has no __main__; call its click command the way the
# lint-imports script does, with the interpreter running the tests.
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def test_import_linter_contracts_are_kept() -> None:
    """Every [tool.importlinter] contract in pyproject.toml is kept."""
    result = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"lint-imports failed:\n{output}"
    assert "0 broken" in output, output


def test_only_otp_log_configures_structlog() -> None:
    """structlog.configure is called in otp/_log.py and nowhere else under otp/."""
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if "structlog.configure" in path.read_text(encoding="utf-8")
    )
    assert offenders == ["otp/_log.py"]
