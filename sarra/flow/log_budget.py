"""Lines about bad input, kept from flooding the log: the first few of each kind in a minute, then
one line that says how many more there were.

A peer that sends thousands of malformed notices, or a plugin that names a refused path for
every file, would otherwise write a line per notice. Each kind (malformed notice, refused path)
gets `burst` lines per `window` seconds; the rest go to debug level and are summed up in one
line when the window is over (at the next line of that kind, or at the next `flush`, which the
loop calls from its heartbeat). Every notice is still counted in the figures.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BURST = 10
"""Lines of one kind logged at their own level in one window."""

WINDOW = 60.0
"""Seconds of a window."""


@dataclass
class _Window:
    started: float
    logged: int = 0
    held: int = 0
    last: str = ""


class LogBudget:
    """The lines of each kind of bad input logged in the current window, and those held back."""

    def __init__(
        self,
        logger: logging.Logger,
        burst: int = BURST,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.window = window
        self.clock = clock
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def log(self, level: int, kind: str, message: str, *args: Any) -> None:
        """Log `message % args` at `level` while the window of `kind` has room, else at debug
        level, to be summed up when the window is over."""
        now = self.clock()
        with self._lock:
            window = self._windows.get(kind)
            if window is not None and now - window.started >= self.window:
                self._sum_up(kind, window, level)
                window = None
            if window is None:
                window = self._windows[kind] = _Window(now)
            held = window.logged >= self.burst
            if held:
                window.held += 1
                window.last = message % args if args else message
            else:
                window.logged += 1
        if held:
            self.logger.debug(message, *args)
            return
        self.logger.log(level, message, *args)
        if window.logged == self.burst:
            self.logger.log(level, "more %s lines in the next %s s go to debug level, counted",
                            kind, f"{self.window - (now - window.started):.0f}")  # fmt: skip

    def flush(self) -> None:
        """Sum up every window that is over (the loop calls this from its heartbeat)."""
        now = self.clock()
        with self._lock:
            for kind, window in list(self._windows.items()):
                if now - window.started >= self.window:
                    self._sum_up(kind, window, logging.WARNING)
                    del self._windows[kind]

    def _sum_up(self, kind: str, window: _Window, level: int) -> None:
        if window.held:
            self.logger.log(level, "%d more %s lines in %s s were at debug level; the last: %s",
                            window.held, kind, f"{self.window:.0f}", window.last)  # fmt: skip
