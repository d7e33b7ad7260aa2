"""Supervision (layer 3): supervisors, strategies, restart intensity and backoff, and the
introspection of running trees (``describe``, ``roots``, ``trees``)."""

from __future__ import annotations

from otp.supervision._dynamic import DynamicSupervisor
from otp.supervision._sup_ref import (
    SUP_CALL_TIMEOUT,
    ChildCounts,
    ChildInfo,
    SupervisorRef,
)
from otp.supervision._supervisor import Supervisor
from otp.supervision._tree import describe, roots, trees

__all__ = [
    "ChildCounts",
    "ChildInfo",
    "DynamicSupervisor",
    "SUP_CALL_TIMEOUT",
    "Supervisor",
    "SupervisorRef",
    "describe",
    "roots",
    "trees",
]
