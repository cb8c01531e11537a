"""An instance's log file: rotated (TimedRotatingFileHandler), its lines below WARNING written
together at most FLUSH_DELAY seconds after the first of them rather than one write each (a poster
logs a line per file, thousands a second: with the write of each, and the stdlib's three frames
of emit, a line cost 22 µs of CPU here, 16 µs without); a warning or an error, and everything
pending with it, is written at once, and all is written when the file is closed (at exit, at
rotation). Imported only by what logs to a file."""

from __future__ import annotations

import logging
import logging.handlers
import threading
import time

FLUSH_DELAY = 0.1
"""Most seconds a line below WARNING waits in the file's buffer."""


class LogFile(logging.handlers.TimedRotatingFileHandler):
    """A rotating log file that writes its routine lines in bursts (see the module): one thread
    of its own writes them FLUSH_DELAY seconds after the first of a burst (started with the first
    routine line, idle between bursts)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pending = threading.Event()
        """Lines wait in the buffer (set and cleared under the handler's lock)."""
        self._closing = False
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Write a record (the stdlib's rotating emit in one frame, a line per file costing
        less), flushed now from WARNING up, else within FLUSH_DELAY."""
        try:
            if self.shouldRollover(record):
                self.doRollover()
            stream = self.stream
            if stream is None:  # closed, then written to again
                stream = self.stream = self._open()
            stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.flush()
            elif not self._pending.is_set():
                self._flush_soon()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flush_soon(self) -> None:
        if self._flusher is None or not self._flusher.is_alive():
            flusher = threading.Thread(target=self._flush_bursts, name="log-flush", daemon=True)
            try:
                flusher.start()
            except RuntimeError:  # no new thread at the interpreter's exit: write now
                self.flush()
                return
            self._flusher = flusher
        self._pending.set()

    def _flush_bursts(self) -> None:
        """Write each burst of routine lines FLUSH_DELAY seconds after its first, until closed."""
        while True:
            self._pending.wait()
            if not self._closing:
                time.sleep(FLUSH_DELAY)
            with self.lock:  # type: ignore[union-attr]
                self._pending.clear()
                self.flush()
                if self._closing:
                    return

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._closing = True
            self._pending.set()  # the flusher, if any, ends
        super().close()  # writes what is buffered
