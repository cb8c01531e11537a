"""Post and acknowledge, the last stages of the consuming loop: the onward notice is published,
and the notice acknowledged once the broker confirmed it; a failure is kept in the retry queue
then acknowledged; a notice that cannot be settled is given back. Reports (report_back) go out
beside, never holding an acknowledgement."""

from __future__ import annotations

import dataclasses
import logging
import socket

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
        posting = self.posting
        if posting is None:
            self._finish(job)
            return
        if posting.before:
            posted = self._on_post(job, notice)
            if posted is None:
                return
            notice = posted
        try:
            (confirmation,) = posting.publish([notice], follows=job.msg,
                                              is_retry=job.retry is not None)  # fmt: skip
        except NotEncodable as err:
            logger.error("not posted %s: %s", redact_url(notice.url), err)
            self._finish(job)
            return

        def settled(done: Confirmation) -> None:
            if done.error is None:
                self._count("posted")
                self._finish(job)
            else:
                logger.error("post of %s refused by the broker: %s; it will come again",
                             redact_url(notice.url), done.error)  # fmt: skip

        confirmation.add_done_callback(settled)

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
        if job.retry is not None:
            self.retry.release(job.retry)

    def _ack(self, job: Job) -> None:
        for claim in job.claims:
            self.nodupe.settle(*claim)  # type: ignore[union-attr]
        if job.delivery is not None:
            self.consumer.ack(job.delivery)  # type: ignore[union-attr]
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("acknowledged %s", redact_url(job.notice.url))

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
