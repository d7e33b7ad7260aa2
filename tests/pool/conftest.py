"""Pool tests share their agents with the node tests (``tests/node/pool_agents.py``).

Other nodes import those agents by name, so they live next to the node
tests; this makes them importable here too when ``tests/pool`` runs alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

NODE_TESTS = str(Path(__file__).resolve().parent.parent / "node")
if NODE_TESTS not in sys.path:
    sys.path.insert(0, NODE_TESTS)
