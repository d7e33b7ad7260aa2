"""The demo's model: an offline stand-in for an LLM provider, replying from a script.

``ScriptedModel.complete(prompt, role=...)`` answers the next reply of
``role``'s script after a simulated latency, as a :class:`Completion`
(the text and its token counts, estimated as a provider would bill them).
No key, no network: the replies are fixed, so the demo tells the same
story every time, including the one malformed reply that crashes the
writer.

The model is shared by the agents and outlives them. A restarted writer
that retries its request gets the next reply in the script, as a real
provider would give a fresh answer to the same prompt.

A system file cannot carry a Python object, so the agents name their
model (``kwargs: {model: scripted}``) and look it up here with
:func:`get_model`: the ``otp-node demo`` runner registers one at its
``--speed`` (:func:`register_model`) before it starts the team, and
``otp-node run team.yaml`` gets a default one, made on first use.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

__all__ = ["SCRIPT", "Completion", "ScriptedModel", "get_model", "register_model"]

FACTS_SUPERVISION = (
    "- Erlang/OTP has supervised processes since 1998\n"
    "- a supervisor restarts a crashed child from its spec\n"
    "- restart intensity stops a crash loop"
)
FACTS_BURSTS = (
    "- LLM APIs fail in bursts: rate limits, 5xx, timeouts\n"
    "- a malformed reply is a transient fault\n"
    "- a fresh agent is cheaper than a defensive one"
)

SCRIPT: dict[str, list[str]] = {
    "researcher": [FACTS_SUPERVISION, FACTS_BURSTS],
    "writer": [
        '{"draft": "Supervisors keep agents simple: an agent does its job, and when it '
        'crashes, its supervisor starts a fresh one from the spec."}',
        '{"draft": "Agents that call LLMs should let it cr',  # cut off mid-reply: the crash
        '{"draft": "LLM providers fail in bursts, so an agent should not defend against '
        'every malformed reply: it crashes, and its supervisor restarts it."}',
    ],
    "reviewer": [
        "APPROVED: clear and short.",
        "APPROVED: the point about bursts is well made.",
    ],
}
"""The replies, per role, in the order they are given."""

LATENCY: dict[str, float] = {"researcher": 1.2, "writer": 1.5, "reviewer": 0.9}
"""Seconds each role's request takes at speed 1 (a provider's time to answer)."""

CLOSE_LATENCY = 0.4
"""Seconds :meth:`ScriptedModel.close_session` takes at speed 1."""


@dataclass(frozen=True)
class Completion:
    """One reply of the model, with the tokens a provider would bill for it."""

    text: str
    input_tokens: int
    output_tokens: int
    seconds: float  # how long the request took


def _tokens(text: str) -> int:
    """A provider-like token estimate: about four characters a token."""
    return max(1, (len(text) + 3) // 4)


class ScriptedModel:
    """Replies from a script, one per request and per role, after a simulated latency.

    Thread-safe: thread agents call :meth:`complete` from their own threads,
    async agents await :meth:`acomplete` on the event loop.

    Args:
        script: the replies per role (default: :data:`SCRIPT`).
        speed: divides every latency (20 runs the demo twenty times faster).
    """

    def __init__(self, script: dict[str, list[str]] | None = None, *, speed: float = 1.0) -> None:
        if speed <= 0:
            msg = f"speed must be > 0: {speed}"
            raise ValueError(msg)
        self.speed = speed
        self._replies = {role: list(replies) for role, replies in (script or SCRIPT).items()}
        self._given = dict.fromkeys(self._replies, 0)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<ScriptedModel speed={self.speed} given={self._given}>"

    def latency(self, role: str) -> float:
        """Seconds a request of ``role`` takes at this model's speed."""
        return LATENCY.get(role, 1.0) / self.speed

    def complete(self, prompt: str, *, role: str) -> Completion:
        """Answer ``prompt`` with ``role``'s next scripted reply (blocks for the latency).

        Raises:
            LookupError: the script has no reply left for ``role``.
        """
        delay = self.latency(role)
        time.sleep(delay)  # the provider thinking; the agent's thread waits
        return self._next(prompt, role, delay)

    async def acomplete(self, prompt: str, *, role: str) -> Completion:
        """As :meth:`complete`, awaiting the latency (for async agents on an event loop)."""
        delay = self.latency(role)
        await asyncio.sleep(delay)  # the other agents on the loop run meanwhile
        return self._next(prompt, role, delay)

    def close_session(self, role: str) -> None:
        """Tell the provider that ``role``'s session is over (a short request; blocks)."""
        time.sleep(CLOSE_LATENCY / self.speed)

    async def aclose_session(self, role: str) -> None:
        """As :meth:`close_session`, awaiting."""
        await asyncio.sleep(CLOSE_LATENCY / self.speed)

    def _next(self, prompt: str, role: str, delay: float) -> Completion:
        with self._lock:
            replies = self._replies.get(role, [])
            n = self._given.get(role, 0)
            if n >= len(replies):
                msg = f"the script has no reply {n + 1} for {role!r} ({len(replies)} written)"
                raise LookupError(msg)
            self._given[role] = n + 1
        text = replies[n]
        return Completion(text, _tokens(prompt), _tokens(text), delay)


_models: dict[str, ScriptedModel] = {}
_models_lock = threading.Lock()


def register_model(name: str, model: ScriptedModel) -> None:
    """Make ``model`` the one the agents find under ``name`` (replacing any other)."""
    with _models_lock:
        _models[name] = model


def get_model(name: str) -> ScriptedModel:
    """The model registered under ``name``; ``"scripted"`` is made at speed 1 if missing.

    Raises:
        LookupError: no model of that name (a typo in the system file's kwargs).
    """
    with _models_lock:
        if name not in _models and name == "scripted":
            _models[name] = ScriptedModel()
        try:
            return _models[name]
        except KeyError:
            msg = f"no model {name!r}; registered: {', '.join(sorted(_models)) or 'none'}"
            raise LookupError(msg) from None
