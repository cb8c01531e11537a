"""The frames of an AMQP 0-9-1 basic.publish, written directly.

pika makes a Basic.Publish method, its properties and three frame objects for each message and
marshals each apart, about 10 µs a message. For the messages sarra publishes (a content type,
headers of strings, a delivery mode) `publish_frames` writes the same bytes in one pass; a
message of any other shape (a header value that is not a string, a name longer than 255 bytes)
gets None, and pika marshals it (and says what is wrong with it).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

FRAME_END = b"\xce"
FRAME_OVERHEAD = 8
"""Bytes of a frame that are not its payload: type, channel, size, and the end octet."""

_FRAME = struct.Struct(">BHI")  # type, channel, payload size
_METHOD, _HEADER, _BODY = 1, 2, 3
_PUBLISH = struct.pack(">IH", 0x003C0028, 0)  # class basic (60), method publish (40); ticket 0
_CONTENT = struct.Struct(">HHQH")  # class basic, weight 0, body size, property flags
_CONTENT_TYPE, _HEADERS, _DELIVERY_MODE = 1 << 15, 1 << 13, 1 << 12
_LONG = struct.Struct(">I")
_STRING_VALUE = struct.Struct(">cI")


def publish_frames(
    channel: int,
    exchange: str,
    routing_key: str,
    body: bytes,
    content_type: str | None,
    headers: Mapping[str, object] | None,
    delivery_mode: int | None,
    frame_max: int,
) -> bytes | None:
    """The method, content header and body frames publishing `body` on `channel` (no mandatory
    flag), as pika writes them; None when the message is not of the shape written here.
    `frame_max` is the connection's negotiated frame size."""
    exchange_bytes, key_bytes = exchange.encode(), routing_key.encode()
    if len(exchange_bytes) > 255 or len(key_bytes) > 255:
        return None
    method = b"".join((_PUBLISH, bytes((len(exchange_bytes),)), exchange_bytes,
                       bytes((len(key_bytes),)), key_bytes, b"\x00"))  # fmt: skip
    flags = 0
    properties: list[bytes] = []
    if content_type is not None:
        text = content_type.encode()
        if len(text) > 255:
            return None
        flags |= _CONTENT_TYPE
        properties += (bytes((len(text),)), text)
    if headers is not None:
        table = _table(headers)
        if table is None:
            return None
        flags |= _HEADERS
        properties.append(table)
    if delivery_mode is not None:
        flags |= _DELIVERY_MODE
        properties.append(bytes((delivery_mode,)))
    header = _CONTENT.pack(60, 0, len(body), flags) + b"".join(properties)
    pieces = [_FRAME.pack(_METHOD, channel, len(method)), method, FRAME_END,
              _FRAME.pack(_HEADER, channel, len(header)), header, FRAME_END]  # fmt: skip
    step = frame_max - FRAME_OVERHEAD
    for start in range(0, len(body), step):
        chunk = body[start : start + step]
        pieces += (_FRAME.pack(_BODY, channel, len(chunk)), chunk, FRAME_END)
    return b"".join(pieces)


_KEYS: dict[str, str] = {}
"""The start of the field of each ASCII header name met (its length, the name, `S`): v02
notices carry the same few names."""
_MOST_KEYS = 256


def _table(headers: Mapping[str, object]) -> bytes | None:
    """A field table of string values (each a long string, `S`); None for any other value."""
    pieces: list[str] = []
    for name, value in headers.items():
        if not isinstance(value, str):
            return None
        key = _KEYS.get(name)
        if key is None:
            if not name.isascii():
                return _encoded_table(headers)
            if len(name) > 255:
                return None
            key = f"{chr(len(name))}{name}S"
            if len(_KEYS) < _MOST_KEYS:
                _KEYS[name] = key
        if not value.isascii():
            return _encoded_table(headers)
        size = len(value)
        if size < 256:
            pieces.append(f"{key}\0\0\0{chr(size)}{value}")
        else:
            pieces.append(f"{key}{_LONG.pack(size).decode('latin-1')}{value}")
    # ASCII: a byte a character, and each length below 256 written as the byte it is
    content = "".join(pieces).encode("latin-1")
    return _LONG.pack(len(content)) + content


def _encoded_table(headers: Mapping[str, object]) -> bytes | None:
    """`_table` for names or values beyond ASCII: each encoded in UTF-8, then measured."""
    pieces: list[bytes] = []
    for name, value in headers.items():
        if not isinstance(value, str):
            return None
        key, text = name.encode(), value.encode()
        if len(key) > 255:
            return None
        pieces += (bytes((len(key),)), key, _STRING_VALUE.pack(b"S", len(text)), text)
    content = b"".join(pieces)
    return _LONG.pack(len(content)) + content
