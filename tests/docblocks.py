"""Find the fenced code blocks of a Markdown page and run its shell blocks.

Used by ``tests/test_docs.py``, which states the rules; this module holds
the mechanics: the fence parser, the ``console`` prompt rule, the README
set-up commands, and the shell runner that kills every process a block
started.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TIMEOUT = 60.0
COOKIE = "docs-test-cookie-not-secret"

PYTHON_LANGS = {"python"}
OTHER_PYTHON_LANGS = {"py", "python3", "pycon", "pyi", "python-repl", "ipython"}
SHELL_LANGS = {"sh", "bash", "shell", "console"}
YAML_LANGS = {"yaml", "yml"}
OUTPUT_LANGS = {"text"}  # output, not code: never run
KNOWN_LANGS = PYTHON_LANGS | SHELL_LANGS | YAML_LANGS | OUTPUT_LANGS

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*\{?\s*\.?(?P<lang>[\w+-]*)(?P<rest>.*)$")
TITLE = re.compile(r"""\btitle=(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')""")
PROMPT = "$ "
# The README's set-up commands: a fresh venv, then pip install of this repository.
SETUP = re.compile(r"\Apython3 -m venv \.venv && \.venv/bin/pip install ")


class Block(NamedTuple):
    """One fenced code block: language, first code line (1-based), code, ``title=``."""

    lang: str
    line: int
    code: str
    title: str = ""


def blocks_of(page: Path) -> list[Block]:
    """Return the fenced code blocks of a Markdown page, dedented to their fence."""
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m["indent"], m["fence"], m["lang"].lower()
        title = TITLE.search(m["rest"])
        body: list[str] = []
        i += 1
        start = i + 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                break
            body.append(lines[i].removeprefix(indent))
            i += 1
        i += 1
        name = (title["dq"] if title["dq"] is not None else title["sq"]) if title else ""
        blocks.append(Block(lang, start, "\n".join(body) + "\n", name))
    return blocks


def rel(page: Path) -> str:
    """The page's path from the repository root, as messages show it."""
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def is_setup_command(block: Block) -> bool:
    """Whether a shell block is one of the README's set-up commands (not run)."""
    return block.lang in SHELL_LANGS and bool(SETUP.match(block.code.strip()))


def readme_commands(readme: Path = ROOT / "README.md") -> list[str]:
    """The shell commands of the README's "Two commands" section, one per block."""
    text = readme.read_text(encoding="utf-8")
    section = re.search(r"^## Two commands\n(?P<body>.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Two commands' section"
    fences = re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```$", section["body"], re.MULTILINE | re.DOTALL)
    return [f.strip() for f in fences]


def shell_script(block: Block) -> str:
    """The script a shell block runs, padded so bash reports the page's line numbers.

    In a ``console`` block only lines starting with ``$ `` are commands (a
    command ending in a backslash goes on to the next line); every other line
    is output and becomes a blank line, so line numbers still match the page.
    """
    lines = block.code.splitlines()
    if block.lang == "console":
        kept: list[str] = []
        continued = False
        for ln in lines:
            if ln.startswith(PROMPT) or continued:
                command = ln.removeprefix(PROMPT) if not continued else ln
                kept.append(command)
                continued = command.endswith("\\")
            else:
                kept.append("")
        lines = kept
    return "\n" * (block.line - 1) + "\n".join(lines) + "\n"


def shell_env(home: Path) -> dict[str, str]:
    """The environment of a shell block: this venv first on PATH, a scratch HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTP_")}
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)]),
        HOME=str(home),
        OTP_COOKIE=COOKIE,
        PYTHONPATH=str(EXAMPLES),
        PYTHONIOENCODING="utf-8",
    )
    return env


class ShellResult(NamedTuple):
    """How a shell block ended: exit code (None: timed out) and its output."""

    returncode: int | None
    stdout: str
    stderr: str


def run_shell_block(script: str, cwd: Path, env: dict[str, str], logs: Path,
                    timeout: float = TIMEOUT) -> ShellResult:
    """Run one script with ``bash -euo pipefail`` in its own session, then kill the session.

    Output goes to files, not pipes, so a background process that outlives
    bash cannot hold the test up; every process of the block's process group
    is killed (SIGKILL) once bash has exited or timed out.
    """
    logs.mkdir(parents=True, exist_ok=True)
    script_file, out_file, err_file = (logs / n for n in ("block.sh", "stdout", "stderr"))
    script_file.write_text(script, encoding="utf-8")
    with out_file.open("wb") as out, err_file.open("wb") as err:
        proc = subprocess.Popen(
            ["bash", "-euo", "pipefail", str(script_file)], cwd=cwd, env=env,
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        try:
            returncode: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # bash and everything it started are gone already
            proc.wait()
    return ShellResult(returncode, out_file.read_text("utf-8", "replace"),
                       err_file.read_text("utf-8", "replace"))


def write_titled(blocks: list[Block], directory: Path) -> None:
    """Write each titled yaml block as the file its title names, inside ``directory``."""
    for block in blocks:
        if block.lang in YAML_LANGS and block.title:
            target = (directory / block.title).resolve()
            assert target.is_relative_to(directory.resolve()), (
                f"line {block.line}: title={block.title!r} must be a relative path inside "
                "the page's directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")
