"""Choosing the one member that takes a piece of work.

``round_robin`` takes the members in turn; ``least_loaded`` the member with
the fewest asks in flight from this pool; ``hash`` a consistent-hash ring
(``_VNODES`` points per member, blake2b), so a key keeps going to the same
member while it lives, and only the keys of a member that leaves move
(a key is placed by its ``repr``, so keys with the same repr go together).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import threading
from operator import attrgetter
from typing import Any

from otp.actor import AgentRef

__all__ = ["ROUTINGS", "Ring", "Router"]

ROUTINGS = ("round_robin", "least_loaded", "hash")
_VNODES = 64
_id = attrgetter("id")


def _point(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode(), digest_size=8).digest(), "big")


class Ring:
    """A consistent-hash ring over members, each placed by a label that outlives restarts."""

    def __init__(self, members: list[AgentRef[Any]], labels: list[str]) -> None:
        points = sorted((_point(f"{label}#{v}"), i) for i, label in enumerate(labels)
                        for v in range(_VNODES))
        self.keys = [p for p, _ in points]
        self.owners = [members[i] for _, i in points]

    def pick(self, key: Any) -> AgentRef[Any]:
        at = bisect.bisect(self.keys, _point(repr(key))) % len(self.keys)
        return self.owners[at]


class Router:
    """Per-pool routing state (thread-safe)."""

    def __init__(self, routing: str) -> None:
        if routing not in ROUTINGS:
            msg = f"unknown routing {routing!r}: use one of {', '.join(ROUTINGS)}"
            raise ValueError(msg)
        self.routing = routing
        self.turn = itertools.count()
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}  # member id -> asks in flight from this pool
        self.ring: Ring | None = None
        self.ring_of: tuple[AgentRef[Any], ...] = ()
        # The pool passes the same list until it re-reads its members (it never changes
        # a list it has passed): per list, the ring is checked once and the ids read once.
        self.ring_list: list[AgentRef[Any]] | None = None
        self.ids: list[str] = []
        self.ids_list: list[AgentRef[Any]] | None = None

    def pick(self, members: list[AgentRef[Any]], key: Any,
             labels: dict[AgentRef[Any], str] | None = None) -> AgentRef[Any]:
        """Choose a member; ``labels`` place members on the hash ring (default: their ids)."""
        if self.routing == "hash":
            if key is None:
                msg = "a pool with routing='hash' needs key= on each call"
                raise ValueError(msg)
            with self.lock:
                if members is not self.ring_list:
                    if self.ring is None or self.ring_of != tuple(members):
                        names = [(labels or {}).get(m) or m.id for m in members]
                        self.ring, self.ring_of = Ring(members, names), tuple(members)
                    self.ring_list = members
                assert self.ring is not None
                return self.ring.pick(key)
        if self.routing == "least_loaded":
            with self.lock:  # the first of the least loaded, scanned in C (no key lambda)
                if members is not self.ids_list:
                    self.ids, self.ids_list = list(map(_id, members)), members
                loads = list(map(self.in_flight.get, self.ids, itertools.repeat(0)))
                return members[loads.index(min(loads))]
        return members[next(self.turn) % len(members)]

    def started(self, member: AgentRef[Any]) -> None:
        with self.lock:
            self.in_flight[member.id] = self.in_flight.get(member.id, 0) + 1

    def finished(self, member: AgentRef[Any]) -> None:
        with self.lock:
            left = self.in_flight.get(member.id, 0) - 1
            if left > 0:
                self.in_flight[member.id] = left
            else:
                self.in_flight.pop(member.id, None)
