"""Every error path of a system file, through ``otp-node check`` run as a subprocess.

Each case is a file with one mistake. ``check`` must exit 2, print no
traceback, and name the file, the line and column, the key path, the value
as written (never a secret from ``${VAR}``) and what is allowed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TIMEOUT = 30.0


def otp_node() -> list[str]:
    script = shutil.which("otp-node", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "otp.cli"]


def check(tmp_path: Path, text: str, env: dict[str, str] | None = None,
          name: str = "system.yaml") -> subprocess.CompletedProcess[str]:
    path = tmp_path / name
    path.write_text(f"python_path: [{json.dumps(str(HERE))}]\n{text}", encoding="utf-8")
    return subprocess.run([*otp_node(), "check", str(path)], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=tmp_path, check=False,
                          env={**os.environ, **(env or {})})


GOOD = """\
node:
  name: good
  cookie: ${SYS_TEST_COOKIE:-not-secret}
supervisors:
  - id: team
    strategy: rest_for_one
    intensity: 5
    period: 10
    backoff: {min: 0.1, max: 2}
    children:
      - id: researcher
        agent: sys_agents:Worker
        args: [r]
        restart: transient
        shutdown: brutal_kill
      - id: crew
        supervisor:
          strategy: one_for_all
          children:
            - {id: a, agent: sys_agents:Asyncer, kind: async}
      - id: checkers
        pool: {agent: sys_agents:Worker, size: 3, routing: hash}
  - id: second
    children: []
"""


@pytest.mark.timeout(TIMEOUT + 5)
def test_a_valid_file_checks_ok_and_says_what_it_holds(tmp_path: Path) -> None:
    result = check(tmp_path, GOOD)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"ok: {tmp_path / 'system.yaml'}: node good; trees: "
                             "team (3 children), second (0 children)\n")
    assert result.stderr == ""


# (file body after the python_path line, expected substrings of stderr). Lines count
# from 1 at the python_path line, so the body's first line is line 2.
CASES = {
    "yaml syntax": ("supervisors: [\n", ["system.yaml:3:1:", "YAML syntax"]),
    "empty": ("", ["'supervisors' is required"]),
    "not a mapping": ("supervisors: 3\n", ["system.yaml:2:14: supervisors: 3:",
                                          "must be a valid list"]),
    "no trees": ("supervisors: []\n", ["supervisors: []:", "at least 1 item"]),
    "unknown top key": ("supervisor: []\n",
                        ["system.yaml:2:1: supervisor: unknown key; did you mean 'supervisors'?",
                         "allowed here: version, node, log, python_path, supervisors"]),
    "unknown flag": ("supervisors:\n  - id: t\n    stratgy: one_for_all\n",
                     ["system.yaml:4:5: supervisors[0].stratgy: unknown key; did you mean "
                      "'strategy'?"]),
    "bad strategy": ("supervisors:\n  - id: t\n    strategy: one_for_none\n",
                     ["system.yaml:4:15: supervisors[0].strategy: 'one_for_none': must be "
                      "'one_for_one', 'one_for_all', 'rest_for_one' or 'simple_one_for_one'"]),
    "negative intensity": ("supervisors:\n  - {id: t, intensity: -1}\n",
                           ["supervisors[0].intensity: -1: must be greater than or equal to 0"]),
    "zero period": ("supervisors:\n  - {id: t, period: 0}\n",
                    ["supervisors[0].period: 0: must be greater than 0"]),
    "slash in id": ("supervisors:\n  - {id: a/b}\n",
                    ["supervisors[0].id: 'a/b': use a name without '/'"]),
    "duplicate tree": ("supervisors:\n  - {id: t}\n  - {id: t}\n",
                       ["system.yaml:4:10: supervisors[1].id: 't': the tree id is used twice"]),
    "duplicate key": ("supervisors:\n  - id: t\n    id: u\n",
                      ["system.yaml:4:5: supervisors[0].id: the key is given twice in one "
                       "mapping (first on line 3)"]),
    "child without id": ("supervisors:\n  - id: t\n    children:\n      - agent: "
                         "sys_agents:Worker\n",
                         ["supervisors[0].children[0].id: 'id' is required"]),
    "no kind of child": ("supervisors:\n  - id: t\n    children:\n      - id: x\n",
                         ["supervisors[0].children[0]: child 'x' needs exactly one of agent, "
                          "supervisor or pool; got none"]),
    "two kinds of child": ("supervisors:\n  - id: t\n    children:\n      - id: x\n"
                           "        agent: sys_agents:Worker\n        pool: {agent: "
                           "sys_agents:Worker, size: 2}\n",
                           ["child 'x' needs exactly one of agent, supervisor or pool; got "
                            "agent, pool"]),
    "agent path syntax": ("supervisors:\n  - id: t\n    children:\n      - {id: x, agent: "
                          "sys_agents.Worker}\n",
                          ["supervisors[0].children[0].agent: 'sys_agents.Worker': use "
                           "'package.module:Class'"]),
    "missing module": ("supervisors:\n  - id: t\n    children:\n      - {id: x, agent: "
                       "no_such_mod:Worker}\n",
                       ["system.yaml:5:24: supervisors[0].children[0].agent: "
                        "'no_such_mod:Worker': cannot use the agent: No module named "
                        "'no_such_mod'", "python_path"]),
    "missing class": ("supervisors:\n  - id: t\n    children:\n      - {id: x, agent: "
                      "sys_agents:Wroker}\n",
                      ["'sys_agents' has no attribute 'Wroker'"]),
    "not an agent": ("supervisors:\n  - id: t\n    children:\n      - {id: x, agent: "
                     "sys_agents:NOT_AN_AGENT}\n", ["not an AgentActor subclass"]),
    "bad restart": ("supervisors:\n  - id: t\n    children:\n      - id: x\n"
                    "        agent: sys_agents:Worker\n        restart: sometimes\n",
                    ["system.yaml:7:18: supervisors[0].children[0].restart: 'sometimes': must "
                     "be 'permanent', 'transient' or 'temporary'"]),
    "bad shutdown": ("supervisors:\n  - id: t\n    children:\n      - {id: x, agent: "
                     "sys_agents:Worker, shutdown: soon}\n",
                     ["shutdown: 'soon': use milliseconds (an int >= 0), 'brutal_kill' or "
                      "'infinity'"]),
    "negative shutdown": ("supervisors:\n  - id: t\n    children:\n      - {id: x, agent: "
                          "sys_agents:Worker, shutdown: -5}\n", ["shutdown: -5: use milliseconds"]),
    "bad kind": ("supervisors:\n  - id: t\n    children:\n      - {id: x, agent: "
                 "sys_agents:Worker, kind: process}\n",
                 ["kind: 'process': must be 'thread' or 'async'"]),
    "bad node": ("supervisors:\n  - id: t\n    children:\n      - {id: x, agent: "
                 "sys_agents:Worker, node: nohost}\n",
                 ["node: child 'x': node='nohost' is not allowed; use a node name "
                  "'name@host'", "(invalid_node)"]),
    "agent keys on a pool": ("supervisors:\n  - id: t\n    children:\n      - id: x\n"
                             "        pool: {agent: sys_agents:Worker, size: 2}\n"
                             "        kind: async\n",
                             ["system.yaml:5:9: supervisors[0].children[0]: child 'x': kind belong to an "
                              "agent; give a pool's inside `pool:`"]),
    "duplicate child": ("supervisors:\n  - id: t\n    children:\n      - {id: x, agent: "
                        "sys_agents:Worker}\n      - {id: x, agent: sys_agents:Worker}\n",
                        ["system.yaml:6:14: supervisors[0].children[1].id: child 'x': the id is "
                         "used twice", "(duplicate_child_name)"]),
    "significant without auto_shutdown": (
        "supervisors:\n  - id: t\n    children:\n      - {id: x, agent: sys_agents:Worker, "
        "restart: transient, significant: true}\n",
        ["significant: child 'x': significant=True with auto_shutdown='never' is not allowed",
         "(bad_combination)"]),
    "significant permanent": (
        "supervisors:\n  - id: t\n    auto_shutdown: any_significant\n    children:\n"
        "      - {id: x, agent: sys_agents:Worker, significant: true}\n",
        ["significant=True with restart='permanent' is not allowed"]),
    "pool size": ("supervisors:\n  - id: t\n    children:\n      - id: p\n        pool: {agent: "
                  "sys_agents:Worker, size: 0}\n",
                  ["supervisors[0].children[0].pool.size: 0: must be greater than or equal to 1"]),
    "pool routing": ("supervisors:\n  - id: t\n    children:\n      - id: p\n        pool: "
                     "{agent: sys_agents:Worker, size: 2, routing: random}\n",
                     ["pool.routing: 'random': must be 'round_robin', 'least_loaded' or 'hash'"]),
    "nested supervisor": ("supervisors:\n  - id: t\n    children:\n      - id: s\n"
                          "        supervisor:\n          children:\n            - {id: y, "
                          "agent: sys_agents:Worker, restart: no}\n",
                          ["system.yaml:8:58: supervisors[0].children[0].supervisor.children"
                           "[0].restart: 'no': must be 'permanent'"]),
    "backoff": ("supervisors:\n  - id: t\n    backoff: {min: 2, max: 1}\n",
                ["supervisors[0].backoff", "max", "min (2.0)"]),
    "simple_one_for_one with two": (
        "supervisors:\n  - id: t\n    strategy: simple_one_for_one\n    children:\n"
        "      - {id: x, agent: sys_agents:Worker}\n      - {id: y, agent: sys_agents:Worker}\n",
        ["needs exactly one child spec, got 2", "(bad_start_spec)"]),
    "node section": ("node: {name: ''}\nsupervisors: [{id: t}]\n",
                     ["node.name: '': String should have at least 1 character"]),
    "heartbeat": ("node: {name: a, heartbeat: fast}\nsupervisors: [{id: t}]\n",
                  ["node.heartbeat: 'fast': must be a valid number"]),
    "log level": ("log: {level: loud}\nsupervisors: [{id: t}]\n",
                  ["log.level: 'loud': must be 'debug', 'info', 'warning', 'error' or "
                   "'critical'"]),
    "version": ("version: 2\nsupervisors: [{id: t}]\n", ["version: 2: must be 1"]),
    "unset variable": ("node: {name: a, cookie: '${SYS_TEST_UNSET}'}\nsupervisors: [{id: t}]\n",
                       ["node.cookie: ${SYS_TEST_UNSET} is not set: export SYS_TEST_UNSET, or "
                        "give a default"]),
    "bad variable": ("node: {name: '${1x}'}\nsupervisors: [{id: t}]\n",
                     ["'${1x}' is not a variable reference"]),
}


@pytest.mark.timeout(TIMEOUT + 5)
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mistake_is_named_with_its_line_and_what_is_allowed(tmp_path: Path,
                                                                  case: str) -> None:
    text, expected = CASES[case]
    result = check(tmp_path, text, env={"SYS_TEST_SECRET": "s3cret"})
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{tmp_path / 'system.yaml'} is not a valid system file"), \
        result.stderr
    for part in expected:
        assert part in result.stderr, f"{part!r} not in:\n{result.stderr}"


@pytest.mark.timeout(TIMEOUT + 5)
def test_every_problem_is_listed_at_once_in_line_order(tmp_path: Path) -> None:
    text = ("supervisors:\n  - id: t\n    intensity: -1\n    children:\n"
            "      - {id: x, agent: sys_agents:Worker, restart: sometimes}\n"
            "      - {id: y, agent: sys_agents:Worker, kind: process}\n")
    result = check(tmp_path, text)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert "(3 problems)" in lines[0]
    assert [ln.split(":")[1] for ln in lines[1:]] == ["4", "6", "7"]


@pytest.mark.timeout(TIMEOUT + 5)
def test_a_value_from_a_variable_is_shown_as_written_never_as_the_secret(tmp_path: Path) -> None:
    text = "node: {name: a, heartbeat: '${SYS_TEST_SECRET}'}\nsupervisors: [{id: t}]\n"
    result = check(tmp_path, text, env={"SYS_TEST_SECRET": "s3cret"})
    assert result.returncode == 2
    assert "system.yaml:2:28: node.heartbeat: ${SYS_TEST_SECRET}: must be a valid number" in result.stderr
    assert "s3cret" not in result.stderr


@pytest.mark.timeout(TIMEOUT + 5)
def test_variables_fill_in_values_and_defaults(tmp_path: Path) -> None:
    text = ("node: {name: '${SYS_TEST_NAME}', heartbeat: '${SYS_TEST_HB:-0.5}'}\n"
            "supervisors: [{id: t}]\n")
    result = check(tmp_path, text, env={"SYS_TEST_NAME": "from-env"})
    assert result.returncode == 0, result.stderr
    assert "node from-env;" in result.stdout


@pytest.mark.timeout(TIMEOUT + 5)
def test_a_missing_file_and_a_directory_are_clear_errors(tmp_path: Path) -> None:
    for target in (tmp_path / "nope.yaml", tmp_path):
        result = subprocess.run([*otp_node(), "check", str(target)], capture_output=True,
                                text=True, timeout=TIMEOUT, check=False)
        assert result.returncode == 2
        assert "cannot read the file" in result.stderr
        assert "Traceback" not in result.stderr
