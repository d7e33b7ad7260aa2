"""What each ``otp-node`` command does (the parser lives in ``otp.cli``)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from otp import _log
from otp.actor import AgentActor
from otp.errors import KILLED, SHUTDOWN, OTPError
from otp.node import ConfigError, create_keys
from otp.node import start as start_node
from otp.node._client import Client, Unreachable
from otp.node._spawn import resolve

START_DOC = """\
Run a node in the foreground. It binds --listen, connects to each --join
address and to the peers they know, and serves until SIGTERM or SIGINT (or
`otp-node stop`): then it stops its supervision trees in order (each root
shut down newest first, as OTP's application stop does), then the node.

Once listening it prints one line to stdout:
  node NAME listening on ADDRESS
(ADDRESS has the real port when --listen used *). Logs go to stderr.

Listening beyond loopback (not 127.0.0.0/8, ::1 or ipc) requires CURVE:
  otp-node keys --dir keys --name a        # on each machine
  (copy every *.key public file into each machine's keys dir)
  otp-node start --name a --listen tcp://10.0.0.5:7001 \\
      --curve-secret keys/a.key_secret --curve-allow keys

exit codes: 0 stopped cleanly; 1 agents had to be killed at shutdown;
2 bad option, address, cookie or key; 3 cannot bind the address."""

KEYS_DOC = """\
Write a CURVE key pair for a node: DIR/NAME.key (public: copy it into the
--curve-allow directory of every node that must accept this one) and
DIR/NAME.key_secret (secret, mode 0600: pass it as --curve-secret).
Prints the public key; peers join this node with ADDR#curve=PUBLIC_KEY.
Existing key files are never overwritten (exit code 2)."""


_KEY_NAME = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@")


def _err(msg: str) -> None:
    print(f"otp-node: {msg}", file=sys.stderr)


def start(ns: Any) -> int:
    _log.configure_logging(ns.log_level, ns.log_format)
    spawns = []
    for item in ns.spawn:
        path, _, name = item.partition("=")
        try:
            spawns.append((resolve(path), name or None))
        except (ImportError, ValueError) as exc:
            _err(f"--spawn {item!r}: {exc}")
            return 2
    try:
        node = start_node(ns.name, ns.listen, join=ns.join, cookie=ns.cookie,
                          cookie_file=ns.cookie_file, curve_secret=ns.curve_secret,
                          curve_allow=ns.curve_allow, heartbeat=ns.heartbeat,
                          advertise=ns.advertise)
    except (ConfigError, OSError) as exc:
        return start_failed(exc)
    stop = stop_on_signals()
    try:
        for cls, name in spawns:
            _spawn(cls, name)
    except OTPError as exc:
        _err(f"--spawn: {exc}")
        node.stop()
        return 2
    print(f"node {node.name} listening on {node.address}", flush=True)
    return serve(node, stop)


def start_failed(exc: Exception) -> int:
    """Say why a node did not start; return the exit code: 2 for its configuration, 3 when
    the address cannot be bound, 1 when what it had to start failed."""
    _err(str(exc))
    return 2 if isinstance(exc, ConfigError) else 3 if isinstance(exc, OSError) else 1


def stop_on_signals() -> threading.Event:
    """An event that SIGTERM and SIGINT set (the node then stops cleanly)."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def serve(node: Any, stop: threading.Event, ended: Any = None) -> int:
    """Serve until ``stop`` is set (a signal, `otp-node stop`) or ``ended()`` says why the
    node must stop; then stop the trees in turn and the node. Return the exit code."""
    node.on_stop_request = stop.set
    why = None
    while not stop.wait(0.25):
        why = ended() if ended is not None else None
        if why is not None:
            _err(f"{why}: stopping the node")
            break
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # a second signal ends it at once
    killed = _stop_trees()
    node.stop()
    print(f"node {node.name} stopped", flush=True)
    return 1 if killed or why is not None else 0


def _spawn(cls: type[AgentActor], name: str | None) -> None:
    cls.spawn(name=name)


def _stop_trees(timeout: float = 10.0) -> int:
    """Stop the supervision trees one at a time, newest root first; return how many were killed.

    Each root (an agent with no parent: a supervisor stops its own tree in
    reverse start order) is asked to shut down and waited for, up to
    ``timeout`` seconds, before the next one is asked, as OTP stops its
    applications. Agents left over (children of remote parents, say) are
    then asked together under one deadline. An agent that outlives its
    deadline is killed.
    """
    from otp.actor._process import live

    killed = 0
    for proc in reversed(live()):
        if proc.dead or getattr(proc, "parent", None) is not None:
            continue
        proc.request_shutdown(SHUTDOWN)
        if not proc.wait_exit(timeout) and proc.die(KILLED):
            killed += 1
    rest = [proc for proc in reversed(live()) if not proc.dead]
    for proc in rest:
        proc.request_shutdown(SHUTDOWN)
    deadline = time.monotonic() + timeout
    for proc in rest:
        if not proc.wait_exit(max(0.0, deadline - time.monotonic())) and proc.die(KILLED):
            killed += 1
    return killed


def _client(ns: Any) -> Client:
    return Client(ns.address, cookie=ns.cookie, cookie_file=ns.cookie_file,
                  curve_secret=ns.curve_secret, curve_allow=ns.curve_allow, timeout=ns.timeout)


COOKIE_SOURCES = "--cookie, --cookie-file, $OTP_COOKIE or ~/.otp/cookie"


def _talk(ns: Any, what: Any) -> int:
    """Run ``what(client)`` on a connected client; map failures to exit codes 1 and 2."""
    try:
        with _client(ns) as client:
            return int(what(client))
    except ConfigError as exc:
        _err(str(exc))
        return 2
    except Unreachable as exc:
        hint = ""
        if exc.reason in ("bad_cookie", "rejected"):
            hint = f"; both sides need the same cookie (from {COOKIE_SOURCES})"
        elif exc.reason == "timeout" and ns.curve_secret is None:
            hint = "; a node that uses CURVE needs --curve-secret and ADDR#curve=KEY"
        _err(f"{exc}{hint}")
        if ns.command == "ping":
            why = "no node answered" if exc.reason == "timeout" else f"refused ({exc.reason})"
            print(f"pang: {why} at {ns.address}")
        return 1


def ping(ns: Any) -> int:
    def run(client: Client) -> int:
        rtt = client.ping()
        print(f"pong from {client.node} ({ns.address}) in {rtt * 1000:.2f} ms")
        return 0
    return _talk(ns, run)


def ls(ns: Any) -> int:
    def run(client: Client) -> int:
        info = client.info()
        if ns.json:
            print(json.dumps(info, indent=2, sort_keys=True))
            return 0
        print(f"node {info['node']} at {info['address']}")
        print("nodes:")
        for peer in info["nodes"]:
            print(f"  {peer['name'] or '?':<28} {peer['state']:<11} {peer['address']}")
        if not info["nodes"]:
            print("  (none)")
        print("agents:")
        for agent in info["agents"]:
            label = f"{agent['class']} {agent['name'] or ''}".strip()
            print(f"  {label:<28} {agent['kind']:<7} {agent['id']}")
        if not info["agents"]:
            print("  (none)")
        print("names:")
        if not info["names"]["local"] and not info["names"]["global"]:
            print("  (none)")
        for name in info["names"]["local"]:
            print(f"  {name} (local)")
        for name, where in info["names"]["global"].items():
            print(f"  {name} (global): {where}")
        return 0
    return _talk(ns, run)


def stop(ns: Any) -> int:
    def run(client: Client) -> int:
        print(f"stopping {client.stop()}")
        return 0
    return _talk(ns, run)


def keys(ns: Any) -> int:
    if not ns.name or not set(ns.name) <= _KEY_NAME:
        _err(f"--name {ns.name!r}: use letters, digits, '-', '_', '.' and '@' (a file name stem)")
        return 2
    directory = Path(ns.dir)
    for path in (directory / f"{ns.name}.key", directory / f"{ns.name}.key_secret"):
        if path.exists():
            _err(f"{str(path)!r} already exists: keys are never overwritten (a node may be "
                 "using them); remove it first or choose another --name")
            return 2
    old = os.umask(0o077)  # the secret key is never readable by others, not even for a moment
    try:
        public, secret = create_keys(directory, ns.name)
        public.chmod(0o644)  # the public key is meant to be copied around
    except OSError as exc:
        _err(f"cannot write keys in {ns.dir!r}: {exc}")
        return 2
    finally:
        os.umask(old)
    key = public.read_text().split('public-key = "')[1].split('"')[0]
    print(f"public key: {key}\nwrote {public} (share it) and {secret} (keep it secret)")
    return 0
