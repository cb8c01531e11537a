"""Publishing notices to the post broker: which exchange (with post_exchange_split), which
topic prefix and format (v02, v03 or WIS2 notification messages: post_format, or the one the
topic prefix implies), through one confirming publisher."""

from __future__ import annotations

from collections.abc import Sequence

from sarra.broker import Confirmation, Message, open_publisher, plan
from sarra.broker.state import LinkState
from sarra.config.credentials import Credentials, redact_url
from sarra.config.loader import Config
from sarra.message import encode_any, format_for
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
        self.format = format_for(None if reports_to else config.post_format, self.prefix)
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
        split = self.config.post_exchange_split
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
        encoded = encode_any(notice, self.format, self.prefix)
        return Message(exchange, encoded.topic, encoded.body, encoded.headers,
                       encoded.content_type, self.persistent)  # fmt: skip

    def publish_many(self, messages: Sequence[Message]) -> list[Confirmation]:
        """Publish messages made by `message`, handed to the publisher's thread together."""
        return self.publisher.publish_many(messages)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every notice published is confirmed; False if `timeout` passed first."""
        return self.publisher.flush(timeout)

    def close(self) -> None:
        """Wait (bounded) for the confirms, then close."""
        self.publisher.close()
