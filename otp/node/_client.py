"""A hidden client: talks to one node without joining the cluster (``otp-node`` control commands).

It proves the cookie like a node (see ``_protocol``) but announces itself
as hidden: the node does not connect back, tell its peers, or route
operations from it; it answers ``ping``, ``info``, ``status`` and ``stop`` only.
"""

from __future__ import annotations

import os
import time
from typing import Any

from otp.codec import Codec
from otp.node._protocol import (
    PROTOCOL,
    ConfigError,
    load_cookie,
    nonce,
    parse_address,
    proof,
)
from otp.node.transport import CurveKeys, Dialer, load_keys

__all__ = ["Client", "Unreachable"]


class Unreachable(ConnectionError):
    """The node did not answer in time, or refused us (``reason``)."""

    def __init__(self, msg: str, reason: str) -> None:
        super().__init__(msg)
        self.reason = reason


class Client:
    """A connection to one node for control requests. Use as a context manager."""

    def __init__(self, address: str, *, cookie: str | None = None,
                 cookie_file: str | os.PathLike[str] | None = None,
                 curve_secret: str | os.PathLike[str] | None = None,
                 curve_allow: str | os.PathLike[str] | None = None,
                 timeout: float = 5.0) -> None:
        endpoint, key = parse_address(address)
        curve: CurveKeys | None = None
        if curve_secret is not None:
            try:
                curve = load_keys(curve_secret, curve_allow or os.path.dirname(curve_secret) or ".")
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            if key is None:
                msg = f"with CURVE, the address needs the node's public key: {endpoint}#curve=KEY"
                raise ConfigError(msg)
        self.address = endpoint
        self.cookie = load_cookie(cookie, cookie_file, create=False)
        self.timeout = timeout
        self.codec = Codec()
        self.name = f"otp-node-{os.getpid()}@hidden"
        self.node = ""
        self.dialer = Dialer(endpoint, server_key=key, curve=curve)

    def __enter__(self) -> Client:
        try:
            self._handshake()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.dialer.close()

    def _handshake(self) -> None:
        mine = nonce()
        self.dialer.send(self.codec.encode(("hello", PROTOCOL, self.name, mine)))
        challenge = self._answer("challenge")
        _tag, name, theirs, their_proof = challenge
        if their_proof != proof(self.cookie, b"B", mine, theirs, str(name)):
            msg = f"{self.address} ({name}) did not prove the cookie: is it the same cookie?"
            raise Unreachable(msg, "bad_cookie")
        self.node = str(name)
        auth = proof(self.cookie, b"A", theirs, mine, self.name)
        self.dialer.send(self.codec.encode(("auth", self.name, auth, None, None, True)))
        self._answer("welcome")

    def _answer(self, expected: str) -> tuple[Any, ...]:
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            frame = self.dialer.recv(left)
            if frame is None:
                break
            ok, message = self.codec.try_decode(frame)
            if not ok or not isinstance(message, tuple) or not message:
                continue
            if message[0] == "rejected":
                msg = f"{self.address} refused us: {message[1:]} (wrong cookie?)"
                raise Unreachable(msg, "rejected")
            if message[0] == expected:
                return message
            if message[0] == "error":
                raise Unreachable(f"{self.address}: {message[1]}", "error")
        msg = f"no answer from {self.address} within {self.timeout} s (is a node listening there?)"
        raise Unreachable(msg, "timeout")

    def ping(self) -> float:
        """Round trip to the node, in seconds."""
        start = time.perf_counter()
        self.dialer.send(self.codec.encode(("ping",)))
        self._answer("pong")
        return time.perf_counter() - start

    def info(self) -> dict[str, Any]:
        """What the node runs: peers, agents, names, frame counters."""
        self.dialer.send(self.codec.encode(("info",)))
        info: dict[str, Any] = self._answer("info")[1]
        return info

    def status(self) -> dict[str, Any]:
        """The node's supervision trees: ``{"node", "address", "trees": [tree, ...]}``.

        Each tree is the dict of ``otp.supervision.describe`` (roots oldest
        first). The node walks them within a couple of seconds; a supervisor
        that does not answer in time shows state ``"unknown"``.
        """
        self.dialer.send(self.codec.encode(("status",)))
        status: dict[str, Any] = self._answer("status")[1]
        return status

    def stop(self) -> str:
        """Ask the node to stop its supervision trees, then itself; return its name."""
        self.dialer.send(self.codec.encode(("stop",)))
        return str(self._answer("stopping")[1])
