"""Publishing over MQTT at QoS 1: each message's Confirmation settles when the broker's PUBACK
comes back for it.

paho keeps every message until its PUBACK, and sends those not acknowledged again after a
reconnection: at least once, never dropped. Up to `window` messages are in flight, or the
broker's receive maximum if it announces a smaller one (Mosquitto's default: 20; paho's own
limit is lifted: it cannot follow the broker's); up to `max_outstanding` are taken without
waiting, those beyond the messages in flight kept here, in order, and handed to paho as PUBACKs
make room (by paho's thread), so that a caller in another connection's thread never waits for
the broker. Publishing blocks only while `max_outstanding` are unsettled, so that a broker that
is down cannot make memory grow without bound.

The topic is the exchange followed by the routing key's words (mqtt_topology.topic); headers
travel as MQTT 5 user properties, and the content type as its content type. MQTT 3.1.1 has
neither: a message with headers (v02) cannot be published over it and fails.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from paho.mqtt.client import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sarra.broker.connect import ConnectionSettings
from sarra.broker.errors import PublishError
from sarra.broker.interface import Confirmation, Message, settle
from sarra.broker.mqtt_errors import explain
from sarra.broker.mqtt_link import MqttLink, guarded
from sarra.broker.mqtt_topology import topic
from sarra.broker.state import LinkState

_log = logging.getLogger(__name__)

QOS = 1
NO_HEADERS = "MQTT 3.1.1 carries no headers: v02 notices need mqtt_protocol 5 (or use v03)"


class Publisher:
    """Publishes to one MQTT broker on a connection of its own (a clean session).

    `start()` it, `publish` (or `publish_many`), `flush` before acknowledging what the messages
    stand for, `close()` at the end.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        protocol: str = "5",
        window: int = 1000,
        max_outstanding: int = 10_000,
    ) -> None:
        self._window = window
        self._max_outstanding = max(max_outstanding, window)
        # a clean session: its id need only be unique (two publishers of one id take the
        # connection from each other)
        client_id = f"{'_'.join(settings.name.split())}_{uuid.uuid4().hex[:8]}"
        self._link = MqttLink(settings, client_id, self, protocol=protocol, clean_start=True)
        client = self._link.client
        client.on_publish = self._on_publish
        client.max_inflight_messages_set(0)  # no limit of paho's: _send_waiting keeps ours
        self._settled = threading.Condition()
        self._outstanding = 0  # guarded by _settled: published and not settled
        self._closed = False
        # _lock guards what follows; it is never held while calling paho, whose own lock its
        # thread holds while it calls _on_publish (which takes _lock)
        self._lock = threading.Lock()
        self._waiting: deque[tuple[Message, Confirmation]] = deque()  # not yet given to paho
        self._limit = 0  # messages in flight at most: 0 while not connected
        self._in_flight = 0  # given to paho, not yet acknowledged
        self._sending = False  # a thread is giving waiting messages to paho (one at a time)
        self._pending: dict[int, tuple[str, Confirmation]] = {}  # by packet identifier
        self._early: dict[int, ReasonCode] = {}  # PUBACKs that beat the caller's bookkeeping

    # --- any thread

    @property
    def state(self) -> LinkState:
        """The connection's state (connecting, connected, refused, unreachable)."""
        return self._link.state

    def start(self) -> Publisher:
        """Start paho's thread; it connects by itself."""
        self._link.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until messages can be sent; False if `timeout` passed first."""
        return self._link.wait_ready(timeout)

    def lend(self) -> bool:
        """Not over MQTT: paho's network thread keeps the connection (False)."""
        return False

    def turn(self, wait: float = 0.0) -> bool:
        """Nothing to do: never lent (False)."""
        return False

    def give_back(self) -> None:
        """Nothing to do: never lent."""

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = "text/plain",
        persistent: bool = True,
    ) -> Confirmation:
        """Queue one message; the Confirmation settles when the broker acknowledges it."""
        message = Message(exchange, routing_key, body, headers, content_type, persistent)
        return self.publish_many([message])[0]

    def publish_many(self, messages: Sequence[Message]) -> list[Confirmation]:
        """Queue several messages, in order; their Confirmations, in order. Waits only while
        `max_outstanding` messages are unsettled."""
        confirmations: list[Confirmation] = []
        for start in range(0, len(messages), self._window):
            chunk = messages[start : start + self._window]
            self._reserve(len(chunk))
            lock = self._settled
            taken = [(message, Confirmation(lock)) for message in chunk]
            with self._lock:
                self._waiting.extend(taken)
            self._send_waiting()
            confirmations += [confirmation for _, confirmation in taken]
        return confirmations

    def _reserve(self, count: int) -> None:
        """Count `count` messages as outstanding, once there is room for them."""
        with self._settled:
            self._settled.wait_for(
                lambda: self._closed or self._outstanding + count <= self._max_outstanding
            )
            if self._closed:
                raise PublishError("publish on a closed publisher")
            self._outstanding += count

    def _send_waiting(self) -> None:
        """Give waiting messages to paho, in order, while the broker has room for more in
        flight: in this thread, unless another is at it already (it sends these too)."""
        with self._lock:
            if self._sending:
                return
            self._sending = True
        while True:
            with self._lock:
                count = min(len(self._waiting), self._limit - self._in_flight)
                if count <= 0:
                    self._sending = False
                    return
                self._in_flight += count
                waiting = self._waiting
                batch = [waiting.popleft() for _ in range(count)]
            for message, confirmation in batch:
                self._send(message, confirmation)

    def _send(self, message: Message, confirmation: Confirmation) -> None:
        """Give one message to paho (counted in flight); settle it at once if paho refuses."""
        name = topic(message.exchange, message.routing_key)
        try:
            info = self._link.client.publish(
                name, message.body, qos=QOS, properties=self._properties(message)
            )
        except Exception as error:  # ValueError, PublishError: never one that stops the sending
            self._not_sent(confirmation, PublishError(f"topic {name!r}: {error}"))
            return
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._not_sent(confirmation, PublishError(f"topic {name!r}: paho error {info.rc}"))
            return
        with self._lock:
            early = self._early.pop(info.mid, None)
            if early is None:
                self._pending[info.mid] = (name, confirmation)
        if early is not None:
            self._settle([confirmation], _refusal(name, early))

    def _not_sent(self, confirmation: Confirmation, error: PublishError) -> None:
        with self._lock:
            self._in_flight -= 1
        self._settle([confirmation], error)

    def _properties(self, message: Message) -> Properties | None:
        if not self._link.v5:
            if message.headers:
                raise PublishError(NO_HEADERS)
            return None
        properties = Properties(PacketTypes.PUBLISH)
        if message.content_type:
            properties.ContentType = message.content_type
        if message.headers:
            properties.UserProperty = [(k, str(v)) for k, v in message.headers.items()]
        return properties

    @property
    def outstanding(self) -> int:
        """Messages published and not yet settled."""
        return self._outstanding

    @property
    def room(self) -> int:
        """How many more can be published now without waiting."""
        return max(0, self._max_outstanding - self._outstanding)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every message published so far is settled; False if `timeout` passed."""
        with self._settled:
            return self._settled.wait_for(lambda: self._outstanding == 0, timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Wait (at most `timeout`) for outstanding PUBACKs, then close; True if all came.

        Messages still unacknowledged then are failed, so that no caller waits forever."""
        flushed = self.flush(timeout)
        self._link.close()
        with self._settled:
            self._closed = True
            self._settled.notify_all()
        with self._lock:
            leftovers = [confirmation for _, confirmation in self._pending.values()]
            leftovers += [confirmation for _, confirmation in self._waiting]
            self._pending.clear()
            self._waiting.clear()
        if leftovers:
            _log.warning("closed with %d notices unconfirmed by the broker", len(leftovers))
            gone = PublishError("the publisher closed before the broker confirmed")
            self._settle(leftovers, gone)
        return flushed

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- Session, in paho's thread

    def connected(self, _session_present: bool, properties: Properties) -> None:
        receive_maximum = getattr(properties, "ReceiveMaximum", None)
        with self._lock:
            self._limit = min(self._window, receive_maximum or self._window)
        self._link.ready()
        self._send_waiting()  # those published while there was no connection

    def lost(self) -> None:
        with self._lock:
            self._limit = 0  # paho keeps those in flight and sends them again
            waiting = len(self._pending) + len(self._waiting)
        if waiting:
            _log.info("%d notices will be published once reconnected", waiting)

    @guarded
    def _on_publish(
        self,
        _client: Any,
        _userdata: Any,
        mid: int,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        with self._lock:
            self._in_flight -= 1
            entry = self._pending.pop(mid, None)
            if entry is None:
                self._early[mid] = reason
        if entry is not None:
            name, confirmation = entry
            self._settle([confirmation], _refusal(name, reason))
        self._send_waiting()

    def _settle(self, confirmations: list[Confirmation], error: PublishError | None) -> None:
        settle(self._settled, confirmations, error, self._count_down)

    def _count_down(self, settled: int) -> None:
        self._outstanding -= settled


def _refusal(name: str, reason: ReasonCode) -> PublishError | None:
    """None when the broker took the message; why not otherwise."""
    if not reason.is_failure:
        return None
    return PublishError(f"topic {name}: {explain(reason)}")
