"""A system file, loaded and started in this process: trees, nested supervisors, pools, paths."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import otp
import otp.node
from otp import SupervisorRef
from otp.errors import StartError, SystemSpecError
from otp.system import System, json_schema, load_text
from otp.system._yaml import append_item, read

HERE = Path(__file__).resolve().parent

SYSTEM = f"""\
python_path: [{json.dumps(str(HERE))}]
supervisors:
  - id: team
    strategy: one_for_one
    children:
      - id: researcher
        agent: sys_agents:Worker
        args: [researcher]
      - id: crew
        supervisor:
          strategy: one_for_all
          children:
            - {{id: a, agent: sys_agents:Worker, args: [a]}}
            - {{id: b, agent: sys_agents:Asyncer}}
      - id: checkers
        pool: {{agent: sys_agents:Worker, size: 3, args: [checker], routing: hash}}
  - id: second
    children:
      - {{id: solo, agent: sys_agents:Worker, args: [solo], restart: temporary}}
"""


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    path = tmp_path / "system.yaml"
    path.write_text(SYSTEM, encoding="utf-8")
    started = System.start(path)
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.timeout(30)
def test_the_trees_start_in_order_with_every_kind_of_child(system: System) -> None:
    assert list(system.roots) == ["team", "second"]
    assert system.node is None  # no node: section, so no node
    team = system.supervisor("team")
    assert isinstance(team, SupervisorRef)
    assert otp.whereis("team") == team  # a tree's supervisor is registered under its id
    assert [c.id for c in reversed(team.which_children())] == ["researcher", "crew", "checkers"]
    assert system.whereis("team/researcher").proxy().hello().get() == "hello from researcher"
    assert system.whereis("team/crew/a").proxy().hello().get() == "hello from a"
    assert system.whereis("team/crew/b").kind == "async"
    assert system.whereis("second/solo") is not None


@pytest.mark.timeout(30)
def test_a_pool_is_found_by_path_and_answers(system: System) -> None:
    pool = system.pool("team/checkers")
    assert len(pool.members()) == 3
    result = pool.ask("ping", strategy="all")
    assert result.ok, result
    assert result.get() == ["ping", "ping", "ping"]
    assert pool.route("x", key="same") == "x"
    assert pool.router.routing == "hash"


@pytest.mark.timeout(30)
def test_paths_that_are_not_in_the_file_raise_key_error_naming_them(system: System) -> None:
    with pytest.raises(KeyError, match="no tree 'nope'.*trees: team, second"):
        system.whereis("nope/x")
    with pytest.raises(KeyError, match="no child 'team/nope'"):
        system.whereis("team/nope")
    with pytest.raises(KeyError, match="'team/researcher' is not a pool"):
        system.pool("team/researcher")
    with pytest.raises(KeyError, match="empty path"):
        system.whereis("/")


@pytest.mark.timeout(30)
def test_a_crashed_child_is_restarted_and_found_again_by_path(system: System) -> None:
    first = system.whereis("team/researcher")
    first.tell("crash")
    first.join(timeout=5)
    for _ in range(100):
        again = system.whereis("team/researcher")
        if again is not None and again != first:
            break
        time.sleep(0.05)
    assert again is not None and again != first
    assert system.ended() is None


@pytest.mark.timeout(30)
def test_stop_stops_the_trees_in_reverse_order(tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "system.yaml"
    path.write_text(SYSTEM, encoding="utf-8")
    with System.start(path) as system:
        roots = list(system.roots.values())
    out = capfd.readouterr().out
    order = [ln.split()[1] for ln in out.splitlines() if ln.startswith("terminate ")]
    assert order[0] == "solo"  # the second tree first
    assert order[-1] == "researcher"  # the first child of the first tree last
    assert not any(r.is_alive() for r in roots)


@pytest.mark.timeout(30)
def test_a_tree_that_ends_is_reported_by_ended(system: System) -> None:
    system.supervisor("second").stop()
    assert system.ended() == ("second", "normal")
    assert system.describe_end() == "tree 'second' ended (normal)"


@pytest.mark.timeout(30)
def test_a_tree_that_fails_to_start_stops_the_trees_before_it(tmp_path: Path) -> None:
    text = SYSTEM + "  - id: broken\n    children:\n      - {id: x, agent: sys_agents:FailsToStart}\n"
    plan = load_text(text, "broken.yaml")
    with pytest.raises(StartError, match=r"broken.yaml: tree 'broken' failed to start.*no start"):
        System.start(plan)
    assert otp.whereis("team") is None
    assert otp.whereis("second") is None


@pytest.mark.timeout(30)
def test_a_node_section_starts_a_node_and_stop_stops_it(tmp_path: Path) -> None:
    text = SYSTEM.replace("supervisors:", "node: {name: sysnode, cookie: not-secret}\n"
                          "supervisors:", 1)
    path = tmp_path / "system.yaml"
    path.write_text(text, encoding="utf-8")
    with System.start(path) as system:
        assert system.node is not None
        assert otp.node.current() is system.node
        assert system.node.name == "sysnode@127.0.0.1"
    assert otp.node.current() is None


@pytest.mark.timeout(30)
def test_load_reports_problems_without_starting_anything(tmp_path: Path) -> None:
    with pytest.raises(SystemSpecError) as caught:
        load_text("supervisors:\n  - id: t\n    intensity: x\n", "f.yaml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.column, problem.path) == (
        "f.yaml", 3, 16, "supervisors[0].intensity")
    assert problem.value == "'x'"
    assert str(problem).startswith("f.yaml:3:16: supervisors[0].intensity: 'x': must be")


def test_the_json_schema_describes_every_key() -> None:
    schema = json_schema()
    assert schema["title"] == "agent-otp system file"
    assert schema["required"] == ["supervisors"]
    child = schema["$defs"]["ChildEntry"]["properties"]
    assert set(child) >= {"id", "agent", "supervisor", "pool", "restart", "shutdown", "node"}
    assert all("description" in v for v in child.values())
    assert child["restart"]["enum"] == ["permanent", "transient", "temporary"]


# -- the YAML reader ---------------------------------------------------------------------
def test_booleans_are_yaml_1_2_and_merge_keys_work() -> None:
    doc = read("a: no\nb: on\nc: true\nbase: &b {x: 1, y: 2}\nm: {<<: *b, y: 3}\n", "f")
    assert doc.problems == []
    assert doc.data == {"a": "no", "b": "on", "c": True, "base": {"x": 1, "y": 2},
                        "m": {"x": 1, "y": 3}}


def test_interpolation_reads_the_environment_with_defaults_and_escapes() -> None:
    env = {"A": "1", "EMPTY": ""}
    doc = read("a: ${A}\nb: ${EMPTY:-d}\nc: x-${NOPE:-}-y\nd: $$HOME\n", "f", env)
    assert doc.problems == []
    assert doc.data == {"a": "1", "b": "d", "c": "x--y", "d": "$HOME"}
    assert doc.written == {("a",): "${A}", ("b",): "${EMPTY:-d}", ("c",): "x-${NOPE:-}-y"}


def test_a_key_given_twice_is_a_problem() -> None:
    doc = read("a: 1\nb: 2\na: 3\n", "f")
    assert [(p.line, p.path) for p in doc.problems] == [(3, "a")]


def test_append_item_adds_a_child_keeping_comments() -> None:
    text = ("supervisors:   # trees\n  - id: t\n    children:\n      - id: a  # first\n"
            "        agent: m:A\n\nlog: {level: info}\n")
    out = append_item(text, ("supervisors", 0, "children"), "- id: b\n  agent: m:B\n")
    assert out == ("supervisors:   # trees\n  - id: t\n    children:\n      - id: a  # first\n"
                   "        agent: m:A\n      - id: b\n        agent: m:B\n\nlog: {level: info}\n")
    with pytest.raises(ValueError, match="not a block list"):
        append_item("supervisors:\n  - id: t\n    children: []\n",
                    ("supervisors", 0, "children"), "- id: b\n")


@pytest.mark.timeout(30)
def test_aliases_of_aliases_cannot_blow_the_reader_up() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        laughs += f"{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    doc = read(laughs, "lol.yaml")
    assert any("more than 100,000 values" in p.message for p in doc.problems)
