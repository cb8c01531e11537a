"""The plugin points of the loop (sarra.flow.hooks): after_gather before the filter,
on_message and destfn_script after it, do_download/do_get (do_send/do_put) before the worker's
own transfer, on_part/on_file after a download, after_work after the work of every notice,
on_post before a publish (after_post runs in sarra.flow.posting, the post stage every
component shares). Each says whether the notice goes on; a plugin that raises sends its notice
to the retry queue."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sarra.config.credentials import redact_url
from sarra.flow.hooks import PluginFailed
from sarra.flow.job import UNEXPECTED_TRIES, Job, try_number
from sarra.flow.local_files import LocalFile
from sarra.flow.loop_state import LoopState
from sarra.flow.placement import Placement
from sarra.message.errors import MalformedNotice
from sarra.message.notice import Notice

if TYPE_CHECKING:
    from sarra.flow.download import Outcome

logger = logging.getLogger("sarra.flow")


class PluginPoints(LoopState):
    """The plugin points of the loop: each says whether the notice goes on."""

    def _plugin_failed(self, job: Job, err: PluginFailed) -> None:
        """A plugin asked to see the notice later: it goes to the retry queue; or a plugin
        raised (it is logged): the notice is retried as after an unexpected error."""
        self._count("delayed" if err.later else "failed")
        level = logging.INFO if err.later else logging.ERROR
        if err.permanent:
            logger.error("%s: %s; dropped", redact_url(job.notice.url), err)
            self._finish(job)
        elif not err.later and try_number(job) >= UNEXPECTED_TRIES:
            logger.error("%s: %s; dropped after %d tries", redact_url(job.notice.url), err,
                         try_number(job))  # fmt: skip
            self._finish(job)
        elif self.config.retry:
            logger.log(level, "%s: %s; kept for retry", redact_url(job.notice.url), err)
            self._keep_for_retry(job, str(err))
        else:
            logger.log(level, "%s: %s; dropped", redact_url(job.notice.url), err)
            self._finish(job)

    def _plugin_stopped(self, job: Job, entry: str) -> None:
        self._count("stopped by plugin")
        logger.debug("%s: a plugin at %s returned False", redact_url(job.notice.url), entry)
        self._finish(job)

    def _after_gather(self, job: Job) -> bool:
        """after_gather, before the filter: False when the notice stops here (handled)."""
        assert self.plugins is not None
        job.msg = self.plugins.message(job.notice, is_retry=job.retry is not None)
        return self._run_on_notice(job, "after_gather")

    def _on_message(self, job: Job, placement: Placement | None) -> bool:
        """destfn_script and on_message: False when the notice stops here (handled)."""
        plugins = self.plugins
        assert plugins is not None
        if not (plugins.has("on_message") or plugins.has("destfn_script")):
            return True
        if placement is not None:
            new_dir, new_file = str(placement.path.parent), placement.path.name
        else:
            new_dir, new_file = self.config.directory, job.notice.rel_path.rpartition("/")[2]
        if job.msg is None:  # else after_gather's: what callbacks noted on it carries over
            job.msg = plugins.message(job.notice, is_retry=job.retry is not None)
        job.msg.new_dir, job.msg.new_file = new_dir, new_file
        before = ("destfn_script",) if placement is not None else ()
        return self._run_on_notice(job, "on_message", before)

    def _run_on_notice(self, job: Job, entry: str, before: tuple[str, ...] = ()) -> bool:
        """Run the plugins of `before` (what they return is no verdict), then those of `entry`,
        on the job's msg: False when the notice stops here (handled); else the notice is as
        they left it."""
        plugins, msg = self.plugins, job.msg
        assert plugins is not None and msg is not None
        try:
            for first in before:
                plugins.run(first, msg)
            if not plugins.run(entry, msg):
                self._plugin_stopped(job, entry)
                return False
            job.notice = msg.to_notice()
        except PluginFailed as err:
            self._plugin_failed(job, err)
            return False
        except MalformedNotice as err:
            self._count("malformed")
            self._made_into_nothing(job, err)
            return False
        return True

    def _plugin_transfer(self, job: Job, placement: Placement) -> Outcome | None:
        """do_task (any scheme), then do_download and do_get plugins of the notice's scheme (a
        sender: do_send and do_put, of the destination's scheme); None = the built-in
        transfer."""
        from sarra.flow.download import Outcome, remote_path  # only where files are moved

        plugins = self.plugins
        assert plugins is not None
        if self.sends:
            entries, scheme = (
                ("do_task", "do_send", "do_put"),
                urlsplit(self.config.destination).scheme,
            )
        else:
            entries = ("do_task", "do_download", "do_get")
            scheme = urlsplit(job.notice.base_url).scheme
        for entry in entries:
            if not plugins.has(entry):
                continue
            started = time.monotonic()
            msg = job.msg = job.msg or plugins.message(job.notice)
            msg.new_dir, msg.new_file = str(placement.path.parent), placement.path.name
            if self.sends and urlsplit(job.notice.base_url).scheme == "file":
                msg.local_file = remote_path(job.notice)  # the file to send
            try:
                done = plugins.transfer(entry, scheme, msg)
            except PluginFailed as err:
                return Outcome("transient", str(err))
            if done is None:
                continue
            if not done:
                return Outcome("transient", f"{entry} plugin failed")
            path = Path(msg.new_dir or placement.path.parent) / (msg.new_file or "")
            size = path.stat().st_size if not self.sends and path.is_file() else 0
            size = size or job.notice.size or 0
            return Outcome("done", f"by {entry} plugin", path, size, time.monotonic() - started)
        return None

    def _after_download(self, job: Job, outcome: Outcome) -> bool:
        """on_part (each part, a whole file being one), then on_file (the file complete), for
        downloads: False when the notice stops here."""
        plugins = self.plugins
        assert plugins is not None
        entries = [e for e in ("on_part", "on_file") if plugins.has(e)]
        if not entries or self.sends or job.notice.file_op or outcome.path is None:
            return True
        msg = job.msg = job.msg or plugins.message(job.notice)
        msg.new_dir, msg.new_file = str(outcome.path.parent), outcome.path.name
        try:
            for entry in entries:
                if entry == "on_file" and not outcome.whole:
                    break
                if not plugins.run(entry, msg):
                    self._plugin_stopped(job, entry)
                    return False
        except PluginFailed as err:
            self._plugin_failed(job, err)
            return False
        return True

    def _after_work(self, job: Job, status: str, path: Path | None) -> bool:
        """after_work: every notice once its work is over, whatever its Outcome's status (the
        file at `path`); False when a done notice goes no further (a plugin dropped it, or
        failed it: then it is kept for retry). What plugins do with the others is only
        looked at: their notices go their way."""
        plugins = self.plugins
        if plugins is None or not plugins.has("after_work"):
            return True
        msg = job.msg
        if msg is None:  # else where on_message and on_file left it
            msg = job.msg = plugins.message(job.notice, is_retry=job.retry is not None)
            if path is not None:
                msg.new_dir, msg.new_file = str(path.parent), path.name
        try:
            go_on = plugins.run("after_work", msg, status)
            if status != "done":
                return True
            if not go_on:
                self._plugin_stopped(job, "after_work")
                return False
            job.notice = msg.to_notice()
        except PluginFailed as err:
            if status == "done":
                self._plugin_failed(job, err)
                return False
        except MalformedNotice as err:
            self._made_into_nothing(job, err)
            return False
        return True

    def _made_into_nothing(self, job: Job, err: MalformedNotice) -> None:
        """A plugin changed the notice into one that is no notice: logged (within the bad
        input budget) and settled."""
        self.bad_input.log(logging.ERROR, "malformed notice",
                           "%s: changed by a plugin into no notice: %s",
                           redact_url(job.notice.url), err)  # fmt: skip
        self._finish(job)

    def _on_post(self, job: Job, notice: Notice) -> Notice | None:
        """on_post (sarra.flow.posting): the notice to publish, or None when it is not
        published (handled)."""
        assert self.posting is not None
        local = job.local  # sr_post, sr_watch: the file announced is msg.local_file
        local_file = local.path if isinstance(local, LocalFile) else None
        try:
            posted = self.posting.on_post(notice, follows=job.msg, local_file=local_file)
            if posted is not None:
                return posted
            self._plugin_stopped(job, "on_post")
        except PluginFailed as err:
            self._plugin_failed(job, err)
        except MalformedNotice as err:
            self.bad_input.log(logging.ERROR, "malformed notice",
                               "not posted %s: changed by a plugin into no notice: %s",
                               redact_url(notice.url), err)  # fmt: skip
            self._finish(job)
        return None
