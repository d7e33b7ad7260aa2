"""Helpers shared by the bench scripts (not a bench itself).

The scripts are run as ``python bench/bench_x.py``, so ``bench/`` is
``sys.path[0]`` and they import this module as ``_common``.
"""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Row", "git_commit", "pct", "ratio_table"]


def pct(samples: list[float], q: float) -> float:
    """The ``q`` quantile of ``samples`` (nearest rank, no interpolation)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def git_commit(package_file: str) -> str:
    """The commit of the checkout a package was imported from (``pkg.__file__``), and whether
    its ``otp/`` has uncommitted changes; says so when it is not this checkout."""
    root = Path(package_file).resolve().parent.parent
    where = "" if root == Path(__file__).resolve().parent.parent else f" (otp from {root})"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False, cwd=root).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "otp"],
                               capture_output=True, text=True, timeout=10, check=False,
                               cwd=root).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?" + where
    if not head:
        return "?" + where
    return f"{head}{' + uncommitted changes in otp/' if dirty else ''}{where}"


@dataclass(frozen=True)
class Row:
    """One line of a ratio table: agent-otp's per-round values beside a baseline's."""

    what: str
    ours: list[float]
    base: list[float]
    unit: str
    higher_is_better: bool
    target: str = "—"
    check: Callable[[float, float], bool] | None = None  # (our median, median ratio) -> met?


def fmt(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value:,.1f} µs" if value < 100 else f"{value:,.0f} µs"
    if unit == "KiB":
        return f"{value:,.2f} KiB"
    return f"{value:,.0f} {unit}"


def ratio_table(rows: list[Row], base_label: str, ratio_label: str) -> str:
    """A markdown table: medians over rounds, and the median of the per-round ratios
    (ours / baseline) with their range."""
    lines = [f"| what | agent-otp | {base_label} | ratio ({ratio_label}) | target | verdict |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        ours, base = statistics.median(row.ours), statistics.median(row.base)
        ratios = [a / b for a, b in zip(row.ours, row.base, strict=True)]
        ratio = statistics.median(ratios)
        better = "higher" if row.higher_is_better else "lower"
        ratio_txt = f"{ratio:.2f}× ({min(ratios):.2f}–{max(ratios):.2f}; {better} is better)"
        verdict: Any = "—" if row.check is None else (
            "met" if row.check(ours, ratio) else "**MISSED**")
        lines.append(f"| {row.what} | {fmt(ours, row.unit)} | {fmt(base, row.unit)} "
                     f"| {ratio_txt} | {row.target} | {verdict} |")
    return "\n".join(lines)
