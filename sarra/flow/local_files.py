"""The origins of local files, the sources of sr_post and sr_watch (sarra.flow.sources,
sarra.components.watch), share one base: the job of a file, its candidate notice made without
reading it, for the filter; the work that reads it (its checksum: sarra.flow.announce); the
bookkeeping of what was posted, skipped or refused, and the line of each file."""

from __future__ import annotations

import functools
import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from sarra.broker import Message
from sarra.config.credentials import redact_url
from sarra.flow.announce import Announcer
from sarra.flow.job import Job
from sarra.flow.log_lines import log_lines
from sarra.message.notice import Notice


@dataclass(slots=True)
class LocalFile:
    """The local file a job announces: its path, its lstat when known, the path it was renamed
    from, and its size once its notices are made."""

    path: str
    st: os.stat_result | None = None
    renamed_from: str | None = None
    size: int = 0


class LocalFiles:
    """What the origins of local files share (sr_post's PathSource, sr_watch's WatchSource):
    the jobs of their files, the work of one (its checksum), and their bookkeeping: the files
    posted and their bytes, each logged on `file_log`; the files that could not be posted
    (`errors`) and the notices the broker refused (`not_confirmed`), logged on `log`."""

    def __init__(self, announcer: Announcer, file_log: logging.Logger, log: logging.Logger):
        self.announcer = announcer
        self.file_log = file_log
        """Where the line of each file goes."""
        self.log = log
        self.files = 0  # posted (logged), and their bytes
        self.bytes = 0
        self.errors = 0
        self.not_confirmed: list[str] = []
        """A line for each notice the broker refused: `url: why`."""
        self._lines: list[str] = []  # of the files posted, not logged yet

    def job(
        self, path: str, st: os.stat_result | None = None, renamed_from: str | None = None
    ) -> Job:
        """The job of a local file (or link): its candidate notice, with what the rules
        match."""
        announcer = self.announcer
        notice = announcer.candidate(path, renamed_from)
        job = Job(notice, None, None, origin=self, local=LocalFile(path, st, renamed_from))
        if announcer.realpath_filter:
            job.filter_text = announcer.filter_text(path, notice.base_url)
        return job

    def event_job(self, notice: Notice, path: str) -> Job:
        """The job of a notice that needs no work: a removal, a directory made or removed."""
        return Job(notice, None, None, origin=self, local=LocalFile(path))

    def work(self, job: Job) -> list[Notice]:
        """The notices of a local file's job as the file is now (its checksum); none when it
        vanished, changed while it was read or cannot be read (logged)."""
        local: LocalFile = job.local
        file_op = job.notice.file_op
        if file_op and ("remove" in file_op or "directory" in file_op):
            return [job.notice]
        path = local.path
        try:
            st = local.st if local.st is not None else os.lstat(path)
            notices = self.announcer.complete(job.notice, path, st)
        except FileNotFoundError:
            self.skipped(logging.WARNING, f"skipped {path}: it vanished")
            return []
        except ValueError as err:  # it shrank while it was read: a new version will come
            self.skipped(logging.WARNING, f"skipped {path}: {err}")
            return []
        except OSError as err:
            self.skipped(logging.ERROR, f"cannot post {path}: {err.strerror or err}")
            return []
        local.size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        local.st = None  # not kept while the broker confirms: fewer live objects to collect
        return notices

    def skipped(self, level: int, text: str) -> None:
        """A file not posted (at ERROR: counted as an error), and why."""
        if level >= logging.ERROR:
            self.errors += 1
        self.file_log.log(level, "%s", text)

    def posting(self, job: Job, messages: Sequence[Message]) -> None:
        """Count a file posted, and note its log line (the URL last, as v2's post_log ended
        with the path: scripts take the last word), written by `log_posted`."""
        self.files += 1
        self.bytes += job.local.size
        if self.file_log.isEnabledFor(logging.INFO):
            notice = job.notice
            self._lines.append(f"posted to {messages[0].exchange}"
                               f"{what(notice, len(messages))}: {shown_url(notice)}")  # fmt: skip

    def log_posted(self) -> None:
        """Log the lines of the files posted since the last call, in one record."""
        lines, self._lines = self._lines, []
        log_lines(self.file_log, logging.INFO, lines)

    def settled(self, job: Job) -> None:
        """Its notices confirmed, or it went no further: nothing to note (the loop counts what
        the broker confirmed)."""

    def refused(self, job: Job, why: str) -> None:
        """The broker did not take a notice of the job: named in `not_confirmed`."""
        url = shown_url(job.notice)
        self.not_confirmed.append(f"{url}: {why}")
        self.log.error("not confirmed by the broker: %s: %s", url, why)


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
