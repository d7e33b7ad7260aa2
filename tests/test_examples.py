"""Every ``examples/*.py`` runs to completion in its own interpreter (STYLE.md habit 12).

Each example runs in a subprocess with ``sys.executable`` and a timeout; it
must exit 0, keep stderr empty (no log noise, no warnings) and print the
lines that show its story happened. If ``examples/x.out`` exists (the
output the docs show), the output must match it, agent ids and durations
aside. A new example is picked up automatically and must at least exit 0
quietly.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 60.0

# Lines (substrings) each example must print, in this order.
EXPECTED: dict[str, list[str]] = {
    "supervised_team.py": [
        "├── researcher",
        "└── reviewer",
        "reviewer    APPROVED: clear and short.",
        "the ask raised MalformedOutput",
        "monitor: Down from Writer",
        "supervisor: restarted the writer",
        "writer      Writer      worker, permanent, thread  running  ref",
        "<- restarted, was",
        "the reviewer kept its state: 1 draft reviewed",
        "reviewer    APPROVED: the point about bursts is well made.",
        "reviewer   terminate(shutdown)",
        "writer     terminate(shutdown)",
        "researcher terminate(shutdown)",
        "Down from Reviewer (shutdown), Down from Writer (shutdown), Down from Researcher",
        "team exited normal; agents still alive: 0",
    ],
    "async_agents.py": [
        "1. 100,000 idle chat sessions, each an async agent",
        "bytes each (VmRSS delta)",
        "2. An async agent asks 1,000 sessions at once",
        "1,000 replies, gathered in",
        "indexer  Indexer  kind thread",
        "chat     Chat     kind async",
        "chat:    Hello!",
        "the ask raised MalformedReply",
        "logged: agent_crashed",
        "the supervisor restarted chat: Sure, here it is.",
        "supervisor stopped: indexer shutdown, chat shutdown",
        "time.sleep(0.5) in a def handler: a session answered in",
        "loop_lag held_s=0.5 agent=Summarizer",
        "await asyncio.to_thread(...)",
        "no loop_lag",
        "100,000 sessions exited normal in",
        "agents still alive: 0",
    ],
    "cluster.py": [
        "a@127.0.0.1 is connected to ['b@127.0.0.1']",
        "ref: Researcher on b@127.0.0.1, kind 'remote'",
        "ask:   note 1 on 'actors', taken on b@127.0.0.1",
        "proxy: note 2 on 'heartbeats', taken on b@127.0.0.1",
        "whereis_global('librarian') == ref: True",
        "child 'scout' runs on b@127.0.0.1",
        "4. kill -9 node b",
        "monitor: Down from the researcher, reason 'noconnection'",
        "monitor: Down from the scout, reason 'noconnection'",
        "monitor_nodes: NodeDown(node='b@127.0.0.1', reason='noconnection')",
        "researcher.is_alive() -> False; whereis_global('librarian') -> None",
        "supervisor: restarted 'scout' on a@127.0.0.1",
        "ask:   note 1 on 'failover', taken on a@127.0.0.1",
        "scout exited shutdown; node b exit code -9; node running here: None",
    ],
    "cluster_agents.py": [
        "note 1 on 'supervision trees', taken on no node",
        "note 2 on 'heartbeats', taken on no node",
    ],
    "voting.py": [
        "a@127.0.0.1 is connected to ['b@127.0.0.1']",
        "members: member-0 on b@127.0.0.1, member-1 on a@127.0.0.1, member-2 on b@127.0.0.1",
        "member-0 on b@127.0.0.1: Saturn (almanac 2024)",
        "member-1 on a@127.0.0.1: had not answered when it was decided",
        "-> decided: Saturn, agreed by member-0, member-2 (2 of 3)",
        "member-1 on a@127.0.0.1: Jupiter (almanac 2018)",
        "-> not decided: no_quorum",
        "who disagreed: member-1 on a@127.0.0.1 said Jupiter",
        "member-0 on b@127.0.0.1: failed: AgentExit, reason 'noconnection'",
        "member-1 on a@127.0.0.1: 62 (almanac 2018)",
        "member-2 on b@127.0.0.1: failed: AgentExit, reason 'noconnection'",
        "-> not decided: no_majority",
        "node b exit code -9",
        "of the three members before the kill, alive: member-1 on a@127.0.0.1",
        "the pool now: member-0 on a@127.0.0.1 (restarted), member-1 on a@127.0.0.1, "
        "member-2 on a@127.0.0.1 (restarted)",
        "-> decided: Jupiter, agreed by member-0, member-1, member-2 (3 of 3)",
        "members left: 0; node running here: None",
    ],
    "voting_agents.py": [
        "{'answer': 'Jupiter', 'source': 'almanac 2018'}",
        "{'answer': '62', 'source': 'almanac 2018'}",
    ],
    "newsroom.py": [
        "1. loaded newsroom.yaml: tree 'newsroom', children ['reporter', 'desk', 'checkers']",
        "2. reporter: supervision trees: a tech story in three paragraphs",
        "editor (async): approved #1: supervision trees",
        "3. pool of 3 checkers, majority: 'true'",
        "4. the reporter crashed: an empty topic",
        "restarted: a new reporter (True); restarts: a tech story",
        "the editor kept its count: approved #2: a second story",
        "editor stops (shutdown) after approving 2",
        "stopped; tree still running: False",
    ],
    "newsroom_agents.py": [
        "approved #1: actors: a tech story in three paragraphs",
        "true",
    ],
    "links_and_monitors.py": [
        "the partner died too: Down reason RuntimeError('out of tokens')",
        "manager alive: True; it received: [\"Exit from Worker: RuntimeError('bad tool call')\"]",
        "reason='killed'); whereis('scout') -> None",
        "the manager traps exits, yet: Down reason 'killed'",
    ],
}


def normalized(output: str) -> str:
    """Output with what differs between runs masked: agent ids and durations."""
    output = re.sub(r"\b[0-9a-f]{8}\b", "<id>", output)
    return re.sub(r"\b\d+\.\d+ s\b", "<t> s", output)


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, encoding="utf-8",
        timeout=TIMEOUT, cwd=EXAMPLES.parent, env=env, check=False,
    )


@pytest.mark.timeout(TIMEOUT + 10)
@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_example_runs_to_completion_and_prints_its_story(path: Path) -> None:
    result = _run(path)
    assert result.returncode == 0, f"{path.name} exited {result.returncode}\n{result.stderr}"
    assert result.stderr == "", f"{path.name} wrote to stderr (log noise?)\n{result.stderr}"
    out = result.stdout
    position = 0
    for line in EXPECTED.get(path.name, []):
        found = out.find(line, position)
        assert found >= 0, f"{path.name} did not print {line!r} (in order)\n--- stdout:\n{out}"
        position = found + len(line)
    documented = path.with_suffix(".out")  # the output shown in the docs
    if documented.exists():
        assert normalized(out) == normalized(documented.read_text(encoding="utf-8")), (
            f"{path.name} no longer prints what {documented.name} (shown in the docs) says; "
            f"if the change is intended, regenerate it:\n"
            f"  python examples/{path.name} > examples/{documented.name}")


def test_every_example_has_a_pep_723_header_and_a_main_guard() -> None:
    for path in sorted(EXAMPLES.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# /// script\n"), f"{path.name} lacks a PEP 723 header"
        assert 'if __name__ == "__main__":' in text, f"{path.name} lacks a main guard"
