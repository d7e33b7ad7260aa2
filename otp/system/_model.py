"""The system file's shape, as pydantic models (the source of ``otp-node schema``).

A system file declares one node's share of a system: the node (name,
listen address, peers, security), logging, where its agent modules are,
and its supervision trees, whose children are agents, nested supervisors
or pools. Every key is described here once; the JSON Schema that editors
use for completion is generated from these models.

The models check shape and values. What needs Python (importing the agent
classes, OTP's combination rules) is checked by ``otp.system._load``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from otp.specs import AutoShutdown, ChildType, Kind, Restart, Strategy

__all__ = [
    "AgentPath",
    "BackoffSection",
    "ChildEntry",
    "LogSection",
    "NodeSection",
    "PoolSection",
    "SupervisorEntry",
    "SupervisorSection",
    "SystemSpec",
    "ValidationError",
    "json_schema",
]

AgentPath: TypeAlias = str
_AGENT_PATH = r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$"
_AGENT_HELP = ("an agent class as 'package.module:Class' (the module must be importable "
               "from the file's directory or `python_path`)")
Routing: TypeAlias = Literal["round_robin", "least_loaded", "hash"]
ShutdownSpec: TypeAlias = Literal["brutal_kill", "infinity"] | Annotated[int, Field(ge=0)]
_ = ChildType  # the child type is implied by the entry: agent, supervisor or pool


class _Section(BaseModel):
    """A mapping of known keys only (``otp.system._load`` words the error, with a "did you
    mean")."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeSection(_Section):
    """This node: its name, where it listens, which nodes it joins, and its security."""

    name: str = Field(min_length=1, description="node name: NAME (the listen host is added) "
                      "or NAME@HOST")
    listen: str = Field("tcp://127.0.0.1:*", description="tcp://HOST:PORT (PORT * picks a "
                        "free one) or ipc:///path")
    join: list[str] = Field(default_factory=list, description="addresses of nodes to connect "
                            "to; their peers are joined too (ADDR#curve=KEY with CURVE)")
    advertise: str | None = Field(None, description="the address peers use to reach this node, "
                                  "when it is not `listen` (required with a wildcard host)")
    heartbeat: float = Field(1.0, gt=0, description="seconds of silence after which a peer is "
                             "lost")
    cookie: str | None = Field(None, min_length=1, description="the cluster's shared secret; "
                               "write ${OTP_COOKIE} rather than the secret itself")
    cookie_file: str | None = Field(None, description="read the cookie from this file "
                                    "(mode 0600)")
    curve_secret: str | None = Field(None, description="this node's CURVE secret key file "
                                     "(from `otp-node keys`)")
    curve_allow: str | None = Field(None, description="directory of the public keys (*.key) "
                                    "accepted from peers")


class LogSection(_Section):
    """Where agent-otp's events go: stderr, at this level, in this format."""

    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    format: Literal["console", "json"] = "console"


class BackoffSection(_Section):
    """Akka-style restart backoff: each restart in a row waits twice as long, up to `max`."""

    min: float = Field(gt=0, description="seconds before the first restart")
    max: float = Field(gt=0, description="the longest wait, in seconds")
    random_factor: float = Field(0.2, ge=0, description="jitter: 0.2 adds up to 20%")
    reset_after: float | None = Field(None, gt=0, description="seconds running after which the "
                                      "delay starts again from `min` (default (min+max)/2)")
    max_restarts: int | None = Field(None, ge=0, description="give up after this many restarts "
                                     "in a row (default: unlimited)")


class _Flags(_Section):
    strategy: Strategy = Field("one_for_one", description="which children restart when one "
                               "exits: one_for_one (it), one_for_all (all), rest_for_one (it and "
                               "those started after it), simple_one_for_one (dynamic)")
    intensity: int = Field(3, ge=0, description="at most this many restarts within `period` "
                           "seconds, else the supervisor gives up")
    period: float = Field(5.0, gt=0, description="the restart-intensity window, in seconds")
    auto_shutdown: AutoShutdown = Field("never", description="end the supervisor when "
                                        "significant children end by themselves")
    max_children: int | None = Field(None, ge=0, description="simple_one_for_one: the most "
                                     "dynamic children at once")
    backoff: BackoffSection | None = Field(None, description="delay restarts (Akka-style)")


class SupervisorSection(_Flags):
    """A nested supervisor: its flags and its children, in start order."""

    children: list[ChildEntry] = Field(default_factory=list, description="started in this "
                                       "order, stopped in reverse")


class PoolSection(_Section):
    """A pool: `size` members of one agent under their own one_for_one supervisor."""

    agent: AgentPath = Field(pattern=_AGENT_PATH, description=_AGENT_HELP)
    size: int = Field(ge=1, description="how many members")
    args: list[Any] = Field(default_factory=list, description="positional arguments of each "
                            "member")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of each "
                                   "member")
    nodes: list[str] | None = Field(None, min_length=1, description="spread the members over "
                                    "these nodes (member i on nodes[i % n], falling back to the "
                                    "next live one)")
    routing: Routing = Field("round_robin", description="how route() picks a member")
    intensity: int | None = Field(None, ge=0, description="member restarts allowed within "
                                  "`period` (default: size)")
    period: float = Field(5.0, gt=0, description="the restart-intensity window, in seconds")
    kind: Kind | None = Field(None, description="execution kind of the members")


class ChildEntry(_Section):
    """One child: exactly one of `agent`, `supervisor` or `pool`, and how it is supervised."""

    id: str = Field(min_length=1, pattern=r"^[^/]+$", description="unique among its siblings "
                    "(no '/': paths like team/writer name children)")
    agent: AgentPath | None = Field(None, pattern=_AGENT_PATH, description=_AGENT_HELP)
    supervisor: SupervisorSection | None = Field(None, description="a nested supervisor")
    pool: PoolSection | None = Field(None, description="a pool of agents")
    args: list[Any] = Field(default_factory=list, description="agent: positional arguments")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="agent: keyword arguments")
    restart: Restart = Field("permanent", description="permanent: always restarted; transient: "
                             "only after a crash; temporary: never")
    shutdown: ShutdownSpec | None = Field(None, description="milliseconds to stop before it is "
                                          "killed, brutal_kill, or infinity (default: 5000 for "
                                          "an agent, infinity for a supervisor or pool)")
    significant: bool = Field(False, description="its ending may end the supervisor (with "
                              "auto_shutdown)")
    name: str | None = Field(None, min_length=1, description="register the agent under this name")
    kind: Kind | None = Field(None, description="agent: execution kind (thread or async; "
                              "default: the agent's own)")
    node: str | list[str] | None = Field(None, description="agent: run it on this node, or the "
                                         "first connected of a list ('name@host')")

    @model_validator(mode="after")
    def _one_kind_of_child(self) -> ChildEntry:
        given = [k for k in ("agent", "supervisor", "pool") if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "child_kind", "child {id} needs exactly one of agent, supervisor or pool; "
                "got {given}", {"id": repr(self.id), "given": ", ".join(given) or "none"})
        if self.agent is None:
            extra = [k for k in ("args", "kwargs", "kind", "node") if k in self.model_fields_set]
            if extra:
                raise PydanticCustomError(
                    "agent_only", "child {id}: {keys} belong to an agent; give a {what}'s inside "
                    "`{what}:`", {"id": repr(self.id), "keys": ", ".join(extra),
                                        "what": given[0]})
        return self


class SupervisorEntry(_Flags):
    """A supervision tree: a root supervisor, registered under its `id`."""

    id: str = Field(min_length=1, pattern=r"^[^/]+$", description="the tree's name (registered "
                    "as the supervisor's name)")
    children: list[ChildEntry] = Field(default_factory=list, description="started in this "
                                       "order, stopped in reverse")


class SystemSpec(_Section):
    """A system file: this node, its logging, its supervision trees."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="agent-otp system file")

    version: Literal[1] = Field(1, description="the system-file format version")
    node: NodeSection | None = Field(None, description="run as this node (default with "
                                     "`otp-node run`: named after the file, on loopback)")
    log: LogSection = Field(default_factory=LogSection, description="logging of agent-otp's "
                            "events")
    python_path: list[str] = Field(default_factory=lambda: ["."], description="directories, "
                                   "relative to this file, from which agent modules are imported")
    supervisors: list[SupervisorEntry] = Field(min_length=1, description="the supervision "
                                               "trees, started in order, stopped in reverse")


SupervisorSection.model_rebuild()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a system file (for editors: completion and checks as you type)."""
    schema = SystemSpec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
