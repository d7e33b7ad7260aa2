"""Fan one ask out to many agents and decide on what comes back.

Every member is asked at once (``otp.actor.ask_into``: replies from any
thread, local or remote, land in one ``_Ballot``). The caller waits until
the strategy is decided, cannot be decided any more, or the timeout passes;
replies that come later are ignored (the members are not interrupted). A
member that fails (its exception, ``NoProc``, ``AgentExit`` with
``noconnection`` when its node is lost) counts as answered, so a lost
member never makes the caller wait for the timeout.

Strategies: ``"all"`` (every member answers; failed as soon as one member
fails), ``"first"`` (the first answer; failed when every member has
failed), ``"majority"`` (more than half of the members asked agree) and
``quorum(k)`` (k members agree). The last two are failed as soon as no
group of answers can reach the number any more; ``quorum(k)`` with k above
the number of members asks nobody.

Agreement compares ``key(value)``, ``value`` itself by default, by equality
(hashable keys by hash and equality, unhashable ones by ``==`` alone);
``"all"`` and ``"first"`` compare nothing and do not call ``key``. A member
whose answer the key function fails on counts as failed, with that
exception.
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

from otp.actor import AgentRef, ask_into
from otp.errors import AskTimeout, OTPError
from otp.node._peer import corked

__all__ = ["FanOutResult", "NoConsensus", "Quorum", "check_strategy", "fan_out", "quorum"]


class Quorum(NamedTuple):
    """The ``quorum(k)`` strategy: ``k`` members must agree."""

    k: int

    def __str__(self) -> str:
        return f"quorum({self.k})"


def quorum(k: int) -> Quorum:
    """The strategy under which ``k`` members must agree (k >= 1)."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        msg = f"quorum(k) needs an int k >= 1, got {k!r}"
        raise ValueError(msg)
    return Quorum(k)


STRATEGIES = ("all", "first", "majority")


def check_strategy(strategy: Any) -> str | Quorum:
    if isinstance(strategy, Quorum):
        return quorum(strategy.k)  # a Quorum(k) made directly is checked too
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return strategy
    msg = (f"unknown fan-out strategy {strategy!r}: use 'all', 'first', 'majority' "
           "or otp.pool.quorum(k)")
    raise ValueError(msg)


class NoConsensus(OTPError):
    """A fan-out was not decided; ``result`` (a FanOutResult) says who answered what."""

    def __init__(self, msg: str, result: FanOutResult) -> None:
        super().__init__(msg)
        self.result = result


class FanOutResult(NamedTuple):
    """What a fan-out decided, and what each member did.

    ``ok``: decided. ``value``: the decided value (for ``"all"``, the values
    in member order; None when not decided). ``reason``: ``"decided"``,
    ``"no_majority"``, ``"no_quorum"``, ``"all_failed"``, ``"failed"``
    (``"all"`` with errors), ``"timeout"`` or ``"no_members"``. ``votes``:
    member -> value answered; ``errors``: member -> exception; ``missing``:
    members that had not answered when it was decided; ``agreed``: the
    members whose answer is the decided one.
    """

    ok: bool
    value: Any
    strategy: str
    reason: str
    votes: dict[AgentRef[Any], Any]
    errors: dict[AgentRef[Any], BaseException]
    missing: list[AgentRef[Any]]
    agreed: list[AgentRef[Any]]

    def get(self) -> Any:
        """The decided value; NoConsensus (carrying this result) if there is none."""
        if not self.ok:
            failed = len([m for m in self.errors if m not in self.missing])
            msg = (f"fan-out ({self.strategy}) not decided: {self.reason}; {len(self.votes)} "
                   f"answered, {failed} failed, {len(self.missing)} did not answer")
            raise NoConsensus(msg, self)
        return self.value


class _Vote:
    """The future of one member's ask: its answer goes into the ballot."""

    __slots__ = ("__weakref__", "ballot", "member")

    def __init__(self, ballot: _Ballot, member: AgentRef[Any]) -> None:
        self.ballot = ballot
        self.member = member

    def set(self, value: Any = None) -> None:
        self.ballot.answer(self.member, True, value)

    def set_exception(self, exc_info: Any = None) -> None:
        exc = exc_info[1] if exc_info else None
        if exc is None and exc_info and exc_info[0] is not None:
            exc = exc_info[0]()
        self.ballot.answer(self.member, False, exc)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - e.g. an array's ambiguous truth value: not the same
        return False


class _Groups:
    """Members grouped by the key of their answer: hashable keys in a dict, others by ``==``."""

    def __init__(self) -> None:
        self.hashed: dict[Any, list[AgentRef[Any]]] = {}
        self.unhashed: list[tuple[Any, list[AgentRef[Any]]]] = []

    def find(self, k: Any) -> list[AgentRef[Any]]:
        """The group of key ``k`` (a new empty one if none yet)."""
        try:
            return self.hashed.setdefault(k, [])
        except TypeError:  # unhashable
            for other, group in self.unhashed:
                if _same(other, k):
                    return group
            group = []
            self.unhashed.append((k, group))
            return group

    def all(self) -> list[list[AgentRef[Any]]]:
        return [*self.hashed.values(), *(g for _, g in self.unhashed)]


class _Ballot:
    def __init__(self, members: list[AgentRef[Any]], strategy: str | Quorum, key: Any) -> None:
        self.members = members
        self.strategy = strategy
        self.key = key
        n = len(members)
        self.need = (n // 2 + 1 if strategy == "majority"
                     else strategy.k if isinstance(strategy, Quorum) else 0)
        self.compares = bool(self.need)  # majority and quorum group answers by key
        self.cond = threading.Condition()
        self.votes: dict[AgentRef[Any], Any] = {}
        self.errors: dict[AgentRef[Any], BaseException] = {}
        self.groups = _Groups()
        self.outcome: tuple[bool, Any, str, list[AgentRef[Any]]] | None = None
        self.votes_held: list[_Vote] = []  # keep the sinks alive (remote asks hold them weakly)

    def answer(self, member: AgentRef[Any], ok: bool, value: Any) -> None:
        with self.cond:
            if self.outcome is not None or member in self.votes or member in self.errors:
                return  # decided already: a straggler, ignored
            if ok and not self.compares:  # "all" and "first" compare nothing
                self.votes[member] = value
            elif ok:
                try:
                    group = self.groups.find(value if self.key is None else self.key(value))
                except Exception as exc:  # noqa: BLE001 - the user's key function failed
                    self.errors[member] = exc
                else:
                    self.votes[member] = value
                    group.append(member)
            else:
                self.errors[member] = value if isinstance(value, BaseException) else \
                    RuntimeError(repr(value))
            self._decide()
            if self.outcome is not None:
                self.cond.notify_all()

    def _decide(self) -> None:
        n, answered = len(self.members), len(self.votes) + len(self.errors)
        strategy = self.strategy
        if strategy == "first":
            if self.votes:
                member, value = next(iter(self.votes.items()))
                self.outcome = (True, value, "decided", [member])
            elif answered == n:
                self.outcome = (False, None, "all_failed", [])
        elif strategy == "all":
            if self.errors:  # it cannot succeed any more
                self.outcome = (False, None, "failed", [])
            elif answered == n:
                values = [self.votes[m] for m in self.members]
                self.outcome = (True, values, "decided", list(self.members))
        else:
            groups = self.groups.all()
            for group in groups:
                if len(group) >= self.need:
                    self.outcome = (True, self.votes[group[0]], "decided", list(group))
                    return
            best = max((len(g) for g in groups), default=0)
            if best + (n - answered) < self.need:  # no group can reach it any more
                self.outcome = (False, None, "no_majority" if strategy == "majority"
                                else "no_quorum", [])

    def wait(self, timeout: float | None) -> FanOutResult:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while self.outcome is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self.cond.wait(left)
            outcome = self.outcome or (False, None, "timeout", [])
            self.outcome = outcome  # later answers are stragglers from here on
            votes, errors = dict(self.votes), dict(self.errors)
        ok, value, reason, agreed = outcome
        missing = [m for m in self.members if m not in votes and m not in errors]
        return FanOutResult(ok, value, str(self.strategy), reason, votes, errors, missing, agreed)


def _ask_each(ballot: _Ballot, members: list[AgentRef[Any]], message: Any) -> None:
    for member in members:
        vote = _Vote(ballot, member)
        ballot.votes_held.append(vote)
        try:
            ask_into(member, message, vote)
        except Exception as exc:  # noqa: BLE001 - e.g. CodecError for a remote member
            ballot.answer(member, False, exc)


def fan_out(members: list[AgentRef[Any]], message: Any, strategy: str | Quorum,
            timeout: float | None, key: Any = None) -> FanOutResult:
    """Ask every member ``message`` and decide by ``strategy`` (see the module docstring)."""
    strategy = check_strategy(strategy)
    members = list(dict.fromkeys(members))  # each member asked (and counted) once
    if not members:
        return FanOutResult(False, None, str(strategy), "no_members", {}, {}, [], [])
    if isinstance(strategy, Quorum) and strategy.k > len(members):
        return FanOutResult(False, None, str(strategy), "no_quorum", {}, {}, list(members), [])
    ballot = _Ballot(members, strategy, key)
    remote = [m for m in members if m.node] if strategy != "first" else []
    if remote:
        # The asks to other nodes first, sent from this thread (a frame per node) before
        # the local ones are made: the other nodes start while this one asks its own
        # members. Not for "first": a local member (no network) likely decides it, and
        # starts sooner when the asks are made in order (see bench/RESULTS.md, Pools).
        with corked():
            _ask_each(ballot, remote, message)
        _ask_each(ballot, [m for m in members if not m.node], message)
    else:
        _ask_each(ballot, members, message)
    result = ballot.wait(timeout)
    if result.reason == "timeout":
        for member in result.missing:
            result.errors.setdefault(member, AskTimeout(
                f"{member} did not answer the fan-out within {timeout} s"))
    return result
