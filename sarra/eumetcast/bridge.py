"""The bridge into the pump: a client section with `post_broker` posts a notice for each file
it receives to `post_exchange` on that AMQP broker, the file's URL being `post_base_url` + its
path (below `post_base_dir`, if given), as sr_post would post it. EUMETCast data so joins a
Sarracenia pump network."""

from __future__ import annotations

import logging
import os

from sarra.config import paths
from sarra.config.credentials import Credentials
from sarra.config.loader import load
from sarra.eumetcast import messages
from sarra.eumetcast.config import ClientChain
from sarra.eumetcast.messages import Message
from sarra.flow.announce import Announcer
from sarra.flow.publish import NoticePublisher

log = logging.getLogger(__name__)


class Bridge:
    """Posts the files one client section receives."""

    def __init__(self, chain: ClientChain, credentials: Credentials) -> None:
        overrides = [("post_broker", chain.post_broker), ("post_base_url", chain.post_base_url)]
        for option in ("post_exchange", "post_base_dir", "post_topic_prefix"):
            value = getattr(chain, option)
            if value:
                overrides.append((option, value))
        self.section = chain.name
        config = load("post", None, name=f"eumetcast_{chain.name}", overrides=overrides)
        self.announcer = Announcer(config)
        self.publisher = NoticePublisher(config, credentials).start()
        log.info("[%s] posting received files to %s", chain.name, self.publisher.describe())

    def __call__(self, chain: ClientChain, message: Message) -> None:
        if chain.name != self.section:
            return
        for item in messages.files(message.data):
            path = str(item["uri"])
            if not os.path.isabs(path):
                log.warning("[%s] %s is not a local file: not posted", self.section, path)
                continue
            try:
                notices = self.announcer.notices(path, os.lstat(path))
            except (OSError, ValueError) as err:
                log.error("[%s] cannot post %s: %s", self.section, path, err)
                continue
            for notice in notices:
                self.publisher.publish(notice)
            log.info("[%s] posted %s", self.section, path)

    def close(self) -> None:
        self.publisher.close()


def bridges(chains: list[ClientChain]) -> list[Bridge]:
    """A Bridge for each section that posts (the credentials read once)."""
    posting = [c for c in chains if c.post_broker]
    if not posting:
        return []
    credentials = Credentials.load(paths.credentials_file())
    return [Bridge(chain, credentials) for chain in posting]
