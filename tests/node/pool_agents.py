"""Agents for the pool tests, importable by other nodes (``pool_agents:Voter``).

A ``Voter`` answers ``("vote", plan)`` by looking itself up in ``plan`` (a
dict from agent id to what to do), so one message gives every member of a
pool, local or remote, its own answer, delay or failure:

    ("value", v)            answer v
    ("sleep", s, v)         answer v after s seconds
    ("raise", "KeyError", text)   raise that built-in exception (the member crashes)

Members not in the plan answer ``default``. ``"whoami"`` answers the
member's id and node; ``("work", s)`` holds the member ``s`` seconds and
answers its id (the load for routing tests); ``("count",)`` answers how many
``work`` requests it has taken.
"""

from __future__ import annotations

import builtins
import time
from typing import Any

from otp import AgentActor


class Voter(AgentActor):
    def __init__(self, default: Any = "yes") -> None:
        super().__init__()
        self.default = default
        self.worked = 0

    def on_receive(self, message: Any) -> Any:
        me = self.actor_ref.id
        if message == "whoami":
            return me
        if isinstance(message, tuple) and message[0] == "vote":
            return self._act(message[1].get(me, ("value", self.default)))
        if isinstance(message, tuple) and message[0] == "work":
            self.worked += 1
            time.sleep(message[1])
            return me
        if message == ("count",):
            return self.worked
        msg = f"Voter: unknown message {message!r}"
        raise ValueError(msg)

    @staticmethod
    def _act(spec: Any) -> Any:
        what = spec[0]
        if what == "value":
            return spec[1]
        if what == "sleep":
            time.sleep(spec[1])
            return spec[2]
        if what == "raise":
            raise getattr(builtins, spec[1])(spec[2])
        msg = f"Voter: unknown plan {spec!r}"
        raise ValueError(msg)
