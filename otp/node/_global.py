"""Cluster-wide names: ``register_global``, ``whereis_global``, ``unregister_global``.

Every node keeps a copy of the whole table. Registering claims the name on
every connected node first (each answers with the holder it knows, if any),
then announces it. The node that registered a name watches its holder and
announces its removal when the holder exits; a node that is lost takes its
names with it everywhere (its agents are unreachable, so their names are
released). Two nodes claiming one name at the same instant may both be
refused: try again.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from otp import _log
from otp.actor import AgentRef, Down
from otp.actor._future import AgentFuture
from otp.actor._messages import next_monitor_ref
from otp.actor._process import new_id
from otp.errors import NameTaken
from otp.node._peer import next_corr
from otp.node._protocol import OP_GLOBAL_ADD, OP_GLOBAL_CLAIM, OP_GLOBAL_DEL

if TYPE_CHECKING:
    from otp.node._node import Node
    from otp.node._peer import Peer

__all__ = ["GlobalNames"]

_log_names = _log.get_logger()


class _Watcher:
    """Watches a holder on behalf of the table: its DOWN releases the name."""

    __slots__ = ("dead", "id", "names", "ref")

    def __init__(self, names: GlobalNames) -> None:
        self.id = new_id()
        self.dead = False
        self.names = names
        self.ref: AgentRef[Any] = AgentRef(self, "GlobalNames")

    def deliver(self, message: Any) -> None:
        if isinstance(message, Down):
            self.names.holder_exited(message.ref)


class GlobalNames:
    """One node's copy of the cluster's name table."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.lock = threading.Lock()
        self.table: dict[str, AgentRef[Any]] = {}
        self.watched: dict[Any, str] = {}  # monitor ref -> name, for names registered here
        self.watcher = _Watcher(self)

    def register(self, name: str, ref: AgentRef[Any], timeout: float = 5.0) -> None:
        if not isinstance(name, str) or not name:
            msg = f"a global name must be a non-empty str, got {name!r}"
            raise TypeError(msg)
        if not isinstance(ref, AgentRef):
            msg = f"register_global({name!r}, ...) needs an AgentRef, got {ref!r}"
            raise TypeError(msg)
        if not ref.is_alive():
            msg = f"cannot register {ref} as {name!r}: it is not alive"
            raise NameTaken(msg, None)
        self._refuse_if_held(name, self.whereis(name), ref)
        asks: list[AgentFuture] = []
        for peer in self.node.up_peers():
            future = AgentFuture()
            corr = next_corr()
            peer.asks[corr] = future
            if peer.send((OP_GLOBAL_CLAIM, corr, name, ref)):
                asks.append(future)
        for future in asks:
            try:
                holder = future.get(timeout=timeout)
            except Exception:  # noqa: BLE001,S112 - a peer that cannot answer is being lost
                continue
            self._refuse_if_held(name, holder, ref)
        with self.lock:
            self._refuse_if_held(name, self.table.get(name), ref)
            self.table[name] = ref
            mref = next_monitor_ref()
            self.watched[mref] = name
        if not ref._proc.add_monitor(mref, self.watcher.ref):
            self.holder_exited(mref)
            msg = f"cannot register {ref} as {name!r}: it exited meanwhile"
            raise NameTaken(msg, None)
        self._announce(OP_GLOBAL_ADD, name, ref)

    @staticmethod
    def _refuse_if_held(name: str, holder: Any, ref: AgentRef[Any]) -> None:
        if holder is not None and holder != ref and holder.is_alive():
            msg = f"global name {name!r} is held by {holder} (on {holder.node or 'this node'})"
            raise NameTaken(msg, holder)

    def unregister(self, name: str) -> None:
        with self.lock:
            ref = self.table.pop(name, None)
            for mref, held in list(self.watched.items()):
                if held == name:
                    del self.watched[mref]
                    if ref is not None:
                        ref._proc.remove_monitor(mref)
        if ref is not None:
            self._announce(OP_GLOBAL_DEL, name, ref)

    def whereis(self, name: str) -> AgentRef[Any] | None:
        return self.table.get(name)

    def names(self) -> dict[str, AgentRef[Any]]:
        with self.lock:
            return dict(self.table)

    # -- from peers (I/O thread) ---------------------------------------------------------
    def claimed(self, name: str, ref: Any) -> Any:
        holder = self.table.get(name)
        return holder if holder is not None and holder != ref else None

    def added(self, name: str, ref: Any) -> None:
        with self.lock:
            holder = self.table.get(name)
            if holder is not None and holder != ref and holder.is_alive():
                _log_names.warning("global_name_conflict", name=name, kept=str(holder),
                                   refused=str(ref))
                return
            self.table[name] = ref

    def removed(self, name: str, ref: Any) -> None:
        with self.lock:
            if self.table.get(name) == ref:
                del self.table[name]

    def holder_exited(self, mref: Any) -> None:
        with self.lock:
            name = self.watched.pop(mref, None)
            ref = self.table.pop(name, None) if name is not None else None
        if name is not None and ref is not None:
            self._announce(OP_GLOBAL_DEL, name, ref)

    def peer_up(self, peer: Peer) -> None:
        for name, ref in self.names().items():
            peer.send((OP_GLOBAL_ADD, name, ref))

    def node_down(self, node_name: str) -> None:
        with self.lock:
            for name, ref in list(self.table.items()):
                if ref.node == node_name:
                    del self.table[name]

    def _announce(self, op: int, name: str, ref: AgentRef[Any]) -> None:
        for peer in self.node.up_peers():
            peer.send((op, name, ref))
