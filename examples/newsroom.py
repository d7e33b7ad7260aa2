# /// script
# requires-python = ">=3.11"
# dependencies = ["agent-otp"]
#
# [tool.uv.sources]
# agent-otp = { path = "..", editable = true }
# ///
"""A whole system from one YAML file: ``examples/newsroom.yaml``, started from Python.

The file declares one tree: a reporter, a nested ``desk`` supervisor with
an editor, and a pool of three fact checkers. This script loads it (every
problem would be listed with its line), starts it, finds agents by path,
fans a claim out to the pool, crashes the reporter to show its restart, and
stops the tree in reverse order. Run it from the repository root::

    python examples/newsroom.py
"""

from __future__ import annotations

import time
from pathlib import Path

import otp.system

HERE = Path(__file__).resolve().parent


def main() -> None:
    plan = otp.system.load(HERE / "newsroom.yaml")
    tree = plan.trees[0]
    print(f"1. loaded {Path(plan.file).name}: tree {tree.entry.id!r}, children "
          f"{[c.id for c in tree.children]}")

    with otp.system.System.start(plan) as system:
        reporter = system.whereis("newsroom/reporter")
        editor = system.whereis("newsroom/desk/editor")
        draft = reporter.proxy().draft("supervision trees").get()
        print(f"2. reporter: {draft}")
        print(f"   editor ({editor.kind}): {editor.proxy().approve(draft).get()}")

        checkers = system.pool("newsroom/checkers")
        vote = checkers.ask("OTP has supervised processes since 1998", strategy="majority")
        print(f"3. pool of {len(checkers.members())} checkers, majority: {vote.value!r} "
              f"(decided as soon as {len(vote.agreed)} of {len(checkers.members())} agreed)")

        try:
            reporter.proxy().draft("").get()
        except ValueError as exc:
            print(f"4. the reporter crashed: {exc}")
        for _ in range(100):  # at most 5 s; the restart takes milliseconds
            again = system.whereis("newsroom/reporter")
            if again is not None and again != reporter:
                break
            time.sleep(0.05)
        print(f"   restarted: a new reporter ({again != reporter}); "
              f"{again.proxy().draft('restarts').get()}")
        print(f"   the editor kept its count: {editor.proxy().approve('a second story').get()}")
        print("5. stopping the newsroom (reverse start order)")
    print(f"   stopped; tree still running: {otp.whereis('newsroom') is not None}")


if __name__ == "__main__":
    main()
