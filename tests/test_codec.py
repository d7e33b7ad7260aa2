"""otp.codec: the wire format between nodes (frames, tags, bad-frame handling)."""

from __future__ import annotations

import ast
import enum
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from structlog.testing import capture_logs

from otp import codec
from otp.codec import (
    EXT_AGENT_REF,
    EXT_MONITOR_REF,
    MAX_FRAME,
    VERSION,
    Codec,
    CodecError,
    RemoteError,
    register_exception,
    register_model,
    register_ref_type,
)
from otp.errors import NoProc, OTPError, SpecError, SupervisorError


@pytest.fixture
def c() -> Codec:
    return Codec()


def roundtrip(c: Codec, value: Any) -> Any:
    return c.decode(c.encode(value))


# ---------------------------------------------------------------- test types


@dataclass(frozen=True)
class FakeRef:
    """Stands in for AgentRef (layer 2), which registers itself with the node layer."""

    id: str
    class_name: str
    node: str = ""


@dataclass(frozen=True)
class FakeMonitorRef:
    id: int
    node: str = ""


class SlotRef:
    """Shaped like AgentRef: a plain class (pydantic would dump a dataclass to a dict)."""

    __slots__ = ("class_name", "id", "node")

    def __init__(self, id: str, class_name: str, node: str = "") -> None:
        self.id, self.class_name, self.node = id, class_name, node

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlotRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


@pytest.fixture(autouse=True)
def fake_ref_types() -> Iterator[None]:
    """Register the fake ref types for each test, then put back the real ones (AgentRef's,
    registered by otp.node): the codec's registry is process-wide, and other test
    modules send real refs between nodes."""
    saved = dict(codec._encoders), dict(codec._decoders), list(codec._ref_classes)
    register_ref_type(FakeRef, lambda r: (r.id, r.class_name, r.node), FakeRef)
    register_ref_type(SlotRef, lambda r: (r.id, r.class_name, r.node), SlotRef)
    register_ref_type(FakeMonitorRef, lambda m: (m.id, m.node), FakeMonitorRef,
                      code=EXT_MONITOR_REF)
    yield
    codec._encoders.clear()
    codec._encoders.update(saved[0])
    codec._decoders.clear()
    codec._decoders.update(saved[1])
    codec._ref_classes[:] = saved[2]


@register_model
class Work(BaseModel):
    task: str
    priority: int = 0
    blob: bytes = b""
    tags: tuple[str, ...] = ()
    reply_to: Any = None


class Unregistered(BaseModel):
    x: int


class Color(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 3


class QuotaExceeded(Exception):
    """Registered below: rebuilt as itself."""

    def __init__(self, msg: str, budget: int) -> None:
        super().__init__(msg)
        self.budget = budget


register_exception(QuotaExceeded)


class NotShared(Exception):
    """Never registered: arrives as RemoteError."""


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


# ---------------------------------------------------------------- native values


class TestNativeValues:
    @pytest.mark.parametrize("value", [
        None, True, False, 0, 1, -1, 127, 128, -32, -33, 2**31, -(2**31) - 1,
        2**63 - 1, -(2**63), 2**64 - 1, 0.0, -1.5, 1e300, float("inf"), "", "héllo ✓",
        "x" * 70_000, b"", b"\x00\xff" * 100, [], {}, [1, "a", None], {"a": 1, 2: "b"},
        {"nested": {"deep": [1, [2, [3, {"k": b"v"}]]]}},
    ])
    def test_a_msgpack_native_value_round_trips_unchanged(self, c: Codec, value: Any) -> None:
        out = roundtrip(c, value)
        assert out == value and type(out) is type(value)

    def test_tuples_come_back_as_tuples_and_lists_as_lists(self, c: Codec) -> None:
        value = ("work", 1, [2, (3, [4])], {"t": (), "l": []})
        out = roundtrip(c, value)
        assert out == value
        assert type(out) is tuple and type(out[2]) is list and type(out[2][1]) is tuple
        assert type(out[3]["t"]) is tuple and type(out[3]["l"]) is list

    def test_tuple_dict_keys_round_trip(self, c: Codec) -> None:
        value = {(1, "a"): "x", ("nested", (2,)): [()]}
        assert roundtrip(c, value) == value

    def test_a_namedtuple_travels_as_a_plain_tuple(self, c: Codec) -> None:
        out = roundtrip(c, Pair(1, "b"))
        assert out == (1, "b") and type(out) is tuple

    def test_int_and_str_subclasses_travel_as_their_base_type(self, c: Codec) -> None:
        out = roundtrip(c, {"level": Level.HIGH, "d": OrderedDict(a=1), "b": bytearray(b"z")})
        assert out == {"level": 3, "d": {"a": 1}, "b": b"z"}
        assert type(out["level"]) is int and type(out["d"]) is dict and type(out["b"]) is bytes

    def test_ints_beyond_msgpacks_range_are_refused_naming_the_range(self, c: Codec) -> None:
        for value in (2**64, -(2**63) - 1, ("t", 10**30)):
            with pytest.raises(CodecError, match=r"integer of \d+ bits.*-2\*\*63 to 2\*\*64 - 1"):
                c.encode(value)
        assert c.refused["unencodable"] == 3

    def test_an_unencodable_value_is_refused_naming_its_type_and_the_fix(self, c: Codec) -> None:
        hint = r"cannot encode <class 'socket.socket'>.*register_model"
        with socket.socket() as sock, capture_logs() as logs, \
                pytest.raises(CodecError, match=hint) as info:
            c.encode({"sock": sock})
        assert info.value.reason == "unencodable" and c.refused["unencodable"] == 1
        assert logs[0]["event"] == "frame_dropped" and logs[0]["direction"] == "out"

    def test_sets_and_plain_enums_are_refused(self, c: Codec) -> None:
        for value in ({1}, Color.RED):
            with pytest.raises(CodecError, match="cannot encode"):
                c.encode(value)

    def test_a_cycle_is_refused_not_a_crash(self, c: Codec) -> None:
        loop: list[Any] = []
        loop.append(loop)
        with pytest.raises(CodecError, match="cannot encode <class 'list'>: msgpack said"):
            c.encode(loop)

    def test_the_packer_is_usable_after_a_refused_message(self, c: Codec) -> None:
        with pytest.raises(CodecError):
            c.encode(("a", object()))
        assert roundtrip(c, ("b", 1)) == ("b", 1)

    def test_a_frame_starts_with_the_version_byte(self, c: Codec) -> None:
        frame = c.encode({"a": 1})
        assert frame[0] == VERSION == 1 and msgpack.unpackb(frame[1:]) == {"a": 1}


class Pair(NamedTuple):
    n: int
    s: str


# ---------------------------------------------------------------- refs, models


class TestRefs:
    def test_a_registered_agent_ref_round_trips_through_its_hooks(self, c: Codec) -> None:
        ref = SlotRef("a1", "Worker", "n1@host")
        out = roundtrip(c, ("reply_to", ref, [ref]))
        assert out == ("reply_to", ref, [ref]) and type(out[1]) is SlotRef
        assert (out[1].class_name, out[1].node) == ("Worker", "n1@host")

    def test_a_monitor_ref_round_trips(self, c: Codec) -> None:
        mref = FakeMonitorRef(7, "n2@host")
        assert roundtrip(c, {"down": mref}) == {"down": mref}

    def test_only_the_two_ref_codes_can_be_registered(self) -> None:
        with pytest.raises(ValueError, match="EXT_AGENT_REF.*got 4"):
            register_ref_type(FakeRef, lambda r: (), FakeRef, code=4)

    def test_the_last_registration_for_a_code_decodes(self, c: Codec) -> None:
        assert type(roundtrip(c, FakeRef("a", "B"))) is SlotRef  # SlotRef registered last

    def test_a_ref_with_the_wrong_field_count_is_a_malformed_frame(self, c: Codec) -> None:
        frame = bytes([VERSION]) + msgpack.packb([msgpack.ExtType(EXT_AGENT_REF, b""), "only-id"])
        with capture_logs() as logs, pytest.raises(CodecError, match=r"malformed agent ref: "
                                                   r"fields \['only-id'\]"):
            c.decode(frame)
        assert c.dropped["malformed"] == 1 and logs[0]["reason"] == "malformed"


class TestModels:
    def test_a_model_round_trips_with_bytes_tuples_and_refs_inside(self, c: Codec) -> None:
        work = Work(task="summarise", priority=2, blob=b"\xff\x00", tags=("a", "b"),
                    reply_to=SlotRef("r1", "Boss", "n1@host"))
        out = roundtrip(c, ("job", work))
        assert out == ("job", work) and type(out[1]) is Work
        assert type(out[1].reply_to) is SlotRef and out[1].reply_to.node == "n1@host"

    def test_register_model_refuses_a_non_model(self) -> None:
        with pytest.raises(TypeError, match="pydantic BaseModel subclass, got <class 'dict'>"):
            register_model(dict)

    def test_a_model_name_cannot_be_taken_twice(self) -> None:
        with pytest.raises(ValueError, match="already registered"):
            register_model(Unregistered, name=codec._type_name(Work))

    def test_an_unregistered_model_is_refused_with_the_fix(self, c: Codec) -> None:
        with pytest.raises(CodecError, match=r"cannot encode .*Unregistered.*register_model"):
            c.encode(Unregistered(x=1))

    def test_an_unknown_model_name_is_dropped_naming_it(self, c: Codec) -> None:
        frame = _tagged(codec.EXT_MODEL, "nobody.Knows", {"x": 1})
        with capture_logs() as logs, pytest.raises(CodecError, match="unknown model name "
                                                   "'nobody.Knows'.*register_model"):
            c.decode(frame)
        assert c.dropped["model"] == 1 and logs[0]["reason"] == "model"

    def test_invalid_data_for_a_model_is_dropped_naming_the_model_and_field(self, c: Codec) -> None:
        frame = _tagged(codec.EXT_MODEL, codec._type_name(Work), {"task": 5, "priority": "high"})
        with capture_logs() as logs, pytest.raises(CodecError, match=r"(?s)invalid data for model "
                                                   r"'test_codec.Work'.*priority"):
            c.decode(frame)
        assert c.dropped["model"] == 1 and logs[0]["event"] == "frame_dropped"

    def test_a_model_tag_with_malformed_fields_is_dropped(self, c: Codec) -> None:
        frame = _tagged(codec.EXT_MODEL, "just-a-name")
        with pytest.raises(CodecError, match="malformed model"):
            c.decode(frame)
        assert c.dropped["malformed"] == 1

    def test_a_model_in_json_mode_carries_fields_msgpack_lacks(self, c: Codec) -> None:
        import datetime

        @register_model
        class Stamped(BaseModel):
            at: datetime.datetime

        with pytest.raises(CodecError, match="datetime"):
            c.encode(Stamped(at=datetime.datetime(2024, 1, 1)))

        class StampedJson(BaseModel):
            at: datetime.datetime

        register_model(StampedJson, mode="json")
        value = StampedJson(at=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
        assert roundtrip(c, value) == value


def _tagged(code: int, *fields: Any) -> bytes:
    return bytes([VERSION]) + msgpack.packb([msgpack.ExtType(code, b""), *fields])


# ---------------------------------------------------------------- exceptions


class TestExceptions:
    @pytest.mark.parametrize("exc", [ValueError("bad value"), KeyError("k"), TimeoutError("slow"),
                                     ZeroDivisionError("division by zero")])
    def test_a_builtin_exception_is_rebuilt_as_itself(self, c: Codec, exc: Exception) -> None:
        out = roundtrip(c, raised(exc))
        assert type(out) is type(exc) and out.args == exc.args and str(out) == str(exc)
        assert "Traceback" in out.remote_traceback and "def raised" not in out.remote_traceback

    def test_otp_errors_come_back_with_their_attributes(self, c: Codec) -> None:
        spec = roundtrip(c, SpecError("bad restart", code="invalid_restart_type",
                                      field="restart", value="sometimes"))
        assert isinstance(spec, SpecError) and str(spec) == "bad restart"
        assert (spec.code, spec.field, spec.value) == (
            "invalid_restart_type", "restart", "sometimes")
        sup = roundtrip(c, SupervisorError("no such child", "not_found"))
        assert type(sup) is SupervisorError and sup.code == "not_found"

    def test_attributes_that_cannot_travel_are_left_out(self, c: Codec) -> None:
        exc = NoProc("gone", agent=object())
        out = roundtrip(c, exc)
        assert type(out) is NoProc and out.reason == "noproc" and not hasattr(out, "agent")

    def test_a_registered_user_exception_is_rebuilt_without_calling_init(self, c: Codec) -> None:
        out = roundtrip(c, QuotaExceeded("over budget", budget=10))
        assert type(out) is QuotaExceeded and out.budget == 10 and str(out) == "over budget"

    def test_an_unknown_exception_type_arrives_as_remote_error(self, c: Codec) -> None:
        out = roundtrip(c, ("failed", raised(NotShared("it broke"))))[1]
        assert type(out) is RemoteError and isinstance(out, OTPError)
        assert out.type_name == "test_codec.NotShared" and out.message == "it broke"
        assert "Traceback" in out.traceback and "NotShared: it broke" in out.traceback
        assert str(out) == "test_codec.NotShared: it broke"

    def test_an_exception_with_unencodable_args_travels_with_its_message(self, c: Codec) -> None:
        out = roundtrip(c, ValueError(object(), 1))
        assert type(out) is ValueError and out.args[0].startswith("(<object object")

    def test_exceptions_nest_in_exceptions(self, c: Codec) -> None:
        exc = SupervisorError("start failed", "start_error", reason=KeyError("cfg"))
        out = roundtrip(c, exc)
        assert type(out.reason) is KeyError and out.reason.args == ("cfg",)

    def test_a_remote_error_relayed_again_stays_a_remote_error(self, c: Codec) -> None:
        first = roundtrip(c, raised(NotShared("x")))
        again = roundtrip(c, first)
        assert type(again) is RemoteError and again.type_name == "test_codec.NotShared"

    def test_system_exit_is_never_rebuilt(self, c: Codec) -> None:
        out = roundtrip(c, SystemExit(3))
        assert type(out) is RemoteError and out.type_name == "SystemExit"


# ---------------------------------------------------------------- batches


class TestBatches:
    def test_a_batch_decodes_to_its_messages_in_order(self, c: Codec) -> None:
        messages = [("work", i) for i in range(50)] + [{"a": [1]}, None, Work(task="t")]
        assert c.decode_batch(c.encode_batch(messages)) == messages

    def test_a_single_frame_is_a_batch_of_one(self, c: Codec) -> None:
        assert c.decode_batch(c.encode(("x", 1))) == [("x", 1)]

    def test_an_empty_batch_is_a_version_byte_alone(self, c: Codec) -> None:
        assert c.encode_batch([]) == bytes([VERSION]) and c.decode_batch(bytes([VERSION])) == []

    def test_decode_of_a_batch_frame_names_the_trailing_bytes_and_the_fix(self, c: Codec) -> None:
        frame = c.encode_batch([1, 2])
        with pytest.raises(CodecError, match=r"trailing bytes .* 1 bytes from offset 2 of a "
                                             r"3-byte frame.*decode_batch"):
            c.decode(frame)
        assert c.dropped["trailing"] == 1

    def test_a_truncated_batch_is_dropped_naming_the_offset(self, c: Codec) -> None:
        frame = c.encode_batch(["first", "second message"])
        with capture_logs() as logs, pytest.raises(CodecError, match=r"truncated frame .*offset 7"):
            c.decode_batch(frame[:-3])
        assert c.dropped["truncated"] == 1 and logs[0]["reason"] == "truncated"

    def test_an_oversized_batch_is_refused(self) -> None:
        small = Codec(max_frame=100)
        with pytest.raises(CodecError, match="exceeds the maximum 100"):
            small.encode_batch(["x" * 30] * 4)
        assert small.refused["oversized"] == 1


# ---------------------------------------------------------------- bad frames


def _bad(c: Codec, frame: bytes, reason: str, match: str) -> CodecError:
    """Decode a bad frame: CodecError naming the problem, counted and logged."""
    with capture_logs() as logs:
        with pytest.raises(CodecError, match=match) as info:
            c.decode(frame)
        ok, error = c.try_decode(frame)
    assert info.value.reason == reason and not ok and isinstance(error, CodecError)
    assert c.dropped[reason] == 2
    assert [e["event"] for e in logs] == ["frame_dropped"] * 2
    assert logs[0]["reason"] == reason and logs[0]["size"] == len(frame)
    assert logs[0]["direction"] == "in" and logs[0]["log_level"] == "warning"
    return info.value


class TestBadFrames:
    def test_an_empty_frame(self, c: Codec) -> None:
        _bad(c, b"", "empty", "empty frame")

    def test_a_version_byte_alone(self, c: Codec) -> None:
        _bad(c, bytes([VERSION]), "truncated", "frame of 1 byte holds no message")

    def test_a_wrong_version(self, c: Codec) -> None:
        frame = bytes([7]) + c.encode("hi")[1:]
        _bad(c, frame, "version", r"unknown wire version 7 \(this node speaks 1\)")

    @pytest.mark.parametrize("cut", [1, 5, 20])
    def test_a_truncated_payload(self, c: Codec, cut: int) -> None:
        frame = c.encode({"message": "a long enough string", "n": [1, 2, 3]})
        _bad(c, frame[:-cut], "truncated", r"truncated frame of \d+ bytes: msgpack said")

    def test_garbage_bytes(self, c: Codec) -> None:
        _bad(c, bytes([VERSION, 0xC1, 0xC1]), "malformed", "malformed frame of 3 bytes")

    def test_invalid_utf8_in_a_str(self, c: Codec) -> None:
        _bad(c, bytes([VERSION, 0xA2, 0xFF, 0xFE]), "malformed", "UnicodeDecodeError")

    def test_an_unhashable_map_key(self, c: Codec) -> None:
        frame = bytes([VERSION]) + msgpack.packb({1: 2}).replace(b"\x01", b"\x91\x01", 1)
        _bad(c, frame, "malformed", "unhashable")

    def test_an_oversized_frame_on_decode(self) -> None:
        c = Codec()
        frame = bytes([VERSION]) + b"\x00" * 2_000_000
        _bad(c, frame, "oversized", "frame of 2,000,001 bytes exceeds the maximum 1,048,576")

    def test_an_oversized_message_on_encode(self, c: Codec) -> None:
        with capture_logs() as logs, pytest.raises(CodecError, match=r"frame of 1,048,\d+ bytes "
                                                   r"exceeds the maximum 1,048,576") as info:
            c.encode(b"x" * MAX_FRAME)
        assert info.value.reason == "oversized" and c.refused["oversized"] == 1
        assert logs[0]["direction"] == "out" and logs[0]["size"] > MAX_FRAME

    def test_the_maximum_is_configurable(self) -> None:
        small = Codec(max_frame=64)
        assert small.decode(small.encode("x" * 50)) == "x" * 50
        frame = bytes([VERSION]) + msgpack.packb("x" * 70)
        _bad(small, frame, "oversized", "exceeds the maximum 64")
        with pytest.raises(ValueError, match="at least 2 bytes, got 1"):
            Codec(max_frame=1)

    def test_trailing_bytes_after_the_payload(self, c: Codec) -> None:
        frame = c.encode("ok") + b"\xc0\xc0"
        _bad(c, frame, "trailing", "trailing bytes after the payload: 2 bytes from offset 4")

    def test_an_ext_type_with_an_unknown_code(self, c: Codec) -> None:
        frame = bytes([VERSION]) + msgpack.packb([1, msgpack.ExtType(42, b"abc")])
        _bad(c, frame, "unknown_ext", "unknown ExtType code 42 with a 3-byte payload")

    def test_a_tag_with_a_payload(self, c: Codec) -> None:
        frame = bytes([VERSION]) + msgpack.packb([msgpack.ExtType(codec.EXT_MODEL, b"junk")])
        _bad(c, frame, "malformed", "malformed model tag: ExtType 4 must be empty, got 4 bytes")

    def test_a_bare_tag(self, c: Codec) -> None:
        frame = bytes([VERSION]) + msgpack.packb(msgpack.ExtType(codec.EXT_TUPLE, b""))
        _bad(c, frame, "malformed", "bare tuple tag")

    def test_a_malformed_exception(self, c: Codec) -> None:
        _bad(c, _tagged(codec.EXT_EXCEPTION, "ValueError"), "malformed", "malformed exception")

    def test_a_good_frame_decodes_after_bad_ones(self, c: Codec) -> None:
        for frame in (b"", b"\x07", b"\x01\xc1"):
            assert c.try_decode(frame)[0] is False
        assert c.try_decode(c.encode(("ok", 1))) == (True, ("ok", 1))
        assert sum(c.dropped.values()) == 3


# ---------------------------------------------------------------- properties

_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
            | st.floats(allow_nan=False) | st.text() | st.binary())
_keys = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
         | st.text() | st.binary())
_values = st.recursive(
    _scalars,
    lambda children: (st.lists(children, max_size=5)
                      | st.lists(children, max_size=5).map(tuple)
                      | st.dictionaries(_keys | st.tuples(_keys, _keys), children, max_size=5)),
    max_leaves=30,
)
_PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(_values)
def test_decode_of_encode_is_the_identity_for_native_values_and_tuples(value: Any) -> None:
    c = Codec()
    assert c.decode(c.encode(value)) == value
    assert c.decode_batch(c.encode_batch([value, value])) == [value, value]


@_PROPERTY
@given(st.binary(max_size=200))
def test_decode_of_arbitrary_bytes_raises_nothing_but_codec_error(data: bytes) -> None:
    c = Codec()
    for frame in (data, bytes([VERSION]) + data):
        for decode in (c.decode, c.decode_batch):
            try:
                decode(frame)
            except CodecError:
                pass


# ---------------------------------------------------------------- the module itself


def test_the_codec_never_pickles() -> None:
    """otp/codec.py imports no pickle-like module and calls no eval, exec or import hook."""
    tree = ast.parse(Path(codec.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import)
                              else [ast.alias(node.module or "")])}
    assert imported.isdisjoint({"pickle", "cPickle", "dill", "marshal", "shelve", "importlib"})
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert names.isdisjoint({"eval", "exec", "compile", "__import__"})


def test_threads_encoding_at_once_each_get_their_own_frames(c: Codec) -> None:
    """Each thread packs with its own Packer, so concurrent frames never mix."""
    results: dict[int, list[bytes]] = {}

    def work(n: int) -> None:
        results[n] = [c.encode(("work", n, i, "x" * n)) for i in range(300)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for n, frames in results.items():
        assert [c.decode(f) for f in frames] == [("work", n, i, "x" * n) for i in range(300)]
