"""``Pool``: many agents behind one API, local and remote alike.

A pool is started under its own supervisor (``Pool.start``: N members,
spread over chosen nodes, each restarted by the supervisor when it dies) or
made from refs that exist already (``Pool.of``: it monitors those on other
nodes, through an ``Inbox``, so that this node hears of their exits). Its
members are the live ones: a member that dies leaves the pool at once (a
remote one when its node tells this one), and a supervised member
rejoins when its supervisor has restarted it (the pool re-reads the
supervisor's children when it finds a dead member, and at most every
``REFRESH`` seconds otherwise; if the supervisor does not answer, the
members last read that are still alive serve).

``ask`` and ``route`` block, so they are refused inside a running event
loop (as ``AgentRef.ask`` is); ``route_future`` returns a future to await.
"""

from __future__ import annotations

import threading
import time
from asyncio import _get_running_loop
from typing import Any

from otp.actor import AgentActor, AgentRef, Inbox, ask_into
from otp.actor._future import DEFAULT_TIMEOUT, AgentFuture
from otp.pool._fanout import FanOutResult, Quorum, check_strategy, fan_out
from otp.pool._routing import Router
from otp.specs import ChildSpec
from otp.supervision import Supervisor, SupervisorRef

__all__ = ["Pool"]

_READ_TIMEOUT = 0.5  # seconds a refresh waits for the supervisor's answer
REFRESH = 0.25  # seconds: how stale a supervised pool's member list may be


class _Routed:
    """The sink of a routed ask: counts the member's load down when answered.

    It is held in ``pending`` until then: a remote ask holds its sink only
    weakly, and a caller that drops the future (or whose ``route`` timed out)
    must not leave the member counted busy for ever.
    """

    __slots__ = ("__weakref__", "future", "member", "pending", "router")

    def __init__(self, router: Router, member: AgentRef[Any], pending: set[_Routed]) -> None:
        self.router = router
        self.member = member
        self.pending = pending
        self.future = AgentFuture()

    def _finish(self) -> None:
        with self.router.lock:
            if self not in self.pending:
                return
            self.pending.discard(self)
        self.router.finished(self.member)

    def set(self, value: Any = None) -> None:
        self._finish()
        self.future.set(value)

    def set_exception(self, exc_info: Any = None) -> None:
        self._finish()
        self.future.set_exception(exc_info)


class Pool:
    """A group of agents to fan asks out to, or route work through.

    Make one with :meth:`start` or :meth:`of`. ``routing`` is how
    :meth:`route` picks a member: ``"round_robin"`` (default),
    ``"least_loaded"`` or ``"hash"`` (consistent hashing of ``key=``).
    """

    def __init__(self, refs: list[AgentRef[Any]] | None = None, *,
                 supervisor: SupervisorRef | None = None, routing: str = "round_robin") -> None:
        self.supervisor = supervisor
        self.router = Router(routing)
        self._lock = threading.Lock()
        self._fixed = list(refs or [])
        self._members: list[AgentRef[Any]] = []
        self._labels: dict[AgentRef[Any], str] = {}  # member -> child id (its place on the hash ring)
        self._read_at = -1.0
        self._routed: set[_Routed] = set()  # routed asks not yet answered
        self._watch: Inbox | None = None  # Pool.of: monitors the members on other nodes

    def __repr__(self) -> str:
        return f"<Pool of {len(self.members())} ({self.router.routing})>"

    # -- making pools ----------------------------------------------------------------
    @classmethod
    def start(cls, agent: type[AgentActor], size: int, *, args: tuple[Any, ...] = (),
              kwargs: dict[str, Any] | None = None, nodes: list[str] | None = None,
              routing: str = "round_robin", intensity: int | None = None,
              period: float = 5.0, kind: str | None = None) -> Pool:
        """Start ``size`` members of ``agent`` under a new one_for_one supervisor.

        With ``nodes``, member *i* is placed on ``nodes[i % len(nodes)]`` and,
        when that node is lost, restarted on the next live one of ``nodes``
        (``agent`` must then be importable there). ``intensity`` defaults to
        ``size`` restarts per ``period`` seconds.

        Raises:
            ValueError: ``size`` < 1, or a bad routing.
            StartError: a member failed to start (the supervisor is gone).
        """
        specs = cls.member_specs(agent, size, args=args, kwargs=kwargs, nodes=nodes, kind=kind)
        Router(routing)  # check it before starting anything
        sup = Supervisor.start(strategy="one_for_one", intensity=size if intensity is None
                               else intensity, period=period, children=specs)
        assert sup is not None
        return cls(supervisor=sup, routing=routing)

    @staticmethod
    def member_specs(agent: type[AgentActor], size: int, *, args: tuple[Any, ...] = (),
                     kwargs: dict[str, Any] | None = None, nodes: list[str] | None = None,
                     kind: str | None = None) -> list[ChildSpec]:
        """The child specs of a pool's members (ids ``member-0``...), as :meth:`start` uses.

        Give them to your own supervisor (one_for_one) to put a pool inside a
        tree, then make the pool with ``Pool(supervisor=that_supervisor)``.

        Raises:
            ValueError: ``size`` < 1.
            SpecError: a bad argument, kind or node.
        """
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            msg = f"a pool needs size >= 1 members, got {size!r}"
            raise ValueError(msg)
        specs = []
        for i in range(size):
            spec: dict[str, Any] = {"id": f"member-{i}", "start": agent, "args": args,
                                    "kwargs": dict(kwargs or {}), "kind": kind}
            if nodes:
                first = i % len(nodes)
                spec["node"] = (*nodes[first:], *nodes[:first])
            specs.append(ChildSpec.model_validate(spec))
        return specs

    @classmethod
    def of(cls, refs: list[AgentRef[Any]], *, routing: str = "round_robin") -> Pool:
        """A pool over existing agents (a dead one leaves the pool and does not come back).

        A ref given twice is one member. Members on other nodes are monitored
        (until ``stop``), so that their exits are known here.
        """
        refs = list(refs)
        bad = [r for r in refs if not isinstance(r, AgentRef)]
        if bad:
            msg = f"Pool.of() takes AgentRefs, got {bad[0]!r}"
            raise TypeError(msg)
        refs = list(dict.fromkeys(refs))
        pool = cls(refs, routing=routing)
        remote = [r for r in refs if r.node and r.is_alive()]
        if remote:
            # A remote agent is alive until known dead: without a monitor (or a link)
            # from this node, nothing here would learn that it has exited.
            pool._watch = Inbox()
            for ref in remote:
                pool._watch.monitor(ref)
        return pool

    def stop(self, *, timeout: float | None = 60.0) -> None:
        """Stop the pool's supervisor and its members.

        A ``Pool.of`` pool stops no member; it stops watching its remote ones.
        """
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self.supervisor is not None and self.supervisor.is_alive():
            self.supervisor.stop(timeout=timeout)

    # -- members ----------------------------------------------------------------------
    def members(self) -> list[AgentRef[Any]]:
        """The live members, in a stable order (supervised: by child id)."""
        with self._lock:
            members = self._members
            fresh = time.monotonic() - self._read_at < REFRESH
            if fresh and all(m.is_alive() for m in members):
                return list(members)
        return list(self._reread(members))

    def _reread(self, last: list[AgentRef[Any]]) -> list[AgentRef[Any]]:
        members = self._read(last)
        with self._lock:
            self._members, self._read_at = members, time.monotonic()
        return members

    def _routable(self) -> list[AgentRef[Any]]:
        """The member list as last read while it is fresh: not copied, and its members not
        checked one by one (``route_future`` checks the one it picks). Never changed once
        read, so the router may keep what it works out from it."""
        members = self._members
        if time.monotonic() - self._read_at < REFRESH:
            return members
        return self._reread(members)

    def _read(self, last: list[AgentRef[Any]]) -> list[AgentRef[Any]]:
        if self.supervisor is None:
            return [r for r in self._fixed if r.is_alive()]
        if not self.supervisor.is_alive():
            return []
        try:
            # short: a supervisor busy restarting a child (a slow on_start) must not stall
            # every ask; the members last read that are still alive serve meanwhile
            children = self.supervisor.which_children(timeout=_READ_TIMEOUT)
        except Exception:  # noqa: BLE001 - gone or busy: the live members last read serve
            return [] if not self.supervisor.is_alive() else [m for m in last if m.is_alive()]
        # member-0, member-1, ..., member-10: in the order they were started
        live = [c for c in sorted(children, key=lambda c: (len(c.id or ""), c.id or ""))
                if isinstance(c.ref, AgentRef) and c.ref.is_alive()]
        self._labels = {c.ref: c.id or "" for c in live}  # type: ignore[misc]
        return [c.ref for c in live]  # type: ignore[misc]

    # -- fan-out and routing --------------------------------------------------------------
    def ask(self, message: Any, *, strategy: str | Quorum = "all",
            timeout: float | None = DEFAULT_TIMEOUT, key: Any = None) -> FanOutResult:
        """Ask every live member and decide by ``strategy``; never raises for a member.

        Strategies: ``"all"``, ``"first"``, ``"majority"``, ``otp.pool.quorum(k)``;
        ``key`` maps an answer to what is compared for agreement. Answers after
        the decision are ignored. ``result.get()`` returns the value or raises
        ``NoConsensus``. Refused (RuntimeError) inside a running event loop.
        """
        _refuse_on_loop("ask")
        check_strategy(strategy)
        return fan_out(self.members(), message, strategy, timeout, key)

    def route(self, message: Any, *, key: Any = None,
              timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """Ask one member, chosen by the pool's routing, and return its answer.

        It raises what ``ask`` raises (the member's exception, AskTimeout, ...), and:

        Raises:
            LookupError: the pool has no live member.
            RuntimeError: called inside a running event loop (await ``route_future``).
        """
        _refuse_on_loop("route")
        return self.route_future(message, key=key).get(timeout=timeout)

    def route_future(self, message: Any, *, key: Any = None) -> AgentFuture:
        """``route`` without waiting: the future of the chosen member's answer."""
        members = self._routable()
        member = self.router.pick(members, key, self._labels) if members else None
        if member is None or not member.is_alive():  # one has died since: read them again
            members = self._reread(members)
            if not members:
                msg = "the pool has no live member to route to"
                raise LookupError(msg)
            member = self.router.pick(members, key, self._labels)
        routed = _Routed(self.router, member, self._routed)
        routed.future._otp_ctx = (member, message)
        with self.router.lock:
            self._routed.add(routed)
        self.router.started(member)
        try:
            ask_into(member, message, routed)
        except BaseException:
            routed._finish()
            raise
        return routed.future


def _refuse_on_loop(what: str) -> None:
    if _get_running_loop() is not None:
        msg = (f"Pool.{what}() would block the running event loop; in async code await "
               "pool.route_future(...) or run the call in a worker thread")
        raise RuntimeError(msg)
