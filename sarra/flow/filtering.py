"""Filter, the second stage of the loop: the after_gather hooks, the accept/reject masks (on the
notice's URL, for every component), the WIS2 selection, the duplicate cache, where the file goes
(a path outside the destination is refused); then the notice goes to a worker
(sarra.flow.work), or to the work without a transfer (sarra.flow.source_work) then post. Runs in
a consuming connection's thread or in the loop's."""

from __future__ import annotations

import functools
import logging

from sarra.config.credentials import redact_url
from sarra.flow import wis2
from sarra.flow.job import Job, job_placement
from sarra.flow.loop_state import LoopState
from sarra.flow.nodupe import NoDupeUnavailable, notice_keys
from sarra.flow.rules import accepted_by, why_rejected
from sarra.message.notice import Notice, Report
from sarra.transfer.confine import PathRefused

logger = logging.getLogger("sarra.flow")


class Filtering(LoopState):
    """Filtering a notice, then handing it to the workers or to post."""

    def _take(self, job: Job) -> None:
        """Filter a job, and hand it to the workers; an unexpected error is classified as in
        the work."""
        try:
            self._filter(job)
        except Exception as err:
            self._unexpected(job, err)

    def _filter(self, job: Job) -> None:
        config = self.config
        plugins = self.plugins
        gathered = plugins is not None and job.gathered and plugins.has("after_gather")
        if gathered and not self._after_gather(job):
            return
        notice = job.notice
        url = notice.url
        debug = logger.isEnabledFor(logging.DEBUG)
        if debug:
            where = "the retry queue" if job.retry else f"exchange {notice.exchange}"
            logger.debug("received %s from %s (topic %s)", redact_url(url), where, notice.topic)
        accepted, mask = self.rules.verdict(job.filter_text or url)
        if not accepted:
            self._count("rejected")
            if config.log_reject or debug:
                logger.log(logging.INFO if config.log_reject else logging.DEBUG,
                           "rejected %s: %s", redact_url(url), why_rejected(mask))  # fmt: skip
            self._finish(job)
            return
        if (self.selection.active or self.global_cache is not None) and self._wis2_refused(job):
            return
        if self.nodupe is not None and job.retry is None:
            redelivered = job.delivery is not None and job.delivery.redelivered
            passes = True
            try:
                for key, path in notice_keys(notice, config.suppress_duplicates_basis):
                    passes = self.nodupe.claim(key, path, redelivered)
                    if passes:
                        job.claims += ((key, path),)  # settled with the job, passed or not
                    else:
                        break
            except NoDupeUnavailable:
                return  # stopping: the broker delivers it again
            if not passes:
                self._count("duplicates")
                logger.debug("duplicate dropped: %s", redact_url(url))
                self._finish(job)
                return
        if self.global_cache is not None and wis2.is_wis2(notice) and not wis2.cached(notice):
            # cache false: a Global Cache republishes it on cache/ with a new id only
            self._post_then_finish(job, wis2.republished(notice, self.global_cache, copy=False))
            return
        if notice.report is not None and config.component == "report":
            self._reported(notice, notice.report)
        placement = None
        if self.worker is not None:
            try:
                placement = self.worker.place(
                    notice, mask, self.rules.default,
                    url_match=mask.regex.match(url) if mask else None,
                )  # fmt: skip
            except PathRefused as err:
                self._count("refused")
                self.bad_input.log(logging.ERROR, "refused path", "refused %s: %s",
                                   redact_url(url), err)  # fmt: skip
                self._finish(job)
                return
        if debug:
            to = f" -> {placement.path}" if placement is not None else ""
            logger.debug("accepted %s by %s%s", redact_url(url), accepted_by(mask), to)
        if self.plugins is not None and not self._on_message(job, placement):
            return
        if placement is None:
            self._without_transfer(job)  # sarra.flow.source_work
            return
        try:
            placement = job_placement(job, placement, remote=self.sends)
            if job.msg is not None:  # where the file goes, as confined: what it is announced by
                job.msg.new_dir, job.msg.new_file = str(placement.path.parent), placement.path.name
        except PathRefused as err:
            self._count("refused")
            self.bad_input.log(logging.ERROR, "refused path",
                               "refused %s: a plugin's new_dir/new_file: %s", redact_url(url),
                               err)  # fmt: skip
            self._finish(job)
            return
        slot = (placement.path, notice.blocks.number if notice.blocks else 0)
        with self._lock:
            jobs = self._busy.get(slot)
            if jobs is not None:  # the same file (or part) is in hand: after it
                jobs.append((job, placement))
                return
            self._busy[slot] = [(job, placement)]
        self.pool.submit(self._work, job, placement, slot).add_done_callback(
            functools.partial(self._slot_ended, slot)
        )

    def _wis2_refused(self, job: Job) -> bool:
        """The wis2_* selection options, and the recommended data a Global Cache leaves alone:
        True when the notice stops here (counted as rejected, logged as rejects are)."""
        notice = job.notice
        why = self.selection.refuses(notice)
        if why is None and self.global_cache is not None and wis2.is_recommended(notice):
            why = "recommended data: not cached by a Global Cache"
        if why is None:
            return False
        self._count("rejected")
        level = logging.INFO if self.config.log_reject else logging.DEBUG
        if logger.isEnabledFor(level):
            logger.log(level, "rejected %s: %s", redact_url(notice.url), why)
        self._finish(job)
        return True

    def _reported(self, notice: Notice, report: Report) -> None:
        """sr_report: one line per report received, counted by its class of code."""
        self._count(f"reports {report.code // 100}xx")
        logger.info("report %d %s: %s by %s@%s (%ss)", report.code, report.message or "",
                    redact_url(notice.url), report.user or "-", report.host or "-",
                    report.elapsed if report.elapsed is not None else "-")  # fmt: skip
