"""A running system: the trees of a system file started (and the node, if it declares one).

``System.start("system.yaml")`` loads the file (raising SystemSpecError
with every problem), starts the node it declares, then each supervision
tree in order, each root supervisor registered under its tree id. ``stop()``
stops the trees in reverse order, each fully, then the node it started.
Children are found by path: ``"team"`` is a tree's supervisor,
``"team/writer"`` a child of it, ``"team/crew/writer"`` a child of a nested
supervisor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import otp.node
from otp import _log
from otp.actor import AgentRef
from otp.errors import StartError, format_reason
from otp.pool import Pool
from otp.supervision import Supervisor, SupervisorRef
from otp.system._load import Plan, load
from otp.system._model import ChildEntry, NodeSection

__all__ = ["System"]


class System:
    """A system file's trees, running. Use :meth:`start`; a context manager stops it."""

    def __init__(self, plan: Plan, roots: dict[str, SupervisorRef], node: Any = None) -> None:
        self.plan = plan
        self.roots = roots
        self.node = node  # the node this System started (it stops it), or None

    def __repr__(self) -> str:
        return f"<System {self.plan.file} trees={list(self.roots)}>"

    @classmethod
    def start(cls, source: str | Path | Plan, *, node: bool | None = None) -> System:
        """Start the system in ``source`` (a file path or a loaded :class:`Plan`).

        ``node``: None starts the file's ``node:`` if it has one and no node
        runs in this process yet; True always starts one (the file's, or one
        named after the file on loopback); False never does. A ``log:``
        section in the file configures logging (``otp.configure_logging``).

        Raises:
            SystemSpecError: the file is invalid (nothing was started).
            StartError: a tree failed to start; the trees started before it
                were stopped, and the node too if this call started it.
            otp.node.ConfigError, OSError: the node could not start.
        """
        plan = source if isinstance(source, Plan) else load(source)
        if "log" in plan.spec.model_fields_set:  # the file says how to log: do so
            _log.configure_logging(plan.spec.log.level, plan.spec.log.format)
        started = _start_node(plan, node)
        roots: dict[str, SupervisorRef] = {}
        system = cls(plan, roots, started)
        for tree in plan.trees:
            try:
                ref = Supervisor.start(name=tree.entry.id, children=tree.children,
                                       **tree.flags.model_dump(exclude_none=True))
            except StartError as exc:
                system.stop()
                msg = f"{plan.file}: tree {tree.entry.id!r} failed to start: {exc}"
                raise StartError(msg, exc.reason) from None
            assert ref is not None
            roots[tree.entry.id] = ref
        return system

    def __enter__(self) -> System:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- finding things ------------------------------------------------------------------
    def supervisor(self, tree: str) -> SupervisorRef:
        """The root supervisor of ``tree`` (KeyError names the trees there are)."""
        try:
            return self.roots[tree]
        except KeyError:
            msg = f"no tree {tree!r} in {self.plan.file}; trees: {', '.join(self.roots)}"
            raise KeyError(msg) from None

    def whereis(self, path: str, *, timeout: float = 5.0) -> AgentRef[Any] | None:
        """The running agent at ``path`` (``tree/child/...``), or None if it is not running.

        Raises:
            KeyError: no such tree or child in the file.
        """
        parts = self._check_path(path)
        ref: AgentRef[Any] | None = self.supervisor(parts[0])
        for part in parts[1:]:
            if not isinstance(ref, SupervisorRef):
                return None
            ref = ref.whereis(part, timeout=timeout)
        return ref

    def pool(self, path: str) -> Pool:
        """The pool at ``path`` (a child with ``pool:``), over its supervisor's live members.

        Raises:
            KeyError: ``path`` is not a pool of the file, or it is not running.
        """
        entry = self._entry(self._check_path(path))
        if entry is None or entry.pool is None:
            msg = f"{path!r} is not a pool in {self.plan.file}"
            raise KeyError(msg)
        ref = self.whereis(path)
        if not isinstance(ref, SupervisorRef):
            msg = f"the pool {path!r} is not running"
            raise KeyError(msg)
        return Pool(supervisor=ref, routing=entry.pool.routing)

    def _check_path(self, path: str) -> list[str]:
        parts = [p for p in path.split("/") if p]
        if not parts:
            msg = f"empty path {path!r}: use 'tree' or 'tree/child'"
            raise KeyError(msg)
        self.supervisor(parts[0])
        if len(parts) > 1 and self._entry(parts) is None:
            msg = f"no child {path!r} in {self.plan.file}"
            raise KeyError(msg)
        return parts

    def _entry(self, parts: list[str]) -> ChildEntry | None:
        tree = next(t for t in self.plan.trees if t.entry.id == parts[0])
        children = tree.entry.children
        entry: ChildEntry | None = None
        for part in parts[1:]:
            entry = next((c for c in children if c.id == part), None)
            if entry is None:
                return None
            children = entry.supervisor.children if entry.supervisor is not None else []
        return entry

    # -- ending ---------------------------------------------------------------------------
    def ended(self) -> tuple[str, Any] | None:
        """``(tree, exit reason)`` of the first tree whose supervisor has exited, or None."""
        for tree, ref in self.roots.items():
            if not ref.is_alive():
                return tree, ref.exit_reason
        return None

    def stop(self, *, timeout: float = 60.0) -> None:
        """Stop the trees in reverse start order (each fully), then the node it started."""
        for tree in reversed(list(self.roots)):
            ref = self.roots[tree]
            if ref.is_alive():
                ref.stop(timeout=timeout)
        if self.node is not None and otp.node.current() is self.node:
            otp.node.stop()
        self.node = None

    def describe_end(self) -> str:
        """A sentence for a tree that ended (``ended()``), for the CLI."""
        found = self.ended()
        if found is None:
            return "all trees are running"
        tree, reason = found
        return f"tree {tree!r} ended ({format_reason(reason)})"


def _start_node(plan: Plan, wanted: bool | None) -> Any:
    section = plan.spec.node
    if wanted is False or (wanted is None and (section is None or otp.node.current())):
        return None
    if section is None:
        section = NodeSection.model_validate({"name": plan.node_name})
    base = plan.base

    def rel(value: str | None) -> str | None:
        return None if value is None else str(base / value)

    return otp.node.start(section.name, section.listen, join=section.join,
                          cookie=section.cookie, cookie_file=rel(section.cookie_file),
                          curve_secret=rel(section.curve_secret),
                          curve_allow=rel(section.curve_allow), heartbeat=section.heartbeat,
                          advertise=section.advertise)
