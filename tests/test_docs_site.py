"""The docs site builds with ``mkdocs build --strict``, API reference included.

One build per test session (a module-scoped fixture). Strict mode fails on
any warning: a broken link or anchor, a missing snippet, a page outside the
nav, and griffe's warnings about docstrings (a documented parameter that
does not exist, a badly formatted section). The reference pages are then
checked for real API docs, so the test fails if mkdocstrings renders nothing.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import otp

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120.0


class Site:
    """A built site: the build's output and the text of its pages."""

    def __init__(self, directory: Path, result: subprocess.CompletedProcess[str]) -> None:
        self.directory = directory
        self.result = result

    def html(self, page: str) -> str:
        """The HTML of a page, by its path in docs/ (``reference/actor.md``)."""
        return (self.directory / page.removesuffix(".md") / "index.html").read_text(encoding="utf-8")

    def text(self, page: str) -> str:
        """The page's visible text: tags stripped, entities decoded, spaces collapsed."""
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", self.html(page))).split())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    directory = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(directory)],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return Site(directory, result)


def _first_line(obj: object) -> str:
    doc = obj.__doc__ or ""
    return " ".join(doc.strip().splitlines()[0].replace("`", "").split())


@pytest.mark.timeout(TIMEOUT + 30)
def test_the_site_builds_with_strict(site: Site) -> None:
    assert site.result.returncode == 0, (
        f"mkdocs build --strict failed:\n{site.result.stderr}\n--- stdout:\n{site.result.stdout}")


@pytest.mark.timeout(TIMEOUT + 30)
def test_the_reference_pages_hold_the_api_docs(site: Site) -> None:
    assert site.result.returncode == 0, site.result.stderr
    actor = site.text("reference/actor.md")
    assert _first_line(otp.AgentActor) in actor
    assert _first_line(otp.AgentRef.ask) in actor
    supervision = site.html("reference/supervision.md")
    for method in ("which_children", "start_child", "terminate_child"):
        assert f'id="otp.supervision.SupervisorRef.{method}"' in supervision
    assert _first_line(otp.SupervisorRef) in site.text("reference/supervision.md")
    assert 'id="otp.Supervisor"' in site.html("reference/otp.md")


@pytest.mark.timeout(TIMEOUT + 30)
def test_the_reference_pages_show_public_names_only(site: Site) -> None:
    assert site.result.returncode == 0, site.result.stderr
    for page in ("otp", "actor", "supervision", "node", "pool", "specs", "errors"):
        ids = re.findall(r'id="(otp[\w.]*)"', site.html(f"reference/{page}.md"))
        assert ids, f"reference/{page}.md documents nothing"
        private = [i for i in ids if re.search(r"\._(?!_)", i)]
        assert not private, f"reference/{page}.md shows private names: {private}"
