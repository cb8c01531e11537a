"""Streaming copies in bounded chunks, with progress reports and an optional rate limit."""

from __future__ import annotations

import time
from collections.abc import Callable

Progress = Callable[[int], None]
"""Called after each chunk with the number of bytes copied so far."""

Read = Callable[[int], bytes]
"""Returns up to n bytes (at least one), or b'' at the end of the input."""


def copy(
    read: Read,
    write: Callable[[bytes], object],
    *,
    bufsize: int,
    length: int | None = None,
    kbytes_ps: float = 0,
    progress: Progress | None = None,
) -> int:
    """Copy from `read` to `write` until `length` bytes or the end; return the bytes copied.

    At most `bufsize` bytes are asked for at a time, so memory stays bounded whatever the size.
    With `kbytes_ps` > 0 the average rate is held to that many KiB per second.
    """
    start = time.monotonic()
    done = 0
    while length is None or done < length:
        chunk = read(bufsize if length is None else min(bufsize, length - done))
        if not chunk:
            break
        write_all(write, chunk)
        done += len(chunk)
        if progress is not None:
            progress(done)
        if kbytes_ps > 0:
            ahead = done / (kbytes_ps * 1024) - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    return done


def write_all(write: Callable[[bytes], object], data: bytes) -> None:
    """Write all of `data`, also through writers that may write only part of it (raw files)."""
    while data:
        written = write(data)
        if not isinstance(written, int) or written >= len(data):
            return
        data = data[written:]


class CrlfToLf:
    """A reader that turns the CRLF line ends of FTP ascii mode into local LF ones."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._pending = b""

    def __call__(self, n: int) -> bytes:
        while True:
            data = self._read(n)
            if not data:
                held, self._pending = self._pending, b""
                return held
            data = self._pending + data
            # A CR at the end may be the first half of a CRLF split across reads.
            self._pending = b"\r" if data.endswith(b"\r") else b""
            data = data[: len(data) - len(self._pending)].replace(b"\r\n", b"\n")
            if data:
                return data


def lf_to_crlf(read: Read) -> Read:
    """A reader that turns local LF line ends into the CRLF of FTP ascii mode."""
    return lambda n: read(n).replace(b"\n", b"\r\n")
