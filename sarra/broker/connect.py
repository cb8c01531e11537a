"""How to open a connection: pika's parameters from a broker URL, TLS rigour, heartbeat and
the name the connection shows on the broker."""

from __future__ import annotations

import ssl
from typing import NamedTuple

import pika

from sarra.broker.url import BrokerUrl

TLS_RIGOURS = ("lax", "normal", "strict")


class ConnectionSettings(NamedTuple):
    """A broker and how to talk to it.

    `name` is shown by `rabbitmqctl list_connections client_properties` (see
    naming.connection_name); `heartbeat` is the AMQP heartbeat in seconds (0 turns it off,
    which leaves dead connections undetected); `tls_rigour` applies to amqps URLs: lax checks
    nothing, normal verifies the certificate and host name, strict also refuses TLS below 1.2.
    `alternates` are the other nodes of a cluster, tried in turn when one fails.
    """

    url: BrokerUrl
    name: str
    heartbeat: float = 60.0
    tls_rigour: str = "normal"
    alternates: tuple[BrokerUrl, ...] = ()

    @property
    def nodes(self) -> tuple[BrokerUrl, ...]:
        """Every broker that may be connected to: `url` first, then the alternates."""
        return (self.url, *self.alternates)

    def parameters(self, node: int = 0) -> pika.ConnectionParameters:
        """pika's connection parameters for one of the `nodes` (the first by default)."""
        url = self.nodes[node % len(self.nodes)]
        return pika.ConnectionParameters(
            host=url.host,
            port=url.port,
            virtual_host=url.vhost,
            credentials=pika.PlainCredentials(url.user, url.password, erase_on_connect=False),
            heartbeat=max(1, round(self.heartbeat)) if self.heartbeat > 0 else 0,
            client_properties={"connection_name": self.name, "product": "sarra"},
            ssl_options=pika.SSLOptions(tls_context(self.tls_rigour), url.host)
            if url.tls
            else None,
            connection_attempts=1,
        )


def tls_context(rigour: str) -> ssl.SSLContext:
    """The TLS context of a tls_rigour setting."""
    if rigour not in TLS_RIGOURS:
        raise ValueError(f"tls_rigour {rigour!r} is not one of {', '.join(TLS_RIGOURS)}")
    context = ssl.create_default_context()
    if rigour == "lax":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif rigour == "strict":
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
