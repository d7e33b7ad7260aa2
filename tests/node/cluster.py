"""Real ``otp-node`` processes for tests, on 127.0.0.1, each stopped by the test that started it.

``NodeProcess`` runs ``python -m otp.cli start`` with the test cookie and
``PYTHONPATH`` set so the node can import test agents
(``tests/node/remote_agents.py`` as ``remote_agents``). It waits for the
node's ``node NAME listening on ADDRESS`` line (bounded), and ``stop()``
sends SIGTERM, then SIGKILL if the node is not gone in 10 s.

``this_node()`` runs this process's own node for a block (module-scoped
fixtures use it); ``eventually()`` polls, with a bound, for what other
nodes learn asynchronously.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
COOKIE = "test-cookie-not-secret"
START_TIMEOUT = 20.0
FAST = 0.5
"""The heartbeat (seconds) of the tests that lose nodes: set on both sides of a link."""


@contextmanager
def this_node(name: str = "t", listen: str = "tcp://127.0.0.1:*", **kwargs: Any) -> Iterator[Any]:
    """Run this process's node (``otp.node.start`` with the test cookie) for a block."""
    import otp.node

    old = os.environ.get("OTP_COOKIE")
    os.environ["OTP_COOKIE"] = COOKIE
    try:
        yield otp.node.start(name, listen, **kwargs)
    finally:
        otp.node.stop()
        if old is None:
            del os.environ["OTP_COOKIE"]
        else:
            os.environ["OTP_COOKIE"] = old


def eventually(read: Callable[[], Any], expected: Any, timeout: float = 5.0) -> Any:
    """Poll ``read()`` until it returns ``expected`` (at most ``timeout`` s); return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value == expected or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def node_env(cookie: str = COOKIE) -> dict[str, str]:
    env = dict(os.environ)
    env["OTP_COOKIE"] = cookie
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


class NodeProcess:
    """One ``otp-node start`` subprocess."""

    def __init__(self, name: str, *args: str, cookie: str = COOKIE,
                 listen: str = "tcp://127.0.0.1:*", wait: bool = True,
                 command: list[str] | None = None) -> None:
        """``otp-node start --name NAME --listen LISTEN ARGS``, or ``otp-node COMMAND``
        (``["run", "system.yaml"]``) when ``command`` is given."""
        cmd = [sys.executable, "-m", "otp.cli", "start", "--name", name, "--listen", listen,
               "--log-format", "json", *args]
        if command is not None:
            cmd = [sys.executable, "-m", "otp.cli", *command]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=node_env(cookie), start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self._readers = [self._pump(self.proc.stdout, self.lines.put),
                         self._pump(self.proc.stderr, self.stderr.append)]
        self.name = ""
        self.address = ""
        self._terminated = False
        if wait:
            self.wait_ready()

    @staticmethod
    def _pump(stream: IO[str] | None, sink: object) -> threading.Thread:
        def run() -> None:
            assert stream is not None
            for line in stream:
                sink(line.rstrip("\n"))  # type: ignore[operator]
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line.startswith("node ") and " listening on " in line:
                _node, self.name, rest = line.split(" ", 2)
                self.address = rest.removeprefix("listening on ").strip()
                return
        self.kill()
        msg = f"otp-node did not start within {timeout} s; stderr:\n" + "\n".join(self.stderr)
        raise AssertionError(msg)

    def wait_exit(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout)

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """kill -9 the node (and anything it started)."""
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def terminate(self) -> None:
        """Send SIGTERM once (a second one would end the node at once); ``stop()`` waits."""
        if self.proc.poll() is None and not self._terminated:
            self._terminated = True
            self.resume()
            self.signal(signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then kill; return the exit code."""
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        for reader in self._readers:
            reader.join(2)
        return self.proc.returncode

    def logged(self, event: str) -> list[str]:
        """stderr lines (JSON logs) that name ``event``."""
        return [line for line in self.stderr if f'"event": "{event}"' in line]

    def events(self, event: str) -> list[dict[str, Any]]:
        """The JSON log records of ``event``, decoded."""
        return [json.loads(line) for line in self.logged(event)]

    def wait_logged(self, event: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        """Wait (bounded) for a log record of ``event`` with these fields; return it."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.events(event):
                if all(record.get(k) == v for k, v in fields.items()):
                    return record
            if time.monotonic() > deadline:
                msg = f"{self.name}: no {event} {fields} logged within {timeout} s"
                raise AssertionError(msg)
            time.sleep(0.02)

    def info(self, cookie: str = COOKIE, timeout: float = 5.0, address: str | None = None,
             **client: Any) -> dict[str, Any]:
        """What ``otp-node ls --json`` shows, asked in-process (a hidden client).

        With CURVE pass ``address=ADDR#curve=KEY``, ``curve_secret`` and ``curve_allow``.
        """
        from otp.node._client import Client

        with Client(address or self.address, cookie=cookie, timeout=timeout, **client) as c:
            return c.info()

    def cli(self, *args: str, cookie: str = COOKIE, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
        """Run ``otp-node ARGS`` (e.g. ``ping``, ``ls --json``) against this node's address."""
        cmd = [sys.executable, "-m", "otp.cli", args[0], self.address, *args[1:]]
        return subprocess.run(cmd, capture_output=True, text=True, env=node_env(cookie),
                              timeout=timeout, check=False)
