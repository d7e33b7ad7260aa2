"""What a node refuses: a wrong cookie, garbage, malformed operations, oversized frames,
keys not on its CURVE allow-list, and listening beyond loopback without CURVE.

After each, the node is still up (``otp-node ping`` answers) and the refusal
is counted in ``otp-node ls --json`` stats or logged as ``peer_rejected``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import zmq
from cluster import COOKIE, NodeProcess, node_env

import otp.node
from otp.codec import Codec, CodecError
from otp.node._client import Client, Unreachable
from otp.node._protocol import OP_TELL, PROTOCOL

WAIT = 5.0


def stats(proc: NodeProcess, **client: Any) -> dict[str, Any]:
    result: dict[str, Any] = proc.info(**client)["stats"]
    return result


def wait_until(check: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def assert_up(proc: NodeProcess, *, cli: bool = False) -> None:
    """The node still runs and answers a ping (``otp-node ping`` itself with ``cli``)."""
    if cli:
        result = proc.cli("ping")
        assert result.returncode == 0, result.stderr
        assert f"pong from {proc.name}" in result.stdout
    else:
        with Client(proc.address, cookie=COOKIE) as client:
            assert client.ping() < WAIT
    assert proc.proc.poll() is None


# -- the cookie -----------------------------------------------------------------------------
def test_a_wrong_cookie_never_connects_and_both_sides_log_it(
        tmp_path: Path, cluster: Callable[..., NodeProcess],
        start_node: Callable[..., otp.node.Node]) -> None:
    """This node and otp-node b have the wrong cookie for a: they join a, and are refused."""
    at = f"ipc://{tmp_path}/a.sock"  # known in advance: a and b start together
    a = cluster("a", listen=at, wait=False)
    b = cluster("b", "--join", at, cookie="other-cookie", wait=False)
    a.wait_ready()
    b.wait_ready()
    with structlog.testing.capture_logs() as logs:
        here = start_node(join=[a.address], cookie="not-the-cookie")
        record = a.wait_logged("peer_rejected", timeout=WAIT, reason="bad_cookie",
                               peer=here.name)
        assert not here.wait_for([a.name], 1, 0.3)
    ours = [e for e in logs if e["event"] == "peer_rejected"]
    assert [e["reason"] for e in ours] == ["bad_cookie"]
    assert ours[0]["address"] == a.address
    assert "did not prove the cookie" in ours[0]["detail"]
    assert "same cookie" in record["detail"]
    assert otp.node.nodes() == []
    a.wait_logged("peer_rejected", timeout=WAIT, reason="bad_cookie", peer=b.name)
    b.wait_logged("peer_rejected", timeout=WAIT, reason="bad_cookie")
    info = a.info()
    assert info["nodes"] == [] and info["agents"] == []  # nothing else touched
    assert info["stats"]["rejected"] == 2
    assert [p for p in b.info(cookie="other-cookie")["nodes"] if p["state"] == "up"] == []
    assert not a.logged("node_up") and not b.logged("node_up")
    # a hidden client (otp-node ping) with the wrong cookie: refused
    with pytest.raises(Unreachable, match="did not prove the cookie"), \
            Client(a.address, cookie="not-the-cookie"):
        pass


# -- garbage on the wire ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def target() -> Iterator[NodeProcess]:
    """One otp-node the module's garbage is thrown at (each test counts its own drops)."""
    proc = NodeProcess("target")
    try:
        yield proc
    finally:
        proc.stop()


def dropped(proc: NodeProcess) -> Counter[str]:
    return Counter(stats(proc)["frames_dropped"])


def raw_dealer(address: str) -> tuple[zmq.Context[Any], zmq.Socket[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.connect(address)
    return ctx, sock


def test_garbage_frames_are_dropped_counted_and_the_node_stays_up(target: NodeProcess) -> None:
    before, info_before = dropped(target), target.info()
    codec = Codec()
    garbage = [
        b"",  # empty
        b"\x07hello",  # unknown wire version
        b"\x01\xc1",  # msgpack's never-used byte
        b"\x01\x93\x01",  # an array of 3 with 1 item: truncated
        b"\x01" + b"\xff" * 1000,
        codec.encode(("tell", "x", "y")),  # well formed, but before any handshake
        codec.encode(("hello", PROTOCOL + 1, "x@y", b"n" * 16)),  # unknown protocol
        codec.encode(("auth", "x@y", b"p", None, None, False)),  # auth without a challenge
        codec.encode(("hello", PROTOCOL, "x@y", "not bytes")),
    ]
    ctx, sock = raw_dealer(target.address)
    try:
        for frame in garbage:
            sock.send(frame)
        sock.send_multipart([b"two", b"parts"])
        # a hello and then an auth whose proof is wrong
        sock.send(codec.encode(("hello", PROTOCOL, "mallory@x", b"n" * 16)))
        answers = []
        while sock.poll(int(WAIT * 1000)) and len(answers) < 10:
            answers.append(codec.decode(sock.recv()))
            if answers[-1][0] == "challenge":
                break
        # the bad hellos and the auth without a challenge were refused, then the challenge
        assert [m[0] for m in answers] == ["rejected"] * 3 + ["challenge"]
        assert sorted(m[1] for m in answers[:3]) == ["protocol", "protocol", "unauthenticated"]
        sock.send(codec.encode(("auth", "mallory@x", b"\x00" * 32, "tcp://127.0.0.1:1",
                                None, False)))
        assert sock.poll(int(WAIT * 1000))
        assert codec.decode(sock.recv()) == ("rejected", "bad_cookie")
    finally:
        ctx.destroy(0)
    assert_up(target, cli=True)
    new = dropped(target) - before
    assert new["empty"] == 2  # the empty frame and the two-part one
    assert new["version"] == 1
    assert new["malformed"] + new["truncated"] + new["trailing"] == 3
    assert new["unauthenticated"] == 1
    info = target.info()
    # unauthenticated, protocol twice, auth without a challenge, the bad cookie
    assert info["stats"]["rejected"] - info_before["stats"]["rejected"] == 5
    assert target.wait_logged("peer_rejected", reason="bad_cookie", peer="mallory@x")
    assert info["nodes"] == info_before["nodes"] and info["agents"] == info_before["agents"]


def test_oversized_frames_are_dropped(target: NodeProcess) -> None:
    before = dropped(target)
    ctx, sock = raw_dealer(target.address)
    try:
        sock.send(b"\x01" + b"\x00" * (2 << 20))  # over the node's 1 MiB frame limit
        sock.send(b"\x01" + b"\x00" * (17 << 20))  # over libzmq's limit: the connection is cut
        time.sleep(0.3)
    finally:
        ctx.destroy(0)
    assert wait_until(lambda: (dropped(target) - before)["oversized"] == 1)
    assert_up(target)


def test_an_authenticated_peer_sending_bad_operations_is_counted_not_obeyed(
        target: NodeProcess, start_node: Callable[..., otp.node.Node]) -> None:
    here = start_node(join=[target.address])
    otp.node.wait_for(target.name, timeout=10)
    before = dropped(target)
    echo = otp.node.spawn(target.name, "remote_agents:Echo")
    peer = here.peer_for(target.name)
    assert peer is not None
    bad = [(99, "x"), (OP_TELL,), (OP_TELL, "not a ref", 0, "m"), ("tell",), 42,
           (OP_TELL, echo, 99, "unknown message kind")]
    for op in bad:
        assert peer.send(op)
    assert echo.ask("still fine", timeout=WAIT) == ("echo", "still fine")
    assert wait_until(lambda: (dropped(target) - before)["bad_operation"] == len(bad))
    assert target.wait_logged("frame_dropped", reason="bad_operation")
    assert_up(target)
    assert target.name in otp.node.nodes()
    assert echo.stop(timeout=WAIT)


def test_a_frame_over_the_receivers_limit_is_dropped_there(
        target: NodeProcess, start_node: Callable[..., otp.node.Node]) -> None:
    """Our limit is 4 MiB, the target's 1 MiB: it drops our 2 MiB frame and carries on."""
    start_node(join=[target.address], max_frame=4 << 20)
    otp.node.wait_for(target.name, timeout=10)
    echo = otp.node.spawn(target.name, "remote_agents:Echo")
    before = dropped(target)
    echo.tell(b"x" * (2 << 20))
    assert wait_until(lambda: (dropped(target) - before)["oversized"] == 1)
    assert echo.ask("small", timeout=WAIT) == ("echo", "small")
    assert echo.proxy().count.get(timeout=WAIT) == 1  # the big one never arrived
    # a message over our own limit is refused at once, in the sender
    with pytest.raises(CodecError) as info:
        echo.tell(b"x" * (5 << 20))
    assert info.value.reason == "oversized"
    assert echo.stop(timeout=WAIT)


def test_hidden_clients_are_not_remembered_for_ever(start_node: Callable[..., otp.node.Node]
                                                     ) -> None:
    """Each `otp-node ping` is a new connection; the node keeps a bounded number of them."""
    from otp.node._handshake import _HIDDEN_SESSIONS

    here = start_node()
    for _ in range(_HIDDEN_SESSIONS + 10):
        with Client(here.address, cookie=COOKIE) as client:
            client.ping()
    assert len(here.sessions) == _HIDDEN_SESSIONS
    with Client(here.address, cookie=COOKIE) as client:  # the newest one still works
        assert client.info()["node"] == here.name


# -- CURVE -------------------------------------------------------------------------------------
def public_key(path: Path) -> str:
    return path.read_text().split('public-key = "')[1].split('"')[0]


def keys_with_cli(directory: Path, name: str) -> tuple[Path, Path, str]:
    result = subprocess.run([sys.executable, "-m", "otp.cli", "keys", "--dir", str(directory),
                             "--name", name], capture_output=True, text=True, env=node_env(),
                            timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    public, secret = directory / f"{name}.key", directory / f"{name}.key_secret"
    assert secret.stat().st_mode & 0o077 == 0
    key = public_key(public)
    assert f"public key: {key}" in result.stdout
    return public, secret, key


def test_curve_nodes_with_each_others_keys_connect_and_others_are_refused(
        tmp_path: Path, cluster: Callable[..., NodeProcess],
        start_node: Callable[..., otp.node.Node]) -> None:
    keys, allow_a, allow_t, allow_c = (tmp_path / d for d in ("keys", "allow_a", "allow_t",
                                                               "allow_c"))
    for d in (allow_a, allow_t, allow_c):
        d.mkdir()
    a_pub, a_secret, a_key = keys_with_cli(keys, "a")
    t_pub, t_secret = otp.node.create_keys(keys, "t")
    _c_pub, c_secret = otp.node.create_keys(keys, "c")
    (allow_a / "t.key").write_text(t_pub.read_text())  # a accepts t (and not c)
    (allow_t / "a.key").write_text(a_pub.read_text())  # t accepts a
    (allow_c / "a.key").write_text(a_pub.read_text())  # c would accept a
    a = cluster("a", "--curve-secret", str(a_secret), "--curve-allow", str(allow_a))
    a_addr = f"{a.address}#curve={a_key}"
    start_node(join=[a_addr], curve_secret=t_secret, curve_allow=allow_t)
    otp.node.wait_for(a.name, timeout=10)
    echo = otp.node.spawn(a.name, "remote_agents:Echo")
    assert echo.ask("encrypted", timeout=WAIT) == ("echo", "encrypted")
    # a node whose key a does not accept, and a node without CURVE: refused, and they give up
    # (libzmq alone would retry at once, hundreds of times a second)
    c, p = cluster.many(("c", "--join", a_addr, "--curve-secret",  # type: ignore[attr-defined]
                         str(c_secret), "--curve-allow", str(allow_c)),
                        ("p", "--join", a.address))
    a.wait_logged("peer_rejected", timeout=WAIT, reason="curve_auth")
    c.wait_logged("peer_rejected", timeout=WAIT, reason="curve_auth")
    p.wait_logged("peer_rejected", timeout=WAIT)  # curve_protocol, or curve_handshake: retried
    time.sleep(0.7)
    assert len(c.logged("peer_rejected")) == 1  # not retried
    assert len(p.logged("peer_rejected")) <= 3  # given up, or retried after 0.5 s, then 1 s
    assert len(a.logged("peer_rejected")) <= 4
    assert not c.logged("node_up") and not p.logged("node_up")
    client = {"address": a_addr, "curve_secret": str(t_secret), "curve_allow": str(allow_t)}
    assert [p["name"] for p in a.info(**client)["nodes"]] == ["t@127.0.0.1"]
    # a plain (not CURVE) client cannot talk to it at all
    with pytest.raises(Unreachable), Client(a.address, cookie=COOKIE, timeout=0.5):
        pass
    assert echo.ask("still", timeout=WAIT) == ("echo", "still")


def test_curve_configuration_errors_are_clear(tmp_path: Path,
                                              start_node: Callable[..., otp.node.Node]) -> None:
    public, secret = otp.node.create_keys(tmp_path, "x")
    with pytest.raises(otp.node.ConfigError, match="curve_allow"):
        start_node(curve_secret=secret)
    with pytest.raises(otp.node.ConfigError, match="public key only"):
        start_node(curve_secret=public, curve_allow=tmp_path)
    with pytest.raises(otp.node.ConfigError, match="public key"):
        start_node(curve_secret=secret, curve_allow=tmp_path, join=["tcp://127.0.0.1:1"])
    assert otp.node.current() is None


def test_listening_beyond_loopback_without_curve_is_refused(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "otp.cli", "start", "--name", "x",
                             "--listen", "tcp://0.0.0.0:*"], capture_output=True, text=True,
                            env=node_env(), timeout=30, check=False)
    assert result.returncode == 2
    assert "CURVE" in result.stderr and "0.0.0.0" in result.stderr
    assert "listening" not in result.stdout
    with pytest.raises(otp.node.ConfigError, match="CURVE"):
        otp.node.start("x", "tcp://0.0.0.0:*", cookie=COOKIE)
    assert otp.node.current() is None


def test_a_wildcard_listener_needs_an_address_to_advertise(
        tmp_path: Path, cluster: Callable[..., NodeProcess],
        start_node: Callable[..., otp.node.Node]) -> None:
    """tcp://0.0.0.0 is where a node listens, not an address peers can use: --advertise says
    which one peers are told (and the node's name takes its host)."""
    keys, allow_a, allow_t = (tmp_path / d for d in ("keys", "allow_a", "allow_t"))
    allow_a.mkdir()
    allow_t.mkdir()
    a_pub, a_secret, a_key = keys_with_cli(keys, "a")
    t_pub, t_secret = otp.node.create_keys(keys, "t")
    (allow_a / "t.key").write_text(t_pub.read_text())
    (allow_t / "a.key").write_text(a_pub.read_text())
    with pytest.raises(otp.node.ConfigError, match="advertise"):
        start_node(listen="tcp://0.0.0.0:*", curve_secret=t_secret, curve_allow=allow_t)
    with pytest.raises(otp.node.ConfigError, match="advertise="):
        start_node(listen="tcp://0.0.0.0:*", curve_secret=t_secret, curve_allow=allow_t,
                   advertise="tcp://0.0.0.0:*")
    a = cluster("a", "--listen", "tcp://0.0.0.0:*", "--advertise", "tcp://127.0.0.1:*",
                "--curve-secret", str(a_secret), "--curve-allow", str(allow_a))
    assert a.name == "a@127.0.0.1"
    assert a.address.startswith("tcp://127.0.0.1:") and not a.address.endswith(":*")
    here = start_node(join=[f"{a.address}#curve={a_key}"], curve_secret=t_secret,
                      curve_allow=allow_t)
    otp.node.wait_for(a.name, timeout=10)
    assert here.peer_for(a.name) is not None
    assert here.peer_for(a.name).address == a.address  # type: ignore[union-attr]
