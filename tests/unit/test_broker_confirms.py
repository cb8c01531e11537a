"""Publisher confirms read directly from the frames pika's own marshalling writes give what pika
gives; every other frame is left to pika; a stream of confirms, deliveries and other frames, cut
anywhere, in any number of reads, gives the same confirms, deliveries and frames as pika
alone, and the same count of bytes."""

from __future__ import annotations

import itertools
import random
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pika import frame, spec
from test_broker_deliveries import Reading, deliver

from sarra.broker.deliveries import MORE, read_confirm

CONFIRMS = 3
"""The publishing channel's number in the streams below (the consumer's is 1)."""


def ack(tag: int, multiple: bool = False, channel: int = CONFIRMS) -> bytes:
    return frame.Method(channel, spec.Basic.Ack(tag, multiple)).marshal()


def nack(tag: int, multiple: bool = False, requeue: bool = True, channel: int = CONFIRMS) -> bytes:
    return frame.Method(channel, spec.Basic.Nack(tag, multiple, requeue)).marshal()


def by_pika(stream: bytes) -> tuple[int, bool, bool, int]:
    """The confirm `stream` starts with, as pika decodes it, and the bytes pika took."""
    used, value = frame.decode_frame(stream)
    method = value.method
    return method.delivery_tag, method.multiple, isinstance(method, spec.Basic.Nack), used


@given(
    tag=st.integers(0, 2**64 - 1),
    multiple=st.booleans(),
    requeue=st.booleans(),
    is_nack=st.booleans(),
    channel=st.integers(1, 2**16 - 1),
)
def test_a_confirm_reads_as_pika_reads_it(
    tag: int, multiple: bool, requeue: bool, is_nack: bool, channel: int
) -> None:
    stream = nack(tag, multiple, requeue, channel) if is_nack else ack(tag, multiple, channel)
    assert read_confirm(stream + b"more", 0, channel) == by_pika(stream)
    assert read_confirm(b"before" + stream, 6, channel) == (*by_pika(stream)[:3], 6 + len(stream))


LONGER_ACK = struct.pack(">BHIIQBB", 1, CONFIRMS, 14, 0x003C0050, 5, 0, 0) + b"\xce"
"""A basic.ack with a byte more than its fields: pika reads it (and ignores the byte)."""


@pytest.mark.parametrize(
    "stream",
    [
        ack(5, channel=2),
        nack(5, channel=CONFIRMS + 256),
        ack(5)[:-1] + b"\x00",  # not a frame end
        nack(5)[:-1] + b"\x00",
        frame.Method(CONFIRMS, spec.Basic.Reject(5)).marshal(),  # the same size as an ack
        frame.Method(CONFIRMS, spec.Confirm.SelectOk()).marshal(),
        frame.Method(CONFIRMS, spec.Basic.Recover()).marshal(),
        frame.Heartbeat().marshal() + ack(5),
        deliver(channel=CONFIRMS),
        frame.Header(CONFIRMS, 13, spec.BasicProperties()).marshal(),
        LONGER_ACK,
    ],
    ids=["channel", "channel-high", "end", "nack-end", "reject", "select-ok", "recover",
         "heartbeat", "deliver", "header", "longer"],
)  # fmt: skip
def test_other_frames_are_left_to_pika(stream: bytes) -> None:
    assert read_confirm(stream, 0, CONFIRMS) is None
    if stream == LONGER_ACK:
        assert by_pika(stream) == (5, False, False, len(stream))


def test_a_confirm_not_whole_waits_for_more() -> None:
    for stream in ack(2**64 - 1, True), nack(7, True, False):
        for cut in range(1, len(stream)):
            assert read_confirm(stream[:cut], 0, CONFIRMS) == MORE, cut


def test_a_method_frame_of_another_kind_not_whole_is_pikas_once_its_method_shows() -> None:
    stream = frame.Method(CONFIRMS, spec.Basic.Reject(5)).marshal()
    for cut in range(1, len(stream)):
        assert read_confirm(stream[:cut], 0, CONFIRMS) == (MORE if cut < 11 else None), cut


class ConfirmReading(Reading):
    """Reading, with the confirms of channel CONFIRMS read directly too, if asked; pika's
    confirms recorded as those read directly are."""

    def __init__(self, deliveries: bool, confirms: bool) -> None:
        super().__init__(deliveries)
        if confirms:
            self.confirm_directly(_Publishing(), self.confirmed)  # type: ignore[arg-type]

    def confirmed(self, tag: int, multiple: bool, nack: bool) -> None:
        self.events.append(("confirm", CONFIRMS, tag, multiple, nack))

    def _process_frame(self, value: Any) -> None:
        if isinstance(value, frame.Method) and isinstance(
            value.method, spec.Basic.Ack | spec.Basic.Nack
        ):
            method = value.method
            nacked = isinstance(method, spec.Basic.Nack)
            self.events.append(("confirm", value.channel_number, method.delivery_tag,
                                method.multiple, nacked))  # fmt: skip
            return
        super()._process_frame(value)


class _Publishing:
    channel_number = CONFIRMS
    is_open = True


OTHERS = [
    frame.Heartbeat().marshal(),
    deliver(channel=2),
    deliver(tag="other"),
    frame.Method(1, spec.Queue.DeclareOk("q", 1, 1)).marshal(),
    frame.Method(CONFIRMS, spec.Channel.CloseOk()).marshal(),
]


def mixed_of(seed: int) -> bytes:
    """Confirms of every kind, on the publishing channel and others, among deliveries (whole
    and in several body frames), other frames, and frames like a confirm that are not one."""
    chance = random.Random(seed)
    pieces = []
    for tag in range(1, 60):
        shape = chance.randrange(10)
        multiple = chance.random() < 0.5
        if shape < 4:
            pieces.append(ack(tag, multiple))
        elif shape == 4:
            pieces.append(nack(tag, multiple, chance.random() < 0.5))
        elif shape == 5:
            pieces.append(ack(tag, multiple, channel=chance.choice([1, 2])))
        elif shape == 6:
            pieces.append(frame.Method(CONFIRMS, spec.Basic.Reject(tag)).marshal())
        elif shape == 7:
            pieces.append(LONGER_ACK)
        elif shape == 8:
            pieces.append(deliver(bytes(chance.randrange(600)), delivery_tag=tag, frame_max=100))
        else:
            pieces.append(chance.choice(OTHERS))
    return b"".join(pieces)


def alone(stream: bytes) -> ConfirmReading:
    reading = ConfirmReading(deliveries=False, confirms=False)
    reading._on_data_available(stream)
    return reading


def read_in(stream: bytes, points: list[int], deliveries: bool) -> ConfirmReading:
    reading = ConfirmReading(deliveries, confirms=True)
    for start, end in itertools.pairwise(points):
        reading._on_data_available(stream[start:end])
    return reading


@settings(max_examples=200)
@given(
    seed=st.integers(0, 2**32),
    cuts=st.lists(st.floats(0, 1), max_size=30),
    deliveries=st.booleans(),
)
def test_a_stream_cut_anywhere_reads_as_pika_reads_it(
    seed: int, cuts: list[float], deliveries: bool
) -> None:
    stream = mixed_of(seed)
    pika_alone = alone(stream)
    points = sorted({int(c * len(stream)) for c in cuts} | {0, len(stream)})
    direct = read_in(stream, points, deliveries)
    assert direct.events == pika_alone.events
    assert direct.bytes_received == pika_alone.bytes_received == len(stream)
    assert direct._frame_buffer == b""


@pytest.mark.parametrize("deliveries", [False, True], ids=["confirms", "both"])
def test_a_stream_cut_at_every_point_and_read_byte_by_byte_reads_as_pika_reads_it(
    deliveries: bool,
) -> None:
    stream = b"".join([
        ack(1), nack(2, True), frame.Heartbeat().marshal(), deliver(delivery_tag=3),
        ack(4, channel=2), LONGER_ACK, frame.Method(CONFIRMS, spec.Basic.Reject(6)).marshal(),
        deliver(b"two body frames", delivery_tag=7, frame_max=16), ack(8, True),
    ])  # fmt: skip
    pika_alone = alone(stream)
    assert ("confirm", CONFIRMS, 8, True, False) in pika_alone.events
    assert any(event[0] != "confirm" and event[-1] == 3 for event in pika_alone.events)
    for points in itertools.chain(
        ([0, cut, len(stream)] for cut in range(len(stream) + 1)),
        [list(range(len(stream) + 1))],
    ):
        direct = read_in(stream, points, deliveries)
        assert direct.events == pika_alone.events, points
        assert direct.bytes_received == len(stream)
        assert direct._frame_buffer == b""


def test_confirms_are_read_directly_only_while_the_channel_is_open() -> None:
    reading = ConfirmReading(deliveries=False, confirms=True)
    read: list[int] = []
    reading.confirm_directly(_Publishing(), lambda tag, _m, _n: read.append(tag))  # type: ignore[arg-type]
    reading._on_data_available(ack(1))
    closing = _Publishing()
    closing.is_open = False
    reading.confirm_directly(closing, lambda tag, _m, _n: read.append(tag))  # type: ignore[arg-type]
    reading._on_data_available(ack(2))
    reading.confirm_directly(_Publishing(), None)  # type: ignore[arg-type]
    reading._on_data_available(ack(3))
    assert read == [1]
    assert reading.events == [("confirm", CONFIRMS, 2, False, False),
                              ("confirm", CONFIRMS, 3, False, False)]  # fmt: skip
    assert reading.bytes_received == 3 * len(ack(1))
