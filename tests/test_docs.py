"""Every ```python block in docs/*.md runs (STYLE.md habit 12).

Per page, the blocks run in order in one fresh interpreter and share one
namespace, so a later block can use what an earlier one defined. Each block
is compiled with the page's path and its line in the page, so a traceback
points at the Markdown line that failed. Nothing can opt out: the fence's
attributes (``python title="..."``) and comments in the code are ignored,
python code in any other fence (``pycon``, ``py``, ...) fails the suite, and so
does a skip marker.

A block that is only a snippet include (``--8<-- "examples/x.py"``) is a
whole program that ``tests/test_examples.py`` runs; here it must point at an
existing example.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
TIMEOUT = 60.0

RUN_LANGS = {"python"}
OTHER_PYTHON_LANGS = {"py", "python3", "pycon", "pyi", "python-repl", "ipython"}
SNIPPET = re.compile(r'^-{1,3}8<-{1,3}\s+"([^"]+)"\s*$')
SKIP_MARKER = re.compile(r"doctest:\s*\+?skip|pytest\.skip|#\s*skip\b|noqa:\s*docs", re.IGNORECASE)
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*\{?\s*\.?(?P<lang>[\w+-]*)(?P<rest>.*)$")

# Runs in the subprocess: read [(path, line, source), ...] from stdin and exec
# each block in this module's namespace, with the page's line numbers.
RUNNER = """
import json, sys
blocks = json.load(sys.stdin)
namespace = globals()
for path, line, source in blocks:
    exec(compile("\\n" * (line - 1) + source, path, "exec"), namespace)
"""


class Block(NamedTuple):
    """One fenced code block: its language, first code line (1-based) and code."""

    lang: str
    line: int
    code: str


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
        blocks.append(Block(lang, start, "\n".join(body) + "\n"))
    return blocks


def _snippet_paths(block: Block) -> list[str] | None:
    """The files a block includes, if it consists only of snippet lines."""
    lines = [ln for ln in block.code.splitlines() if ln.strip()]
    found = [SNIPPET.match(ln.strip()) for ln in lines]
    if lines and all(found):
        return [m[1] for m in found if m]
    return None


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.timeout(TIMEOUT + 10)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_python_block_of_the_page_runs_in_order(page: Path) -> None:
    runnable = []
    for block in blocks_of(page):
        if block.lang not in RUN_LANGS:
            continue
        paths = _snippet_paths(block)
        if paths is not None:
            for path in paths:
                target = ROOT / path
                assert target.is_file(), f"{_rel(page)}:{block.line} includes missing {path}"
                assert target.parent == ROOT / "examples", (
                    f"{_rel(page)}:{block.line} includes {path}; only examples/*.py (run by "
                    "tests/test_examples.py) may be included as a whole program")
            continue
        runnable.append((_rel(page), block.line, block.code))
    if not runnable:
        return
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [sys.executable, "-c", RUNNER], input=json.dumps(runnable), capture_output=True,
        text=True, encoding="utf-8", timeout=TIMEOUT, cwd=ROOT, env=env, check=False,
    )
    assert result.returncode == 0, (
        f"a python block in {_rel(page)} failed (the traceback names its line):\n"
        f"{result.stderr}\n--- stdout:\n{result.stdout}")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_python_block_is_skipped_or_hidden_in_another_fence(page: Path) -> None:
    for block in blocks_of(page):
        where = f"{_rel(page)}:{block.line}"
        assert block.lang not in OTHER_PYTHON_LANGS, (
            f"{where}: fence the block as ```python so that it runs, not ```{block.lang}")
        if block.lang in RUN_LANGS:
            assert not SKIP_MARKER.search(block.code), f"{where}: every block must run; no skips"


def test_the_block_parser_finds_fences_with_attributes_and_indented_fences(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        'text\n\n```python title="a.py"\nx = 1\n```\n\n!!! note\n\n    ```python\n'
        "    y = x + 1\n    ```\n\n````text\n```python\nnot code\n```\n````\n",
        encoding="utf-8")
    assert blocks_of(page) == [
        Block("python", 4, "x = 1\n"),
        Block("python", 10, "y = x + 1\n"),
        Block("text", 14, "```python\nnot code\n```\n"),
    ]
