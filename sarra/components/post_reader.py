"""What sr_post posts for a local file, worked out without logging, so that it can run in a
reader process beside the one that publishes.

`Preparer` turns a file into its messages (or says why it is skipped). `Reader` runs a Preparer
in a child process, forked before the publisher's thread starts: reading, hashing and encoding
the files of a tree then take the other core while the poster publishes and logs. The files go
in batches, two in flight, and their outcomes come back in the order given; if the process is
lost, the files it did not answer for are prepared in this process instead (nothing is lost, and
nothing is posted twice since only the poster publishes).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import stat
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection
from typing import NamedTuple

from sarra.broker import Message
from sarra.config.credentials import redact_url
from sarra.flow.announce import Announcer
from sarra.flow.publish import NoticePublisher
from sarra.message.errors import NotEncodable
from sarra.message.notice import Notice

logger = logging.getLogger("sarra.post")

BATCH = 100
"""Files sent to the reader process at a time."""

File = tuple[str, os.stat_result]


class Posted(NamedTuple):
    """A file ready to post: its URL as logs show it, size, log detail and messages (and the
    notices they encode, for after_post plugins; none from a reader process, which serves no
    config that has any)."""

    url: str
    size: int
    what: str
    messages: list[Message]
    notices: tuple[Notice, ...] = ()


class Skipped(NamedTuple):
    """A file not posted, and the line to log about it (at ERROR it counts as an error)."""

    level: int
    text: str


Outcome = Posted | Skipped | None
"""What preparing a file gives; None for a file that has nothing to announce."""


def file_notices(
    announcer: Announcer, path: str, st: os.stat_result | None, renamed_from: str | None = None
) -> tuple[list[Notice], int] | Skipped | None:
    """The notices of a file or link and its size (`st` its lstat, taken if None); Skipped when
    it vanished, changed while it was read or cannot be read; None when nothing is announced."""
    try:
        if st is None:
            st = os.lstat(path)
        notices = announcer.notices(path, st, renamed_from)
    except FileNotFoundError:
        return Skipped(logging.WARNING, f"skipped {path}: it vanished")
    except ValueError as err:  # it shrank while it was read: a new version will come
        return Skipped(logging.WARNING, f"skipped {path}: {err}")
    except OSError as err:
        return Skipped(logging.ERROR, f"cannot post {path}: {err.strerror or err}")
    if not notices:
        return None
    return notices, st.st_size if stat.S_ISREG(st.st_mode) else 0


@functools.lru_cache(maxsize=64)
def _shown_base(base_url: str) -> str:
    return redact_url(base_url)


def shown_url(notice: Notice) -> str:
    """The notice's URL with any password in its base hidden (as log lines show it)."""
    return notice.url.replace(notice.base_url, _shown_base(notice.base_url), 1)


def what(notice: Notice, count: int) -> str:
    """The end of a `posted` log line: what the file's notices announce."""
    operation = notice.file_op or {}
    if "remove" in operation:
        return " (removed)"
    if "link" in operation:
        return f" (link to {operation['link']})"
    detail = f"{notice.size} bytes" if count == 1 else f"{count} parts"
    if "rename" in operation:
        detail += f", renamed from {operation['rename']}"
    return f" ({detail})"


class Preparer:
    """Files to Posted messages, as the announcer and publisher of a config make them (no
    on_post plugins: those run in the poster, on notices)."""

    def __init__(self, announcer: Announcer, publisher: NoticePublisher) -> None:
        self.announcer = announcer
        self.publisher = publisher

    def __call__(self, path: str, st: os.stat_result) -> Outcome:
        found = file_notices(self.announcer, path, st)
        if found is None or isinstance(found, Skipped):
            return found
        notices, size = found
        url = shown_url(notices[0])
        try:
            messages = [self.publisher.message(notice) for notice in notices]
        except NotEncodable as err:
            return Skipped(logging.ERROR, f"not posted {url}: {err}")
        return Posted(url, size, what(notices[0], len(notices)), messages)


class Reader:
    """A Preparer in a child process. Start it before any thread (it forks); `close` it."""

    def __init__(self, prepare: Preparer) -> None:
        self.prepare = prepare
        context = multiprocessing.get_context("fork")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, prepare), name="sr_post reader", daemon=True
        )
        self._process.start()
        child.close()
        self._in_flight: deque[list[File]] = deque()
        self._lost = False

    @property
    def pid(self) -> int | None:
        """The reader process's id."""
        return self._process.pid

    def read(self, files: Iterable[File]) -> Iterator[Outcome]:
        """The outcome of each file, in order (computed here once the process is lost)."""
        self._forget()
        batch: list[File] = []
        for file in files:
            batch.append(file)
            if len(batch) == BATCH:
                self._send(batch)
                batch = []
                if len(self._in_flight) > 1:
                    yield from self._receive()
        if batch:
            self._send(batch)
        while self._in_flight:
            yield from self._receive()

    def close(self) -> None:
        """End the process (it ends by itself, too, when this one does)."""
        if not self._lost:
            with contextlib.suppress(OSError):
                self._connection.send(None)
        self._connection.close()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def _send(self, batch: list[File]) -> None:
        self._in_flight.append(batch)
        if not self._lost:
            try:
                self._connection.send(batch)
            except OSError as err:
                self._gone(err)

    def _receive(self) -> list[Outcome]:
        batch = self._in_flight.popleft()
        if not self._lost:
            try:
                return self._connection.recv()
            except (EOFError, OSError) as err:
                self._gone(err)
        return [self.prepare(path, st) for path, st in batch]

    def _forget(self) -> None:
        """Drop the answers to a read that was abandoned (its files were not posted)."""
        while self._in_flight:
            batch = self._in_flight.popleft()
            if not self._lost:
                try:
                    self._connection.recv()
                except (EOFError, OSError) as err:
                    self._gone(err)
            logger.debug("%d files of an abandoned read dropped", len(batch))

    def _gone(self, err: BaseException) -> None:
        self._lost = True
        logger.error("the reader process is lost (%s); files are read in this one", err or "ended")


def _serve(connection: Connection, prepare: Preparer) -> None:
    """The reader process: prepare each batch received, until None or the end of the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the poster decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        while (batch := connection.recv()) is not None:
            connection.send([prepare(path, st) for path, st in batch])
    except (EOFError, OSError):
        pass
