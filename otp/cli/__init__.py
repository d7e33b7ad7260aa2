"""The ``otp-node`` command (layer 6).

Nothing imports this package: it sits on top of every other layer. The node
commands (start, ping, ls, stop, run, demo) arrive with the nodes feature;
until then ``otp-node`` offers ``--help`` and ``--version``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

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
The node commands (start a node, join peers, run a system file) arrive with
the nodes feature; see README.md for the project's status.

exit codes:
  0  success
  2  usage error (unknown option, or no command given)"""


def build_parser() -> argparse.ArgumentParser:
    """Return the ``otp-node`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="otp-node",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"otp-node {_version()}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``otp-node`` with ``argv`` (default: ``sys.argv[1:]``).

    Args:
        argv: The arguments, without the program name.

    Returns:
        The exit code: 0 on success, 2 on a usage error.
    """
    parser = build_parser()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        parser.parse_args(args)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    # No command exists yet, so reaching here means none was given.
    parser.print_help(sys.stderr)
    return 2
