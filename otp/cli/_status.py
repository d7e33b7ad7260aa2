"""``otp-node status``: a running node's supervision trees, drawn or as JSON."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from otp.cli._commands import _talk
from otp.cli._tree import render
from otp.node._client import Client

__all__ = ["STATUS_DOC", "status"]

STATUS_DOC = """\
Show a node's supervision trees: each root supervisor (oldest first) and
everything under it, nested supervisors included, wherever their children
run. The node asks its supervisors, each answering between the exits it
handles; one that does not answer within a couple of seconds is shown
"unknown" rather than holding up the rest.

  node a@127.0.0.1 at tcp://127.0.0.1:7001
  team            Supervisor  one_for_one  thread  running  up 12.3s
  ├── researcher  Researcher               thread  running  up 12.3s
  ├── writer      Writer                   thread  running  up 1.2s   restarts 1
  └── remote      Echo                     thread  running  up 3m12s  on b@127.0.0.1

columns:
  id        the child's id (a root: its registered name, else its class)
  class     the agent's class (blank when it is not running)
  strategy  a supervisor's restart strategy
  kind      execution kind: thread or async
  state     running; restarting (a failed restart is retried, or waits for
            its backoff); stopped (terminated, or its start was ignored);
            unknown (its supervisor did not answer in time)
  up        time since this incarnation started
  restarts  how often its supervisor restarted it (shown when > 0; a
            one_for_all or rest_for_one restart counts for every child it
            restarts)
  on NODE   the child runs on another node

States are coloured when stdout is a terminal (not with $NO_COLOR set).
--json prints {"node", "address", "trees": [...]}, one tree per root, each
agent as {"id", "agent", "class", "type", "kind", "node", "state",
"restarts", "uptime"} plus "strategy", "intensity", "period" and
"children" for supervisors."""


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def status(ns: Any) -> int:
    def run(client: Client) -> int:
        info = client.status()
        if ns.json:
            print(json.dumps(info, indent=2))
            return 0
        print(f"node {info['node']} at {info['address']}")
        trees = info.get("trees") or []
        if not trees:
            print("(no supervision trees)")
        color = _color()
        for i, tree in enumerate(trees):
            if i:
                print()
            for line in render(tree, color=color):
                print(line)
        return 0
    return _talk(ns, run)
