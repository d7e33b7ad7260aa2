"""Remote spawn by import path: ``package.module:Class`` started on another node.

The asking side sends ``OP_SPAWN`` and waits in an ``Inbox`` (so a
supervisor can wait on a thread or on the node loop alike, see
``otp.actor.drive``). The serving side imports the class, checks it is an
``AgentActor``, and starts it in a worker thread (``on_start`` may take a
while; the I/O thread must not wait for it), linked to the requester when
asked, before ``on_start`` runs, exactly as a local ``spawn(link=...)``.
"""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from otp.actor import AgentActor, AgentRef, Inbox, Steps, WaitFor
from otp.errors import NOCONNECTION, AgentExit, AskTimeout, StartError
from otp.node._peer import next_corr
from otp.node._protocol import OP_SPAWN

if TYPE_CHECKING:
    from otp.node._node import Node
    from otp.node._peer import Peer

__all__ = ["Spawner", "import_path", "resolve"]

SPAWN_TIMEOUT = 30.0


def import_path(cls: Any) -> str:
    """``module:QualName`` of an agent class, checked to be importable on another node.

    Raises:
        ValueError: the class lives in ``__main__`` or inside a function.
    """
    if isinstance(cls, str):
        resolve_syntax(cls)
        return cls
    if not isinstance(cls, type) or not issubclass(cls, AgentActor):
        msg = f"remote spawn needs an AgentActor subclass or 'package.module:Class', got {cls!r}"
        raise ValueError(msg)
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        msg = (f"{cls.__qualname__} is defined in {cls.__module__} "
               f"{'inside a function' if '<locals>' in cls.__qualname__ else ''}; another node "
               "cannot import it: define it at the top level of an importable module")
        raise ValueError(msg)
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve_syntax(path: str) -> tuple[str, str]:
    module, sep, qualname = path.partition(":")
    if not sep or not module or not qualname:
        msg = f"import path {path!r} must look like 'package.module:Class'"
        raise ValueError(msg)
    return module, qualname


def resolve(path: str) -> type[AgentActor]:
    """Import the agent class at ``path``; ValueError or ImportError says what is wrong."""
    module_name, qualname = resolve_syntax(path)
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            msg = f"{module_name!r} has no attribute {qualname!r} (from import path {path!r})"
            raise ValueError(msg)
    if not isinstance(obj, type) or not issubclass(obj, AgentActor):
        msg = f"{path!r} is {obj!r}, not an AgentActor subclass"
        raise ValueError(msg)
    return obj


class Spawner:
    """Both sides of remote spawn for one node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="otp-spawn")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- asking ------------------------------------------------------------------------
    def steps(self, node_name: str, path: str, args: tuple[Any, ...], kwargs: dict[str, Any],
              name: str | None, link: AgentRef[Any] | None, kind: str | None,
              timeout: float = SPAWN_TIMEOUT) -> Steps:
        """Steps (see ``otp.actor.drive``) whose result is the new ref, or None for ``ignore``.

        Raises (from the steps): StartError, AgentExit (noconnection),
        AskTimeout, or the import error from the other node.
        """
        if node_name == self.node.name:
            cls = resolve(path)
            ref = yield from cls._otp_spawn_steps(args, kwargs, name, link, kind, False)
            return ref
        peer = self.node.peer_for(node_name)
        corr = next_corr()
        with Inbox() as inbox:
            if peer is not None:
                def sink(ok: bool, value: Any, _ref: Any = inbox.ref) -> None:
                    _ref._proc.deliver(("spawned", corr, ok, value))
                peer.spawns[corr] = sink
            if peer is None or not peer.send((OP_SPAWN, corr, path, tuple(args), dict(kwargs),
                                              name, link, kind)):
                if peer is not None:
                    peer.spawns.pop(corr, None)
                msg = f"cannot spawn {path} on {node_name!r}: that node is not connected"
                raise AgentExit(msg, NOCONNECTION, None)
            try:
                answer = yield WaitFor(inbox, timeout, lambda m: m[:2] == ("spawned", corr))
            except AskTimeout:
                peer.spawns.pop(corr, None)
                msg = f"node {node_name!r} did not start {path} within {timeout} s"
                raise AskTimeout(msg) from None
        _tag, _corr_, ok, value = answer
        if not ok:
            raise value
        return value

    def lost(self, peer: Peer) -> None:
        """Fail the spawns waiting for a lost peer with ``noconnection``."""
        sinks, peer.spawns = peer.spawns, {}
        for corr, sink in sinks.items():
            msg = f"node {peer.name!r} was lost before it answered spawn #{corr} (noconnection)"
            sink(False, AgentExit(msg, NOCONNECTION, None))

    # -- serving -----------------------------------------------------------------------
    def serve(self, peer: Peer, corr: int, path: str, args: Any, kwargs: Any, name: Any,
              link: Any, kind: Any) -> None:
        self.pool.submit(self._start, peer, corr, path, args, kwargs, name, link, kind)

    def _start(self, peer: Peer, corr: int, path: str, args: Any, kwargs: Any, name: Any,
               link: Any, kind: Any) -> None:
        try:
            if not isinstance(args, tuple) or not isinstance(kwargs, dict):
                msg = f"spawn of {path!r}: args must be a tuple and kwargs a dict"
                raise ValueError(msg)
            cls = resolve(path)
            ref = cls._otp_spawn(args, kwargs, name, link, kind)
        except StartError as exc:
            peer.reply(corr, False, exc)
        except Exception as exc:  # noqa: BLE001 - the asker gets the error, like a start error
            peer.reply(corr, False, StartError(f"cannot start {path}: {exc}", exc))
        else:
            peer.reply(corr, True, ref)
