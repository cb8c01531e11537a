"""sr_post: announce local files on the post broker.

One publisher connection serves the whole run, and notices go out within a window of
publisher confirms: a tree of thousands of files costs no connection and no round trip per
file. Each file posted is logged (what, where) at info, by the per-file logger; a run ends with
a summary, and with an error naming each notice the broker did not confirm. On a terminal, a
line of progress shows how far it is (sarra.components.progress).

`sr_post -p path ...` (see sarra.cli.post) posts once; `sr_post start|foreground config` runs
`run`, which posts the config's `path` lines and, with `sleep` > 0, again every `sleep` seconds.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sarra.broker import Confirmation, Message, plan
from sarra.broker.errors import PublishError
from sarra.components import terminal
from sarra.components.post_reader import Outcome, Posted, Skipped, file_notices, shown_url, what
from sarra.components.progress import Counts, Progress, summary
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_url
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.flow.announce import Announcer, walk
from sarra.flow.hooks import PluginFailed
from sarra.flow.posting import Posting
from sarra.flow.publish import NoticePublisher
from sarra.message.errors import MalformedNotice, NotEncodable
from sarra.message.notice import Notice

if TYPE_CHECKING:
    from sarra.compat.plugins import Plugins
    from sarra.flow.metrics import Metrics
    from sarra.flow.recorder import Recorder

logger = logging.getLogger("sarra.post")
file_log = logging.getLogger(terminal.PER_FILE)

CONNECT_WAIT = 30.0
"""Seconds a one-shot post waits for the broker before it gives up."""

CONFIRM_WAIT = 60.0
"""Seconds the end of a run waits for the broker to confirm what was posted."""

SEND_EVERY = 1000
"""Files whose notices are held before they are published together: as many as the publisher's
window, so that its thread sends a window's worth at each wake-up (fewer switches between it
and the thread reading the files, which share the interpreter)."""


class Poster:
    """Announces local paths through one NoticePublisher; counts what it posted and keeps the
    notices the broker refused. Used from one thread.

    The files found are held, ready to publish, then published together by `send` (called by
    post_path at its end, and whenever SEND_EVERY files are held): publishing in a burst lets
    the publisher's thread send them in one go instead of waking for each file. Files are read,
    hashed and encoded in this process: handing them to another process cost more CPU in
    pickling than the work it took off (bench/post.py)."""

    def __init__(self, config: Config, credentials: Credentials) -> None:
        if plan.post_broker(config) is None:
            raise ConfigError(None, f"{config.name}: no post_broker (or broker) to post to")
        try:
            self.announcer = Announcer(config)
        except ValueError as err:
            raise ConfigError(None, f"{config.name}: {err}") from None
        self.follow_symlinks = config.follow_symlinks
        self.plugins: Plugins | None = None
        if config.plugin_lines:  # the plugin machinery's imports: for a config that has plugins
            from sarra.compat.plugins import Plugins

            self.plugins = Plugins.load(config) or None
        self.publisher = NoticePublisher(config, credentials)
        self.files = 0
        self.bytes = 0
        self.errors = 0
        self.taken = 0  # files read and ready (posted a moment later), for the progress line
        self.taken_bytes = 0
        self.refused: list[str] = []
        self.started = time.monotonic()
        self.began = time.time()
        self.last_done: float | None = None
        self.last_file = ""
        self._held: list[Posted] = []
        self._unsettled: deque[tuple[str, Confirmation]] = deque()  # (url, its confirmation)
        self.posting = Posting(self.publisher, self.plugins)  # the consuming loop's post stage

    def start(self, timeout: float | None = None) -> bool:
        """Connect; with a timeout, wait that long for the broker (False if it did not answer)."""
        self.publisher.start()
        logger.info("posting to %s", self.publisher.describe())
        return timeout is None or self.publisher.publisher.wait_ready(timeout)

    # --- what to post

    def post_all(self, names: Iterable[str]) -> None:
        """Post each path named (post_path); on a terminal, with a line of progress, which
        knows the total when the paths are given as a list (not read from a pipe)."""
        shown = terminal.current()
        tally = None
        if shown is not None and isinstance(names, Sequence):
            tally = Tally(self.announcer, self.follow_symlinks, names)
        start = self.counts()

        def counts() -> Counts:
            now = self.counts()
            files, size = tally.total() if tally is not None else (None, None)
            return Counts(now.files - start.files, now.bytes - start.bytes,
                          now.failed - start.failed, files, size)  # fmt: skip

        shown_progress = Progress(shown, "posted", counts).start()
        try:
            for name in names:
                self.post_path(name)
        finally:
            shown_progress.close()
            if tally is not None:
                tally.stop()

    def post_path(self, path: str) -> bool:
        """Post a named path: a file or link, or every one below a directory. False (logged)
        when the path does not exist."""
        path = os.path.abspath(path)
        try:
            files = (
                (found, st)
                for found, st in walk(path, self.follow_symlinks)
                if self._accepts(found)
            )
            for found, st in files:
                self._post_accepted(found, st)
        except OSError as err:
            self.errors += 1
            logger.error("cannot post %s: %s", path, err.strerror or err)
            return False
        finally:
            self.send()
        return True

    def post_file(
        self, path: str, st: os.stat_result | None = None, renamed_from: str | None = None
    ) -> bool:
        """Announce one file or symbolic link if the accept/reject rules take it (`st` is its
        lstat, taken now if not given). A file that vanished or changed while it was read is
        logged and skipped (False)."""
        return self._accepts(path) and self._post_accepted(path, st, renamed_from)

    def post_removal(self, path: str) -> bool:
        """Announce the removal of a file or link, if the rules take its path."""
        if not self.announcer.accepts(path):
            return False
        self._hold([self.announcer.remove(path)], 0)
        return True

    def post_directory(self, path: str, removed: bool = False) -> bool:
        """Announce that a directory was made (or removed), if the rules take its path."""
        if not self.announcer.accepts(path):
            return False
        self._hold([self.announcer.directory(path, removed)], 0)
        return True

    def _accepts(self, path: str) -> bool:
        if self.announcer.accepts(path):
            return True
        file_log.debug("rejected %s", path)
        return False

    def _post_accepted(
        self, path: str, st: os.stat_result | None, renamed_from: str | None = None
    ) -> bool:
        found = file_notices(self.announcer, path, st, renamed_from)
        if found is None or isinstance(found, Skipped):
            self._take(found)
            return False
        self._hold(*found)
        return True

    # --- publishing

    def _take(self, outcome: Outcome) -> None:
        """Hold a file ready to post, or log why it is not posted."""
        if isinstance(outcome, Posted):
            self._held.append(outcome)
            self.taken += 1
            self.taken_bytes += outcome.size
            if len(self._held) >= SEND_EVERY:
                self.send()
        elif outcome is not None:
            if outcome.level >= logging.ERROR:
                self.errors += 1
            file_log.log(outcome.level, "%s", outcome.text)

    def _hold(self, notices: list[Notice], size: int) -> None:
        """Hold the notices of a file as the on_post plugins leave them, encoded."""
        url = shown_url(notices[0])
        messages = []
        posted = []
        for original in notices:
            notice = self._on_post(original, url) if self.posting.before else original
            if notice is None:
                return
            try:
                messages.append(self.publisher.message(notice))
            except NotEncodable as err:
                self._take(Skipped(logging.ERROR, f"not posted {url}: {err}"))
                return
            posted.append(notice)
        kept = tuple(posted) if self.posting.after else ()
        self._take(Posted(url, size, what(notices[0], len(notices)), messages, kept))

    def send(self) -> None:
        """Log one line per file held, then publish them (and log each notice the broker
        refused since the last time). Logging first lets the publisher's thread send the burst
        without giving the interpreter back and forth with this one at each line."""
        self._reap()
        held, self._held = self._held, []
        messages: list[Message] = []
        notices: list[Notice] = []
        urls: list[str] = []
        for posted in held:
            # the URL last, as v2's post_log ended with the path: scripts take the last word
            file_log.info("posted to %s%s: %s", posted.messages[0].exchange, posted.what,
                          posted.url)  # fmt: skip
            messages += posted.messages
            notices += posted.notices
            urls += [posted.url] * len(posted.messages)
            self.files += 1
            self.bytes += posted.size
        if held:
            self.last_done, self.last_file = time.time(), held[-1].url
        if messages:
            confirmations = self.posting.publish(notices, messages)
            self._unsettled.extend(zip(urls, confirmations, strict=True))

    def _on_post(self, notice: Notice, url: str) -> Notice | None:
        """The notice as the on_post plugins leave it; None when one refuses it (False) or
        fails (logged)."""
        try:
            posted = self.posting.on_post(notice, local_file=notice.rel_path)
            if posted is not None:
                return posted
            logger.debug("not posted %s: an on_post plugin returned False", url)
        except PluginFailed as err:
            self.errors += 1
            logger.error("not posted %s: %s", url, err)
        except MalformedNotice as err:
            self.errors += 1
            logger.error("not posted %s: changed by a plugin into no notice: %s", url, err)
        return None

    def _reap(self) -> None:
        """Forget the notices the broker has answered for, keeping those it refused."""
        unsettled = self._unsettled
        while unsettled and unsettled[0][1].done():
            url, confirmation = unsettled.popleft()
            if confirmation.error is not None:
                self.refused.append(f"{url}: {confirmation.error}")
                logger.error("not confirmed by the broker: %s: %s", url, confirmation.error)

    def event(self, entry: str) -> None:
        """Run the plugins of on_start, on_stop, on_heartbeat or on_watch, if any."""
        if self.plugins is not None:
            self.plugins.event(entry)

    def figures(self) -> Metrics:
        """What it posted, for a Recorder (any thread)."""
        from sarra.flow.metrics import Metrics  # an instance's figures: not a one-shot post's

        return Metrics(counts={"posted": self.files}, bytes=self.bytes, done="posted",
                       last_done=self.last_done, started=self.began,
                       last_file=self.last_file)  # fmt: skip

    def recorder(self, number: int) -> Recorder:
        """The Recorder of an instance posting through this Poster (started)."""
        from sarra.flow.recorder import Recorder

        config = self.publisher.config
        recorder = Recorder(config.component, config.name, number, self.figures)
        recorder.watch("publisher", self.publisher.state)
        return recorder.start()

    @property
    def failed(self) -> int:
        """Files not posted for an error, and notices the broker refused, so far."""
        return self.errors + len(self.refused)

    def counts(self) -> Counts:
        """Files read and ready to post, their bytes, and the failures, so far."""
        return Counts(self.taken, self.taken_bytes, self.failed)

    def summary(self) -> str:
        """Files and bytes posted, with the rates, and how many failed, since the start."""
        seconds = time.monotonic() - self.started
        return summary("posted", self.files, self.bytes, self.failed, seconds)

    def finish(self, timeout: float = CONFIRM_WAIT) -> list[str]:
        """Send what is held, wait (bounded) for the broker's confirms and close; returns what
        it refused or did not confirm, one `url: reason` each."""
        self.send()
        self.publisher.flush(timeout)
        self.publisher.close()
        self._reap()
        return list(self.refused)


def post_once(config: Config, credentials: Credentials, names: Iterable[str]) -> int:
    """Post each path named once and wait for the confirms; the exit status: 0 when every
    notice was confirmed and every path found, 1 otherwise."""
    poster = Poster(config, credentials)
    if not poster.start(CONNECT_WAIT):
        poster.finish(0)
        logger.error("no answer from %s within %.0f s: nothing posted",
                     redact_url(poster.publisher.url), CONNECT_WAIT)  # fmt: skip
        return 1
    poster.post_all(names)
    failed = poster.finish()
    logger.info("%s", poster.summary())
    if failed:
        logger.error("%d notices not confirmed by the broker: %s", len(failed), "; ".join(failed))
    return 1 if failed or poster.errors else 0


def run(config: Config, number: int, stop: threading.Event) -> None:
    """The Runner of sr_post start|foreground: post the config's paths, and again every
    `sleep` seconds when sleep > 0 (a daemon needs it: there is nothing else to do)."""
    if not config.path:
        raise ConfigError(None, f"{config.name}: no path to post (add path lines)")
    if number and config.sleep <= 0:
        raise ConfigError(
            None,
            f"{config.name}: sr_post start reposts every `sleep` seconds, and sleep is 0;"
            " set sleep, or post once with sr_post foreground or sr_post -p",
        )
    poster = Poster(config, Credentials.load(paths.credentials_file()))
    poster.start()
    recorder = poster.recorder(number)
    poster.event("on_start")
    try:
        while True:
            poster.post_all(config.path)
            logger.info("%s", poster.summary())
            if config.sleep <= 0 or stop.wait(config.sleep):
                break
    finally:
        poster.event("on_stop")
        failed = poster.finish()
        recorder.close()
    if failed:
        raise PublishError(f"{len(failed)} notices not confirmed by the broker: {failed[0]} ...")


class Tally:
    """The files (and their bytes) below paths to post that the accept/reject rules take,
    counted by a thread of its own while they are posted: the total of the progress line."""

    def __init__(self, announcer: Announcer, follow_symlinks: bool, names: Iterable[str]) -> None:
        self.announcer = announcer
        self.follow_symlinks = follow_symlinks
        self.names = list(names)
        self.files = 0
        self.bytes = 0
        self._done = False
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._count, name="tally", daemon=True)
        self.thread.start()

    def total(self) -> tuple[int | None, int | None]:
        """(files, bytes) once counted; (None, None) before."""
        return (self.files, self.bytes) if self._done else (None, None)

    def stop(self) -> None:
        """Stop counting (the work is over)."""
        self._stop.set()

    def _count(self) -> None:
        for name in self.names:
            try:
                for path, st in walk(os.path.abspath(name), self.follow_symlinks, quiet=True):
                    if self._stop.is_set():
                        return
                    if self.announcer.accepts(path):
                        self.files += 1
                        self.bytes += st.st_size if stat.S_ISREG(st.st_mode) else 0
            except OSError:
                continue  # not found: post_path says so
        self._done = True
