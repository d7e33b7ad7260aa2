"""DynamicSupervisor: many children from one template, started on demand.

OTP's simple_one_for_one under a friendlier name: no children at start,
``start_child(*extra_args, **extra_kwargs)`` starts one more from the
template (its args are the template's args followed by the extra ones),
``max_children`` bounds them (children being restarted count too), and at
shutdown all children are stopped at once under one shared timeout.
"""

from __future__ import annotations

from typing import Any

from otp.actor import AgentActor
from otp.specs import ChildSpec
from otp.supervision._sup_ref import SupervisorRef
from otp.supervision._supervisor import Supervisor

__all__ = ["DynamicSupervisor"]


class DynamicSupervisor(Supervisor):
    """A simple_one_for_one supervisor: ``DynamicSupervisor.start(child=Worker)``."""

    @classmethod
    def start(cls, *args: Any, name: str | None = None,  # type: ignore[override]
              **kwargs: Any) -> SupervisorRef | None:
        """Start an empty dynamic supervisor.

        Args:
            *args: the child template (or ``child=``): a ChildSpec, a dict, or an
                AgentActor class (then its id is the class name and it restarts
                ``permanent``).
            name: register the supervisor under this name.
            **kwargs: intensity, period, max_children, auto_shutdown, backoff, clock.
        """
        child = kwargs.pop("child", args[0] if args else None)
        if isinstance(child, type) and issubclass(child, AgentActor):
            child = ChildSpec(id=child.__name__, start=child)
        kwargs.setdefault("strategy", "simple_one_for_one")
        return super().start(name=name, children=[child] if child is not None else [], **kwargs)
