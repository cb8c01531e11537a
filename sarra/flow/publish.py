"""Publishing notices to the post broker: which exchange (with post_exchange_split), which
topic prefix and format (v02, v03 or WIS2 notification messages: post_format, or the one the
topic prefix implies), through one confirming publisher.

The topic is the topic prefix followed by the directories of the notice's path, or `post_topic`
(the whole topic, its variables replaced per notice), or for a WIS2 Global Cache
(`wis2_global_cache`) the topic the message came on, on the cache channel. A WIS2 message that
has no data_id (or metadata_id) gets `post_data_id` (`post_metadata_id`).
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Sequence
from dataclasses import replace
from types import ModuleType

from sarra.broker import Confirmation, Message, open_publisher, plan
from sarra.broker.state import LinkState
from sarra.config.credentials import Credentials, redact_url
from sarra.config.loader import Config
from sarra.config.variables import UnknownVariable, expand, notice_lookup
from sarra.message import encode_any, format_for, prefix_for
from sarra.message.errors import NotEncodable
from sarra.message.notice import Notice
from sarra.message.topic import split_exchange

FOLLOW_INPUT = frozenset({"subscribe", "shovel", "sender"})
"""Components that, without post_exchange, post to the exchange each notice came from."""


class NoticePublisher:
    """Publishes notices as the config says; `publish` may raise NotEncodable."""

    def __init__(
        self,
        config: Config,
        credentials: Credentials,
        number: int = 0,
        *,
        reports_to: str | None = None,
    ) -> None:
        """Posts as the config says; with `reports_to`, publishes reports to that exchange of
        the consuming broker instead, under the input topic prefix."""
        url = config.broker if reports_to else plan.post_broker(config)
        if url is None:
            raise ValueError(f"{config.name}: no post_broker to publish to")
        self.url = url
        self.config = config
        if reports_to:
            self.prefix = config.topic_prefix
            self.follow_input = False
            self.exchanges = [reports_to]
        else:
            self.prefix = config.post_topic_prefix or config.topic_prefix
            self.follow_input = (
                config.component in FOLLOW_INPUT
                and not config.post_exchange
                and not config.post_exchange_suffix
            )
            self.exchanges = [] if self.follow_input else plan.post_exchanges(config)
        self.split = config.post_exchange_split
        self.format = format_for(None if reports_to else config.post_format, self.prefix)
        self.prefix = prefix_for(self.format, self.prefix)
        self.topic = None if reports_to else config.post_topic
        self.global_cache = config.wis2_global_cache if config.component == "sarra" else None
        self.persistent = config.persistent
        self.publisher = open_publisher(
            config,
            url,
            "reporter" if reports_to else "publisher",
            self.exchanges,
            number=number,
            headers=self.format == "v02",
            credentials=credentials,
        )

    @property
    def state(self) -> LinkState:
        """The connection's state (connecting, connected, refused, unreachable)."""
        return self.publisher.state

    def start(self) -> NoticePublisher:
        """Connect (in the publisher's own thread)."""
        self.publisher.start()
        return self

    def describe(self) -> str:
        """Where notices go, for a log line."""
        where = (
            "the exchange each notice came from" if self.follow_input else ",".join(self.exchanges)
        )
        return f"{redact_url(self.url)} {where} ({self.prefix})"

    def exchange_for(self, notice: Notice) -> str:
        """The exchange a notice is posted to."""
        if self.follow_input:
            return notice.exchange or ""
        split = self.split
        if split > 1:
            base = self.exchanges[0][:-2]  # post_exchange_names gives <exchange>00 first
            value = notice.identity.value if notice.identity else notice.rel_path
            return split_exchange(base, split, value)
        return self.exchanges[0]

    def publish(self, notice: Notice) -> Confirmation:
        """Publish one notice; the Confirmation settles when the broker has it."""
        return self.publisher.publish_many([self.message(notice)])[0]

    def message(self, notice: Notice) -> Message:
        """The message publishing a notice (NotEncodable if it cannot be written)."""
        exchange = self.exchange_for(notice)
        topic = _expand("post_topic", self.topic, notice, None) if self.topic else None
        if self.format == "wis":
            notice, topic = self._wis2(notice, topic)
        encoded = encode_any(notice, self.format, self.prefix, topic=topic)
        return Message(exchange, encoded.topic, encoded.body, encoded.headers,
                       encoded.content_type, self.persistent)  # fmt: skip

    def _wis2(self, notice: Notice, topic: str | None) -> tuple[Notice, str | None]:
        """A WIS2 message's topic (a Global Cache's: the cache channel of the one it came on)
        and the data_id and metadata_id it lacks, from post_data_id and post_metadata_id."""
        wis2, wis2_topics = _wis2_modules()
        if topic is None and self.global_cache is not None:
            topic = wis2.cache_topic(notice.topic)
        extra = notice.extra
        config = self.config
        missing = {}
        if not extra.get("data_id") and config.post_data_id:
            written = topic or wis2_topics.topic_for(notice.rel_path, self.prefix)
            directory = wis2_topics.rel_dir(written)
            missing["data_id"] = _expand("post_data_id", config.post_data_id, notice, directory)
        if not extra.get("metadata_id") and config.post_metadata_id:
            missing["metadata_id"] = _expand(
                "post_metadata_id", config.post_metadata_id, notice, None
            )
        if missing:
            notice = replace(notice, extra={**extra, **missing})
        return notice, topic

    def publish_many(self, messages: Sequence[Message]) -> list[Confirmation]:
        """Publish messages made by `message`, handed to the publisher's thread together."""
        return self.publisher.publish_many(messages)

    def lend(self) -> bool:
        """Do the connection's work in the caller's thread (`turn`) until `give_back`, where
        the broker's kind allows it; False when not lent (see sarra.broker.link)."""
        return self.publisher.lend()

    def turn(self, wait: float = 0.0) -> bool:
        """Send what waits and settle what the broker confirmed, if lent to the caller (False
        when not)."""
        return self.publisher.turn(wait)

    def give_back(self) -> None:
        """The connection's own thread does its work again."""
        self.publisher.give_back()

    @property
    def room(self) -> int:
        """How many more notices can be published now without waiting."""
        return self.publisher.room

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every notice published is confirmed; False if `timeout` passed first."""
        return self.publisher.flush(timeout)

    def close(self) -> None:
        """Wait (bounded) for the confirms, then close."""
        self.publisher.close()


@functools.cache
def _wis2_modules() -> tuple[ModuleType, ModuleType]:
    """sarra.flow.wis2 and the WIS2 topic hierarchy, imported by a publisher of WIS2 messages
    only (once: not at each notice)."""
    from sarra.flow import wis2
    from sarra.message import wis2_topics

    return wis2, wis2_topics


def _expand(option: str, pattern: str, notice: Notice, wis2_dir: str | None) -> str:
    """An option's pattern with a notice's variables: FILE, STEM, RELPATH, WIS2_DIR (the
    topic without channel and version) and the dates; NotEncodable when one has no value."""
    rel_path = notice.rel_path.lstrip("/")
    name = posixpath.basename(rel_path)
    values = {"FILE": name, "STEM": posixpath.splitext(name)[0], "RELPATH": rel_path}
    if wis2_dir is not None:
        values["WIS2_DIR"] = wis2_dir
    try:
        return expand(pattern, notice_lookup(values))
    except UnknownVariable as err:
        raise NotEncodable(f"{option} {pattern}: {err}") from None
