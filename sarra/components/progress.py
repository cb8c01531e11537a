"""The progress of long work (sr_post on a tree, a pass of sr_poll): counts, rates and, when
the total is known, an estimate of the time left, shown on a terminal in one line redrawn in
place a few times a second; and the one summary line written at the end, terminal or not.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from sarra.components.terminal import Terminal
from sarra.sizes import human_size

EVERY = 0.25
"""Seconds between two drawings of the progress line."""

SETTLE = 1.0
"""Seconds of work before an estimate of the time left is given (the first rates are noise)."""


class Counts(NamedTuple):
    """How far the work is: files done (and their bytes), files that failed; the totals when
    they are known; a note on what else goes on (e.g. what was listed)."""

    files: int = 0
    bytes: int = 0
    failed: int = 0
    total_files: int | None = None
    total_bytes: int | None = None
    note: str = ""


def plural(count: int, one: str, many: str = "") -> str:
    """`1 file`, `2,000 files`."""
    return f"{count:,} {one if count == 1 else many or one + 's'}"


def duration(seconds: float) -> str:
    """A duration as people read it on one line, rounded up: 9 s, 4 min 10 s, 2 h 5 min."""
    seconds = math.ceil(max(0.0, seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def left(counts: Counts, seconds: float) -> float | None:
    """Seconds left at the rates so far, when the total is known (the slower of the files'
    and the bytes' estimates: small files cost per file, large ones per byte)."""
    if counts.total_files is None or seconds < SETTLE or counts.files == 0:
        return None
    estimates = [(counts.total_files - counts.files) * seconds / counts.files]
    if counts.total_bytes is not None and counts.bytes:
        estimates.append((counts.total_bytes - counts.bytes) * seconds / counts.bytes)
    return max(0.0, *estimates)


def line(verb: str, counts: Counts, seconds: float) -> str:
    """The progress line: `posted 1,200/5,000 files, 1.2 MiB/4.9 MiB, 800 files/s, 800 KiB/s,
    5 s left; 2 failed; <note>` (the totals and the time left when the total is known)."""
    seconds = max(seconds, 1e-6)
    files, size = f"{counts.files:,}", human_size(counts.bytes)
    if counts.total_files is not None:
        files += f"/{counts.total_files:,}"
        if counts.total_bytes is not None:
            size += f"/{human_size(counts.total_bytes)}"
    text = (f"{verb} {files} files, {size}, {counts.files / seconds:,.0f} files/s,"
            f" {human_size(counts.bytes / seconds)}/s")  # fmt: skip
    remaining = left(counts, seconds)
    if remaining is not None:
        text += f", {duration(remaining)} left"
    if counts.failed:
        text += f"; {counts.failed:,} failed"
    if counts.note:
        text += f"; {counts.note}"
    return text


def summary(verb: str, files: int, size: int, failed: int, seconds: float) -> str:
    """The line at the end of the work: `posted 5,000 files (4.9 MiB) in 0.61 s: 8,197
    files/s, 8.0 MiB/s; 0 failed`."""
    seconds = max(seconds, 1e-6)
    return (f"{verb} {plural(files, 'file')} ({human_size(size)}) in {seconds:.2f} s:"
            f" {files / seconds:,.0f} files/s, {human_size(size / seconds)}/s;"
            f" {failed:,} failed")  # fmt: skip


class Progress:
    """The progress line of some work on a terminal, drawn by a thread of its own every EVERY
    seconds from what `counts` says; with no terminal, nothing at all. Start it, then close
    it (the line is cleared: the summary takes its place)."""

    def __init__(
        self,
        terminal: Terminal | None,
        verb: str,
        counts: Callable[[], Counts],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.terminal = terminal
        self.verb = verb
        self.counts = counts
        self.clock = clock
        self.started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def text(self) -> str:
        """The progress line as of now."""
        return line(self.verb, self.counts(), self.clock() - self.started)

    def start(self) -> Progress:
        """Begin drawing (on a terminal only)."""
        if self.terminal is not None:
            self._thread = threading.Thread(target=self._draw, name="progress", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop drawing and clear the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.terminal is not None:
            self.terminal.show("")

    def _draw(self) -> None:
        assert self.terminal is not None
        while not self._stop.wait(EVERY):
            self.terminal.show(self.text())
