"""Child specs and supervisor flags as frozen, validated data (layer 1).

A spec is checked once, when it is built, as OTP's ``supervisor:check_childspecs``
does: each field has one check that names the spec, the field, the bad value
and what is allowed, and raises :class:`~otp.errors.SpecError` with OTP's tag
as ``code`` (``invalid_restart_type``, ``bad_combination``, ...). Pydantic's
own ``ValidationError`` never escapes ``Model(...)``, ``model_validate``,
``model_validate_json``, ``with_`` or ``model_copy``. The stored spec has every
default filled in (``shutdown``, ``type``, ``reset_after``), like OTP's
``get_childspec``. Specs are immutable: assignment raises SpecError ``frozen``.

Departure from OTP: unknown keys are rejected (``unknown_key``, with a "did you
mean"), because in Python a mistyped keyword that is silently ignored is a bug.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Iterable, Mapping
from difflib import get_close_matches
from typing import Any, ClassVar, Literal, Self, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from otp.errors import SpecError

__all__ = [
    "AutoShutdown",
    "Backoff",
    "ChildSpec",
    "ChildType",
    "Kind",
    "Restart",
    "Shutdown",
    "Strategy",
    "SupFlags",
    "check_childspecs",
    "check_combination",
]

Restart: TypeAlias = Literal["permanent", "transient", "temporary"]
ChildType: TypeAlias = Literal["worker", "supervisor"]
Shutdown: TypeAlias = Literal["brutal_kill", "infinity"] | int
Kind: TypeAlias = Literal["thread", "async"]
Strategy: TypeAlias = Literal["one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"]
AutoShutdown: TypeAlias = Literal["never", "any_significant", "all_significant"]

_RESTARTS: tuple[str, ...] = get_args(Restart)
_CHILD_TYPES: tuple[str, ...] = get_args(ChildType)
_KINDS: tuple[str, ...] = get_args(Kind)
_STRATEGIES: tuple[str, ...] = get_args(Strategy)
_AUTO_SHUTDOWNS: tuple[str, ...] = get_args(AutoShutdown)

# -- Defaults: the one place (OTP's ?default_child_spec) --------------------------
# A field whose default is None is resolved at construction:
#   ChildSpec.type        <- getattr(start, "__otp_child_type__", "worker")
#   ChildSpec.shutdown    <- _DEFAULT_SHUTDOWN[type]
#   Backoff.reset_after   <- (min + max) / 2   (Akka's resetBackoffAfter default)
_DEFAULT_RESTART: Restart = "permanent"
_DEFAULT_SHUTDOWN: dict[str, Shutdown] = {"worker": 5000, "supervisor": "infinity"}
_DEFAULT_STRATEGY: Strategy = "one_for_one"
# 3 restarts in 5 s is Elixir's default, not Erlang's 1 in 5 s, on purpose: agents
# call LLM providers, which fail in short bursts of transient errors (rate limits,
# 5xx, timeouts). At 1 restart per 5 s a single burst of two crashes escalates to
# the parent and can take the whole tree down; 3 absorbs a burst and still stops a
# real crash loop within seconds.
_DEFAULT_INTENSITY = 3
_DEFAULT_PERIOD = 5.0
_DEFAULT_AUTO_SHUTDOWN: AutoShutdown = "never"
_DEFAULT_RANDOM_FACTOR = 0.2

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60


def _require(ok: Any, code: str, who: str, field: str, value: Any, allowed: str) -> None:
    """Raise SpecError ``code`` naming the spec, field and value unless ``ok``."""
    if not ok:
        msg = f"{code}: {who}: {field}={_short.repr(value)} is not allowed; {allowed}"
        raise SpecError(msg, code=code, field=field, value=value)


def _require_key(d: dict[str, Any], code: str, who: str, field: str, hint: str) -> None:
    if field not in d:
        raise SpecError(f"{code}: {who}: {field!r} is required; {hint}", code=code, field=field)


def _use(options: tuple[str, ...]) -> str:
    quoted = [repr(o) for o in options]
    return "use " + (", ".join(quoted[:-1]) + " or " if len(quoted) > 1 else "") + quoted[-1]


def _one_of(value: Any, options: tuple[str, ...]) -> bool:
    return isinstance(value, str) and value in options


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if _is_int(value):
        return bool(abs(value) < 2**1000)  # float(value) must not overflow
    return isinstance(value, float) and math.isfinite(value)


def _as_spec_error(exc: ValidationError, model: type[_Spec]) -> SpecError:
    """Return the SpecError our validator raised, or translate pydantic's first error."""
    for err in exc.errors():
        if isinstance(found := (err.get("ctx") or {}).get("error"), SpecError):
            return found
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else model._label
    msg = f"{model._code}: {model._label}: {field}={_short.repr(err.get('input'))}: {err['msg']}"
    return SpecError(msg, code=model._code, field=field, value=err.get("input"))


class _Spec(BaseModel):
    """Frozen, strict, raising only SpecError; ``with_``/``model_copy`` re-validate."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True,
                              arbitrary_types_allowed=True)
    _label: ClassVar[str]  # names the spec in messages when nothing better is known
    _code: ClassVar[str]  # the code for input that is not a mapping

    @classmethod
    def _fill(cls, d: dict[str, Any], who: str) -> dict[str, Any]:
        """Check every field of ``d`` and fill in resolved defaults (per subclass)."""
        raise NotImplementedError

    @classmethod
    def _who(cls, data: Mapping[str, Any]) -> str:
        return cls._label

    @model_validator(mode="before")
    @classmethod
    def _validate(cls, data: Any) -> Any:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            msg = (f"{cls._code}: {cls._label}: {_short.repr(data)} is not a mapping; "
                   f"pass a {cls.__name__} or a mapping")
            raise SpecError(msg, code=cls._code, value=data)
        who, fields = cls._who(data), list(cls.model_fields)
        for key in data:
            if key not in cls.model_fields:
                close = get_close_matches(str(key), fields, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                msg = (f"unknown_key: {who}: {key!r} is not a {cls.__name__} key; {hint}"
                       f"allowed keys: {', '.join(fields)}")
                raise SpecError(msg, code="unknown_key", field=str(key), value=data[key])
        return cls._fill(dict(data), who)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _as_spec_error(exc, type(self)) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate a mapping (OTP's map spec) or an instance, raising SpecError."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise _as_spec_error(exc, cls) from None

    @classmethod
    def model_validate_json(cls, json_data: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate JSON text, raising SpecError."""
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            raise _as_spec_error(exc, cls) from None

    def with_(self, **changes: Any) -> Self:
        """Return a validated copy with ``changes`` applied.

        Resolved defaults are kept: pass ``shutdown=None`` (or ``type=None``,
        ``reset_after=None``) to resolve one again.
        """
        return type(self)(**{**{f: getattr(self, f) for f in type(self).model_fields}, **changes})

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy as pydantic does, but validate ``update`` through :meth:`with_`."""
        copied = super().model_copy(deep=deep)
        return copied.with_(**update) if update else copied

    def _describe(self) -> str:
        return self._label

    def __setattr__(self, name: str, value: Any) -> None:
        msg = (f"frozen: {self._describe()} is immutable; "
               f"make a changed copy with .with_({name}=...)")
        raise SpecError(msg, code="frozen", field=name, value=value)

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)


class Backoff(_Spec):
    """Akka-style restart backoff: delay ``min(max, min*2**n) * (1 + rand*random_factor)``.

    Times in seconds; ``max_restarts`` None is unlimited. Any bad value raises
    SpecError ``invalid_backoff``.
    """

    _label: ClassVar[str] = "backoff"
    _code: ClassVar[str] = "invalid_backoff"

    min: float
    max: float
    random_factor: float = _DEFAULT_RANDOM_FACTOR
    # None is filled in by _fill before the model sees it, so the stored value is a float.
    reset_after: float = Field(default=None)  # type: ignore[assignment]  # -> (min + max) / 2
    max_restarts: int | None = None

    @classmethod
    def _fill(cls, d: dict[str, Any], who: str) -> dict[str, Any]:
        code = "invalid_backoff"

        def seconds(field: str, ok: Callable[[float], bool], allowed: str) -> None:
            _require_key(d, code, who, field, f"pass {field}=<seconds>")
            _require(_is_number(d[field]) and ok(d[field]), code, who, field, d[field], allowed)
            d[field] = float(d[field])

        seconds("min", lambda v: v > 0, "use a finite number of seconds > 0")
        seconds("max", lambda v: v >= d["min"],
                f"use a finite number of seconds >= min ({d['min']})")
        d.setdefault("random_factor", _DEFAULT_RANDOM_FACTOR)
        seconds("random_factor", lambda v: v >= 0, "use a finite number >= 0 (0.2 adds up to 20%)")
        if d.get("reset_after") is None:
            d["reset_after"] = (d["min"] + d["max"]) / 2
        seconds("reset_after", lambda v: v > 0, "use a finite number of seconds > 0, or None")
        n = d.get("max_restarts")
        _require(n is None or _is_int(n) and n >= 0, code, who, "max_restarts", n,
                 "use an int >= 0, or None for unlimited")
        return d


class ChildSpec(_Spec):
    """How a supervisor starts, restarts and stops one child (OTP's child_spec).

    ``id`` and ``start`` are required; ``start(*args, **kwargs)`` returns an
    agent ref. ``shutdown`` is ``"brutal_kill"``, an int >= 0 (milliseconds) or
    ``"infinity"``; None means 5000 for a worker and ``"infinity"`` for a
    supervisor. ``type`` None means ``start.__otp_child_type__`` or ``"worker"``.
    ``name`` registers the started agent; ``kind`` None is the agent's default.
    ``node`` places the child on another node: a node name, or a list of
    candidates tried in order (the first connected one wins, on every
    restart); ``start`` must then be an agent class that the other node can
    import (not one defined in ``__main__`` or inside a function).

    Codes: ``missing_id``, ``invalid_id``, ``missing_start``, ``invalid_mfa``
    (start, args or kwargs), ``invalid_restart_type``, ``invalid_shutdown``,
    ``invalid_child_type``, ``invalid_significant``, ``bad_combination``,
    ``invalid_name``, ``invalid_kind``, ``invalid_node``, ``unknown_key``,
    ``invalid_child_spec``.
    """

    _label: ClassVar[str] = "child spec"
    _code: ClassVar[str] = "invalid_child_spec"

    id: str
    start: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = Field(default_factory=dict)
    restart: Restart = _DEFAULT_RESTART
    # shutdown and type default to None, which _fill resolves before the model sees it.
    shutdown: Shutdown = Field(default=None)  # type: ignore[arg-type]  # _DEFAULT_SHUTDOWN
    type: ChildType = Field(default=None)  # type: ignore[arg-type]  # __otp_child_type__
    significant: bool = False
    name: str | None = None
    kind: Kind | None = None
    node: str | tuple[str, ...] | None = None

    @property
    def candidates(self) -> tuple[str, ...]:
        """The nodes ``node`` names, in order of preference (empty: this node)."""
        node = self.node
        return () if node is None else (node,) if isinstance(node, str) else node

    def _describe(self) -> str:
        return f"child {self.id!r}"

    @classmethod
    def _who(cls, data: Mapping[str, Any]) -> str:
        given = data.get("id")
        return f"child {given!r}" if isinstance(given, str) and given else cls._label

    @classmethod
    def _fill(cls, d: dict[str, Any], who: str) -> dict[str, Any]:
        _require_key(d, "missing_id", who, "id", "pass id='...', a non-empty str naming the child")
        _require(isinstance(d["id"], str) and d["id"], "invalid_id", who, "id", d["id"],
                 "use a non-empty str")
        _require_key(d, "missing_start", who, "start",
                     "pass start=AgentClass or a function returning an agent ref")
        _require(callable(d["start"]), "invalid_mfa", who, "start", d["start"],
                 "use an agent class or a function returning an agent ref")
        args, kwargs = d.setdefault("args", ()), d.setdefault("kwargs", {})
        _require(isinstance(args, (tuple, list)), "invalid_mfa", who, "args", args,
                 "use a tuple of positional arguments")
        _require(isinstance(kwargs, Mapping) and all(isinstance(k, str) for k in kwargs),
                 "invalid_mfa", who, "kwargs", kwargs, "use a dict with str keys")
        d["args"], d["kwargs"] = tuple(args), dict(kwargs)
        restart = d.setdefault("restart", _DEFAULT_RESTART)
        _require(_one_of(restart, _RESTARTS), "invalid_restart_type", who, "restart", restart,
                 _use(_RESTARTS))
        if d.get("type") is None:
            d["type"] = getattr(d["start"], "__otp_child_type__", "worker")
        _require(_one_of(d["type"], _CHILD_TYPES), "invalid_child_type", who, "type", d["type"],
                 _use(_CHILD_TYPES))
        if d.get("shutdown") is None:
            d["shutdown"] = _DEFAULT_SHUTDOWN[d["type"]]
        shutdown = d["shutdown"]
        ok = _one_of(shutdown, ("brutal_kill", "infinity")) or _is_int(shutdown) and shutdown >= 0
        _require(ok, "invalid_shutdown", who, "shutdown", shutdown,
                 "use 'brutal_kill', an int >= 0 (milliseconds) or 'infinity'")
        significant = d.setdefault("significant", False)
        _require(isinstance(significant, bool), "invalid_significant", who, "significant",
                 significant, "use True or False")
        if significant and restart == "permanent":
            msg = (f"bad_combination: {who}: significant=True with restart='permanent' is not "
                   f"allowed; a significant child must be 'transient' or 'temporary'")
            raise SpecError(msg, code="bad_combination", field="significant",
                            value={"restart": "permanent", "significant": True})
        name, kind = d.get("name"), d.get("kind")
        _require(name is None or isinstance(name, str) and name, "invalid_name", who, "name", name,
                 "use a non-empty str, or None")
        _require(kind is None or _one_of(kind, _KINDS), "invalid_kind", who, "kind", kind,
                 _use(_KINDS) + ", or None for the agent's default")
        _check_node(d, who)
        return d


def _check_node(d: dict[str, Any], who: str) -> None:
    node = d.get("node")
    if node is None:
        return
    if isinstance(node, (list, tuple)):
        node = d["node"] = tuple(node)
        ok = bool(node) and all(isinstance(n, str) and "@" in n for n in node)
    else:
        ok = isinstance(node, str) and "@" in node
    _require(ok, "invalid_node", who, "node", node,
             "use a node name 'name@host', a list of them, or None for this node")
    start = d["start"]
    where = getattr(start, "__module__", None)
    qualname = getattr(start, "__qualname__", "")
    movable = isinstance(start, type) and where not in (None, "__main__") and "<locals>" not in qualname
    _require(movable, "invalid_node", who, "start", start,
             "a child placed on another node needs an agent class defined at the top level "
             "of a module that node can import (not in __main__ or inside a function)")


class SupFlags(_Spec):
    """A supervisor's flags (OTP's sup_flags): strategy, intensity/period, auto_shutdown.

    At most ``intensity`` restarts within ``period`` seconds, else the
    supervisor gives up. ``max_children`` bounds a dynamic supervisor;
    ``backoff`` delays restarts (a :class:`Backoff` or a mapping).

    Codes: ``invalid_strategy``, ``invalid_intensity``, ``invalid_period``,
    ``invalid_auto_shutdown``, ``invalid_max_children``, ``invalid_backoff``,
    ``unknown_key``, ``invalid_type`` (not a mapping).
    """

    _label: ClassVar[str] = "supervisor flags"
    _code: ClassVar[str] = "invalid_type"

    strategy: Strategy = _DEFAULT_STRATEGY
    intensity: int = _DEFAULT_INTENSITY
    period: float = _DEFAULT_PERIOD
    auto_shutdown: AutoShutdown = _DEFAULT_AUTO_SHUTDOWN
    max_children: int | None = None
    backoff: Backoff | None = None

    @classmethod
    def _fill(cls, d: dict[str, Any], who: str) -> dict[str, Any]:
        strategy = d.get("strategy", _DEFAULT_STRATEGY)
        _require(_one_of(strategy, _STRATEGIES), "invalid_strategy", who, "strategy", strategy,
                 _use(_STRATEGIES))
        intensity = d.get("intensity", _DEFAULT_INTENSITY)
        _require(_is_int(intensity) and intensity >= 0, "invalid_intensity", who, "intensity",
                 intensity, "use an int >= 0")
        period = d.get("period", _DEFAULT_PERIOD)
        _require(_is_number(period) and period > 0, "invalid_period", who, "period", period,
                 "use a finite number of seconds > 0")
        d["period"] = float(period)
        auto = d.get("auto_shutdown", _DEFAULT_AUTO_SHUTDOWN)
        _require(_one_of(auto, _AUTO_SHUTDOWNS), "invalid_auto_shutdown", who, "auto_shutdown",
                 auto, _use(_AUTO_SHUTDOWNS))
        n = d.get("max_children")
        _require(n is None or _is_int(n) and n >= 0, "invalid_max_children", who, "max_children",
                 n, "use an int >= 0, or None for no limit")
        backoff = d.get("backoff")
        if isinstance(backoff, Mapping):
            d["backoff"] = Backoff.model_validate(backoff)
        _require(d.get("backoff") is None or isinstance(d["backoff"], Backoff), "invalid_backoff",
                 who, "backoff", backoff, "use a Backoff, a mapping or None")
        return d


def _as_list(specs: Any) -> list[Any]:
    ok = isinstance(specs, Iterable) and not isinstance(specs, (str, bytes, Mapping, ChildSpec))
    _require(ok, "invalid_child_spec", "child specs", "children", specs,
             "pass a list of child specs")
    return list(specs)


def check_childspecs(specs: Iterable[ChildSpec | Mapping[str, Any]]) -> list[ChildSpec]:
    """Validate a list of child specs (mappings are converted), in order.

    Raises:
        SpecError: a spec is invalid, or ``duplicate_child_name`` for a repeated id.
    """
    checked: list[ChildSpec] = []
    seen: set[str] = set()
    for spec in _as_list(specs):
        child = ChildSpec.model_validate(spec)
        if child.id in seen:
            msg = (f"duplicate_child_name: child {child.id!r}: the id is used twice; "
                   f"ids must be unique")
            raise SpecError(msg, code="duplicate_child_name", field="id", value=child.id)
        seen.add(child.id)
        checked.append(child)
    return checked


def check_combination(flags: SupFlags | Mapping[str, Any],
                      specs: Iterable[ChildSpec | Mapping[str, Any]]) -> list[ChildSpec]:
    """Validate children against the supervisor's flags; return the checked specs.

    Raises:
        SpecError: ``bad_start_spec`` unless simple_one_for_one has exactly one
            spec; ``bad_combination`` for a significant child when auto_shutdown
            is "never"; or any error of :func:`check_childspecs`.
    """
    flags = SupFlags.model_validate(flags)
    specs = _as_list(specs)
    if flags.strategy == "simple_one_for_one" and len(specs) != 1:
        msg = (f"bad_start_spec: supervisor flags: strategy='simple_one_for_one' needs exactly "
               f"one child spec, got {len(specs)}")
        raise SpecError(msg, code="bad_start_spec", field="children", value=specs)
    checked = check_childspecs(specs)
    for child in checked:
        if child.significant and flags.auto_shutdown == "never":
            msg = (f"bad_combination: child {child.id!r}: significant=True with "
                   f"auto_shutdown='never' is not allowed; set auto_shutdown to "
                   f"'any_significant' or 'all_significant', or significant=False")
            raise SpecError(msg, code="bad_combination", field="significant",
                            value={"auto_shutdown": "never", "significant": True})
    return checked
