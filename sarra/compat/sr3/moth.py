"""`sarracenia.moth` as sr3 flow callbacks use it: a publisher or a consumer of messages on a
broker, made from a dict of options, over sarra's own broker layer (sarra.broker).

    props = default_options(); props.update(self.o.dictify()); props["exchange"] = "xpublic"
    poster = Moth.pubFactory(props)      # None when there is no broker, or an unknown scheme
    poster.putNewMessage(msg)            # True once the broker has it
    consumer = Moth.subFactory(props)    # props' broker, exchange, topicPrefix and subtopic
    for msg in consumer.newMessages(): ...; consumer.ack(msg)

`broker` is what `self.o.broker` gives (an object whose `url` is the parsed URL) or a URL;
messages are sr3's (sarra.compat.sr3.message), written as `post_format` says, else as the
topic prefix implies (v03 by default).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import replace
from typing import Any

from sarra.broker import (
    BrokerError,
    Consumer,
    Delivery,
    Publisher,
    open_consumer,
    open_publisher,
)
from sarra.broker.state import CONNECTED
from sarra.compat.sr3.message import Message, View, message_to_notice
from sarra.compat.sr3.options import CONFIG_KEY
from sarra.config.errors import ConfigError, Where
from sarra.config.loader import Binding, Config, new_config
from sarra.message import MalformedNotice, NotEncodable, decode_any, encode_any, format_for

logger = logging.getLogger("sarra.plugins")

_DEFAULTS: dict[str, Any] = {
    "broker": None,
    "exchange": None,
    "topicPrefix": ["v03"],
    "subtopic": [],
    "queueName": None,
    "post_format": None,
    "batch": 100,
    "timeout": 30.0,
    "messageAgeMax": 0,
    "tlsRigour": "normal",
}

_COUNTS = ("rxByteCount", "rxGoodCount", "rxBadCount", "txByteCount", "txGoodCount",
           "txBadCount", "disconnectCount", "disconnectTime", "disconnectLast")  # fmt: skip


def default_options() -> dict[str, Any]:
    """The options a Moth is made with when the caller sets none (a fresh copy)."""
    return copy.deepcopy(_DEFAULTS)


def _url(broker: Any) -> str | None:
    """The URL of a broker as options hold it (an object with a parsed `url`, or a string)."""
    url = getattr(broker, "url", broker)
    if url is None:
        return None
    geturl = getattr(url, "geturl", None)
    return str(geturl() if callable(geturl) else url) or None


def _prefix(props: dict[str, Any]) -> str:
    prefix = props.get("topicPrefix") or ["v03"]
    return ".".join(prefix) if isinstance(prefix, list | tuple) else str(prefix)


def _config(props: dict[str, Any], url: str) -> Config:
    """A config for the connection: a copy of the callback's own when props carry it (named
    apart, so that a consumer's queue is its own, not the component's)."""
    base = props.get(CONFIG_KEY)
    if isinstance(base, Config):
        config = replace(base, name=f"{base.name}_moth", values=dict(base.values), bindings=[])
    else:
        config = new_config("subscribe", "moth", "sr3")
    exchange = props.get("exchange")
    exchange = exchange[0] if isinstance(exchange, list) and exchange else exchange
    config.values.update(broker=url, exchange=exchange or None, topic_prefix=_prefix(props))
    if props.get("queueName"):
        config.values["queue"] = props["queueName"]
    subtopics = props.get("subtopic") or []
    for subtopic in [subtopics] if isinstance(subtopics, str) else subtopics:
        config.bindings.append(Binding(config.values["exchange"], _prefix(props), subtopic,
                                       Where("sarracenia.moth")))  # fmt: skip
    config.values["subtopic"] = [b.subtopic for b in config.bindings]
    return config


class Moth:
    """A publisher or consumer on one broker (see the module's doc)."""

    def __init__(self, props: dict[str, Any], is_subscriber: bool) -> None:
        self.o = props
        self.is_subscriber = is_subscriber
        self.broker = props.get("broker")
        self.metrics: dict[str, Any] = {"connected": False}
        self.metricsReset()
        self._publisher: Publisher | None = None
        self._consumer: Consumer | None = None

    @staticmethod
    def pubFactory(props: dict[str, Any]) -> Moth | None:
        """A publisher to props' broker and exchange; None (logged) when it cannot be."""
        return Moth._made(props, False)

    @staticmethod
    def subFactory(props: dict[str, Any]) -> Moth | None:
        """A consumer of props' broker, exchange and subtopics; None (logged) when it cannot
        be."""
        return Moth._made(props, True)

    @staticmethod
    def _made(props: dict[str, Any], is_subscriber: bool) -> Moth | None:
        url = _url(props.get("broker"))
        if not url:
            logger.error("sarracenia.moth: no broker given")
            return None
        try:
            moth = Moth(props, is_subscriber)
            config = _config(props, url)
            if is_subscriber:
                moth._consumer = open_consumer(config).start()
            else:
                exchange = config.values["exchange"]
                publisher = open_publisher(config, url, "publisher", [exchange] if exchange else [])
                moth._publisher = publisher.start()
        except (BrokerError, ConfigError, ValueError) as err:
            logger.error("sarracenia.moth: cannot connect to the broker: %s", err)
            return None
        return moth

    # --- publishing

    def putNewMessage(
        self, message: dict[str, Any], content_type: str = "application/json",
        exchange: str | None = None,
    ) -> bool:  # fmt: skip
        """Publish a message (to `exchange`, else props'); True once the broker has it."""
        if self._publisher is None:
            logger.error("sarracenia.moth: putNewMessage on a consumer")
            return False
        target = exchange or self.o.get("exchange")
        target = target[0] if isinstance(target, list) and target else target
        if not target:
            logger.error("sarracenia.moth: no exchange to publish to")
            self.metrics["txBadCount"] += 1
            return False
        prefix = _prefix(self.o)
        try:
            encoded = encode_any(message_to_notice(message),
                                 format_for(self.o.get("post_format"), prefix), prefix)  # fmt: skip
        except (MalformedNotice, NotEncodable) as err:
            logger.error("sarracenia.moth: not published, no notice: %s", err)
            self.metrics["txBadCount"] += 1
            return False
        confirmation = self._publisher.publish(str(target), encoded.topic, encoded.body,
                                               encoded.headers, encoded.content_type)  # fmt: skip
        if not confirmation.wait(float(self.o.get("timeout") or 30)):
            logger.error("sarracenia.moth: not published to %s: %s", target,
                         confirmation.error or "no answer from the broker")  # fmt: skip
            self.metrics["txBadCount"] += 1
            return False
        self.metrics["txGoodCount"] += 1
        self.metrics["txByteCount"] += len(encoded.body)
        return True

    # --- consuming

    def newMessages(self) -> list[Message]:
        """The messages received since (without waiting), each with its `ack_id`."""
        if self._consumer is None:
            return []
        batch = int(self.o.get("batch") or 100)
        return [m for d in self._consumer.get_batch(batch, timeout=0) if (m := self._decoded(d))]

    def getNewMessage(self) -> Message | None:
        """One message received, or None (without waiting)."""
        if self._consumer is None:
            return None
        found = [m for d in self._consumer.get_batch(1, timeout=0) if (m := self._decoded(d))]
        return found[0] if found else None

    def _decoded(self, delivery: Delivery) -> Message | None:
        try:
            notice = decode_any(delivery.routing_key, delivery.body, delivery.headers,
                                delivery.content_type)  # fmt: skip
        except MalformedNotice as err:
            logger.error("sarracenia.moth: a malformed notice dropped: %s", err)
            self.metrics["rxBadCount"] += 1
            assert self._consumer is not None
            self._consumer.ack(delivery)
            return None
        message = View.of(notice, placed=False).message
        message["exchange"] = delivery.exchange
        message["ack_id"] = {"broker": self.broker, "delivery": delivery}
        message["_deleteOnPost"] |= {"ack_id", "exchange"}
        self.metrics["rxGoodCount"] += 1
        self.metrics["rxByteCount"] += len(delivery.body)
        return message

    def ack(self, message: dict[str, Any]) -> bool:
        """The work of a received message is done: the broker may forget it."""
        ack_id = message.get("ack_id")
        if self._consumer is None or not isinstance(ack_id, dict):
            return True
        self._consumer.ack(ack_id["delivery"])
        del message["ack_id"]
        return True

    # --- both

    def metricsReset(self) -> None:
        """Counts from zero."""
        for name in _COUNTS:
            self.metrics[name] = 0

    def metricsReport(self) -> dict[str, Any]:
        """The counts so far, and whether the connection is up."""
        link = self._publisher or self._consumer
        self.metrics["connected"] = link is not None and link.state.snapshot().state == CONNECTED
        return self.metrics

    def please_stop(self) -> None:
        """Stop soon: nothing long is started from here on."""

    def close(self) -> None:
        """Close the connection (unacknowledged messages come again)."""
        for link in (self._publisher, self._consumer):
            if link is not None:
                link.close()
        self._publisher = self._consumer = None
        self.metrics["disconnectLast"] = time.time()

    def cleanup(self) -> None:
        """Nothing to remove: queues and exchanges are declared by the component."""
