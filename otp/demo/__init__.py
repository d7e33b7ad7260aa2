"""The demo (layer 5): a supervised team at work on an offline model, ``otp-node demo``.

Three agents, a researcher, a writer and a reviewer, run under one
one_for_one supervisor declared in ``team.yaml`` (:data:`TEAM_FILE`) and
ask a :class:`ScriptedModel`: a stand-in for an LLM provider that answers
from a script after a simulated latency, with no key and no network. On
the second task the model hands the writer a malformed reply; the writer
lets it crash, its supervisor restarts it (the other two keep running,
with their state), the step is retried and the task completes; then the
tree stops in reverse start order.

``otp-node demo`` (``otp.cli``) tells that story with a live view of the
tree; the pieces here are the model, the agents and the system file.
"""

from __future__ import annotations

from pathlib import Path

from otp.demo._model import SCRIPT, Completion, ScriptedModel, get_model, register_model

__all__ = ["Completion", "SCRIPT", "ScriptedModel", "TEAM_FILE", "get_model", "register_model"]

TEAM_FILE = Path(__file__).resolve().parent / "team.yaml"
"""The system file of the demo's team."""
