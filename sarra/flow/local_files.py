"""The jobs of local files, for the sources of sr_post and sr_watch (sarra.flow.sources): a
candidate notice made without reading the file, for the filter; the work that reads it (its
checksum: sarra.flow.announce); the words of its log line."""

from __future__ import annotations

import functools
import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sarra.broker import Message
from sarra.config.credentials import redact_url
from sarra.flow.announce import Announcer
from sarra.flow.job import Job
from sarra.message.notice import Notice

if TYPE_CHECKING:
    from sarra.flow.sources import Origin


@dataclass(slots=True)
class LocalFile:
    """The local file a job announces: its path, its lstat when known, the path it was renamed
    from, and its size once its notices are made."""

    path: str
    st: os.stat_result | None = None
    renamed_from: str | None = None
    size: int = 0


class Skips(Protocol):
    """An origin that hears of the files it could not post."""

    def skipped(self, level: int, text: str) -> None: ...


def local_job(
    origin: Origin,
    announcer: Announcer,
    path: str,
    st: os.stat_result | None = None,
    renamed_from: str | None = None,
) -> Job:
    """The job of a local file (or link): its candidate notice, with what the rules match."""
    notice = announcer.candidate(path, renamed_from)
    job = Job(notice, None, None, origin=origin, local=LocalFile(path, st, renamed_from))
    if announcer.realpath_filter:
        job.filter_text = announcer.filter_text(path, notice.base_url)
    return job


def event_job(origin: Origin, notice: Notice, path: str) -> Job:
    """The job of a notice that needs no work: a removal, a directory made or removed."""
    return Job(notice, None, None, origin=origin, local=LocalFile(path))


def local_work(origin: Skips, announcer: Announcer, job: Job) -> list[Notice]:
    """The work on a local file's job: its notices as the file is now (its checksum); none
    when it vanished, changed while it was read or cannot be read (the origin is told)."""
    local: LocalFile = job.local
    if job.notice.file_op and ("remove" in job.notice.file_op or "directory" in job.notice.file_op):
        return [job.notice]
    path = local.path
    try:
        st = local.st if local.st is not None else os.lstat(path)
        notices = announcer.complete(job.notice, path, st)
    except FileNotFoundError:
        origin.skipped(logging.WARNING, f"skipped {path}: it vanished")
        return []
    except ValueError as err:  # it shrank while it was read: a new version will come
        origin.skipped(logging.WARNING, f"skipped {path}: {err}")
        return []
    except OSError as err:
        origin.skipped(logging.ERROR, f"cannot post {path}: {err.strerror or err}")
        return []
    local.size = st.st_size if stat.S_ISREG(st.st_mode) else 0
    local.st = None  # not kept while the broker confirms: fewer live objects to collect
    return notices


def log_posted(file_log: logging.Logger, notice: Notice, messages: Sequence[Message]) -> None:
    """Log the line of a file posted (the URL last, as v2's post_log ended with the path:
    scripts take the last word)."""
    if file_log.isEnabledFor(logging.INFO):
        file_log.info("posted to %s%s: %s", messages[0].exchange, what(notice, len(messages)),
                      shown_url(notice))  # fmt: skip


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
