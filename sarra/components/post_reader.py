"""What sr_post posts for a local file, worked out without logging: the notices of a file (or
why it is skipped), and the words its log line shows."""

from __future__ import annotations

import functools
import logging
import os
import stat
from typing import NamedTuple

from sarra.broker import Message
from sarra.config.credentials import redact_url
from sarra.flow.announce import Announcer
from sarra.message.notice import Notice


class Posted(NamedTuple):
    """A file ready to post: its URL as logs show it, size, log detail and messages (and the
    notices they encode, kept only for a config with after_post plugins)."""

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
