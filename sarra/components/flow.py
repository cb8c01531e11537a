"""sr3's generic flow without flowMain: the notices its callbacks' gather brings (sr3's
`scheduled`, its pollers' gather...) are filtered and posted to post_broker, every `sleep`
seconds at most (at least every second), on the one loop (sarra.flow.loop).

A flow with `flowMain X` is read as a config of component X (sarra.config.loader) and does not
come here."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from sarra.broker import Message
from sarra.compat.plugins import Plugins, nothing_gathered
from sarra.components import terminal
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_url
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.flow.job import Job
from sarra.flow.loop import ConsumerLoop
from sarra.flow.rules import Rules
from sarra.message.notice import Notice

logger = logging.getLogger(__name__)
file_log = logging.getLogger(terminal.PER_FILE)

MOST_WAIT = 1.0
"""Most seconds between two asks of the callbacks' gather (sr3's scheduled keeps its own
appointments: it says when it has nothing yet)."""


class PluginSource:
    """The gather stage of a flow: what its callbacks' gather gives, each notice a job that
    needs no work."""

    def __init__(self, config: Config, stop: threading.Event, plugins: Plugins | None) -> None:
        if plugins is None or not plugins.has("gather"):  # Plugins.load refuses such a flow
            raise ConfigError(
                None, nothing_gathered(config, bool(plugins and plugins.has("do_poll")))
            )
        self.config = config
        self.stop = stop
        self.plugins = plugins
        self.confirm_wait = 10.0
        self.rules: Rules | None = None  # the config's accept/reject
        self.posted = 0

    def start(self) -> None:
        logger.info("gathering from %s", ", ".join(self.config.flowcb) or "callbacks")

    def gather(self, timeout: float) -> list[Job] | None:
        _, notices = self.plugins.gather(self.config.batch)
        if not notices:
            self.stop.wait(min(timeout, MOST_WAIT, max(self.config.sleep, 0.05)))
        return [Job(notice, None, None, origin=self) for notice in notices]

    def work(self, job: Job) -> list[Notice]:
        return [job.notice]

    def posting(self, job: Job, messages: Sequence[Message]) -> None:
        self.posted += 1
        file_log.info("posted %s", redact_url(job.notice.url))

    def log_posted(self) -> None:
        """Nothing to write: each line is written by `posting`."""

    def settled(self, job: Job) -> None:
        pass  # the loop counts what the broker confirmed

    def refused(self, job: Job, why: str) -> None:
        file_log.error("not confirmed by the broker: %s: %s", redact_url(job.notice.url), why)

    def note(self) -> str:
        return f"{self.posted} posted"

    def passive(self) -> str:
        return ""

    def close(self) -> None:
        pass


def run(config: Config, number: int, stop: threading.Event) -> None:
    """The Runner of sr3's flow (without flowMain)."""
    credentials = Credentials.load(paths.credentials_file())
    plugins = Plugins.load(config, number, stop) or None
    source = PluginSource(config, stop, plugins)
    ConsumerLoop(config, number, stop, plugins, source, credentials).run()
