"""Streaming copies: bounded chunks, lengths, progress, partial writers, ascii line ends."""

from __future__ import annotations

import io

import pytest

from sarra.transfer.stream import CrlfToLf, Read, copy, lf_to_crlf, write_all


def pieces(*chunks: bytes) -> Read:
    """A reader that returns the given chunks one per call, whatever size is asked."""
    queue = list(chunks)
    return lambda n: queue.pop(0) if queue else b""


def test_copy_asks_for_at_most_bufsize_and_reports_progress() -> None:
    source = io.BytesIO(bytes(range(256)) * 10)
    asked: list[int] = []

    def read(n: int) -> bytes:
        asked.append(n)
        return source.read(n)

    out = io.BytesIO()
    seen: list[int] = []
    assert copy(read, out.write, bufsize=1000, progress=seen.append) == 2560
    assert out.getvalue() == bytes(range(256)) * 10
    assert max(asked) == 1000
    assert seen == [1000, 2000, 2560]


def test_copy_stops_at_length_without_reading_more() -> None:
    source = io.BytesIO(b"0123456789")
    out = io.BytesIO()
    assert copy(source.read, out.write, bufsize=4, length=6) == 6
    assert out.getvalue() == b"012345"
    assert source.tell() == 6


def test_copy_returns_what_it_got_when_the_input_ends_early() -> None:
    out = io.BytesIO()
    assert copy(io.BytesIO(b"abc").read, out.write, bufsize=2, length=10) == 3


def test_write_all_finishes_what_a_raw_writer_leaves() -> None:
    written = bytearray()

    def two_at_a_time(data: bytes) -> int:
        written.extend(data[:2])
        return min(2, len(data))

    write_all(two_at_a_time, b"abcde")
    assert bytes(written) == b"abcde"


@pytest.mark.parametrize(
    "chunks",
    [
        (b"a\r\nb\r\n",),
        (b"a\r", b"\nb\r\n"),
        (b"a\r", b"\n", b"b\r", b"\n"),
        (b"a", b"\r", b"\nb\r\n"),
    ],
)
def test_crlf_to_lf_across_chunk_boundaries(chunks: tuple[bytes, ...]) -> None:
    out = io.BytesIO()
    copy(CrlfToLf(pieces(*chunks)), out.write, bufsize=100)
    assert out.getvalue() == b"a\nb\n"


def test_crlf_to_lf_keeps_a_lone_cr() -> None:
    out = io.BytesIO()
    copy(CrlfToLf(pieces(b"a\rb\r")), out.write, bufsize=100)
    assert out.getvalue() == b"a\rb\r"


def test_lf_to_crlf() -> None:
    assert lf_to_crlf(io.BytesIO(b"a\nb\n").read)(100) == b"a\r\nb\r\n"
