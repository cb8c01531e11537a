"""Deliveries read directly from the frames pika's own marshalling writes give the fields pika
gives; every other frame, and every delivery of another shape, is left to pika; a stream cut
anywhere, in any number of reads, gives the same deliveries and frames as pika alone."""

from __future__ import annotations

import decimal
import itertools
import random
import struct
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pika import frame, spec
from pika.channel import ContentFrameAssembler

from sarra.broker.deliveries import BODY_MAX, MORE, read_delivery, text_headers
from sarra.broker.link import DirectConnection

TAG = "ctag1.0123456789abcdef"


def deliver(
    body: bytes = b"20240101120000.5 https://x /a/b",
    *,
    channel: int = 1,
    tag: str = TAG,
    delivery_tag: int = 7,
    redelivered: bool = False,
    exchange: str = "xpublic",
    key: str = "v02.post.a.b",
    properties: spec.BasicProperties | None = None,
    frame_max: int = 131072,
) -> bytes:
    """A basic.deliver's frames, as pika's marshalling writes them."""
    if properties is None:
        properties = spec.BasicProperties(
            content_type="text/plain", headers={"sum": "d,abc"}, delivery_mode=2
        )
    method = spec.Basic.Deliver(tag, delivery_tag, redelivered, exchange, key)
    pieces = [
        frame.Method(channel, method).marshal(),
        frame.Header(channel, len(body), properties).marshal(),
    ]
    step = frame_max - 8
    pieces += [frame.Body(channel, body[i : i + step]).marshal() for i in range(0, len(body), step)]
    return b"".join(pieces)


def by_pika(stream: bytes) -> tuple[Any, ...]:
    """The fields of the one delivery in `stream`, as pika decodes them and the consumer
    takes them."""
    assembler = ContentFrameAssembler()
    offset, done = 0, None
    while offset < len(stream):
        used, value = frame.decode_frame(stream[offset:])
        offset += used
        done = assembler.process(value)
    assert done is not None
    method, header, body = done[0].method, done[1].properties, done[2]
    return (method.routing_key, method.exchange, body, text_headers(header.headers),
            header.content_type, method.redelivered, method.delivery_tag)  # fmt: skip


def read(stream: bytes) -> Any:
    return read_delivery(stream, 0, 1, TAG.encode())


names = st.text(max_size=40).filter(lambda s: len(s.encode()) <= 255)


@given(
    exchange=names,
    key=names,
    body=st.binary(max_size=3000),
    frame_max=st.sampled_from([4096, 131072, 200]),
    content_type=st.none() | names,
    headers=st.none() | st.dictionaries(names.filter(bool), st.text(max_size=300)),
    delivery_tag=st.integers(1, 2**64 - 1),
    redelivered=st.booleans(),
    others=st.fixed_dictionaries(
        {},
        optional={
            "content_encoding": names,
            "delivery_mode": st.sampled_from([1, 2]),
            "priority": st.integers(0, 9),
            "correlation_id": names,
            "reply_to": names,
            "expiration": st.just("60000"),
            "message_id": names,
            "timestamp": st.integers(0, 2**63),
            "type": names,
            "user_id": names,
            "app_id": names,
            "cluster_id": names,
        },
    ),
)
def test_a_delivery_reads_as_pika_reads_it(
    exchange: str, key: str, body: bytes, frame_max: int, content_type: str | None,
    headers: dict[str, str] | None, delivery_tag: int, redelivered: bool, others: dict[str, Any],
) -> None:  # fmt: skip
    properties = spec.BasicProperties(content_type=content_type, headers=headers, **others)
    stream = deliver(
        body, exchange=exchange, key=key, properties=properties, frame_max=frame_max,
        delivery_tag=delivery_tag, redelivered=redelivered,
    )  # fmt: skip
    found = read(stream + b"more")
    assert found is not None and found != MORE
    fields, end = found
    assert fields == by_pika(stream)
    assert end == len(stream)


def test_headers_of_every_type_pika_decodes() -> None:
    table: dict[str, Any] = {
        "text": "abc",
        "bytes": b"\x00\xff",
        "yes": True,
        "small": 5,
        "large": 2**40,
        "negative": -70000,
        "decimal": decimal.Decimal("1.25"),
        "when": datetime(2024, 1, 1, tzinfo=UTC),
        "table": {"a": "b", "n": 1},
        "list": ["a", 1, None],
        "none": None,
    }
    stream = deliver(properties=spec.BasicProperties(headers=table))
    fields, _end = read(stream)
    assert fields == by_pika(stream)
    assert fields[3]["table"] == {"a": "b", "n": 1} and fields[3]["decimal"] == table["decimal"]


@pytest.mark.parametrize("kind, value", [
    (b"b", struct.pack(">b", -3)), (b"B", b"\xfd"), (b"U", struct.pack(">h", -3)),
    (b"u", struct.pack(">H", 3)), (b"s", struct.pack(">h", -3)), (b"i", struct.pack(">I", 3)),
    (b"L", struct.pack(">q", -3)), (b"f", struct.pack(">f", 1.5)),
    (b"d", struct.pack(">d", 1.5)), (b"T", struct.pack(">Q", 1700000000)),
    (b"x", struct.pack(">I", 2) + b"\xff\x00"), (b"S", struct.pack(">I", 2) + b"\xff\xfe"),
])  # fmt: skip
def test_header_kinds_pika_only_reads(kind: bytes, value: bytes) -> None:
    """Kinds pika reads but does not write, in a table after a string."""
    entries = b"\x01aS" + struct.pack(">I", 1) + b"z" + b"\x01k" + kind + value
    table = struct.pack(">I", len(entries)) + entries
    header = struct.pack(">HHQH", 60, 0, 1, 1 << 13) + table
    stream = (frame.Method(1, spec.Basic.Deliver(TAG, 1, False, "x", "k")).marshal()
              + struct.pack(">BHI", 2, 1, len(header)) + header + b"\xce"
              + frame.Body(1, b"b").marshal())  # fmt: skip
    fields, end = read(stream)
    assert fields == by_pika(stream) and end == len(stream)
    assert not any(isinstance(v, bytes) for v in fields[3].values())


NOT_UTF8_KEY = deliver(properties=spec.BasicProperties(headers={"\u00ff": "v"}))
NOT_UTF8_KEY = NOT_UTF8_KEY.replace("\u00ff".encode(), b"\xff\xff")


@pytest.mark.parametrize(
    "stream",
    [
        deliver(tag="another consumer"),
        deliver(channel=2),
        deliver(exchange="x", key="k")[:-1] + b"\x00",  # not a frame end
        frame.Heartbeat().marshal() + deliver(),
        frame.Method(1, spec.Basic.CancelOk(TAG)).marshal(),
        deliver(b"x" * (BODY_MAX + 1)),
        NOT_UTF8_KEY,
    ],
    ids=["consumer", "channel", "end", "heartbeat", "method", "long", "key"],
)
def test_other_frames_are_left_to_pika(stream: bytes) -> None:
    assert read(stream) is None


def test_a_delivery_not_whole_waits_for_more() -> None:
    stream = deliver(b"body in three frames", frame_max=16)
    for cut in range(1, len(stream)):
        assert read(stream[:cut]) == MORE, cut


class _Channel:
    channel_number = 1
    is_open = True


class Reading(DirectConnection):
    """The connection's reading of frames alone (no socket): pika's frames are recorded, and
    its deliveries made into fields as the consumer makes them."""

    def __init__(self, direct: bool) -> None:  # not connected: only the reading is exercised
        self._frame_buffer = b""
        self.bytes_received = 0
        self.frames_received = 0
        self.events: list[Any] = []
        self._assemblers: dict[int, ContentFrameAssembler] = {}
        if direct:
            self.deliver_directly(_Channel(), TAG, self.events.append)  # type: ignore[arg-type]

    def _process_frame(self, value: Any) -> None:
        if isinstance(value, frame.Heartbeat) or (
            isinstance(value, frame.Method) and not spec.has_content(value.method.INDEX)
        ):
            self.events.append(("frame", value.channel_number, value.method.NAME
                                if isinstance(value, frame.Method) else "heartbeat"))  # fmt: skip
            return
        assembler = self._assemblers.setdefault(value.channel_number, ContentFrameAssembler())
        done = assembler.process(value)
        if done:
            method, header, body = done[0].method, done[1].properties, done[2]
            if method.consumer_tag != TAG or done[0].channel_number != 1:
                self.events.append(("other", done[0].channel_number, method.delivery_tag))
                return
            self.events.append((method.routing_key, method.exchange, body,
                                text_headers(header.headers), header.content_type,
                                method.redelivered, method.delivery_tag))  # fmt: skip


def stream_of(seed: int) -> bytes:
    """Deliveries of every shape read here and of others, with frames between them."""
    chance = random.Random(seed)
    pieces = []
    for tag in range(1, 40):
        shape = chance.randrange(8)
        if shape == 0:
            pieces.append(frame.Heartbeat().marshal())
        elif shape == 1:
            pieces.append(frame.Method(1, spec.Queue.DeclareOk("q", tag, 1)).marshal())
        elif shape == 2:
            pieces.append(deliver(tag="other", delivery_tag=tag))
        elif shape == 3:
            pieces.append(deliver(channel=2, delivery_tag=tag))
        elif shape == 4:
            headers = {"n": tag, "when": datetime(2024, 1, 1, tzinfo=UTC), "s": "x"}
            properties = spec.BasicProperties(headers=headers)
            pieces.append(deliver(delivery_tag=tag, properties=properties))
        elif shape == 5:
            pieces.append(deliver(b"y" * chance.randrange(0, 600), delivery_tag=tag, frame_max=100))
        else:
            body = bytes(chance.randrange(256) for _ in range(chance.randrange(0, 300)))
            pieces.append(deliver(body, delivery_tag=tag, redelivered=chance.random() < 0.2))
    return b"".join(pieces)


@settings(max_examples=200)
@given(seed=st.integers(0, 2**32), cuts=st.lists(st.floats(0, 1), max_size=30))
def test_a_stream_cut_anywhere_reads_as_pika_reads_it(seed: int, cuts: list[float]) -> None:
    stream = stream_of(seed)
    alone = Reading(direct=False)
    alone._on_data_available(stream)
    points = sorted({int(c * len(stream)) for c in cuts} | {0, len(stream)})
    direct = Reading(direct=True)
    for start, end in itertools.pairwise(points):
        direct._on_data_available(stream[start:end])
    assert direct.events == alone.events
    assert direct.bytes_received == alone.bytes_received == len(stream)
    assert direct._frame_buffer == b""
