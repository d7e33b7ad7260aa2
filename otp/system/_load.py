"""Loading a system file: read, validate, import, and compile it into child specs.

``load(path)`` returns a :class:`Plan` (the validated spec and, per tree,
the supervisor flags and ``ChildSpec`` list that start it) or raises
:class:`~otp.errors.SystemSpecError` listing every problem found, each with
its file, line, key path, the value as written and what is allowed. Nothing
is started; ``otp-node check`` is exactly this.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any, get_args

from otp.errors import Problem, SpecError, SystemSpecError
from otp.node import resolve
from otp.pool import Pool
from otp.specs import ChildSpec, SupFlags, check_combination
from otp.supervision import Supervisor
from otp.system import _model
from otp.system._model import ChildEntry, SupervisorEntry, SystemSpec
from otp.system._yaml import Document, read

__all__ = ["Plan", "Tree", "load", "load_text"]

_MESSAGES = {  # pydantic's wording for a pattern or a union, replaced by what to write
    "agent": "use 'package.module:Class' (a module importable here and a class in it)",
    "id": "use a name without '/' (paths such as team/writer name children)",
    "shutdown": "use milliseconds (an int >= 0), 'brutal_kill' or 'infinity'",
    "node": "use a node name 'name@host', or a list of them",
}


@dataclass(frozen=True)
class Tree:
    """One supervision tree, ready to start: its entry, flags and child specs."""

    entry: SupervisorEntry
    flags: SupFlags
    children: list[ChildSpec]


@dataclass(frozen=True)
class Plan:
    """A loaded system file: the spec, its trees, and where it was read from."""

    file: str
    spec: SystemSpec
    trees: list[Tree]
    base: Path  # the file's directory: python_path entries are relative to it

    @property
    def node_name(self) -> str:
        """The node name: the file's ``node.name``, else the file's stem."""
        if self.spec.node is not None:
            return self.spec.node.name
        stem = Path(self.file).stem
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in stem) or "system"


def load(path: str | Path, env: Mapping[str, str] | None = None) -> Plan:
    """Read, validate and compile the system file at ``path`` (nothing is started).

    ``${VAR}`` is read from ``env`` (default: the process environment). The
    file's ``python_path`` directories are added to ``sys.path`` so that
    agent classes import.

    Raises:
        SystemSpecError: every problem found, with its line.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemSpecError(file, [Problem(file, None, None, "", None,
                                             f"cannot read the file: {exc}")]) from None
    return load_text(text, file, base=Path(path).resolve().parent, env=env)


def load_text(text: str, file: str = "<system>", *, base: Path | None = None,
              env: Mapping[str, str] | None = None) -> Plan:
    """As :func:`load`, from ``text``; ``base`` is the directory for ``python_path``."""
    doc = read(text, file, env)
    if doc.data is None and not doc.problems:
        doc.problems.append(Problem(file, None, None, "", None, "the file is empty; a system "
                                    "file needs at least `supervisors:` (see `otp-node init`)"))
    if doc.data is None:
        raise SystemSpecError(file, doc.problems)
    try:
        spec = SystemSpec.model_validate(doc.data)
    except _model.ValidationError as exc:
        seen = {p.path for p in doc.problems}  # a ${VAR} left unset is reported once
        more = [p for p in _translate(exc, doc) if p.path not in seen]
        raise SystemSpecError(file, _sorted(doc.problems + more)) from None
    if doc.problems:
        raise SystemSpecError(file, _sorted(doc.problems))
    base = base or Path.cwd()
    _extend_path(spec, base)
    compiler = _Compiler(doc)
    trees = compiler.trees(spec)
    if compiler.problems:
        raise SystemSpecError(file, _sorted(compiler.problems))
    return Plan(file, spec, trees, base)


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


def _extend_path(spec: SystemSpec, base: Path) -> None:
    for entry in reversed(spec.python_path):
        where = str((base / entry).resolve())
        if where not in sys.path:
            sys.path.insert(0, where)


def _translate(exc: Any, doc: Document) -> list[Problem]:
    """Pydantic's errors as Problems, one per key path (a union's alternatives merged)."""
    grouped: dict[tuple[Any, ...], list[str]] = {}
    values: dict[tuple[Any, ...], Any] = {}
    unknown: set[tuple[Any, ...]] = set()
    for err in exc.errors(include_url=False):
        path, value = _data_path(err["loc"], doc.data)
        kind, shown = err["type"], True
        message = err["msg"].replace(f" or instance of {SystemSpec.__name__}", "")
        if kind == "missing":  # the key is not in the data: name it
            path = (*path, err["loc"][-1])
        if kind == "extra_forbidden":
            message, shown = _unknown_key(path), False
            unknown.add(path)
        elif path and path[-1] in _MESSAGES and kind != "missing":
            message = _MESSAGES[str(path[-1])]
        elif kind == "missing":
            message = f"{path[-1]!r} is required: {_field(path).description}"
            shown = False
        elif kind in ("child_kind", "agent_only", "model_type", "dict_type"):
            shown = False
        message = message.replace("Input should be", "must be")
        grouped.setdefault(path, [])
        if message not in grouped[path]:
            grouped[path].append(message)
        if shown:
            values[path] = value
    problems = []
    for path, messages in grouped.items():
        text = "; or ".join(messages)
        problems.append(doc.problem(path, text, values.get(path), show_value=path in values,
                                    at_key=path in unknown))
    return problems


def _unknown_key(path: tuple[Any, ...]) -> str:
    """The message for an unknown key at ``path``: what is allowed there, and a guess."""
    fields = list(_model_at(path[:-1]).model_fields)
    close = get_close_matches(str(path[-1]), fields, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}allowed here: {', '.join(fields)}"


def _field(path: tuple[Any, ...]) -> Any:
    """The model field at ``path`` (its description says what the key is for)."""
    return _model_at(path[:-1]).model_fields[path[-1]]


def _model_at(path: tuple[Any, ...]) -> Any:
    """The model class that validates the mapping at ``path``."""
    model: Any = SystemSpec
    for part in path:
        if not isinstance(part, int):
            model = _model_of(model.model_fields[part].annotation)
    return model


def _model_of(annotation: Any) -> Any:
    """The model class inside ``annotation`` (``X | None``, ``list[X]``...)."""
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[tuple[Any, ...], Any]:
    """The steps of pydantic's ``loc`` that index into the data (a union member's name or a
    validator step is not one), and the value they reach."""
    path: list[Any] = []
    here = data
    for part in loc:
        if isinstance(here, dict) and isinstance(part, str) and part in here:
            here = here[part]
        elif isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here):
            here = here[part]
        else:
            continue
        path.append(part)
    return tuple(path), here


class _Compiler:
    """Turns validated entries into ChildSpecs: imports classes, applies OTP's checks."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def trees(self, spec: SystemSpec) -> list[Tree]:
        trees: list[Tree] = []
        for i, entry in enumerate(spec.supervisors):
            first = next((j for j, t in enumerate(trees) if t.entry.id == entry.id), None)
            if first is not None:
                self.problems.append(self.doc.problem(
                    ("supervisors", i, "id"), f"the tree id is used twice (also "
                    f"supervisors[{first}])", entry.id))
            trees.append(self.tree(entry, ("supervisors", i)))
        return trees

    def tree(self, entry: SupervisorEntry, path: tuple[Any, ...]) -> Tree:
        flags = self.flags(entry, path)
        children = self.children(entry.children, flags, (*path, "children"))
        return Tree(entry, flags, children)

    def flags(self, section: Any, path: tuple[Any, ...]) -> SupFlags:
        raw = {k: getattr(section, k) for k in ("strategy", "intensity", "period",
                                                "auto_shutdown", "max_children")}
        if section.backoff is not None:
            raw["backoff"] = section.backoff.model_dump(exclude_none=True)
        try:
            return SupFlags.model_validate(raw)
        except SpecError as exc:
            self._spec_problem(exc, (*path, "backoff") if exc.code == "invalid_backoff" else path)
            return SupFlags()

    def children(self, entries: list[ChildEntry], flags: SupFlags,
                 path: tuple[Any, ...]) -> list[ChildSpec]:
        specs: list[ChildSpec] = []
        for i, entry in enumerate(entries):
            spec = self.child(entry, (*path, i))
            if spec is not None:
                specs.append(spec)
        if len(specs) == len(entries):
            try:
                return check_combination(flags, specs)
            except SpecError as exc:
                where = _culprit(exc, specs)
                self._spec_problem(exc, path if where is None else (*path, where))
        return specs

    def child(self, entry: ChildEntry, path: tuple[Any, ...]) -> ChildSpec | None:
        common: dict[str, Any] = {"id": entry.id, "restart": entry.restart,
                                  "shutdown": entry.shutdown, "significant": entry.significant,
                                  "name": entry.name}
        if entry.agent is not None:
            cls = self.agent_class(entry.agent, (*path, "agent"))
            if cls is None:
                return None
            spec: dict[str, Any] = {**common, "start": cls, "args": tuple(entry.args),
                                    "kwargs": entry.kwargs, "kind": entry.kind,
                                    "node": entry.node}
        elif entry.supervisor is not None:
            sup = entry.supervisor
            flags = self.flags(sup, (*path, "supervisor"))
            children = self.children(sup.children, flags, (*path, "supervisor", "children"))
            spec = {**common, "start": Supervisor, "type": "supervisor",
                    "kwargs": {**flags.model_dump(), "children": children}}
        else:
            assert entry.pool is not None
            pool = entry.pool
            cls = self.agent_class(pool.agent, (*path, "pool", "agent"))
            if cls is None:
                return None
            try:
                members = Pool.member_specs(cls, pool.size, args=tuple(pool.args),
                                            kwargs=pool.kwargs, nodes=pool.nodes, kind=pool.kind)
            except (SpecError, ValueError) as exc:
                self.problems.append(self.doc.problem((*path, "pool"), str(exc),
                                                      show_value=False))
                return None
            intensity = pool.size if pool.intensity is None else pool.intensity
            spec = {**common, "start": Supervisor, "type": "supervisor",
                    "kwargs": {"strategy": "one_for_one", "intensity": intensity,
                               "period": pool.period, "children": members}}
        try:
            return ChildSpec.model_validate(spec)
        except SpecError as exc:
            self._spec_problem(exc, path)
            return None

    def agent_class(self, path_text: str, path: tuple[Any, ...]) -> type[Any] | None:
        try:
            return resolve(path_text)
        except Exception as exc:  # noqa: BLE001 - any import failure is the user's to see
            hint = ""
            if isinstance(exc, ModuleNotFoundError):
                hint = ("; is the module in the file's directory, or in a `python_path` "
                        "directory, or installed?")
            why = str(exc) if isinstance(exc, (ImportError, ValueError)) else repr(exc)
            self.problems.append(self.doc.problem(path, f"cannot use the agent: {why}{hint}",
                                                  path_text))
            return None

    def _spec_problem(self, exc: SpecError, path: tuple[Any, ...]) -> None:
        message = str(exc).partition(": ")[2] or str(exc)
        field = exc.field
        where = (*path, field) if field and (*path, field) in self.doc.marks else path
        self.problems.append(self.doc.problem(where, f"{message} ({exc.code})",
                                              show_value=False))


def _culprit(exc: SpecError, specs: list[ChildSpec]) -> int | None:
    """The index of the child that ``check_combination`` refused (None: the list as a whole).

    Each spec passed alone, so what is left is a repeated id (the second use is the
    mistake) or a significant child under ``auto_shutdown: never``.
    """
    if exc.code == "duplicate_child_name":
        return [i for i, spec in enumerate(specs) if spec.id == exc.value][-1]
    if exc.code == "bad_combination":
        return next((i for i, spec in enumerate(specs) if spec.significant), None)
    return None
