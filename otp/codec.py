"""The wire format between nodes (layer 1): msgpack frames with a version byte.

A frame is a version byte (:data:`VERSION`) and a msgpack payload: one message
(:meth:`Codec.encode`) or several back to back (:meth:`Codec.encode_batch`).
A message nests msgpack-native values (None, bool, int in [-2**63, 2**64 - 1],
float, str, bytes, list, dict), tuples, registered pydantic models, agent and
monitor refs, and exceptions. Never pickle: a frame builds only registered types.

Other values travel as an array headed by a *tag*, an empty ``ExtType`` naming
the kind; the same Packer packs the fields inline and the decoder's
``list_hook`` rebuilds the value bottom-up (an ExtType holding a nested packb
per tuple is 2.3 times slower). Tuples stay tuples and lists stay lists::

    code  kind         fields after the tag               decoded as
    1     tuple        the items                          a tuple
    2     agent ref    id, class name, node               from_wire of register_ref_type
    3     monitor ref  id, node                           from_wire of register_ref_type
    4     model        registered name, model_dump()      model_validate of that class
    5     exception    type name, args, str(exc),         the registered type rebuilt with
                       traceback text, public attributes  args and attributes, else RemoteError

Layers: refs belong to layers 2-3, so they register hooks here
(:func:`register_ref_type`); models are used through pydantic's methods, not
imported (the contracts keep pydantic in the data modules); events go through
``structlog.get_logger()`` (``otp._log`` is an independent sibling). Other
NamedTuples arrive as tuples, int/str subclasses (IntEnum, StrEnum) as int/str.

Bad frames raise :class:`CodecError` and nothing else; its ``reason`` is
counted in ``Codec.dropped`` (refused encodes in ``Codec.refused``) and logged
as ``frame_dropped``. The transport drops the frame and stays up.
"""

from __future__ import annotations

import builtins
import reprlib
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import msgpack  # type: ignore[import-untyped]
import structlog

from otp import errors
from otp.errors import OTPError

__all__ = [
    "Codec", "CodecError", "EXT_AGENT_REF", "EXT_EXCEPTION", "EXT_MODEL",
    "EXT_MONITOR_REF", "EXT_TUPLE", "FRAME_DROPPED", "MAX_FRAME", "RemoteError",
    "VERSION", "register_exception", "register_model", "register_ref_type",
]

T = TypeVar("T")

VERSION = 1
MAX_FRAME = 1 << 20
FRAME_DROPPED = "frame_dropped"
EXT_TUPLE, EXT_AGENT_REF, EXT_MONITOR_REF, EXT_MODEL, EXT_EXCEPTION = 1, 2, 3, 4, 5
_KINDS = {1: "tuple", 2: "agent ref", 3: "monitor ref", 4: "model", 5: "exception"}
_TAGS = {code: msgpack.ExtType(code, b"") for code in _KINDS}
_VERSION_BYTE = bytes([VERSION])
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1
_NATIVE: tuple[Any, ...] = (str, float, dict, list, bytes, bytearray)
_COPY_BELOW = 4096  # bytes: below this, slicing a frame is cheaper than a memoryview
_HINT = ("only msgpack-native values, tuples, registered pydantic models, agent refs and "
         "exceptions travel between nodes; register a model with otp.codec.register_model(...)")


class CodecError(OTPError, ValueError):
    """A message could not be encoded, or a frame could not be decoded.

    ``reason`` is the tag counted and logged: ``unencodable`` or ``oversized``
    when encoding; ``empty``, ``oversized``, ``version``, ``truncated``,
    ``trailing``, ``malformed``, ``unknown_ext`` or ``model`` when decoding.
    """

    def __init__(self, msg: str, reason: str = "malformed") -> None:
        super().__init__(msg)
        self.reason = reason


class RemoteError(OTPError):
    """An exception from another node whose type is not registered here.

    Carries ``type_name`` (``module.Class``, bare for builtins), ``message``
    (its ``str``) and ``traceback`` (the remote traceback as text).
    """

    def __init__(self, type_name: str, message: str, traceback: str = "") -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.traceback = traceback


class _Tag:
    """A decoded tag; ``_list_hook`` turns the array it heads into the value."""

    __slots__ = ("code",)

    def __init__(self, code: int) -> None:
        self.code = code


_DECODED_TAGS = {code: _Tag(code) for code in _KINDS}
_TUPLE_TAG = _TAGS[EXT_TUPLE]
_encoders: dict[type, Callable[[Any], list[Any]]] = {}
_decoders: dict[int, Callable[[list[Any]], Any]] = {EXT_TUPLE: tuple}
_models: dict[str, Any] = {}
_exceptions: dict[str, type[BaseException]] = {}
_exception_names: dict[type, str] = {}
_ref_classes: list[type] = []


def register_ref_type(cls: type[T], to_wire: Callable[[T], Iterable[Any]],
                      from_wire: Callable[..., T], *, code: int = EXT_AGENT_REF) -> None:
    """Teach the codec a ref type of a higher layer (the hook that keeps layers apart).

    Args:
        cls: The class to encode; its subclasses travel as it does (a
            ``SupervisorRef`` arrives as a plain agent ref).
        to_wire: Return the ref's msgpack-native fields: ``(id, class_name,
            node)`` for an agent ref, ``(id, node)`` for a monitor ref.
        from_wire: Build a ref from those fields (called with them as
            positional arguments); the last registration for a code decodes.
        code: :data:`EXT_AGENT_REF` or :data:`EXT_MONITOR_REF`.

    Raises:
        ValueError: ``code`` is not one of the two ref codes.
    """
    if code not in (EXT_AGENT_REF, EXT_MONITOR_REF):
        msg = f"ref code must be EXT_AGENT_REF (2) or EXT_MONITOR_REF (3), got {code!r}"
        raise ValueError(msg)
    tag = _TAGS[code]
    _encoders[cls] = lambda ref: [tag, *to_wire(ref)]
    _ref_classes.append(cls)
    _decoders[code] = lambda fields: from_wire(*fields)


def register_model(model_class: type[T], name: str | None = None, *,
                   mode: str = "python") -> type[T]:
    """Let a pydantic model travel between nodes; usable as a bare decorator.

    Register it under the same name on every node. Decoding validates with
    ``model_validate``.

    Args:
        model_class: A ``pydantic.BaseModel`` subclass.
        name: The name on the wire; ``module.QualName`` by default.
        mode: Given to ``model_dump``: ``"python"`` keeps bytes, tuples, refs and
            nested models as themselves; ``"json"`` carries what msgpack has no
            type for (datetime, UUID, Decimal).

    Raises:
        TypeError: ``model_class`` is not a pydantic model class.
        ValueError: ``name`` is taken by another class, or ``mode`` is unknown.
    """
    if not (isinstance(model_class, type) and hasattr(model_class, "model_validate")):
        msg = f"register_model expects a pydantic BaseModel subclass, got {model_class!r}"
        raise TypeError(msg)
    if mode not in ("python", "json"):
        msg = f"mode must be 'python' or 'json', got {mode!r}"
        raise ValueError(msg)
    key = _claim(_models, name or _type_name(model_class), model_class, "model")
    tag = _TAGS[EXT_MODEL]
    _encoders[model_class] = lambda model: [tag, key, model.model_dump(mode=mode)]
    return model_class


def register_exception(cls: type[BaseException], name: str | None = None) -> None:
    """Let exceptions of ``cls`` be rebuilt as themselves; others become RemoteError.

    Builtin exceptions and those of ``otp.errors`` are registered already. A
    rebuilt exception gets its ``args`` and public attributes back (those
    that encode; ``__init__`` is not called) and ``remote_traceback``.

    Raises:
        ValueError: ``name`` is taken by another class.
    """
    _exception_names[cls] = _claim(_exceptions, name or _type_name(cls), cls, "exception")


def _claim(registry: dict[str, Any], key: str, cls: type, what: str) -> str:
    if registry.setdefault(key, cls) is not cls:
        msg = f"{what} name {key!r} is already registered to {registry[key]!r}"
        raise ValueError(msg)
    return key


def _type_name(cls: type) -> str:
    qualname = cls.__qualname__
    return qualname if cls.__module__ == "builtins" else f"{cls.__module__}.{qualname}"


def _default(obj: Any) -> Any:
    """Packer ``default``: called for every value that is not exactly a native type."""
    if obj.__class__ is tuple:  # the common case first: ("work", 1)
        return [_TUPLE_TAG, *obj]
    encoder = _encoders.get(type(obj))
    if encoder is not None:
        return encoder(obj)
    for ref_class in _ref_classes:
        if isinstance(obj, ref_class):  # a subclass of a ref type: remembered for next time
            encoder = _encoders[type(obj)] = _encoders[ref_class]
            return encoder(obj)
    if isinstance(obj, tuple):
        return [_TUPLE_TAG, *obj]
    if isinstance(obj, BaseException):
        return _encode_exception(obj)
    if isinstance(obj, int):
        if _INT_MIN <= obj <= _INT_MAX:
            return int(obj)
        msg = (f"cannot encode an integer of {obj.bit_length()} bits: msgpack holds integers "
               "from -2**63 to 2**64 - 1; send larger ones as str")
        raise CodecError(msg, "unencodable")
    for native in _NATIVE:  # subclasses (str enums, OrderedDict, ...) as their base
        if isinstance(obj, native):
            return native(obj)
    msg = f"cannot encode {type(obj)!r}: {_HINT}"
    raise CodecError(msg, "unencodable")


def _encodable(value: Any) -> bool:
    try:
        msgpack.packb(value, default=_default, use_bin_type=True, strict_types=True)
    except Exception:  # noqa: BLE001 - a probe: any failure means "leave it out"
        return False
    return True


def _encode_exception(exc: BaseException) -> list[Any]:
    message = str(exc)
    args = exc.args if _encodable(exc.args) else (message,)
    attrs = {k: v for k, v in vars(exc).items() if not k.startswith("_") and _encodable(v)}
    name = _exception_names.get(type(exc)) or _type_name(type(exc))
    text = "".join(traceback.format_exception(exc)).rstrip()
    return [_TAGS[EXT_EXCEPTION], name, args, message, text, attrs]


def _decode_model(fields: list[Any]) -> Any:
    name, data = fields
    model_class = _models.get(name)
    if model_class is None:
        msg = (f"unknown model name {name!r}: register it on this node too with "
               f"otp.codec.register_model(...) (registered: {sorted(_models)})")
        raise CodecError(msg, "model")
    try:
        return model_class.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        msg = f"invalid data for model {name!r}: {exc}"
        raise CodecError(msg, "model") from exc


def _decode_exception(fields: list[Any]) -> BaseException:
    name, args, message, text, attrs = fields
    cls = _exceptions.get(name)
    exc: BaseException | None = None
    if cls is not None:
        try:
            exc = cls.__new__(cls, *args)
            exc.__dict__.update(attrs)
        except Exception:  # noqa: BLE001 - cannot rebuild it: fall back to RemoteError
            exc = None
    if exc is None:
        exc = RemoteError(str(name), str(message), str(text))
    exc.__dict__["remote_traceback"] = text
    return exc


_decoders[EXT_MODEL] = _decode_model
_decoders[EXT_EXCEPTION] = _decode_exception
for _cls in [*vars(builtins).values(), *vars(errors).values(), CodecError, RemoteError]:
    if isinstance(_cls, type) and issubclass(_cls, Exception):
        register_exception(_cls)


def _ext_hook(code: int, data: bytes) -> _Tag:
    tag = _DECODED_TAGS.get(code)
    if tag is None:
        msg = f"unknown ExtType code {code} with a {len(data)}-byte payload (known: {_KINDS})"
        raise CodecError(msg, "unknown_ext")
    if data:
        msg = f"malformed {_KINDS[code]} tag: ExtType {code} must be empty, got {len(data)} bytes"
        raise CodecError(msg)
    return tag


def _list_hook(items: list[Any]) -> Any:
    if not items or items[0].__class__ is not _Tag:
        return items
    code = items[0].code
    decoder = _decoders.get(code)
    if decoder is None:
        msg = f"no {_KINDS[code]} type is registered on this node (otp.codec.register_ref_type)"
        raise CodecError(msg, "unknown_ext")
    try:
        return decoder(items[1:])
    except CodecError:
        raise
    except Exception as exc:
        msg = f"malformed {_KINDS[code]}: fields {reprlib.repr(items[1:])} ({exc})"
        raise CodecError(msg) from exc


class Codec:
    """Encode messages to frames and decode frames, counting what it drops.

    Thread-safe: each thread packs with its own reused ``msgpack.Packer``.

    Args:
        max_frame: The largest frame, in bytes, encoded or accepted.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        if max_frame < 2:
            msg = f"max_frame must be at least 2 bytes, got {max_frame!r}"
            raise ValueError(msg)
        self.max_frame = max_frame
        self.dropped: Counter[str] = Counter()  # frames refused by decode, by reason
        self.refused: Counter[str] = Counter()  # messages refused by encode, by reason
        self._local = threading.local()

    def encode(self, message: Any) -> bytes:
        """Return the frame of one message; CodecError if it cannot be encoded or is too big."""
        try:
            frame: bytes = _VERSION_BYTE + self._packer().pack(message)
        except Exception as exc:
            raise self._refuse(exc, message) from exc
        return self._sized(frame)

    def encode_batch(self, messages: Iterable[Any]) -> bytes:
        """Return one frame holding ``messages`` in order (small messages to one peer)."""
        pack, parts, message = self._packer().pack, [_VERSION_BYTE], None
        try:
            for message in messages:
                parts.append(pack(message))
        except Exception as exc:
            raise self._refuse(exc, message) from exc
        return self._sized(b"".join(parts))

    def encode_part(self, message: Any) -> bytes:
        """Return one message's payload, without the version byte, for :meth:`join`.

        A sender encodes in its own thread (so an unencodable message fails
        there) and a flusher joins what queued up into one batch frame.
        """
        try:
            part: bytes = self._packer().pack(message)
        except Exception as exc:
            raise self._refuse(exc, message) from exc
        if len(part) >= self.max_frame:
            msg = f"message of {len(part):,} bytes exceeds the maximum frame {self.max_frame:,}"
            raise self._log(CodecError(msg, "oversized"), "out", len(part))
        return part

    def join(self, parts: list[bytes]) -> bytes:
        """Return the batch frame of payloads from :meth:`encode_part` (keep it under max_frame)."""
        return _VERSION_BYTE + b"".join(parts)

    def decode(self, frame: bytes | bytearray | memoryview) -> Any:
        """Return the one message in ``frame``; CodecError (counted, logged) if it is bad."""
        payload = self._payload(frame)
        try:
            if not payload:
                msg = f"frame of {len(frame)} byte holds no message after the version byte"
                raise CodecError(msg, "truncated")
            message = msgpack.unpackb(payload, ext_hook=_ext_hook, list_hook=_list_hook,
                                      raw=False, strict_map_key=False)
            if message.__class__ is _Tag:
                raise CodecError(f"malformed frame: a bare {_KINDS[message.code]} tag")
        except Exception as exc:
            raise self._drop(exc, frame) from exc
        return message

    def decode_batch(self, frame: bytes | bytearray | memoryview) -> list[Any]:
        """Return the messages in ``frame`` (a single one is a batch of one); CodecError if bad."""
        payload = self._payload(frame)
        if not payload:
            return []
        try:
            try:  # one message (an ask, a reply): unpackb is 2x cheaper than an Unpacker
                messages = [msgpack.unpackb(payload, ext_hook=_ext_hook, list_hook=_list_hook,
                                            raw=False, strict_map_key=False)]
            except msgpack.ExtraData as extra:  # a batch: the first message, then the rest
                messages = [extra.unpacked]
                rest = extra.extra
                unpacker = msgpack.Unpacker(ext_hook=_ext_hook, list_hook=_list_hook, raw=False,
                                            strict_map_key=False, max_buffer_size=self.max_frame)
                unpacker.feed(rest)
                end = 0
                for message in unpacker:
                    messages.append(message)
                    end = unpacker.tell()
                if end != len(rest):
                    offset = len(payload) - len(rest) + end
                    msg = (f"truncated frame of {len(frame):,} bytes: the message at offset "
                           f"{offset + 1:,} is incomplete")
                    raise CodecError(msg, "truncated") from None
            if any(m.__class__ is _Tag for m in messages):
                raise CodecError("malformed frame: a bare tag")
        except Exception as exc:
            raise self._drop(exc, frame) from exc
        return messages

    def try_decode(self, frame: bytes | bytearray | memoryview) -> tuple[bool, Any]:
        """Return ``(True, message)``, or ``(False, CodecError)`` for a bad frame."""
        try:
            return True, self.decode(frame)
        except CodecError as exc:
            return False, exc

    def _packer(self) -> Any:
        packer = getattr(self._local, "packer", None)
        if packer is None:
            packer = self._local.packer = msgpack.Packer(
                default=_default, use_bin_type=True, strict_types=True)
        return packer

    def _refuse(self, exc: Exception, message: Any) -> CodecError:
        error = exc if isinstance(exc, CodecError) else CodecError(
            f"cannot encode {type(message)!r}: msgpack said {exc}", "unencodable")
        return self._log(error, "out", 0)

    def _sized(self, frame: bytes) -> bytes:
        if len(frame) > self.max_frame:
            msg = f"frame of {len(frame):,} bytes exceeds the maximum {self.max_frame:,}"
            raise self._log(CodecError(msg, "oversized"), "out", len(frame))
        return frame

    def _payload(self, frame: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
        size = len(frame)
        if size == 0:
            msg = "empty frame: expected a version byte and a msgpack payload"
            raise self._drop(CodecError(msg, "empty"), frame)
        if size > self.max_frame:
            msg = f"frame of {size:,} bytes exceeds the maximum {self.max_frame:,}"
            raise self._drop(CodecError(msg, "oversized"), frame)
        if frame[0] != VERSION:
            msg = f"unknown wire version {frame[0]} (this node speaks {VERSION})"
            raise self._drop(CodecError(msg, "version"), frame)
        return frame[1:] if size < _COPY_BELOW else memoryview(frame)[1:]  # a copy is cheaper

    def _drop(self, exc: BaseException, frame: bytes | bytearray | memoryview) -> CodecError:
        size = len(frame)
        if isinstance(exc, CodecError):
            error = exc
        elif isinstance(exc, msgpack.ExtraData):
            offset = size - len(exc.extra)
            msg = (f"trailing bytes after the payload: {len(exc.extra):,} bytes from offset "
                   f"{offset:,} of a {size:,}-byte frame (a batch frame? use decode_batch)")
            error = CodecError(msg, "trailing")
        elif isinstance(exc, ValueError) and ("incomplete" in str(exc) or "exceeds max" in str(exc)):
            msg = f"truncated frame of {size:,} bytes: msgpack said {exc}"  # length beyond the end
            error = CodecError(msg, "truncated")
        else:
            error = CodecError(f"malformed frame of {size:,} bytes: {type(exc).__name__}: {exc}")
        return self._log(error, "in", size)

    def _log(self, error: CodecError, direction: str, size: int) -> CodecError:
        (self.dropped if direction == "in" else self.refused)[error.reason] += 1
        structlog.get_logger().warning(FRAME_DROPPED, reason=error.reason, size=size,
                                       direction=direction, error=str(error))
        return error
