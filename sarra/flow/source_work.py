"""Work, for a notice with nothing to transfer (a notify-only component's; sr_post's, sr_watch's
and sr_poll's, whose jobs come from a source: sarra.flow.sources): its origin's work (sr_post,
sr_watch: the checksum of the local file, which may make several notices, one a block), then
after_work on each notice, then post (sarra.flow.settle). Runs where the filter runs."""

from __future__ import annotations

from sarra.flow.job import Job
from sarra.flow.loop_state import LoopState
from sarra.message.notice import Notice


class SourceWork(LoopState):
    """The work of a notice that is not transferred."""

    def _without_transfer(self, job: Job) -> None:
        origin = job.origin
        if origin is None:
            if self._after_work(job, "done", None):
                self._post_then_finish(job, job.notice)
            return
        if self._held is not None:  # a source's chunk: worked with the others (_work_chunk)
            self._to_work.append(job)
            return
        self._post_worked(job, origin.work(job))

    def _work_chunk(self) -> None:
        """Work the jobs of a source's chunk, then make their posts: one stage at a time over
        the chunk rather than every stage for each job in turn (a third less CPU a file for a
        poster: the interpreter runs the same code again while it is fresh)."""
        jobs, self._to_work = self._to_work, []
        worked = []
        for job in jobs:
            try:
                worked.append((job, job.origin.work(job)))  # type: ignore[union-attr]
            except Exception as err:
                self._unexpected(job, err)
        for job, notices in worked:
            try:
                self._post_worked(job, notices)
            except Exception as err:
                self._unexpected(job, err)

    def _post_worked(self, job: Job, notices: list[Notice]) -> None:
        """after_work on each notice of a job worked by its origin, then post them."""
        if not notices:
            self._finish(job)
            return
        plugins = self.plugins
        if plugins is None or not plugins.has("after_work"):
            self._post_all_then_finish(job, notices)
            return
        done = []
        for notice in notices:
            job.notice = notice
            if job.msg is not None:  # what plugins noted on the notice before its work
                job.msg = plugins.message(notice, follows=job.msg)
            if not self._after_work(job, "done", None):
                return
            done.append(job.notice)
        self._post_all_then_finish(job, done)
