"""A notice on its way through the loop (a Job), and what the stages ask of one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sarra.broker import Delivery
from sarra.flow.hooks import NoticeView
from sarra.flow.placement import Placement
from sarra.flow.retry import RetryEntry
from sarra.message import v03
from sarra.message.notice import Notice, time_to_epoch
from sarra.transfer.confine import confine, confine_remote

if TYPE_CHECKING:
    from sarra.flow.sources import Origin

UNEXPECTED_TRIES = 3
"""Tries of a notice whose handling raised an unexpected error (a defect, or a plugin that
raised): it is kept for retry while it has failed fewer times than this, then dropped."""


@dataclass(slots=True)
class Job:
    """One notice on its way through the loop: from a delivery, from the retry queue, or from
    a source (a path named, a file-system event, a listing)."""

    notice: Notice
    delivery: Delivery | None
    retry: RetryEntry | None
    claims: tuple[tuple[str, str], ...] = ()
    """Its (key, path) pairs in the duplicate cache, settled when it is acknowledged."""
    msg: NoticeView | None = None  # what plugins make of this notice, when they look at it
    origin: Origin | None = None
    """The source it came from when not from a queue (sarra.flow.sources), which settles it."""
    local: Any = None
    """What its origin knows of it (sr_post, sr_watch: the local file it announces)."""
    filter_text: str | None = None
    """What the accept/reject rules match, when not the notice's URL (realpath_filter)."""
    gathered: bool = True
    """Whether the after_gather hooks see it: not when a poll's listing found it (or a poll
    hook), as sr3 runs after_gather on what its gather callbacks bring, not on what poll does."""

    def retry_entry(self, reason: str) -> RetryEntry:
        """The entry that keeps this notice in the retry queue (one gathered by a plugin, which
        came from no queue, is kept as a v03 notice)."""
        if self.retry is not None:
            self.retry.attempts += 1
            self.retry.reason = reason
            return self.retry
        delivery = self.delivery
        if delivery is None:
            key, body = v03.encode(self.notice, "v03.post")
            return RetryEntry(key, body, {}, v03.CONTENT_TYPE, self.notice.exchange, reason=reason)
        return RetryEntry(
            routing_key=delivery.routing_key,
            body=delivery.body,
            headers={k: str(v) for k, v in delivery.headers.items()},
            content_type=delivery.content_type,
            exchange=delivery.exchange,
            reason=reason,
        )


def try_number(job: Job) -> int:
    """How many times a job's notice has been tried, this time included."""
    return 1 if job.retry is None else job.retry.attempts + 1


def job_placement(job: Job, placement: Placement, remote: bool = False) -> Placement:
    """The placement after the plugins: where they moved new_dir/new_file, confined there
    (`remote`: a sender's destination, judged on the names alone)."""
    msg = job.msg
    if msg is None or msg.new_file is None:
        return placement
    new_dir = Path(msg.new_dir or placement.path.parent)
    if new_dir == placement.path.parent and msg.new_file == placement.path.name:
        return placement
    root = placement.root if new_dir.is_relative_to(placement.root) else new_dir
    relative = str(new_dir.relative_to(root) / msg.new_file)
    path = Path(confine_remote(str(root), relative)) if remote else confine(root, relative)
    return Placement(root, path)


def notice_lag(notice: Notice, now: float) -> float | None:
    """How old the notice was at `now` (seconds since its pubtime), if its time can be read."""
    try:
        return now - time_to_epoch(notice.pubtime)
    except (ValueError, TypeError):
        return None
