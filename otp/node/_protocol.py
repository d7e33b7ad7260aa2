"""What nodes say to each other, and the checks made before they may say it.

The handshake (on a link's connection, answered by the peer's ROUTER)::

    A -> B   ("hello", PROTOCOL, a_name, nonce_a)
    B -> A   ("challenge", b_name, nonce_b, hmac(cookie, "B" nonce_a nonce_b b_name))
    A -> B   ("auth", a_name, hmac(cookie, "A" nonce_b nonce_a a_name), a_address, a_key, hidden)
    B -> A   ("welcome", b_name, peers)   or   ("rejected", why)

If B's proof is wrong, A answers ``("rejected", "bad_cookie")`` instead of
its auth (so B logs the failure too) and gives up the link. Global names
follow the welcome as operations. Both sides prove the cookie; it never travels. Until B has checked A's proof,
A's connection touches nothing but a bounded table of open challenges.

After the handshake every frame is a batch of operations, arrays headed by
an ``int`` (the ``OP_*`` codes below); a tell's or an ask's target is the
agent's id and class name, not a ref (it is an agent of the receiving node).
A hidden client (``otp-node ping``, ``ls``, ``stop``) sends single
``("ping",)``, ``("info",)`` or ``("stop",)`` requests instead and reads the
answers on its own connection.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import socket
import stat
from pathlib import Path

from otp.errors import OTPError

__all__ = ["PROTOCOL", "ConfigError", "load_cookie", "node_name", "parse_address", "proof"]

PROTOCOL = 1

(OP_TELL, OP_ASK, OP_REPLY, OP_LINK, OP_UNLINK, OP_EXIT, OP_MONITOR, OP_DEMONITOR, OP_DOWN,
 OP_SHUTDOWN, OP_SPAWN, OP_GLOBAL_ADD, OP_GLOBAL_DEL, OP_GLOBAL_CLAIM) = range(1, 15)

COOKIE_ENV = "OTP_COOKIE"
COOKIE_FILE = Path("~/.otp/cookie")


class ConfigError(OTPError, ValueError):
    """A node's settings are wrong (name, address, cookie, keys); the message says what to do."""


def proof(cookie: bytes, role: bytes, mine: bytes, theirs: bytes, name: str) -> bytes:
    """The HMAC-SHA256 a side sends to prove it holds the cookie."""
    return hmac.new(cookie, role + mine + theirs + name.encode(), hashlib.sha256).digest()


def nonce() -> bytes:
    return os.urandom(16)


def load_cookie(cookie: str | None = None, cookie_file: str | os.PathLike[str] | None = None, *,
                create: bool = True) -> bytes:
    """Find the cluster's cookie: the argument, ``cookie_file``, ``$OTP_COOKIE``, then ~/.otp/cookie.

    The default file is created with a random cookie (mode 0600) when missing,
    as Erlang does with ~/.erlang.cookie. A cookie file readable by others is
    refused.

    Raises:
        ConfigError: an empty cookie, a missing or unsafe cookie file.
    """
    if cookie is not None:
        return _nonempty(cookie, "the cookie")
    if cookie_file is not None:
        return _read_cookie(Path(cookie_file))
    env = os.environ.get(COOKIE_ENV)
    if env is not None:
        return _nonempty(env, f"${COOKIE_ENV}")
    path = COOKIE_FILE.expanduser()
    if not path.exists() and create:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24) + "\n")
    return _read_cookie(path)


def _nonempty(value: str, what: str) -> bytes:
    if not value.strip():
        msg = f"{what} is empty; every node of a cluster needs the same non-empty cookie"
        raise ConfigError(msg)
    return value.strip().encode()


def _read_cookie(path: Path) -> bytes:
    if not path.is_file():
        msg = f"cookie file {str(path)!r} does not exist; create it (mode 0600) or pass --cookie"
        raise ConfigError(msg)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        msg = (f"cookie file {str(path)!r} is readable by others; "
               f"run `chmod 600 {path}` (a shared cookie is the cluster's password)")
        raise ConfigError(msg)
    return _nonempty(path.read_text(), f"cookie file {str(path)!r}")


def parse_address(address: str) -> tuple[str, str | None]:
    """Split ``tcp://host:port[#curve=KEY]`` or ``ipc://path`` into (endpoint, key or None).

    Raises:
        ConfigError: not a tcp:// or ipc:// address.
    """
    if not isinstance(address, str) or not address.startswith(("tcp://", "ipc://")):
        msg = (f"address {address!r} is not a ZeroMQ endpoint; use tcp://HOST:PORT "
               "(PORT may be * for any free port) or ipc:///path/to/socket")
        raise ConfigError(msg)
    endpoint, _, key = address.partition("#curve=")
    if address.startswith("tcp://"):
        host, sep, port = endpoint[6:].rpartition(":")
        if not sep or not host or not (port == "*" or port.isdigit()):
            msg = f"address {address!r} needs a host and a port: tcp://127.0.0.1:7001"
            raise ConfigError(msg)
    return endpoint, key or None


def is_loopback(endpoint: str) -> bool:
    """Whether an endpoint is reachable only from this machine (ipc, 127.0.0.0/8, ::1)."""
    if endpoint.startswith("ipc://"):
        return True
    host = endpoint[6:].rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def node_name(name: str, endpoint: str) -> str:
    """``name@host``: ``name`` as given if it has an ``@``, else with the listen host.

    Raises:
        ConfigError: an empty name or one with characters other than letters,
            digits, ``-``, ``_``, ``.`` and one ``@``.
    """
    if not isinstance(name, str) or not name:
        msg = f"node name {name!r} must be a non-empty str such as 'a' or 'a@host'"
        raise ConfigError(msg)
    if "@" not in name:
        host = endpoint[6:].rpartition(":")[0].strip("[]") if endpoint.startswith("tcp://") else ""
        if not host or host in ("*", "0.0.0.0", "::"):  # noqa: S104 - naming, not binding
            host = socket.gethostname()
        name = f"{name}@{host}"
    local, _, host = name.partition("@")
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
    if not local or not host or "@" in host or not set(local + host) <= allowed:
        msg = f"node name {name!r}: use letters, digits, '-', '_', '.' around one '@' (a@host)"
        raise ConfigError(msg)
    return name
