"""sr_post: announce local files on the post broker, on the one loop of every component.

The loop (sarra.flow.loop) gathers from a PathSource (sarra.flow.sources: the paths named, or
read from standard input with -pipe), filters each file's notice by its URL (the accept/reject
rules, on_message plugins), works (the checksum of the file), posts (on_post, a publish within
the window of publisher confirms, after_post) and settles. One publisher connection serves the
whole run: a tree of thousands of files costs no connection and no round trip per file. Each
file posted is logged (what, where) at info, by the per-file logger; a run ends with a summary,
and with an error naming each notice the broker did not confirm. On a terminal, a line of
progress shows how far it is (sarra.components.progress).

`sr_post -p path ...` (see sarra.cli.post) posts once; `sr_post start|foreground config` runs
`run`, which posts the config's `path` lines and, with `sleep` > 0, again every `sleep` seconds.
Files are read, hashed and encoded in the loop's thread: handing them to another process or
thread cost more CPU than the work it took off (bench/post.py).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Iterable, Sequence

from sarra.broker.errors import PublishError
from sarra.components import terminal
from sarra.components.progress import Counts, Progress, summary
from sarra.config.credentials import Credentials, redact_url
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.flow.announce import Announcer, walk
from sarra.flow.loop import ConsumerLoop
from sarra.flow.sources import PathSource

logger = logging.getLogger("sarra.post")
file_log = logging.getLogger(terminal.PER_FILE)

CONNECT_WAIT = 30.0
"""Seconds a one-shot post waits for the broker before it gives up."""

FAILURES = ("failed", "unexpected errors", "malformed")
"""The loop's counts of notices that could not be posted (a plugin failed, or made one into no
notice; one could not be encoded)."""


class Post:
    """One run of sr_post: the loop over a PathSource, and what it did."""

    def __init__(
        self,
        config: Config,
        names: Iterable[str],
        number: int = 0,
        stop: threading.Event | None = None,
        every: float = 0.0,
        credentials: Credentials | None = None,
    ) -> None:
        try:
            self.announcer = Announcer(config)
        except ValueError as err:
            raise ConfigError(None, f"{config.name}: {err}") from None
        self.names = names
        self.started = time.monotonic()
        self.source = PathSource(
            self.announcer, names, config.follow_symlinks, every,
            passed=self._pass_ended if every > 0 else None, file_log=file_log,
        )  # fmt: skip
        plugins = None
        if config.plugin_lines:  # the plugin machinery's imports: for a config that has plugins
            from sarra.compat.plugins import Plugins

            plugins = Plugins.load(config, number, stop) or None
        self.stop = stop or threading.Event()
        self.loop = ConsumerLoop(config, number, self.stop, plugins, self.source, credentials)

    @property
    def failed(self) -> int:
        """Files not posted for an error, and notices the broker refused, so far."""
        counts = self.loop.counts
        return (self.source.errors + len(self.source.not_confirmed)
                + sum(counts[what] for what in FAILURES))  # fmt: skip

    def counts(self) -> Counts:
        """Files posted, their bytes, and the failures, so far (for the progress line)."""
        return Counts(self.source.files, self.source.bytes, self.failed)

    def summary(self) -> str:
        """Files and bytes posted, with the rates, and how many failed, since the start."""
        seconds = time.monotonic() - self.started
        return summary("posted", self.source.files, self.source.bytes, self.failed, seconds)

    def _pass_ended(self) -> None:
        logger.info("%s", self.summary())

    def run(self, connect_wait: float | None = None) -> None:
        """Post every path (on a terminal, with a line of progress, which knows the total when
        the paths are given as a list, not read from a pipe); with `connect_wait`, give up when
        the broker does not answer within that many seconds."""
        shown = terminal.current()
        tally = None
        if shown is not None and isinstance(self.names, Sequence):
            tally = Tally(self.announcer, self.source.follow_symlinks, self.names)

        def counts() -> Counts:
            now = self.counts()
            files, size = tally.total() if tally is not None else (None, None)
            return Counts(now.files, now.bytes, now.failed, files, size)

        if connect_wait is not None:
            self.source.ready = lambda: self._answered(connect_wait)
        shown_progress = Progress(shown, "posted", counts).start()
        try:
            self.loop.run()
        finally:
            shown_progress.close()
            if tally is not None:
                tally.stop()

    def _answered(self, timeout: float) -> bool:
        publisher = self.loop.publisher
        assert publisher is not None
        if publisher.publisher.wait_ready(timeout):
            return True
        logger.error("no answer from %s within %.0f s: nothing posted",
                     redact_url(publisher.url), timeout)  # fmt: skip
        self.source.errors += 1
        return False


def post_once(config: Config, credentials: Credentials, names: Iterable[str]) -> int:
    """Post each path named once and wait for the confirms; the exit status: 0 when every
    notice was confirmed and every path found, 1 otherwise."""
    post = Post(config, names, credentials=credentials)
    post.run(CONNECT_WAIT)
    logger.info("%s", post.summary())
    refused = post.source.not_confirmed
    if refused:
        logger.error("%d notices not confirmed by the broker: %s", len(refused),
                     "; ".join(refused))  # fmt: skip
    return 1 if post.failed else 0


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
    post = Post(config, config.path, number, stop, every=max(config.sleep, 0.0))
    post.run()
    if config.sleep <= 0:
        logger.info("%s", post.summary())
    refused = post.source.not_confirmed
    if refused:
        raise PublishError(f"{len(refused)} notices not confirmed by the broker: {refused[0]} ...")


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
