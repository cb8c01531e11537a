"""sr_post: announce local files on the post broker.

One publisher connection serves the whole run, and notices go out within a window of
publisher confirms: a tree of thousands of files costs no connection and no round trip per
file. Each file posted is logged (what, where) at info; a run ends with a summary, and with an
error naming each notice the broker did not confirm.

`sr_post -p path ...` (see sarra.cli.post) posts once; `sr_post start|foreground config` runs
`run`, which posts the config's `path` lines and, with `sleep` > 0, again every `sleep` seconds.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Iterable

import humanize

from sarra.broker import plan
from sarra.broker.errors import PublishError
from sarra.broker.publisher import Confirmation
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_url
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.flow.announce import Announcer, walk
from sarra.flow.publish import NoticePublisher
from sarra.message.errors import NotEncodable
from sarra.message.notice import Notice

logger = logging.getLogger("sarra.post")

CONNECT_WAIT = 30.0
"""Seconds a one-shot post waits for the broker before it gives up."""

CONFIRM_WAIT = 60.0
"""Seconds the end of a run waits for the broker to confirm what was posted."""


class Poster:
    """Announces local paths through one NoticePublisher; counts what it posted and keeps the
    notices the broker refused. Used from one thread (callbacks of confirmations aside)."""

    def __init__(self, config: Config, credentials: Credentials) -> None:
        if plan.post_broker(config) is None:
            raise ConfigError(None, f"{config.name}: no post_broker (or broker) to post to")
        try:
            self.announcer = Announcer(config)
        except ValueError as err:
            raise ConfigError(None, f"{config.name}: {err}") from None
        self.publisher = NoticePublisher(config, credentials)
        self.files = 0
        self.bytes = 0
        self.errors = 0
        self.refused: list[str] = []
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def start(self, timeout: float | None = None) -> bool:
        """Connect; with a timeout, wait that long for the broker (False if it did not answer)."""
        self.publisher.start()
        logger.info("posting to %s", self.publisher.describe())
        return timeout is None or self.publisher.publisher.wait_ready(timeout)

    # --- what to post

    def post_path(self, path: str) -> bool:
        """Post a named path: a file or link, or every one below a directory. False (logged)
        when the path does not exist."""
        path = os.path.abspath(path)
        try:
            for found, st in walk(path, self.announcer.config.follow_symlinks):
                self.post_file(found, st)
        except OSError as err:
            self.errors += 1
            logger.error("cannot post %s: %s", path, err.strerror or err)
            return False
        return True

    def post_file(
        self, path: str, st: os.stat_result | None = None, renamed_from: str | None = None
    ) -> bool:
        """Post one file or symbolic link if the accept/reject rules take it (`st` is its lstat,
        taken now if not given). A file that vanished or changed while it was read is logged
        and skipped (False)."""
        if not self.announcer.accepts(path):
            logger.debug("rejected %s", path)
            return False
        try:
            if st is None:
                st = os.lstat(path)
            notices = self.announcer.notices(path, st, renamed_from)
        except FileNotFoundError:
            logger.warning("skipped %s: it vanished", path)
            return False
        except ValueError as err:  # it shrank while it was read: a new version will come
            logger.warning("skipped %s: %s", path, err)
            return False
        except OSError as err:
            self.errors += 1
            logger.error("cannot post %s: %s", path, err.strerror or err)
            return False
        if not notices:
            return False
        if self.publish(notices):
            self.files += 1
            if stat.S_ISREG(st.st_mode):
                self.bytes += st.st_size
        return True

    def post_removal(self, path: str) -> bool:
        """Post the removal of a file or link, if the rules take its path."""
        if not self.announcer.accepts(path):
            return False
        return self.publish([self.announcer.remove(path)])

    def post_directory(self, path: str, removed: bool = False) -> bool:
        """Post that a directory was made (or removed), if the rules take its path."""
        if not self.announcer.accepts(path):
            return False
        return self.publish([self.announcer.directory(path, removed)])

    # --- publishing

    def publish(self, notices: list[Notice]) -> bool:
        """Publish the notices of one file and log it; False if one could not be encoded."""
        first = notices[0]
        url = redact_url(first.url)
        for notice in notices:
            try:
                confirmation = self.publisher.publish(notice)
            except NotEncodable as err:
                self.errors += 1
                logger.error("not posted %s: %s", url, err)
                return False
            confirmation.add_done_callback(lambda done, url=url: self._settled(done, url))
        logger.info("posted %s to %s%s", url, self.publisher.exchange_for(first),
                    _what(first, len(notices)))  # fmt: skip
        return True

    def _settled(self, confirmation: Confirmation, url: str) -> None:
        if confirmation.error is not None:
            with self._lock:
                self.refused.append(f"{url}: {confirmation.error}")
            logger.error("not confirmed by the broker: %s: %s", url, confirmation.error)

    def summary(self) -> str:
        """Files and bytes posted, with the rates, since the start."""
        seconds = max(time.monotonic() - self.started, 1e-6)
        return (
            f"posted {self.files} files ({humanize.naturalsize(self.bytes, binary=True)}) in"
            f" {seconds:.2f} s: {self.files / seconds:,.0f} files/s,"
            f" {humanize.naturalsize(self.bytes / seconds, binary=True)}/s"
        )

    def finish(self, timeout: float = CONFIRM_WAIT) -> list[str]:
        """Wait (bounded) for the broker's confirms and close; returns what it refused or did
        not confirm, one `url: reason` each."""
        self.publisher.flush(timeout)
        self.publisher.close()
        with self._lock:
            return list(self.refused)


def _what(notice: Notice, count: int) -> str:
    operation = notice.file_op or {}
    if "remove" in operation:
        return " (removed)"
    if "link" in operation:
        return f" (link to {operation['link']})"
    detail = f"{notice.size} bytes" if count == 1 else f"{count} parts"
    if "rename" in operation:
        detail += f", renamed from {operation['rename']}"
    return f" ({detail})"


def post_once(config: Config, credentials: Credentials, names: Iterable[str]) -> int:
    """Post each path named once and wait for the confirms; the exit status: 0 when every
    notice was confirmed and every path found, 1 otherwise."""
    poster = Poster(config, credentials)
    if not poster.start(CONNECT_WAIT):
        poster.finish(0)
        logger.error("no answer from %s within %.0f s: nothing posted",
                     redact_url(poster.publisher.url), CONNECT_WAIT)  # fmt: skip
        return 1
    for name in names:
        poster.post_path(name)
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
    try:
        while True:
            for name in config.path:
                poster.post_path(name)
            logger.info("%s", poster.summary())
            if config.sleep <= 0 or stop.wait(config.sleep):
                break
    finally:
        failed = poster.finish()
    if failed:
        raise PublishError(f"{len(failed)} notices not confirmed by the broker: {failed[0]} ...")
