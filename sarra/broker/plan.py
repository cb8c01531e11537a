"""From a configuration to what the broker layer works with: connection settings, the queue
with its bindings, the exchanges posted to.

Consumers (subscribe, sarra, shovel, winnow, sender, report) consume from `broker`. The post
broker is `post_broker`, or `broker` for the components that always post (post, watch, poll,
sarra, shovel, winnow). Without exchange_split all instances share one queue; with it, instance
i has its own queue (`_NN`, NN = i-1) bound to `<exchange>NN`.

Over MQTT the queue is a session per instance (`mqtt_session`): the queue's name is the group of
the instances' shared subscriptions, and each binding a topic filter.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from sarra.broker import kinds, naming
from sarra.broker.connect import ConnectionSettings
from sarra.broker.errors import BrokerUrlError
from sarra.broker.url import parse_broker_urls
from sarra.config.credentials import Credentials, redact_url
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.message.topic import subtopic_binding

if TYPE_CHECKING:
    from sarra.broker.mqtt_topology import SessionSpec
    from sarra.broker.topology import QueueSpec

_log = logging.getLogger(__name__)

CONSUMERS = frozenset({"subscribe", "sarra", "shovel", "winnow", "sender", "report"})
"""Components that consume a queue."""

ALWAYS_POST = frozenset({"post", "watch", "poll", "sarra", "shovel", "winnow"})
"""Components that post even without a post_broker (to their broker)."""


def consumes(config: Config) -> bool:
    """Whether the component consumes a queue."""
    return config.component in CONSUMERS and bool(config.broker)


def each_broker(config: Config) -> list[Config]:
    """The config as seen by each broker it consumes from: itself (`broker`), then a copy with
    each `also_broker` as its broker. Each has the same queue name, bindings and options."""
    if not config.also_broker:
        return [config]
    return [config] + [
        dataclasses.replace(config, values={**config.values, "broker": url, "also_broker": []})
        for url in config.also_broker
    ]


def post_broker(config: Config) -> str | None:
    """The URL of the broker notices are posted to, if the component posts."""
    if config.post_broker:
        return config.post_broker
    return config.broker if config.component in ALWAYS_POST else None


def connection_settings(
    config: Config,
    url: str,
    role: str,
    instance: int = 1,
    *,
    credentials: Credentials | None = None,
    heartbeat: float = 60.0,
) -> ConnectionSettings:
    """How to connect to `url` for `role` (consumer, publisher, admin) of a config's instance.

    A URL listing several hosts (a cluster) gives settings whose `alternates` are the hosts
    after the first; instances start on different hosts of the list, so that they spread over
    the cluster's nodes."""
    nodes = parse_broker_urls(url, credentials)
    if len(nodes) > 1 and not kinds.kind(url).can(kinds.SEVERAL_HOSTS):
        raise BrokerUrlError(f"{redact_url(url)}: an MQTT broker URL names one host")
    shift = (max(instance, 1) - 1) % len(nodes)
    first, *others = nodes[shift:] + nodes[:shift]
    return ConnectionSettings(
        url=first,
        name=naming.connection_name(config.component, config.name, instance, role),
        heartbeat=heartbeat,
        tls_rigour=config.tls_rigour,
        alternates=tuple(others),
    )


def consume_exchange(config: Config) -> str:
    """The exchange bound to when a subtopic line names none: xs_<user>_<exchange_suffix>,
    else the exchange option, else xs_<user>."""
    user = _user(config.broker, "broker")
    if config.exchange_suffix:
        return naming.user_exchange(user, config.exchange_suffix)
    return config.exchange or naming.user_exchange(user)


def bindings(config: Config, share: int | None = None) -> tuple[tuple[str, str], ...]:
    """(exchange, key) of each subtopic line; `<topic_prefix>.#` if there is none; nothing
    after `subtopic None`. With `share` (exchange_split), the exchanges of that share."""
    default = consume_exchange(config)
    if config.bindings:
        pairs = [
            (b.exchange or default, subtopic_binding(b.topic_prefix, b.subtopic))
            for b in config.bindings
        ]
    elif "subtopic" in config.origin:  # subtopic None
        pairs = []
    else:
        pairs = [(default, subtopic_binding(config.topic_prefix, "#"))]
    if share is not None:
        pairs = [(naming.split_exchange_name(exchange, share), key) for exchange, key in pairs]
    return tuple(pairs)


def queue_spec(config: Config, instance: int = 1, *, create: bool = True) -> QueueSpec | None:
    """The queue an instance consumes: the queue option, else the name kept in the state
    directory, else a new one (kept there). With create False, None when none is kept."""
    from sarra.broker.topology import QueueSpec  # a consumer's: not loaded by a publisher

    user = _user(config.broker, "broker")
    name = config.queue
    if name:
        if not name.startswith(naming.queue_standard_prefix(user)):
            _log.warning(
                "queue %s does not start with %s: the broker may refuse it",
                name,
                naming.queue_standard_prefix(user),
            )
    else:
        path = naming.qname_file(config.home, config.name, user)

        def make() -> str:
            return naming.queue_name(user, config.component, config.name, config.queue_suffix)

        name = naming.stored_queue_name(path, make if create else None)
        if name is None:
            return None
    if config.queue_type == "quorum" and not config.durable:
        _log.warning("durable off is ignored: a quorum queue is always durable")
    share = instance - 1 if config.exchange_split else None
    if share is not None:
        name = naming.split_queue_name(name, share)
    return QueueSpec(
        name=name,
        durable=config.durable,
        expire=config.expire,
        message_ttl=config.message_ttl,
        bindings=bindings(config, share),
        declare=config.declare_queue,
        bind=config.bind_queue,
        queue_type=config.queue_type,
    )


def mqtt_session(config: Config, instance: int = 1, *, create: bool = True) -> SessionSpec | None:
    """The MQTT session of an instance: its bindings as topic filters, shared (the queue's name
    their group) among several instances or when the queue is named by the `queue` option, a
    client id of this host and instance, the expiry of `expire`. With create False, None when no
    queue name is kept."""
    from sarra.broker import mqtt_topology  # for an MQTT broker only
    from sarra.broker.mqtt_topology import SessionSpec

    queue = queue_spec(config, instance, create=create)
    if queue is None:
        return None
    try:
        group = mqtt_topology.check_name("queue", queue.name)
        filters, whole = _mqtt_filters(config, queue)
    except ValueError as err:
        raise ConfigError(None, f"{config.name}: {err}") from None
    return SessionSpec(
        client_id=mqtt_topology.client_id(queue.name, socket.gethostname(), instance),
        group=group,
        filters=filters,
        expire=config.expire,
        subscribe=queue.bind,
        shared=bool(config.queue) or (config.instances > 1 and not config.exchange_split),
        whole=whole,
    )


def _mqtt_filters(config: Config, queue: QueueSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The topic filters of a queue's bindings, and those of them below a prefix of whole
    topics (written with `/`, no exchange level: mqtt_topology)."""
    from sarra.broker import mqtt_topology

    lines = [(b.topic_prefix, b.subtopic) for b in config.bindings]
    if not config.bindings and "subtopic" not in config.origin:
        lines = [(config.topic_prefix, "#")]
    whole = tuple(
        mqtt_topology.whole_filter(prefix, subtopic)
        for prefix, subtopic in lines
        if mqtt_topology.is_whole(prefix)
    )
    others = [
        (exchange, key)
        for (exchange, key), (prefix, _) in zip(queue.bindings, lines, strict=True)
        if not mqtt_topology.is_whole(prefix)
    ]
    return tuple(mqtt_topology.topic_filter(ex, key) for ex, key in others) + whole, whole


def mqtt_sessions(config: Config, *, create: bool = True) -> list[SessionSpec]:
    """The sessions of every instance of a config (one per instance, each its own)."""
    specs = [mqtt_session(config, i, create=create) for i in range(1, config.instances + 1)]
    return [spec for spec in specs if spec is not None]


def queue_specs(config: Config, *, create: bool = True) -> list[QueueSpec]:
    """The queues of every instance: one, or one per instance with exchange_split."""
    count = config.instances if config.exchange_split else 1
    specs = [queue_spec(config, instance, create=create) for instance in range(1, count + 1)]
    return [spec for spec in specs if spec is not None]


def post_exchanges(config: Config) -> list[str]:
    """The exchanges notices are posted to: xs_<user>_<post_exchange_suffix>, else the
    post_exchange option, else xs_<user>; each of <exchange>NN with post_exchange_split."""
    url = post_broker(config)
    if url is None:
        return []
    user = _user(url, "post_broker")
    if config.post_exchange_suffix:
        exchange = naming.user_exchange(user, config.post_exchange_suffix)
    else:
        exchange = config.post_exchange or naming.user_exchange(user)
    return naming.post_exchange_names(exchange, config.post_exchange_split)


def _user(url: str | None, option: str) -> str:
    """The user a broker URL names, decoded (anonymous when none)."""
    if not url:
        raise BrokerUrlError(f"no {option} is set")
    return unquote(urlsplit(url).username or "") or "anonymous"
