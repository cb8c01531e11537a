"""Work, the third stage of the consuming loop, in the worker threads: the transfer (a
download, or a send), tried `attempts` times; its outcome logged, counted and reported; the
onward notice of a file done. One file (or part) is in one worker's hands at a time: another
notice of it waits for the first to be done."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sarra.config.credentials import Credentials, redact_url
from sarra.config.loader import Config
from sarra.config.masks import Mask
from sarra.flow import wis2
from sarra.flow.job import UNEXPECTED_TRIES, Job, notice_lag, try_number
from sarra.flow.loop_state import LoopState
from sarra.flow.placement import Placement
from sarra.integrity.checksum import checksum_file, sum_to_identity
from sarra.message.notice import Identity, Notice, epoch_to_time
from sarra.sizes import human_size, short_duration

if TYPE_CHECKING:
    from sarra.flow.download import Outcome

logger = logging.getLogger("sarra.flow")


class Working(LoopState):
    """Working on notices (worker threads), and classifying what came of it."""

    def _work(self, job: Job, placement: Placement, slot: tuple[Path, int]) -> None:
        """Handle a job, then each job that waited for the same file (a copy of the notice,
        most likely, which then finds the file in place)."""
        following: tuple[Job, Placement] | None = (job, placement)
        while following is not None:
            try:
                self._handle(*following)
            except Exception as err:  # a defect, or input nobody foresaw
                self._unexpected(following[0], err)
            with self._lock:
                jobs = self._busy[slot]
                jobs.pop(0)  # the job just handled
                following = jobs[0] if jobs else None
                if following is None:
                    del self._busy[slot]

    def _unexpected(self, job: Job, err: Exception) -> None:
        """An unexpected error: a traceback once per kind (sarra.flow.faults); the notice is
        kept for retry until it has failed UNEXPECTED_TRIES times, then dropped."""
        self._count("unexpected errors")
        url = redact_url(job.notice.url)
        tries = try_number(job)
        if self.config.retry and tries < UNEXPECTED_TRIES:
            self.faults.log(err, "failed %s (try %d of %d); kept for retry", url, tries,
                            UNEXPECTED_TRIES)  # fmt: skip
            self._report(job.notice, self.failed_code, f"Failed, kept for retry: {err}")
            self._keep_for_retry(job, f"unexpected error: {type(err).__name__}: {err}")
        else:
            self.faults.log(err, "failed %s (try %d); dropped", url, tries)
            self._report(job.notice, self.failed_code, f"Failed: {err}")
            self._finish(job)

    def _slot_ended(self, slot: tuple[Path, int], work: Future[None]) -> None:
        """Whatever escaped `_work` (past its failure path: a defect, a plugin's SystemExit) is
        logged, and the slot is released: its jobs, the one in hand first, are given back
        (never stuck behind it)."""
        error = work.exception()
        if error is None:
            return
        logger.error("a worker stopped on an error: %r", error, exc_info=error)
        with self._lock:
            jobs = self._busy.pop(slot, [])
        for job, _placement in jobs:
            self._give_back(job, "its worker stopped on an error")

    def _handle(self, job: Job, placement: Placement) -> None:
        assert self.worker is not None
        notice = job.notice
        url = redact_url(notice.url)
        outcome = self._fetch(job, placement)
        attempt = 1
        while outcome.status == "transient" and attempt < self.config.attempts:
            if self.stop.is_set():
                break
            attempt += 1
            logger.warning("failed %s (try %d of %d): %s", url, attempt - 1,
                           self.config.attempts, outcome.reason)  # fmt: skip
            outcome = self._fetch(job, placement)
        self._outcome(job, outcome)

    def _fetch(self, job: Job, placement: Placement) -> Outcome:
        assert self.worker is not None
        if self.config.dry_run:
            from sarra.flow.download import Outcome

            return Outcome("skipped", f"dry_run: it would be {self.worker.done}", placement.path)
        if self.plugins is not None:
            outcome = self._plugin_transfer(job, placement)
            if outcome is not None:
                return outcome
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s to %s", "sending" if self.sends else "fetching",
                         redact_url(job.notice.url), placement.path)  # fmt: skip
        return self.worker.handle(job.notice, placement)

    def _outcome(self, job: Job, outcome: Outcome) -> None:
        notice = job.notice
        url = redact_url(notice.url)
        if outcome.status == "done":
            done = self.worker.done if self.worker else "downloaded"
            if not outcome.operation:
                self._count(done)
            landed = time.time()
            with self._lock:
                self.bytes += outcome.size
                self.last_done = landed
            lag = notice_lag(notice, landed)
            self.recorder.landed(str(outcome.path or url), lag)
            if outcome.operation:
                self._count(outcome.operation)
                logger.info("%s: %s (notice %s)", outcome.path, outcome.reason, url)
            elif logger.isEnabledFor(logging.INFO):
                rate = outcome.size / outcome.seconds if outcome.seconds > 0 else 0
                # the path last, after "downloaded to:" (or "sent to:"), as v2's file_log wrote
                # it: scripts grep that and take the last word
                logger.info(
                    "%s (%s in %.3fs, %s/s, lag %s%s) %s to: %s",
                    url,
                    human_size(outcome.size),
                    outcome.seconds,
                    human_size(rate),
                    "?" if lag is None else short_duration(lag),
                    f"; {outcome.reason}" if outcome.reason else "",
                    done,
                    outcome.path,
                )
            if outcome.transformed:
                self._report(notice, 203, "Transformed during download", outcome.seconds)
            elif outcome.operation:
                self._report(notice, 201, outcome.reason.capitalize(), outcome.seconds)
            else:
                self._report(notice, 201, done.capitalize(), outcome.seconds)
            if self.plugins is not None and not self._after_download(job, outcome):
                return
            if not self._after_work(job, "done", outcome.path):
                return
            if outcome.whole:
                self._post_then_finish(job, self._onward(job, outcome))
            else:  # a part of a file still incomplete: nothing to announce yet
                self._finish(job)
        elif outcome.status == "skipped":
            self._count("skipped")
            logger.info("skipped %s: %s (%s)", url, outcome.reason, outcome.path)
            self._report(notice, 304, f"Not modified: {outcome.reason}", outcome.seconds)
            self._after_work(job, "skipped", outcome.path)
            self._finish(job)
        elif outcome.status == "transient" and self.config.retry:
            self._count("failed")
            logger.error("failed %s: %s; kept for retry", url, outcome.reason)
            self._report(notice, self.failed_code, f"Failed, kept for retry: {outcome.reason}")
            self._after_work(job, "transient", outcome.path)
            self._keep_for_retry(job, outcome.reason)
        else:
            self._count("failed")
            logger.error("failed %s: %s; dropped", url, outcome.reason)
            self._report(notice, self.failed_code, f"Failed: {outcome.reason}")
            self._after_work(job, outcome.status, outcome.path)
            self._finish(job)

    def _onward(self, job: Job, outcome: Outcome) -> Notice:
        """The notice to post for a file done: the file under post_base_url, at its path below
        post_base_dir, or where plugins said (new_relpath, new_baseurl); a file assembled from
        parts is announced once, whole, with the checksum of the whole file."""
        notice = job.notice
        local = outcome.source or outcome.path  # the file itself (a send's is the local one)
        if (notice.blocks is not None or outcome.transformed) and local is not None:
            notice = self._whole_file(notice, local)
        if outcome.path is None:
            return notice
        msg = job.msg
        if msg is not None and msg.new_file is not None:
            base_url, relative = msg.new_baseurl, msg.new_relpath
        else:
            onward = self.onward
            base_url = onward.url(notice)
            relative = onward.rel_path(str(outcome.path), notice, onward.base_dir)
        if not base_url or relative is None:
            return notice
        relayed = wis2.is_wis2(notice)  # a WIS2 message keeps its pubtime (and its id)
        copy = dataclasses.replace(
            notice, base_url=base_url, rel_path=relative, retrieve_path=None,
            pubtime=notice.pubtime if relayed else epoch_to_time(time.time()),
        )  # fmt: skip
        if relayed and self.global_cache is not None:
            return wis2.republished(copy, self.global_cache, copy=True)
        return copy

    def _whole_file(self, notice: Notice, path: Path) -> Notice:
        identity = None
        if notice.identity is not None and notice.identity.method in ("md5", "sha512"):
            flag = "d" if notice.identity.method == "md5" else "s"
            value = checksum_file(path, flag, bufsize=self.config.bufsize)
            identity = Identity(*sum_to_identity(f"{flag},{value}"))
        return dataclasses.replace(notice, blocks=None, size=path.stat().st_size, identity=identity)


class Worker(Protocol):
    """What the loop's workers do with an accepted notice: a Downloader or a Sender."""

    done: str
    """The verb of the log line and count of a file handled: downloaded, sent."""

    def place(
        self,
        notice: Notice,
        mask: Mask | None,
        default: Mask,
        *,
        url_match: re.Match[str] | None = None,
    ) -> Placement: ...

    def handle(self, notice: Notice, placement: Placement) -> Outcome: ...

    def close(self) -> None: ...


def worker_for(config: Config, credentials: Credentials) -> Worker | None:
    """The worker of a component: a sender sends, the others download unless notify_only."""
    # imported here: a component without transfers (sr_post, a shovel) does without them
    if config.component == "sender":
        from sarra.flow.send import Sender

        return Sender(config, credentials)
    if config.notify_only:
        return None
    from sarra.flow.download import Downloader

    return Downloader(config, credentials)
