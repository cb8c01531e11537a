"""The broker layer: the only code that imports pika or paho-mqtt.

Two kinds of broker, picked by the URL's scheme (kinds.py): AMQP (amqp, amqps; pika) and MQTT
(mqtt, mqtts, ws, wss; paho-mqtt). Components open their connections with `open_consumer`
and `open_publisher` below and see only the interface (interface.py): deliveries acknowledged
after the work, publishes confirmed by the broker.

    interface  Delivery, Message, Confirmation; the Consumer and Publisher every kind implements
    kinds      the kinds of broker, their classes and capabilities
    url        BrokerUrl, parse_broker_url: URLs completed from credentials.conf; scheme -> kind
    connect    ConnectionSettings: TLS rigour, heartbeat, connection name -> pika parameters
    naming     queue, exchange and connection names; the kept queue name
    plan       from a Config to settings, queues (MQTT: sessions), bindings and post exchanges
    multi      several brokers consumed at once as one (also_broker)
    admin      declare, setup, cleanup for the command line (MQTT's in mqtt_admin)
    errors     BrokerError and readable reasons (MQTT's reason codes in mqtt_errors)
  AMQP:
    steps      steps run on a channel; the exchanges' declarations (all a publisher declares)
    topology   QueueSpec, the queues' declaration and the deletions
    link       one connection in its own I/O thread, reconnecting with back-off
    consumer   Consumer: basic_consume, batches, acks from any thread
    publisher  Publisher: pipelined publisher confirms
  MQTT:
    mqtt_topology  topics <-> exchanges and routing keys; the session standing for a queue
    mqtt_link      a paho client in paho's thread, reconnecting, its failures logged
    mqtt_consumer  Consumer: a persistent session, shared subscriptions, manual acks
    mqtt_publisher Publisher: QoS 1, PUBACKs settling Confirmations

See docs/broker.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from sarra.broker import kinds, plan
from sarra.broker.connect import ConnectionSettings
from sarra.broker.errors import BrokerError, BrokerUrlError, PublishError
from sarra.broker.interface import Confirmation, Consumer, Delivery, Message, Publisher
from sarra.broker.url import BrokerUrl, parse_broker_url
from sarra.config.credentials import Credentials
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.message import format_for

__all__ = [
    "BrokerError",
    "BrokerUrl",
    "BrokerUrlError",
    "Confirmation",
    "ConnectionSettings",
    "Consumer",
    "Delivery",
    "Message",
    "PublishError",
    "Publisher",
    "held_share",
    "open_consumer",
    "open_publisher",
    "parse_broker_url",
]

_log = logging.getLogger(__name__)


def open_consumer(
    config: Config, instance: int = 1, *, number: int = 1, credentials: Credentials | None = None
) -> Consumer:
    """The consumer of an instance of a config (not started): its queue on an AMQP broker,
    its session on an MQTT broker; with also_broker, one on each broker read as one
    (multi.MultiConsumer). `number` is the process's instance number (0 in the foreground),
    which names the connection."""
    if not config.broker:
        raise ConfigError(None, f"{config.name}: no broker set (add a broker line)")
    each = plan.each_broker(config)
    if len(each) == 1:
        return _open_one(config, instance, number, credentials, None)
    from sarra.broker.multi import MultiConsumer  # also_broker only

    taken = threading.Condition()
    parts = [_open_one(one, instance, number, credentials, taken) for one in each]
    return MultiConsumer(parts, taken)


def _open_one(
    config: Config,
    instance: int,
    number: int,
    credentials: Credentials | None,
    taken: threading.Condition | None,
) -> Consumer:
    url = config.broker
    kind = kinds.kind(url)
    settings = plan.connection_settings(config, url, "consumer", number, credentials=credentials)
    consumer_class = kind.load("consumer")
    if kind is kinds.AMQP:
        spec = plan.queue_spec(config, instance)
        return consumer_class(settings, spec, prefetch=config.prefetch, taken=taken)  # type: ignore[no-any-return]
    prefixes = {config.topic_prefix, *(b.topic_prefix for b in config.bindings)}
    for prefix in sorted(prefixes):
        if format_for(None, prefix) == "v02":
            _needs_headers(config, kind, f"v02 notices (topic_prefix {prefix})")
    if not kind.can(kinds.QUEUE_ARGUMENTS):
        _no_effect(config, kind)
    session = plan.mqtt_session(config, instance)
    return consumer_class(  # type: ignore[no-any-return]
        settings,
        session,
        prefetch=config.prefetch,
        protocol=config.mqtt_protocol,
        taken=taken,
    )


def open_publisher(
    config: Config,
    url: str,
    role: str,
    exchanges: Iterable[str] = (),
    *,
    number: int = 1,
    headers: bool = False,
    credentials: Credentials | None = None,
) -> Publisher:
    """A publisher (not started) to `url` for a config's instance, declaring `exchanges` on an
    AMQP broker (declare_exchange). `headers` says whether its messages carry headers (v02),
    which MQTT 3.1.1 cannot; `role` names the connection (publisher, reporter...)."""
    kind = kinds.kind(url)
    settings = plan.connection_settings(config, url, role, max(number, 1), credentials=credentials)
    publisher_class = kind.load("publisher")
    if kind is kinds.AMQP:
        return publisher_class(  # type: ignore[no-any-return]
            settings, list(exchanges), declare_exchanges=config.declare_exchange
        )
    if headers:
        _needs_headers(config, kind, "v02 notices")
    return publisher_class(settings, protocol=config.mqtt_protocol)  # type: ignore[no-any-return]


def held_share(config: Config) -> str | None:
    """What becomes of the notices meant for instances that are down, when the broker keeps
    them aside for them (MQTT shared subscriptions); None otherwise."""
    try:
        if not plan.consumes(config) or kinds.kind(config.broker or "") is not kinds.MQTT:
            return None
        spec = plan.mqtt_session(config, create=False)
    except (BrokerError, ConfigError):
        return None  # said elsewhere
    if spec is None or not spec.shared:
        return None
    return (
        "over MQTT, a missing instance still gets its share of the notices: they wait in its "
        f"session (for expire, {config.expire:.0f} s, then are lost) until it runs again"
    )


def _needs_headers(config: Config, kind: kinds.Kind, what: str) -> None:
    if not kind.can(kinds.HEADERS, config.mqtt_protocol):
        raise ConfigError(
            None,
            f"{config.name}: {what} need headers, which MQTT {config.mqtt_protocol} cannot "
            "carry: use mqtt_protocol 5, or v03 notices",
        )


def _no_effect(config: Config, kind: kinds.Kind) -> None:
    """Warn of the queue options a kind of broker has no use for."""
    unused = [name for name in ("queue_type", "message_ttl", "durable") if name in config.origin]
    if unused:
        _log.warning(
            "%s: %s ha%s no effect on an %s broker (a session has only its expiry)",
            config.name,
            ", ".join(unused),
            "s" if len(unused) == 1 else "ve",
            kind.name.upper(),
        )
