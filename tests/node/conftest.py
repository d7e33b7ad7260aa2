"""Fixtures for node tests: ``cluster`` starts otp-node processes; ``node`` is this process's node.

One node per process (as in Erlang): the tests' own node is ``t@127.0.0.1``
in the pytest process; other nodes are ``otp-node start`` subprocesses
(``cluster.NodeProcess``). Every fixture stops what it started.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cluster import COOKIE, NodeProcess

import otp.node


@pytest.fixture
def cluster() -> Iterator[Callable[..., NodeProcess]]:
    """``cluster(name, *args)`` starts an otp-node; every one started is stopped after the test.

    ``cluster.many(("a", ...), ("b", ...))`` starts several at once (their
    interpreters start in parallel) and returns them in order.
    """
    started: list[NodeProcess] = []

    def start(name: str, *args: str, **kwargs: Any) -> NodeProcess:
        proc = NodeProcess(name, *args, **kwargs)
        started.append(proc)
        return proc

    def many(*specs: tuple[str, ...]) -> list[NodeProcess]:
        procs = [start(name, *args, wait=False) for name, *args in specs]
        for proc in procs:
            proc.wait_ready()
        return procs

    start.many = many  # type: ignore[attr-defined]
    yield start
    for proc in started:  # all at once: each takes a while to stop its agents
        proc.terminate()
    for proc in started:
        proc.stop()


@pytest.fixture
def start_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., otp.node.Node]]:
    """``start_node(join=[...], heartbeat=..., **kw)`` starts ``t@127.0.0.1`` with the test cookie.

    Stopped after the test (and any agents, by the suite-wide clean-up).
    """
    monkeypatch.setenv("OTP_COOKIE", COOKIE)

    def start(name: str = "t", listen: str = "tcp://127.0.0.1:*", **kwargs: Any) -> otp.node.Node:
        kwargs.setdefault("heartbeat", float(os.environ.get("HB", "1.0")))
        return otp.node.start(name, listen, **kwargs)

    yield start
    otp.node.stop()


@pytest.fixture
def node(start_node: Callable[..., otp.node.Node]) -> otp.node.Node:
    """This test process's node, ``t@127.0.0.1``, with the test cookie; stopped after the test."""
    return start_node()
