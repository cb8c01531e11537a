"""The broker layer: the only code that imports pika.

    url        BrokerUrl, parse_broker_url: amqp[s] URLs completed from credentials.conf
    connect    ConnectionSettings: TLS rigour, heartbeat, connection name -> pika parameters
    naming     queue, exchange and connection names; the kept queue name
    topology   QueueSpec and the declaration steps
    plan       from a Config to settings, queues, bindings and post exchanges
    link       one connection in its own I/O thread, reconnecting with back-off
    consumer   Consumer, Delivery: basic_consume, batches, acks from any thread
    publisher  Publisher, Confirmation: pipelined publisher confirms
    admin      declare, setup, cleanup for the command line
    errors     BrokerError and readable reasons

See docs/broker.md.
"""

from sarra.broker.connect import ConnectionSettings
from sarra.broker.consumer import Consumer, Delivery
from sarra.broker.errors import BrokerError, BrokerUrlError, PublishError
from sarra.broker.publisher import Confirmation, Publisher
from sarra.broker.topology import QueueSpec
from sarra.broker.url import BrokerUrl, parse_broker_url

__all__ = [
    "BrokerError",
    "BrokerUrl",
    "BrokerUrlError",
    "Confirmation",
    "ConnectionSettings",
    "Consumer",
    "Delivery",
    "PublishError",
    "Publisher",
    "QueueSpec",
    "parse_broker_url",
]
