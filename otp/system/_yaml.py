"""Reading a system file: YAML to plain values, with the line of every key (PyYAML lives here).

``read(text, file)`` returns a :class:`Document`: the data as dicts, lists
and scalars, the position of every key path (so a validation error can name
its line), and which values came from ``${VAR}`` (so an error never prints a
secret). Differences from PyYAML's ``safe_load``, each one a trap for a
config file:

- booleans are only ``true``/``false`` (YAML 1.2): ``no``, ``on``, ``y``
  stay strings (the "Norway problem");
- a key given twice in one mapping is an error, not a silent overwrite;
- ``${VAR}`` in a string is replaced by the environment variable (``${VAR:-default}``
  when unset or empty; ``$$`` is a literal ``$``); an unset variable without a
  default is an error naming its line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from otp.errors import Problem

__all__ = ["Document", "Path", "append_item", "read", "show_path"]

Path: TypeAlias = tuple[str | int, ...]
_BOOL = "tag:yaml.org,2002:bool"
_STR = "tag:yaml.org,2002:str"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{([^}]*)\}?")
_MAX_DEPTH = 64
_MAX_VALUES = 100_000  # values built from one file: aliases of aliases cannot blow it up


class _Resolver(Resolver):
    """YAML 1.1's resolver with YAML 1.2's booleans (only true/false)."""


_Resolver.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in rules if tag != _BOOL]
    for first, rules in Resolver.yaml_implicit_resolvers.items()
}
_Resolver.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                list("tTfF"))


class _Loader(Reader, Scanner, Parser, Composer, SafeConstructor, _Resolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _Resolver.__init__(self)


@dataclass
class Document:
    """A read system file: ``data``, each key path's (line, column) (1-based), and the paths
    whose value came from ``${VAR}`` with the text written there."""

    file: str
    data: Any = None
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)  # where each value is
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)  # where each key is
    written: dict[Path, str] = field(default_factory=dict)  # path -> the ${...} text
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: Path, at_key: bool = False) -> tuple[int | None, int | None]:
        """The position of ``path``'s value (or key), or of its nearest ancestor's value."""
        if at_key and path in self.keys:
            return self.keys[path]
        for n in range(len(path), -1, -1):
            if path[:n] in self.marks:
                return self.marks[path[:n]]
        return None, None

    def problem(self, path: Path, message: str, value: Any = None, *,
                show_value: bool = True, at_key: bool = False) -> Problem:
        """A Problem at ``path``; the value as written (``${VAR}`` rather than a secret)."""
        line, column = self.where(path, at_key)
        shown: str | None = None
        if path in self.written:
            shown = self.written[path]
        elif show_value:
            shown = _short(value)
        return Problem(self.file, line, column, show_path(path), shown, message)


def show_path(path: Path) -> str:
    """``("supervisors", 0, "children", 1, "restart")`` -> ``supervisors[0].children[1].restart``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read(text: str, file: str, env: Mapping[str, str] | None = None) -> Document:
    """Read YAML ``text`` (named ``file`` in messages); problems are collected, never raised."""
    doc = Document(file)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        doc.problems.append(Problem(file, line, column, "", None, f"YAML syntax: {what}"))
        return doc
    except yaml.YAMLError as exc:  # a reader error: bad characters
        doc.problems.append(Problem(file, None, None, "", None, f"YAML: {exc}"))
        return doc
    finally:
        loader.dispose()
    if root is None:
        return doc
    builder = _Builder(doc, loader, os.environ if env is None else env)
    doc.data = builder.value(root, ())
    return doc


class _Builder:
    """Turns composed nodes into values, recording marks, duplicates and ${VAR} uses."""

    def __init__(self, doc: Document, loader: _Loader, env: Mapping[str, str]) -> None:
        self.doc = doc
        self.loader = loader
        self.env = env
        self.count = 0

    def value(self, node: Node, path: Path) -> Any:
        self.doc.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.count += 1
        if self.count > _MAX_VALUES:
            if self.count == _MAX_VALUES + 1:
                self.doc.problems.append(self.doc.problem(
                    path, f"more than {_MAX_VALUES:,} values (aliases of aliases?); a system "
                    "file is far smaller", show_value=False))
            return None
        if len(path) > _MAX_DEPTH:
            self.doc.problems.append(self.doc.problem(path, f"nested deeper than {_MAX_DEPTH} "
                                                      "levels (a recursive alias?)",
                                                      show_value=False))
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        try:
            scalar = self.loader.construct_object(node, deep=True)
        except ConstructorError as exc:
            self.doc.problems.append(self.doc.problem(path, f"YAML: {exc.problem}",
                                                      show_value=False))
            return None
        if node.tag == _STR and "$" in scalar:
            return self._interpolate(scalar, path)
        return scalar

    def _mapping(self, node: MappingNode, path: Path) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:  # duplicates among the keys written here (not merged)
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, ScalarNode):
                continue
            mark = key_node.start_mark
            if key_node.value in seen:
                here = (*path, key_node.value)
                self.doc.problems.append(Problem(
                    self.doc.file, mark.line + 1, mark.column + 1, show_path(here), None,
                    f"the key is given twice in one mapping (first on line "
                    f"{seen[key_node.value]}); YAML would silently keep only the last one"))
            seen.setdefault(key_node.value, mark.line + 1)
        try:
            self.loader.flatten_mapping(node)  # YAML merge keys (<<: *base); later keys win
        except ConstructorError as exc:
            self.doc.problems.append(self.doc.problem(path, f"YAML: {exc.problem}",
                                                      show_value=False))
            return {}
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                self.doc.problems.append(self.doc.problem(
                    path, f"a key must be a string, got {_short(key)}", show_value=False))
                continue
            here = (*path, key)
            mark = key_node.start_mark
            self.doc.keys[here] = (mark.line + 1, mark.column + 1)
            out[key] = self.value(value_node, here)
        return out

    def _interpolate(self, text: str, path: Path) -> str:
        """Replace ``${VAR}``/``${VAR:-default}``; ``$$`` is ``$``. Records the written text."""
        used = False

        def sub(m: re.Match[str]) -> str:
            nonlocal used
            if m[0] == "$$":
                return "$"
            if m[3] is not None or m[1] is None:
                self.doc.problems.append(self.doc.problem(
                    path, f"{m[0]!r} is not a variable reference; write ${{NAME}} or "
                    "${NAME:-default} (NAME: letters, digits, _), or $$ for a literal $",
                    show_value=False))
                return m[0]
            used = True
            name, default = m[1], m[2]
            found = self.env.get(name)
            if found:
                return found
            if default is not None:
                return default
            self.doc.problems.append(self.doc.problem(
                path, f"${{{name}}} is not set: export {name}, or give a default with "
                f"${{{name}:-default}}", show_value=False))
            return ""

        result = _VAR.sub(sub, text)
        if used:
            self.doc.written[path] = text
        return result


def append_item(text: str, path: Path, item: str) -> str:
    """Return ``text`` with ``item`` (YAML for one list entry, unindented, starting ``- ``)
    added at the end of the block list at ``path``, indented as its entries are; comments
    and layout elsewhere are kept.

    Raises:
        ValueError: ``path`` is not a non-empty block list (``children: []`` for one).
    """
    node: Node | None = _Loader(text).get_single_node()
    for part in path:
        if isinstance(node, MappingNode) and isinstance(part, str):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            msg = f"{show_path(path)} is not in the file"
            raise ValueError(msg)
    if not isinstance(node, SequenceNode) or node.flow_style or not node.value:
        msg = f"{show_path(path)} is not a block list with entries (one '- ' per line)"
        raise ValueError(msg)
    lines = text.splitlines(keepends=True)
    last = node.value[-1].end_mark
    at = last.line + (1 if last.column > 0 else 0)  # the line after the last entry
    while at > 0 and not lines[at - 1].strip():  # keep blank lines after the list below it
        at -= 1
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    indent = " " * (node.value[0].start_mark.column - 2)
    added = [indent + ln if ln.strip() else ln for ln in item.splitlines(keepends=True)]
    if added and not added[-1].endswith("\n"):
        added[-1] += "\n"
    return "".join(lines[:at] + added + lines[at:])
