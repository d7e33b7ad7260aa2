"""Pools (layer 4): fan one request out to many agents, local and remote, or route it to one.

    pool = Pool.start(Researcher, 6, nodes=["b@10.0.0.6", "c@10.0.0.7"])
    answer = pool.ask("Is the sky blue?", strategy="majority").get()
    summary = pool.route(("summarize", doc), key=doc.id)   # with routing="hash"

See ``_fanout`` (strategies), ``_routing`` (choosing one member) and
``_pool`` (membership).
"""

from __future__ import annotations

from otp.pool._fanout import FanOutResult, NoConsensus, Quorum, quorum
from otp.pool._pool import Pool
from otp.pool._routing import ROUTINGS

__all__ = ["FanOutResult", "NoConsensus", "Pool", "Quorum", "ROUTINGS", "quorum"]
