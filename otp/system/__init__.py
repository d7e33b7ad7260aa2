"""Systems (layer 5): a whole system declared in one YAML file, validated, and started.

A system file names this node, its logging, and its supervision trees
(agents, nested supervisors and pools). ``load`` validates it (every
problem with its line; ``otp-node check``), ``System.start`` runs it
(``otp-node run``), and ``json_schema`` describes it for editors
(``otp-node schema``). PyYAML is imported only by ``otp.system._yaml``.
"""

from __future__ import annotations

from otp.system._load import Plan, Tree, load, load_text
from otp.system._model import (
    ChildEntry,
    NodeSection,
    PoolSection,
    SupervisorEntry,
    SystemSpec,
    json_schema,
)
from otp.system._system import System

__all__ = [
    "ChildEntry",
    "NodeSection",
    "Plan",
    "PoolSection",
    "SupervisorEntry",
    "System",
    "SystemSpec",
    "Tree",
    "json_schema",
    "load",
    "load_text",
]
