"""Every code block in docs/*.md runs (STYLE.md habit 12).

``python`` blocks: per page, the blocks run in order in one fresh
interpreter (cwd: the repository root) and share one namespace, so a later
block can use what an earlier one defined. Each block is compiled with the
page's path and its line in the page, so a traceback points at the Markdown
line that failed.

``sh``, ``bash``, ``shell`` and ``console`` blocks: per page, the blocks run
in order, each with ``bash -euo pipefail`` in its own session, all in one
fresh scratch directory. PATH starts with this interpreter's directory (so
``python`` and ``otp-node`` are this venv's), HOME is a scratch directory,
``OTP_COOKIE`` is a fixed test cookie and PYTHONPATH is ``examples/`` (so
``--spawn cluster_agents:...`` works). A block fails on a non-zero exit or
after 60 s; when it ends, every process it started is killed, so a command
that serves for ever runs in the background (``&``) and is stopped inside
the block (``otp-node stop ADDR``; ``otp-node ping --timeout`` waits for a
node that is still starting). In a ``console`` block only ``$ `` lines are
commands; the rest is output.

``yaml`` and ``yml`` blocks: each must be a valid system file, checked with
``otp-node check FILE``. A block with ``title="NAME"`` is also written as
NAME into the page's scratch directory before its shell blocks run, so they
can use it.

``text`` blocks are output, not code, and are not run. Nothing else can
opt out, with one exception: a shell block that is exactly one of the
README's two set-up commands (``python3 -m venv .venv && .venv/bin/pip
install ...``) is not run here, because one installs the repository into a
new venv and the other runs this very suite. Instead a test checks that it
is, word for word, a command of README.md's "Two commands" section, and
that ``.ci/run`` installs and tests the same way. Any other fence language,
python code in another fence (``pycon``, ``py``, ...), and skip markers fail
the suite.

A python block that is only a snippet include (``--8<-- "examples/x.py"``)
is a whole program that ``tests/test_examples.py`` runs; here it must point
at an existing example.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from docblocks import (
    KNOWN_LANGS,
    OTHER_PYTHON_LANGS,
    PYTHON_LANGS,
    ROOT,
    SHELL_LANGS,
    TIMEOUT,
    YAML_LANGS,
    Block,
    blocks_of,
    is_setup_command,
    readme_commands,
    rel,
    run_shell_block,
    shell_env,
    shell_script,
    write_titled,
)

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
SNIPPET = re.compile(r'^-{1,3}8<-{1,3}\s+"([^"]+)"\s*$')
SKIP_MARKER = re.compile(r"doctest:\s*\+?skip|pytest\.skip|#\s*skip\b|noqa:\s*docs", re.IGNORECASE)

# Runs in the subprocess: read [(path, line, source), ...] from stdin and exec
# each block in this module's namespace, with the page's line numbers.
RUNNER = """
import json, sys
blocks = json.load(sys.stdin)
namespace = globals()
for path, line, source in blocks:
    exec(compile("\\n" * (line - 1) + source, path, "exec"), namespace)
"""


def _snippet_paths(block: Block) -> list[str] | None:
    """The files a block includes, if it consists only of snippet lines."""
    lines = [ln for ln in block.code.splitlines() if ln.strip()]
    found = [SNIPPET.match(ln.strip()) for ln in lines]
    if lines and all(found):
        return [m[1] for m in found if m]
    return None


def _page_id(page: Path) -> str:
    return str(page.relative_to(DOCS))


@pytest.mark.timeout(TIMEOUT + 10)
@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_python_block_of_the_page_runs_in_order(page: Path) -> None:
    runnable = []
    for block in blocks_of(page):
        if block.lang not in PYTHON_LANGS:
            continue
        paths = _snippet_paths(block)
        if paths is not None:
            for path in paths:
                target = ROOT / path
                assert target.is_file(), f"{rel(page)}:{block.line} includes missing {path}"
                assert target.parent == ROOT / "examples", (
                    f"{rel(page)}:{block.line} includes {path}; only examples/*.py (run by "
                    "tests/test_examples.py) may be included as a whole program")
            continue
        runnable.append((rel(page), block.line, block.code))
    if not runnable:
        return
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [sys.executable, "-c", RUNNER], input=json.dumps(runnable), capture_output=True,
        text=True, encoding="utf-8", timeout=TIMEOUT, cwd=ROOT, env=env, check=False,
    )
    assert result.returncode == 0, (
        f"a python block in {rel(page)} failed (the traceback names its line):\n"
        f"{result.stderr}\n--- stdout:\n{result.stdout}")


def run_shell_blocks(page: Path, tmp_path: Path) -> int:
    """Run the page's shell blocks in order in one scratch directory; return how many ran.

    Titled yaml blocks are written there first. Raises AssertionError naming
    the page and line of the first block that fails.
    """
    blocks = blocks_of(page)
    shell = [b for b in blocks if b.lang in SHELL_LANGS and not is_setup_command(b)]
    if not shell:
        return 0
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    write_titled(blocks, work)
    env = shell_env(home)
    for block in shell:
        result = run_shell_block(shell_script(block), work, env, tmp_path / f"block-{block.line}")
        where = f"{rel(page)}:{block.line}"
        ended = "timed out" if result.returncode is None else f"exit {result.returncode}"
        assert result.returncode == 0, (
            f"the {block.lang} block at {where} failed ({ended}; bash's messages give page lines):\n"
            f"{block.code}--- stdout:\n{result.stdout}--- stderr:\n{result.stderr}")
    return len(shell)


@pytest.mark.timeout(4 * TIMEOUT)
@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_shell_block_of_the_page_runs_in_order(page: Path, tmp_path: Path) -> None:
    run_shell_blocks(page, tmp_path)


@pytest.mark.timeout(4 * TIMEOUT)
@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_yaml_block_of_the_page_is_a_valid_system_file(page: Path, tmp_path: Path) -> None:
    blocks = [b for b in blocks_of(page) if b.lang in YAML_LANGS]
    if not blocks:
        return
    write_titled(blocks, tmp_path)
    (tmp_path / "home").mkdir()
    env = shell_env(tmp_path / "home")
    for block in blocks:
        name = block.title or f"block-{block.line}.yaml"
        if not block.title:
            (tmp_path / name).write_text(block.code, encoding="utf-8")
        result = subprocess.run(
            [str(Path(sys.executable).parent / "otp-node"), "check", name], cwd=tmp_path,
            env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        assert result.returncode == 0 and result.stdout.startswith("ok"), (
            f"the yaml block at {rel(page)}:{block.line} is not a valid system file "
            f"(otp-node check {name}: exit {result.returncode}):\n"
            f"{block.code}--- stdout:\n{result.stdout}--- stderr:\n{result.stderr}")


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_no_block_is_skipped_or_hidden_in_another_fence(page: Path) -> None:
    for block in blocks_of(page):
        where = f"{rel(page)}:{block.line}"
        assert block.lang not in OTHER_PYTHON_LANGS, (
            f"{where}: fence the block as ```python so that it runs, not ```{block.lang}")
        assert block.lang in KNOWN_LANGS, (
            f"{where}: ```{block.lang} is neither run nor output; fence code as one of "
            f"{sorted(KNOWN_LANGS - {'text'})} so that it runs, and output as ```text")
        if block.lang != "text":
            assert not SKIP_MARKER.search(block.code), f"{where}: every block must run; no skips"


# -- The one exception: the README's set-up commands ---------------------------------------
def test_set_up_blocks_are_the_readme_commands_and_ci_runs_the_same_test_command() -> None:
    commands = readme_commands()
    assert len(commands) == 2, f"README.md's 'Two commands' section has {len(commands)}"
    assert all(is_setup_command(Block("sh", 1, c)) for c in commands), commands
    setup = [(page, b) for page in PAGES for b in blocks_of(page) if is_setup_command(b)]
    assert setup, "no docs page shows the set-up commands; drop this exception"
    for page, block in setup:
        assert block.code.strip() in commands, (
            f"{rel(page)}:{block.line} is a set-up command that README.md's 'Two commands' "
            f"section does not have, word for word:\n{block.code}")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in ("pip install -q -e '.[dev]'", "python -m pytest"):
        assert step in commands[1], f"README's test command lacks {step!r}: {commands[1]}"
        assert step in ci, f".ci/run does not run {step!r}, as README's test command does"
    for path in re.findall(r"\bexamples/\S+\.py\b", " ".join(commands)):
        assert (ROOT / path).is_file(), f"README's command runs {path}, which does not exist"


# -- The harness itself ----------------------------------------------------------------------
def test_the_block_parser_finds_fences_with_attributes_and_indented_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        'text\n\n```python title="a.py"\nx = 1\n```\n\n!!! note\n\n    ```python\n'
        "    y = x + 1\n    ```\n\n````text\n```python\nnot code\n```\n````\n\n"
        "```yaml title='sys.yaml' linenums=\"1\"\nnodes: {}\n```\n\n``` { .console }\n$ ls\n```\n",
        encoding="utf-8")
    assert blocks_of(page) == [
        Block("python", 4, "x = 1\n", "a.py"),
        Block("python", 10, "y = x + 1\n"),
        Block("text", 14, "```python\nnot code\n```\n"),
        Block("yaml", 20, "nodes: {}\n", "sys.yaml"),
        Block("console", 24, "$ ls\n"),
    ]


def test_a_console_block_runs_only_its_prompt_lines_and_keeps_the_page_lines() -> None:
    code = "$ echo one \\\n    two\none two\n$ true\n$not a prompt\n"
    script = shell_script(Block("console", 3, code))
    assert script == "\n\n" + "echo one \\\n    two\n\ntrue\n\n"
    assert shell_script(Block("sh", 2, "$ x\n")) == "\n$ x\n"  # sh: every line is code


def test_only_the_readme_set_up_commands_are_exempt() -> None:
    for command in readme_commands():
        assert is_setup_command(Block("sh", 1, command + "\n"))
        assert not is_setup_command(Block("text", 1, command))
    assert not is_setup_command(Block("sh", 1, "otp-node keys --dir k --name a\n"))
    assert not is_setup_command(Block("sh", 1, "echo x\npython3 -m venv .venv && .venv/bin/pip install .\n"))


def test_titled_yaml_blocks_are_written_inside_the_page_directory(tmp_path: Path) -> None:
    write_titled([Block("yaml", 1, "a: 1\n", "conf/sys.yaml"), Block("yaml", 5, "b: 2\n"),
                  Block("python", 9, "x = 1\n", "x.py")], tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == [
        "conf/sys.yaml"]
    assert (tmp_path / "conf" / "sys.yaml").read_text(encoding="utf-8") == "a: 1\n"
    with pytest.raises(AssertionError, match="inside"):
        write_titled([Block("yaml", 1, "a: 1\n", "../escape.yaml")], tmp_path / "conf")


@pytest.mark.timeout(TIMEOUT)
def test_a_shell_block_runs_in_the_venv_and_scratch_dirs_and_nothing_it_started_survives(
        tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        '```yaml title="sys.yaml"\na: 1\n```\n\n'
        "```sh\nsleep 300 &\necho $! > ../sleeper.pid\ntest -f sys.yaml\n"
        'test "$(command -v python)" -ef "$(dirname "$(command -v otp-node)")/python"\n'
        'python -c "import sys, cluster_agents; print(sys.prefix)" > ../prefix\n'
        'test "$HOME" = "$(cd ../home && pwd)" && test -n "$OTP_COOKIE"\n```\n', encoding="utf-8")
    assert run_shell_blocks(page, tmp_path) == 1
    assert (tmp_path / "prefix").read_text(encoding="utf-8").strip() == sys.prefix
    status = Path(f"/proc/{(tmp_path / 'sleeper.pid').read_text(encoding='utf-8').strip()}/status")
    deadline = time.monotonic() + 10
    while status.exists() and "\tZ" not in status.read_text(encoding="utf-8") and (
            time.monotonic() < deadline):
        time.sleep(0.05)  # killed: gone, or a zombie until init reaps it
    assert not status.exists() or "\tZ" in status.read_text(encoding="utf-8")


@pytest.mark.timeout(TIMEOUT)
def test_a_failing_shell_block_names_the_page_line_and_shows_its_output(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# title\n\n```bash\necho before\nfalse\necho after\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError) as failed:
        run_shell_blocks(page, tmp_path)
    message = str(failed.value)
    assert f"{page}:4 failed (exit 1" in message and "before" in message
    assert "after\n---" not in message.split("--- stdout:")[1]
