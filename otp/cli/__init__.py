"""The ``otp-node`` command (layer 6).

Nothing imports this package: it sits on top of every other layer.
``otp-node start`` runs a node in the foreground and ``run`` a system file;
``ping``, ``ls``, ``status`` and ``stop`` talk to a running node as a hidden
client; ``check``, ``schema``, ``init`` and ``create`` work on system files;
``keys`` writes a CURVE key pair; ``demo`` shows a supervised team at work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from otp.cli import _commands, _demo, _status, _system

__all__ = ["main"]


def _version() -> str:
    """Return agent-otp's installed version (pyproject.toml is its one source)."""
    try:
        return metadata.version("agent-otp")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


DESCRIPTION = """\
agent-otp is Erlang/OTP for AI agents, in Python: agents are actors with
mailboxes, supervisors restart them when they crash, and nodes linked over
ZeroMQ let one supervision tree span many machines.

otp-node runs and manages agent-otp nodes from the shell."""

EPILOG = """\
examples:
  otp-node demo                          # a supervised team at work, crash and restart
  otp-node init myproject                # a new project: system.yaml, an agent, tests
  otp-node check system.yaml
  otp-node run system.yaml
  otp-node start --name a --listen tcp://127.0.0.1:7001
  otp-node start --name b --listen tcp://127.0.0.1:7002 --join tcp://127.0.0.1:7001
  otp-node ping tcp://127.0.0.1:7001
  otp-node ls tcp://127.0.0.1:7001 --json
  otp-node status tcp://127.0.0.1:7001
  otp-node stop tcp://127.0.0.1:7002

The cookie (the cluster's shared secret) comes from --cookie, --cookie-file,
$OTP_COOKIE, or ~/.otp/cookie (created on first use, mode 0600).

exit codes:
  0  success (start: stopped cleanly by SIGTERM, SIGINT or `otp-node stop`)
  1  failure: the node did not answer or refused us (ping/ls/stop), or
     start's shutdown left agents running
  2  usage or configuration error (bad option, address, cookie or key)
  3  start: the listen address could not be bound (in use?)"""

CONTROL_DOC = """\
It connects as a hidden client: it proves the cookie as a node does, but
the node does not take it for a peer. The cookie comes from --cookie,
--cookie-file, $OTP_COOKIE or ~/.otp/cookie, and must be the node's.

exit codes: 0 done; 1 no answer within --timeout, or refused (wrong
cookie?); 2 bad option, address, cookie or key."""

COOKIE_HELP = "the cluster's shared secret (visible in ps: prefer --cookie-file or $OTP_COOKIE)"


def _add_security(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("security")
    g.add_argument("--cookie", help=COOKIE_HELP)
    g.add_argument("--cookie-file", metavar="FILE", help="read the cookie from FILE (mode 0600)")
    g.add_argument("--curve-secret", metavar="FILE",
                   help="this side's CURVE secret key (NAME.key_secret from `otp-node keys`)")
    g.add_argument("--curve-allow", metavar="DIR",
                   help="directory of the public keys (*.key) accepted from peers")


def _add_status(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``otp-node status ADDR [--json] [--timeout S]``: a node's supervision trees."""
    text = "show a node's supervision trees: ids, kinds, states, restarts, uptimes"
    c = sub.add_parser("status", help=text, description=f"{_status.STATUS_DOC}\n\n{CONTROL_DOC}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("address", metavar="ADDR",
                   help="the node's listen address, tcp://HOST:PORT or ipc:///path "
                        "(ADDR#curve=KEY if the node uses CURVE)")
    c.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                   help="how long to wait for the node (default: %(default)s)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    _add_security(c)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``otp-node`` argument parser."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="otp-node", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=raw)
    parser.add_argument("--version", action="version", version=f"otp-node {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _demo.add_parser(sub)

    p = sub.add_parser("start", help="run a node in the foreground until SIGTERM or SIGINT",
                       formatter_class=raw, description=_commands.START_DOC)
    p.add_argument("--name", required=True, help="node name: NAME (the listen host is added) "
                   "or NAME@HOST")
    p.add_argument("--listen", default="tcp://127.0.0.1:*", metavar="ADDR",
                   help="tcp://HOST:PORT (PORT * picks a free one) or ipc:///path "
                        "(default: %(default)s)")
    p.add_argument("--join", action="append", default=[], metavar="ADDR",
                   help="address of a node to connect to (repeatable); its peers are joined too. "
                        "With CURVE: ADDR#curve=PUBLIC_KEY")
    p.add_argument("--advertise", metavar="ADDR",
                   help="the address peers use to reach this node, when it is not --listen "
                        "(required with a wildcard host such as tcp://0.0.0.0:7001; "
                        "a * port means the port bound)")
    p.add_argument("--heartbeat", type=float, default=1.0, metavar="SECONDS",
                   help="a silent peer is lost after this long (default: %(default)s)")
    p.add_argument("--spawn", action="append", default=[], metavar="MODULE:CLASS[=NAME]",
                   help="start this agent on the node at start-up, registered as NAME "
                        "(repeatable; the module must be importable)")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error", "critical"])
    p.add_argument("--log-format", default="console", choices=["console", "json"])
    _add_security(p)

    for name, text in (("ping", "check that a node answers; print its name and round trip"),
                       ("ls", "list a node's peers, agents and names"),
                       ("stop", "stop a node: its supervision trees in order, then the node")):
        c = sub.add_parser(name, help=text, description=f"{text}.\n\n{CONTROL_DOC}",
                           formatter_class=raw)
        c.add_argument("address", metavar="ADDR",
                       help="the node's listen address, tcp://HOST:PORT or ipc:///path "
                            "(ADDR#curve=KEY if the node uses CURVE)")
        c.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                       help="how long to wait for the node (default: %(default)s)")
        if name == "ls":
            c.add_argument("--json", action="store_true", help="print one JSON object")
        _add_security(c)

    _add_status(sub)

    _system.add_parsers(sub)

    k = sub.add_parser("keys", help="write a CURVE key pair: NAME.key (public) and "
                       "NAME.key_secret", description=_commands.KEYS_DOC, formatter_class=raw)
    k.add_argument("--dir", required=True, help="directory to write the key files in")
    k.add_argument("--name", required=True, help="file name stem, usually the node's name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``otp-node`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    if ns.command is None:
        parser.print_help(sys.stderr)
        return 2
    run = {"demo": _demo.demo,
           "start": _commands.start, "ping": _commands.ping, "ls": _commands.ls,
           "stop": _commands.stop, "keys": _commands.keys, "status": _status.status,
           "run": _system.run, "check": _system.check, "schema": _system.schema,
           "init": _system.init, "create": _system.create}[ns.command]
    return run(ns)
