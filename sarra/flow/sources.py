"""Gather from a source: where the loop's notices come from when not from a queue.

Every component runs the one loop (sarra.flow.loop): gather -> filter -> work -> post ->
acknowledge. The components fed from a queue gather deliveries; sr_post, sr_watch and sr_poll
gather from a Source, which gives batches of jobs: the paths named on the command line (or read
from standard input), the files of watched trees once complete, the files of a listing. Each job
is a notice, then, as any other: the filter stage (sarra.flow.filtering) takes or rejects it by
its URL (Rules) and shows it to on_message plugins; the work (`Origin.work`, sarra.flow.
source_work) makes its notices (sr_post, sr_watch: the checksum of the local file; sr_poll:
nothing to do); after_work, then the post stage (sarra.flow.settle and sarra.flow.posting:
on_post, a publish with confirms, after_post). A job without a delivery is acknowledged by its
origin's own bookkeeping: sr_post counts what the broker refused, sr_watch forgets the file,
sr_poll remembers what it announced only once the broker confirmed it.

This module holds the two protocols and sr_post's source (PathSource).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from sarra.broker import Message
from sarra.flow.announce import Announcer, walk
from sarra.flow.job import Job
from sarra.flow.local_files import LocalFiles
from sarra.flow.rules import Rules
from sarra.message.notice import Notice

logger = logging.getLogger("sarra.post")

BATCH = 1000
"""Most jobs a source gives at once."""


class Origin(Protocol):
    """What the loop asks of the source a job came from."""

    def work(self, job: Job) -> list[Notice]:
        """The notices to post for a job the filter took (sr_post, sr_watch: those of the local
        file as it is now); empty when there is nothing to post (the origin logged why)."""
        ...

    def posting(self, job: Job, messages: Sequence[Message]) -> None:
        """The notices of a job are about to be published, encoded: its figures, its log line
        (written now, or by `log_posted`)."""
        ...

    def log_posted(self) -> None:
        """The posts of a chunk of jobs are noted (`posting`): write their log lines."""
        ...

    def settled(self, job: Job) -> None:
        """The job is done with: its notices confirmed by the broker, or it was rejected,
        dropped or kept for retry (as a queue acknowledges a delivery)."""
        ...

    def refused(self, job: Job, why: str) -> None:
        """The broker did not take a notice of the job: it is not settled."""
        ...


class Source(Origin, Protocol):
    """The gather stage of a component that consumes no queue."""

    confirm_wait: float
    """Seconds the end of a run waits for the broker to confirm what was posted."""

    rules: Rules | None
    """The filter stage's accept/reject rules, when not the config's (sr_poll: its rules chose
    the names it lists, directory by directory)."""

    def start(self) -> None:
        """Begin (sr_watch: watch the trees, and the files already there)."""
        ...

    def gather(self, timeout: float) -> list[Job] | None:
        """The next batch of jobs, waiting at most about `timeout` for one; None once there
        will be no more (sr_post: every path posted)."""
        ...

    def note(self) -> str:
        """What it has in hand, for the heartbeat's line (or nothing)."""
        ...

    def passive(self) -> str:
        """Why it gives nothing now (sr_poll: its vip is not on this host), or nothing."""
        ...

    def close(self) -> None:
        """Stop (the loop has settled what it could)."""
        ...


class PathSource(LocalFiles):
    """sr_post's gather: each path named, a file or every file below a directory, in name
    order (a directory that cannot be read is logged); `pipe`d names come as they are read.
    With `every` > 0 (sr_post start), the paths are posted again every `every` seconds. Its
    bookkeeping is that of every origin of local files (LocalFiles)."""

    def __init__(
        self,
        announcer: Announcer,
        names: Iterable[str],
        follow_symlinks: bool,
        every: float = 0.0,
        passed: Callable[[], None] | None = None,
        file_log: logging.Logger = logger,
    ) -> None:
        super().__init__(announcer, file_log, logger)
        self.names = names
        self.follow_symlinks = follow_symlinks
        self.every = every
        self.passed = passed
        """Called at the end of each pass over the paths."""
        self.confirm_wait = 60.0
        self.rules: Rules | None = None
        self.ready: Callable[[], bool] | None = None
        """Asked at the start whether to go on (False: nothing is posted)."""
        self._jobs: Iterator[Job] | None = None
        self._next_pass: float | None = None

    def start(self) -> None:
        if self.ready is None or self.ready():
            self._jobs = self._candidates()

    def gather(self, timeout: float) -> list[Job] | None:
        if self._jobs is None:
            if self._next_pass is None:
                return None
            if time.monotonic() < self._next_pass:
                time.sleep(min(timeout, self._next_pass - time.monotonic()))
                return []
            self._next_pass = None
            self._jobs = self._candidates()
        jobs: list[Job] = []
        for job in self._jobs:
            if job.origin is None:  # the end of a named path: post what it gave now
                if jobs:
                    return jobs
                continue
            jobs.append(job)
            if len(jobs) >= BATCH:
                return jobs
        self._jobs = None
        if self.passed is not None:
            self.passed()
        if self.every > 0:
            self._next_pass = time.monotonic() + self.every
        return jobs

    def _candidates(self) -> Iterator[Job]:
        """A job for each file below each name, and after each name an empty job."""
        end = Job(Notice("", "", ""), None, None)
        job = self.job
        for name in self.names:
            path = os.path.abspath(name)
            try:
                for found, st in walk(path, self.follow_symlinks):
                    yield job(found, st)
            except OSError as err:
                self.errors += 1
                logger.error("cannot post %s: %s", path, err.strerror or err)
            yield end

    def note(self) -> str:
        return ""

    def passive(self) -> str:
        return ""

    def close(self) -> None:
        self._jobs = None
        self._next_pass = None
