"""The kinds of broker, picked by the scheme of the broker URL (url.KINDS), and what each can
do: the rest of sarra asks a kind for its Consumer and Publisher classes (imported on first use,
so that a config on one kind never loads the other's library) and checks a config against its
capabilities.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

from sarra.broker.url import kind_of

EXCHANGES = "exchanges"
"""Exchanges are declared and deleted (MQTT has topics, which exist as they are used)."""
QUEUE_ARGUMENTS = "queue arguments"
"""A queue's durable, queue_type and message_ttl (an MQTT session has only its expiry)."""
SEVERAL_HOSTS = "several hosts"
"""The URL may list the nodes of a cluster (host1,host2,...)."""
HEADERS = "headers"
"""Messages carry headers (v02 needs them): AMQP, and MQTT 5 as user properties."""


class Kind(NamedTuple):
    """A kind of broker: where its Consumer and Publisher are, and its capabilities."""

    name: str
    consumer: str  # "module:Class"
    publisher: str
    capabilities: frozenset[str]

    def load(self, what: str) -> type:
        """The class `consumer` or `publisher` names, imported now."""
        module, _, name = getattr(self, what).partition(":")
        return getattr(importlib.import_module(module), name)

    def can(self, capability: str, protocol: str = "5") -> bool:
        """Whether this kind (over MQTT, in this version of the protocol) can do it."""
        if capability == HEADERS and self.name == "mqtt" and protocol != "5":
            return False
        return capability in self.capabilities


AMQP = Kind(
    "amqp",
    "sarra.broker.consumer:Consumer",
    "sarra.broker.publisher:Publisher",
    frozenset({EXCHANGES, QUEUE_ARGUMENTS, SEVERAL_HOSTS, HEADERS}),
)
MQTT = Kind(
    "mqtt",
    "sarra.broker.mqtt_consumer:Consumer",
    "sarra.broker.mqtt_publisher:Publisher",
    frozenset({HEADERS}),
)
KINDS = {kind.name: kind for kind in (AMQP, MQTT)}


def kind(url: str) -> Kind:
    """The kind of broker a URL names; BrokerUrlError for a scheme of no broker."""
    return KINDS[kind_of(url)]
