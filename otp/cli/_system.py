"""``otp-node run | check | schema | init | create``: system files, from the shell."""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
from pathlib import Path
from typing import Any

from otp import _log
from otp.cli import _templates
from otp.cli._commands import _err, serve, start_failed, stop_on_signals
from otp.errors import StartError, SystemSpecError
from otp.node import ConfigError
from otp.system import System, json_schema, load, load_text
from otp.system._yaml import append_item

__all__ = ["add_parsers", "check", "create", "init", "run", "schema"]

RUN_DOC = """\
Run the system in FILE: start the node it declares (or one named after the
file, on loopback), then each supervision tree in order. Serve until
SIGTERM, SIGINT or `otp-node stop ADDR`; then stop the trees in reverse
order, each fully, and the node.

Prints `node NAME listening on ADDRESS`, then one line per tree started.
If a tree's supervisor gives up (its restart intensity is exceeded), the
node stops and exits 1, as OTP stops a node whose permanent application
ended: let your service manager (systemd, Kubernetes) restart it.

exit codes: 0 stopped cleanly; 1 a tree failed to start or ended, or agents
had to be killed at shutdown; 2 the file is invalid (every problem is
listed with its line), or a bad option; 3 the listen address is in use."""

CHECK_DOC = """\
Validate FILE without starting anything: its YAML, every key and value, and
that each agent class imports. Prints `ok: ...` and exits 0, or lists every
problem (file:line:column: key.path: value: what is allowed) on stderr and
exits 2."""

INIT_DOC = """\
Create a new project in DIR (created if needed; existing files are never
overwritten): system.yaml, system.schema.json (editor completion), a package
with one agent, tests that pass, and a README. Then:
  cd DIR && otp-node check system.yaml && python -m pytest tests && otp-node run system.yaml"""

CREATE_DOC = """\
Add an agent to the project in --dir (default: .): PACKAGE/NAME.py from a
template, tests/test_NAME.py, and a child entry in the system file's tree
(--tree, default: the first). The system file is checked before it is
written, and existing files are never overwritten.

templates: basic (a thread agent), async (async def handlers on the node's
event loop), llm (calls a model through complete(prompt); an offline canned
model by default)."""

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def add_parsers(sub: Any) -> None:
    """Add ``run``, ``check``, ``schema``, ``init`` and ``create`` to ``otp-node``."""
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("run", help="run a system file: its node and supervision trees",
                       description=RUN_DOC, formatter_class=raw)
    p.add_argument("file", metavar="FILE", help="the system file (YAML)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error", "critical"],
                   help="override the file's log.level")
    p.add_argument("--log-format", choices=["console", "json"],
                   help="override the file's log.format")
    c = sub.add_parser("check", help="validate a system file; start nothing",
                       description=CHECK_DOC, formatter_class=raw)
    c.add_argument("file", metavar="FILE", help="the system file (YAML)")
    sub.add_parser("schema", help="print the JSON Schema of system files (for editors)",
                   description="Print the JSON Schema of system files on stdout. Save it "
                   "beside your system file and point your editor at it, e.g. with the "
                   "first line `# yaml-language-server: $schema=system.schema.json`.")
    i = sub.add_parser("init", help="create a new project: system.yaml, an agent, tests",
                       description=INIT_DOC, formatter_class=raw)
    i.add_argument("dir", metavar="DIR", help="the project directory")
    k = sub.add_parser("create", help="add an agent (from a template) to a project",
                       description=CREATE_DOC, formatter_class=raw)
    k.add_argument("name", metavar="NAME", help="the agent's module and child id: "
                   "lower_case_with_underscores")
    k.add_argument("--template", default="basic", choices=sorted(_templates.AGENTS),
                   help="what kind of agent (default: %(default)s)")
    k.add_argument("--dir", default=".", help="the project directory (default: .)")
    k.add_argument("--system", default="system.yaml", metavar="FILE",
                   help="the system file, relative to --dir (default: %(default)s)")
    k.add_argument("--tree", help="the id of the tree to add the child to (default: the first)")


def _problems(exc: SystemSpecError) -> int:
    print(exc, file=sys.stderr)
    return 2


def check(ns: Any) -> int:
    try:
        plan = load(ns.file)
    except SystemSpecError as exc:
        return _problems(exc)
    trees = ", ".join(f"{t.entry.id} ({_count(t.children)})" for t in plan.trees)
    print(f"ok: {ns.file}: node {plan.node_name}; trees: {trees}")
    return 0


def _count(children: list[Any]) -> str:
    n = len(children)
    return f"{n} child{'ren' if n != 1 else ''}"


def schema(ns: Any) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def run(ns: Any) -> int:
    try:
        plan = load(ns.file)
    except SystemSpecError as exc:
        return _problems(exc)
    _log.configure_logging(ns.log_level or plan.spec.log.level,
                           ns.log_format or plan.spec.log.format)
    stop = stop_on_signals()
    try:
        system = System.start(plan, node=True)
    except (ConfigError, OSError, StartError) as exc:
        return start_failed(exc)
    node = system.node
    print(f"node {node.name} listening on {node.address}", flush=True)
    for tree in plan.trees:
        print(f"started tree {tree.entry.id} ({_count(tree.children)})", flush=True)
    return serve(node, stop, lambda: None if system.ended() is None else system.describe_end())


# -- scaffolding -------------------------------------------------------------------------
def _package_name(directory: Path) -> str:
    name = re.sub(r"\W", "_", directory.resolve().name.lower()).strip("_") or "app"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"app_{name}"
    return name


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part)


def _write_new(files: dict[Path, str]) -> str | None:
    """Write ``files`` unless one exists already; return the first that exists, or None."""
    for path in files:
        if path.exists():
            return str(path)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return None


def init(ns: Any) -> int:
    root = Path(ns.dir)
    if root.exists() and not root.is_dir():
        _err(f"{ns.dir!r} exists and is not a directory")
        return 2
    package = _package_name(root)
    fields = {"project": package, "package": package, "agent": "greeter", "cls": "Greeter"}
    files = {
        root / "system.yaml": _templates.SYSTEM.format(**fields),
        root / "system.schema.json": json.dumps(json_schema(), indent=2) + "\n",
        root / "README.md": _templates.README.format(**fields),
        root / package / "__init__.py": _templates.PACKAGE_INIT.format(**fields),
        root / package / "greeter.py": _templates.AGENTS["basic"].format(**fields),
        root / "tests" / "conftest.py": _templates.CONFTEST,
        root / "tests" / "test_greeter.py": _templates.TEST.format(**fields),
    }
    exists = _write_new(files)
    if exists is not None:
        _err(f"{exists!r} already exists: init never overwrites; choose a new directory")
        return 2
    print(f"created {root}/ with package {package}/ (agent greeter), system.yaml and tests/")
    print(f"next: cd {root} && otp-node check system.yaml && python -m pytest tests "
          "&& otp-node run system.yaml")
    return 0


def create(ns: Any) -> int:
    name = ns.name
    if not _NAME.match(name) or keyword.iskeyword(name):
        _err(f"NAME {name!r}: use lower_case_with_underscores (a Python module name), "
             "e.g. fact_checker")
        return 2
    root = Path(ns.dir)
    system_file = root / ns.system
    package = _package_name(root)
    if not (root / package / "__init__.py").is_file():
        _err(f"no package {package}/ in {ns.dir!r}: run `otp-node create` in a project made "
             "by `otp-node init` (or pass --dir)")
        return 2
    try:
        text = system_file.read_text(encoding="utf-8")
        plan = load(system_file)
    except OSError as exc:
        _err(f"cannot read the system file: {exc}")
        return 2
    except SystemSpecError as exc:
        _err("fix the system file first:")
        return _problems(exc)
    ids = [t.entry.id for t in plan.trees]
    tree = ns.tree or ids[0]
    if tree not in ids:
        _err(f"--tree {tree!r}: the trees in {ns.system} are {', '.join(ids)}")
        return 2
    fields = {"project": package, "package": package, "agent": name, "cls": _class_name(name)}
    try:
        new_text = append_item(text, ("supervisors", ids.index(tree), "children"),
                               _templates.CHILD.format(**fields))
    except ValueError as exc:
        _err(f"cannot add the child to {ns.system}: {exc}; add this entry to tree {tree!r} "
             f"by hand:\n{_templates.CHILD.format(**fields)}")
        return 2
    files = {root / package / f"{name}.py": _templates.AGENTS[ns.template].format(**fields),
             root / "tests" / f"test_{name}.py": _templates.TEST.format(**fields)}
    exists = _write_new(files)
    if exists is not None:
        _err(f"{exists!r} already exists: create never overwrites; choose another NAME")
        return 2
    try:
        load_text(new_text, str(system_file), base=root.resolve())
    except SystemSpecError as exc:  # never write a system file that does not check
        for path in files:
            path.unlink()
        _err(f"the new entry would make {ns.system} invalid; nothing was changed:")
        return _problems(exc)
    system_file.write_text(new_text, encoding="utf-8")
    print(f"created {package}/{name}.py ({ns.template}) and tests/test_{name}.py; "
          f"added child {name!r} to tree {tree!r} in {ns.system}")
    return 0
