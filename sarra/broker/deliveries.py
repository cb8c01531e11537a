"""The frames of an AMQP 0-9-1 basic.deliver, and of a publisher confirm, read directly.

pika reads each message a consumer receives as three frames (method, content header, body):
for each it copies the rest of its read buffer, builds a Frame, then a Basic.Deliver, a
BasicProperties with its headers table, and passes them through its channel's content
assembler, about 10 µs a message. `read_delivery` reads the same bytes in one pass, by offset,
into the fields of a Delivery. It reads only the common case, a whole basic.deliver for one
consumer on one channel, its frames in a row; for anything else (another frame, another
consumer, a frame not whole yet, a long body, a property set it does not read, bytes that are
not well formed) it says so, and the frame goes to pika, which does what it always did (and
raises what it always raised).

`read_confirm` does the same for the publisher confirms of one channel (basic.ack and
basic.nack, one method frame each), which pika decodes into a Frame and a Method and passes
through its callback dispatch.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from pika import data

BODY_MAX = 128 * 1024
"""Bodies longer than this are left to pika, which assembles them frame by frame (a message
read here waits until all of it is in the read buffer)."""

MORE: Final = "more"
"""`read_delivery`'s answer when the buffer ends inside a delivery it reads: wait for more."""

Fields = tuple[str, str, bytes, dict[str, Any], str | None, bool, int]
"""routing_key, exchange, body, headers, content_type, redelivered, delivery_tag: a Delivery's
fields up to its generation."""

_FRAME = struct.Struct(">BHI")  # type, channel, payload size
_METHOD, _HEADER, _BODY, _END = 1, 2, 3, 0xCE
_DELIVER = struct.pack(">I", 0x003C003C)  # class basic (60), method deliver (60)
_TAG = struct.Struct(">QB")  # delivery tag, bits (redelivered)
_CONTENT = struct.Struct(">HHQH")  # class, weight, body size, property flags
_LONG = struct.Struct(">I")
_METHOD_START = struct.Struct(">BHII")  # type, channel, payload size, class and method
_ACK, _NACK = 0x003C0050, 0x003C0078  # basic (60): ack (80), nack (120)
_CONFIRM = struct.Struct(">QBB")  # delivery tag, bits (multiple), frame end
_CONFIRM_SIZE = 13  # class and method, delivery tag, bits
_BASIC = 60
_CONTENT_TYPE, _HEADERS = 1 << 15, 1 << 13
_CONTENT_ENCODING = 1 << 14
_OCTETS = (1 << 12) | (1 << 11)  # delivery mode, priority
_LATER = 0x07FC
_AFTER_OCTETS = [(1 << bit, 8 if bit == 6 else 0) for bit in range(10, 1, -1)]
"""(flag, size, or 0 for a short string) of each property after the priority, in order:
correlation id, reply to, expiration, message id, timestamp, type, user id, app id, cluster
id."""


def read_delivery(
    buffer: bytes, offset: int, channel: int, consumer_tag: bytes
) -> tuple[Fields, int] | str | None:
    """The delivery whose frames start at `offset` of `buffer`, if it is a basic.deliver to
    `consumer_tag` on `channel` of the shape read here: its fields and the offset after its
    last frame; MORE if the buffer ends before its last frame; None when the frame at `offset`
    is for pika to read."""
    try:
        return _read(buffer, offset, channel, consumer_tag)
    except Exception:  # not well formed: pika reads it and says what is wrong
        return None


def _read(
    buffer: bytes, offset: int, channel: int, consumer_tag: bytes
) -> tuple[Fields, int] | str | None:
    # Each frame's checks (bounds, kind and channel, frame end) are written out where it is
    # read, here and in read_confirm: one helper function for them all cost 3.2k instructions
    # a delivery (7%) and 1.5k a confirm (18%) under callgrind (bench/frames.py).
    size = len(buffer)
    if offset + 11 > size:  # not yet a method frame's start and method id
        return MORE if buffer[offset] == _METHOD else None
    kind, number, length = _FRAME.unpack_from(buffer, offset)
    if kind != _METHOD or number != channel or buffer[offset + 7 : offset + 11] != _DELIVER:
        return None
    # basic.deliver: consumer tag, delivery tag, redelivered, exchange, routing key
    end = offset + 7 + length
    if end >= size:
        return MORE
    if buffer[end] != _END:
        return None
    at = offset + 11
    tag_size = buffer[at]
    if buffer[at + 1 : at + 1 + tag_size] != consumer_tag:
        return None
    at += 1 + tag_size
    delivery_tag, bits = _TAG.unpack_from(buffer, at)
    at += 9
    exchange_end = at + 1 + buffer[at]
    exchange = buffer[at + 1 : exchange_end].decode()
    key_end = exchange_end + 1 + buffer[exchange_end]
    routing_key = buffer[exchange_end + 1 : key_end].decode()
    if key_end != end:
        return None
    # the content header
    at = end + 1
    if at + 7 > size:
        return MORE
    kind, number, length = _FRAME.unpack_from(buffer, at)
    if kind != _HEADER or number != channel:
        return None
    end = at + 7 + length
    if end >= size:
        return MORE
    if buffer[end] != _END:
        return None
    class_id, _weight, body_size, flags = _CONTENT.unpack_from(buffer, at + 7)
    if class_id != _BASIC or flags & 1 or body_size > BODY_MAX:
        return None  # continued flags: pika reads them
    at += 21
    content_type = None
    if flags & _CONTENT_TYPE:
        content_type = buffer[at + 1 : at + 1 + buffer[at]].decode()
        at += 1 + buffer[at]
    if flags & _CONTENT_ENCODING:
        at += 1 + buffer[at]
    headers: dict[str, Any] = {}
    if flags & _HEADERS:
        headers, at = _table(buffer, at)
    if flags & _OCTETS:
        at += (flags >> 12 & 1) + (flags >> 11 & 1)
    if flags & _LATER:
        for flag, fixed in _AFTER_OCTETS:
            if flags & flag:
                at += fixed or 1 + buffer[at]
    if at != end:
        return None
    # the body frames
    pieces = []
    got = 0
    at = end + 1
    while got < body_size:
        if at + 7 > size:
            return MORE
        kind, number, length = _FRAME.unpack_from(buffer, at)
        if kind != _BODY or number != channel or length == 0 or got + length > body_size:
            return None
        end = at + 7 + length
        if end >= size:
            return MORE
        if buffer[end] != _END:
            return None
        pieces.append(buffer[at + 7 : end])
        got += length
        at = end + 1
    body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    return (
        (routing_key, exchange, body, headers, content_type, bool(bits & 1), delivery_tag),
        at,
    )


def read_confirm(
    buffer: bytes, offset: int, channel: int
) -> tuple[int, bool, bool, int] | str | None:
    """The publisher confirm whose frame starts at `offset` of `buffer`, if it is a basic.ack
    or basic.nack on `channel`: its delivery tag, multiple, whether it is a nack, and the
    offset after its frame; MORE if the buffer ends before its frame does; None when the frame
    at `offset` is for pika to read."""
    if offset + 11 > len(buffer):  # not yet a method frame's start and method id
        return MORE if buffer[offset] == _METHOD else None
    kind, number, length, method = _METHOD_START.unpack_from(buffer, offset)
    if kind != _METHOD or number != channel or length != _CONFIRM_SIZE:
        return None
    if method == _ACK:
        nack = False
    elif method == _NACK:
        nack = True
    else:
        return None
    end = offset + 21
    if end > len(buffer):
        return MORE
    tag, bits, frame_end = _CONFIRM.unpack_from(buffer, offset + 11)
    if frame_end != _END:
        return None
    return tag, bits & 1 == 1, nack, end


def _table(buffer: bytes, at: int) -> tuple[dict[str, Any], int]:
    """The headers table at `at` and the offset after it: values of strings read here, any
    other by pika's decoder; values as text, as `text_headers` makes them."""
    (length,) = _LONG.unpack_from(buffer, at)
    start = at
    at += 4
    end = at + length
    table: dict[str, Any] = {}
    while at < end:
        key_end = at + 1 + buffer[at]
        key = buffer[at + 1 : key_end].decode()
        if buffer[key_end] != 0x53:  # not a long string ("S"): pika reads the table
            decoded, after = data.decode_table(buffer, start)
            return text_headers(decoded), after
        (size,) = _LONG.unpack_from(buffer, key_end + 1)
        at = key_end + 5 + size
        table[key] = buffer[key_end + 5 : at].decode("utf-8", "replace")
    if at != end:
        raise ValueError("a table longer than its size")
    return table, at


def text_headers(headers: dict[str, Any] | None) -> dict[str, Any]:
    """Header values as text (pika leaves a value that is not valid UTF-8 as bytes)."""
    if not headers:
        return {}
    for value in headers.values():  # a loop, not any(): once per delivery
        if isinstance(value, bytes):
            return {
                name: value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                for name, value in headers.items()
            }
    return headers
