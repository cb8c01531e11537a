"""Post and acknowledge, the last stages of the loop: the onward notices are published, and
the notice acknowledged once the broker confirmed them (a delivery is acked; a job from a
source, sarra.flow.sources, is settled by its origin's own bookkeeping); a failure is kept in
the retry queue then acknowledged; a notice that cannot be settled is given back. Reports
(report_back) go out beside, never holding an acknowledgement."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from collections.abc import Sequence

from sarra.broker import Confirmation
from sarra.config.credentials import redact_url
from sarra.flow.hooks import PluginFailed
from sarra.flow.job import Job
from sarra.flow.loop_state import LoopState
from sarra.flow.retry import FIRST_DELAY
from sarra.message.errors import MalformedNotice, NotEncodable
from sarra.message.notice import Notice, Report

logger = logging.getLogger("sarra.flow")

GIVE_BACK_DELAY = FIRST_DELAY
"""Seconds a notice that could not be settled is held before it goes back to its queue (so that
a failure that persists, a full disk, does not turn into a busy loop)."""


class Settling(LoopState):
    """Posting, acknowledging, keeping for retry, giving back, reporting."""

    def _post_then_finish(self, job: Job, notice: Notice) -> None:
        self._post_all_then_finish(job, (notice,))

    def _post_all_then_finish(self, job: Job, notices: Sequence[Notice]) -> None:
        """Publish the notices of a job (on_post first), and settle it once the broker has
        confirmed them all; a notice it refuses leaves the job unsettled (its origin, if any,
        is told)."""
        posting = self.posting
        if posting is None:
            self._finish(job)
            return
        if posting.before:
            posted = []
            for notice in notices:
                changed = self._on_post(job, notice)
                if changed is None:
                    return
                posted.append(changed)
            notices = posted
        origin = job.origin
        try:
            messages = [posting.publisher.message(notice) for notice in notices]
        except NotEncodable as err:
            self._count("failed")
            logger.error("not posted %s: %s", redact_url(notices[0].url), err)
            self._finish(job)
            return
        if self._held is not None:  # a source's job: published with the others of its chunk
            self._held.append((job, notices, messages))
            return
        if origin is not None:
            origin.posting(job, messages)
            origin.log_posted()
        confirmations = posting.publish(notices, messages, follows=job.msg,
                                        is_retry=job.retry is not None)  # fmt: skip
        self._settle_when_confirmed(job, notices, confirmations)

    def _send_held(self) -> None:
        """Work the jobs of a source's chunk (`_work_chunk`), then note each job posted (its
        origin logs it) and publish their notices together; each job is settled by `_reap`
        once the broker answered for all of its notices."""
        if self._to_work:
            self._work_chunk()  # sarra.flow.source_work
        held = self._held
        if not held:
            return
        self._held = []
        origins = {}
        for job, _, job_messages in held:
            origin = job.origin
            if origin is not None:
                origin.posting(job, job_messages)
                origins[id(origin)] = origin
        for origin in origins.values():
            origin.log_posted()  # the chunk's log lines, together
        posting = self.posting
        assert posting is not None
        messages = [message for _, _, job_messages in held for message in job_messages]
        confirmations = posting.publisher.publish_many(messages)
        unsettled = self._unsettled
        after = posting.after
        start = 0
        for job, notices, job_messages in held:
            end = start + len(job_messages)
            if after:
                posting.after_post(notices, follows=job.msg, is_retry=job.retry is not None)
            size = 0
            for notice in notices:
                size += notice.size or 0  # none for a link
            # only what settling needs is kept: fewer live objects for the garbage collector
            unsettled.append((job, size, confirmations[start:end]))
            start = end

    def _reap(self) -> None:
        """Settle, in the loop's thread and in order, the jobs of a source whose notices the
        broker has answered for (no callback in the publisher's thread, no lock)."""
        unsettled = self._unsettled
        posted = size = 0
        while unsettled:
            job, job_size, confirmations = unsettled[0]
            error = None
            for confirmation in confirmations:
                if not confirmation.done():
                    break
                error = error or confirmation.error
            else:
                unsettled.popleft()
                if error is not None:
                    self._refused(job, error)
                    continue
                posted += 1
                size += job_size
                self._finish(job)
                continue
            break
        if posted:
            with self._lock:
                self.counts["posted"] += posted
                self.bytes += size
                self.last_done = time.time()

    def _await_confirms(self, timeout: float) -> None:
        """Wait, at most `timeout`, for the broker to answer for the oldest unsettled job of a
        source (`_reap` settles it)."""
        if self._unsettled:
            for confirmation in self._unsettled[0][2]:
                if not confirmation.done():
                    confirmation.wait(timeout)
                    return

    def _settle_when_confirmed(
        self, job: Job, notices: Sequence[Notice], confirmations: Sequence[Confirmation]
    ) -> None:
        left = [len(confirmations)]  # the notices not confirmed yet (-1: one refused)

        def settled(done: Confirmation) -> None:
            if done.error is not None:
                left[0] = -1  # the job is not settled
                self._refused(job, done.error)
                return
            if len(confirmations) > 1:
                with self._lock:
                    left[0] -= 1
                    if left[0]:
                        return
            self._count("posted")
            self._finish(job)

        for confirmation in confirmations:
            confirmation.add_done_callback(settled)

    def _refused(self, job: Job, error: Exception) -> None:
        if job.origin is not None:
            job.origin.refused(job, str(error))
        else:
            logger.error("post of %s refused by the broker: %s; it will come again",
                         redact_url(job.notice.url), error)  # fmt: skip

    def _finish(self, job: Job) -> None:
        if job.retry is not None:
            self.retry.done(job.retry)
        self._ack(job)

    def _keep_for_retry(self, job: Job, reason: str) -> None:
        """Keep a failed notice in the retry queue, then acknowledge it; if it cannot be kept,
        it is not acknowledged but given back."""
        try:
            self.retry.put(job.retry_entry(reason))
        except Exception as err:
            self._give_back(job, f"not kept for retry: {err}")
            return
        self._ack(job)

    def _give_back(self, job: Job, why: str) -> None:
        """A notice that could not be settled comes again (logged): from the broker (not
        acknowledged, given back to its queue after a pause), or from the retry queue (the
        entry released, unchanged, for its next try)."""
        logger.error("%s: %s; it will come again", redact_url(job.notice.url), why)
        if job.delivery is not None:
            self.consumer.reject(job.delivery, delay=GIVE_BACK_DELAY)  # type: ignore[union-attr]
        if job.origin is not None:
            job.origin.refused(job, why)
        if job.retry is not None:
            self.retry.release(job.retry)

    def _ack(self, job: Job) -> None:
        for claim in job.claims:
            self.nodupe.settle(*claim)  # type: ignore[union-attr]
        if job.delivery is not None:
            self.consumer.ack(job.delivery)  # type: ignore[union-attr]
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("acknowledged %s", redact_url(job.notice.url))
        elif job.origin is not None:
            job.origin.settled(job)

    def _report(self, notice: Notice, code: int, message: str, seconds: float = 0.0) -> None:
        """Publish a report of what became of a notice (report_back), never blocking the ack."""
        if self.reporter is None:
            return
        report = Report(
            code=code, message=message, host=socket.gethostname(),
            user=self.config.broker_user(), elapsed=f"{seconds:.6f}",
        )  # fmt: skip
        notice = dataclasses.replace(notice, report=report)
        if self.plugins is not None and self.plugins.has("on_report"):
            try:
                msg = self.plugins.message(notice)
                if not self.plugins.run("on_report", msg):
                    return
                notice = msg.to_notice()
            except (PluginFailed, MalformedNotice) as err:
                logger.warning("no report for %s: %s", redact_url(notice.url), err)
                return
        try:
            self.reporter.publish(notice)
        except NotEncodable as err:
            logger.warning("no report for %s: %s", redact_url(notice.url), err)
