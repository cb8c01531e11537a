"""The frames of a basic.publish written directly are, byte for byte, those pika writes; a
message of another shape is left to pika."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pika import frame, spec

from sarra.broker.frames import publish_frames


def pika_frames(channel: int, exchange: str, key: str, body: bytes,
                properties: spec.BasicProperties, frame_max: int) -> bytes:  # fmt: skip
    """What pika's Connection._send_message writes for a basic_publish."""
    method = frame.Method(channel, spec.Basic.Publish(exchange=exchange, routing_key=key))
    pieces = [method.marshal(), frame.Header(channel, len(body), properties).marshal()]
    step = frame_max - 8
    pieces += [frame.Body(channel, body[i : i + step]).marshal() for i in range(0, len(body), step)]
    return b"".join(pieces)


names = st.text(min_size=0, max_size=40)
ascii_text = st.text(st.characters(max_codepoint=127), max_size=600)
headers = (
    st.none()
    | st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=300))
    | st.dictionaries(st.text(st.characters(max_codepoint=127), min_size=1), ascii_text)
)


@given(
    channel=st.integers(1, 65535),
    exchange=names,
    key=names,
    body=st.binary(max_size=3000),
    content_type=st.none() | st.sampled_from(["text/plain", "application/json"]),
    table=headers,
    delivery_mode=st.none() | st.sampled_from([1, 2]),
    frame_max=st.sampled_from([4096, 131072, 1000]),
)
def test_the_frames_are_those_pika_writes(
    channel: int, exchange: str, key: str, body: bytes, content_type: str | None,
    table: dict[str, str] | None, delivery_mode: int | None, frame_max: int,
) -> None:  # fmt: skip
    properties = spec.BasicProperties(
        content_type=content_type, headers=table, delivery_mode=delivery_mode
    )
    ours = publish_frames(channel, exchange, key, body, content_type, table, delivery_mode,
                          frame_max)  # fmt: skip
    assert ours == pika_frames(channel, exchange, key, body, properties, frame_max)


@pytest.mark.parametrize(
    ("exchange", "key", "table"),
    [
        ("x" * 256, "k", None),
        ("x", "é" * 128, None),
        ("x", "k", {"n": 3}),
        ("x", "k", {"k" * 256: "v"}),
    ],
)
def test_another_shape_is_left_to_pika(exchange: str, key: str, table: dict | None) -> None:
    assert publish_frames(1, exchange, key, b"body", "text/plain", table, 2, 131072) is None
