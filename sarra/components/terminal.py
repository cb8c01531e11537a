"""Standard error as a terminal, for long work in this process (sr_post, sr_poll in the
foreground): log lines scroll above one line of progress, redrawn in place. Per-file log lines
(logger PER_FILE) are left off the terminal unless asked for (`verbose`): the log file has
them.

Nothing here is used when standard error is not a terminal: a pipe or a file gets the log lines,
every one, and never a progress line.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TextIO

PER_FILE = "sarra.file"
"""The logger of the lines written for each file (posted, announced, skipped...)."""

ERASE = "\r\x1b[K"
"""Back to the start of the line, and clear it."""


class Terminal:
    """A terminal's stream: lines written above, and a status line kept below them. Used
    from any thread."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        # reentrant: a signal handler that logs (SIGTERM's "stopping") may interrupt a write
        # in the same thread
        self._lock = threading.RLock()
        self._status = ""

    def write(self, line: str) -> None:
        """Write a line above the status line."""
        with self._lock:
            self._put(f"{ERASE if self._status else ''}{line}\n{self._status}")

    def show(self, status: str) -> None:
        """Replace the status line (cut to the terminal's width; "" clears it)."""
        status = status[: self._width() - 1]
        with self._lock:
            if status != self._status:
                self._put(f"{ERASE if self._status else ''}{status}")
                self._status = status

    def _put(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError):
            columns = 0
        return columns or 80  # a terminal that does not say its size: 0


class TerminalHandler(logging.Handler):
    """Log lines onto a Terminal; per-file lines below WARNING only when `per_file`."""

    def __init__(self, terminal: Terminal, per_file: bool) -> None:
        super().__init__()
        self.terminal = terminal
        self.per_file = per_file

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == PER_FILE and record.levelno < logging.WARNING and not self.per_file:
            return False
        return bool(super().filter(record))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.terminal.write(self.format(record))
        except Exception:
            self.handleError(record)


_current: Terminal | None = None


def current() -> Terminal | None:
    """The terminal this process's log goes to, when it shows progress (see attach)."""
    return _current


def attach(terminal: Terminal | None) -> None:
    """Make `terminal` the one progress is shown on (None: no progress shown)."""
    global _current
    _current = terminal
