"""Consuming over MQTT: a persistent session with shared subscriptions at QoS 1, each message
acknowledged only when the caller says its work is done.

The instance's session (mqtt_topology.SessionSpec) is resumed on every connection (clean start
off, the same client id), so what arrives while the instance is away waits for it on the broker
for `expire` seconds. It subscribes on every connection (the subscriptions are kept in the
session; subscribing again changes nothing) and hands messages over as they come; the broker
sends at most `prefetch` (MQTT 5's receive maximum) ahead of their acknowledgement.

Acknowledgements (PUBACK, paho's manual ack) go only on the connection the message came on:
after a reconnection the broker sends again, flagged as duplicates, those not acknowledged, so
acknowledgements of an older connection are dropped, as AMQP's consumer drops those of an older
channel. The packet identifier of a message is only acknowledged while it is outstanding:
the broker may give it to another message once it is acknowledged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from paho.mqtt.client import MQTTMessage
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from sarra.broker.connect import ConnectionSettings
from sarra.broker.interface import Delivery, QueueDepth, make_delivery
from sarra.broker.mqtt_errors import explain
from sarra.broker.mqtt_link import MqttLink, guarded
from sarra.broker.mqtt_topology import SessionSpec, split_topic
from sarra.broker.state import LinkState

_log = logging.getLogger(__name__)

QOS = 1


class Consumer:
    """Consumes the shared subscriptions of one instance's session.

    `start()` it, take deliveries with `get_batch`, `ack` each when done, `close()` at the end
    (the session stays on the broker: see mqtt_admin for removing it).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        session: SessionSpec,
        *,
        prefetch: int = 100,
        protocol: str = "5",
        taken: threading.Condition | None = None,
    ) -> None:
        """`taken` is the condition deliveries are handed over under: one of its own, or one
        shared by the consumers read together (sarra.broker.multi)."""
        self.session = session
        self._link = MqttLink(
            settings,
            session.client_id,
            self,
            protocol=protocol,
            clean_start=False,
            expire=session.expire,
            receive_maximum=prefetch,
            manual_ack=True,
        )
        client = self._link.client
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.depth: QueueDepth | None = None
        """None: MQTT has no way to ask how many messages wait in a session."""
        self._taken = taken or threading.Condition()
        self._handed_over: deque[Delivery] = deque()  # guarded by _taken
        # _lock keeps an acknowledgement and a change of connection apart (_generation and
        # _outstanding are replaced together); _on_message, in paho's thread as the changes
        # are, adds to _outstanding without it (each set operation is atomic).
        self._lock = threading.Lock()
        self._generation = 0  # 0: no connection
        self._outstanding: set[int] = set()  # packet identifiers not yet acknowledged
        # paho's thread only:
        self._refusals: set[tuple[str, int]] = set()  # (filter, reason) logged already
        self._resumed = False

    # --- any thread

    @property
    def state(self) -> LinkState:
        """The connection's state (connecting, connected, refused, unreachable)."""
        return self._link.state

    @property
    def queue_name(self) -> str:
        """The instance's session (its client id)."""
        return self.session.client_id

    def start(self) -> Consumer:
        """Start paho's thread; it connects, subscribes and reconnects by itself."""
        self._link.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the subscriptions are in place; False if `timeout` passed first."""
        return self._link.wait_ready(timeout)

    def get_batch(self, max_count: int = 100, timeout: float = 1.0) -> list[Delivery]:
        """Up to `max_count` deliveries, waiting at most `timeout` seconds for the first."""
        deadline = time.monotonic() + timeout
        with self._taken:
            while not self._handed_over:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._taken.wait(remaining)
            waiting = self._handed_over
            return [waiting.popleft() for _ in range(min(max_count, len(waiting)))]

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge a delivery: the broker forgets it (if its connection still stands)."""
        tag = delivery.delivery_tag
        if not tag:
            return  # QoS 0: nothing to acknowledge
        with self._lock:
            if delivery.generation != self._generation or tag not in self._outstanding:
                return  # an older connection's: the broker sends it again
            self._outstanding.discard(tag)
            self._link.client.ack(tag, QOS)

    def deliver_to(self, handler: Callable[[list[Delivery]], list[Delivery]]) -> bool:
        """False: paho's thread hands every delivery over to `get_batch` (a rejected one is
        handed over again there)."""
        return False

    def reject(self, delivery: Delivery, delay: float = 0.0) -> None:
        """Give a delivery back, unacknowledged, after `delay` seconds. MQTT has no negative
        acknowledgement: it is handed over again (flagged redelivered) if its connection still
        stands then; otherwise the broker sends it again on the next one."""
        timer = threading.Timer(delay, self._hand_back, (delivery,))
        timer.daemon = True
        timer.start()

    def _hand_back(self, delivery: Delivery) -> None:
        with self._lock:
            if delivery.generation != self._generation:
                return  # the broker sends it again on the new connection
        with self._taken:
            self._handed_over.append(delivery._replace(redelivered=True))
            self._taken.notify()

    def describe(self) -> str:
        """The session consumed, for a log line."""
        return f"MQTT session {self.session.client_id} ({' '.join(self.session.subscriptions)})"

    def close(self, timeout: float = 10.0) -> bool:
        """Disconnect; what was not acknowledged comes again on the next connection."""
        with self._lock:
            self._generation = 0
        self._link.close()
        with self._taken:
            self._handed_over.clear()
        return True

    def __enter__(self) -> Consumer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- Session, in paho's thread

    def connected(self, session_present: bool, _properties: Properties) -> None:
        with self._lock:
            self._generation = self._link.generation
            self._outstanding = set()
        self._log_session(session_present)
        subscriptions = self.session.subscriptions
        if not self.session.subscribe or not subscriptions:
            self._link.ready()
            return
        options = SubscribeOptions(qos=QOS) if self._link.v5 else QOS
        client = self._link.client
        client.subscribe([(name, options) for name in subscriptions])
        client.unsubscribe(list(self.session.other_form))

    def _log_session(self, present: bool) -> None:
        client_id = self.session.client_id
        if present:
            _log.debug("session %s resumed", client_id)
        elif self._resumed:
            _log.warning(
                "the broker no longer had session %s (expired, or lost in a restart): "
                "notices published while disconnected are lost",
                client_id,
            )
        else:
            _log.info("session %s is new: nothing was kept for it before", client_id)
        if not self._resumed and self.session.shared:
            _log.info(
                "shared subscription %s: while an instance is down, the broker keeps its share "
                "of the notices in its session (for expire, %.0f s), delivered when it returns",
                " ".join(self.session.subscriptions),
                self.session.expire,
            )
        self._resumed = True

    @guarded
    def _on_subscribe(
        self,
        _client: Any,
        _userdata: Any,
        _mid: int,
        reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        for name, reason in zip(self.session.subscriptions, reasons, strict=False):
            if reason.is_failure and (name, reason.value) not in self._refusals:
                self._refusals.add((name, reason.value))
                _log.error(
                    "%s: subscription to %s refused: %s",
                    self._link.settings.url,
                    name,
                    explain(reason),
                )
        self._link.ready()

    def lost(self) -> None:
        with self._lock:
            self._generation = 0
            self._outstanding = set()
        with self._taken:
            forgotten = len(self._handed_over)
            self._handed_over.clear()
        if forgotten:
            _log.debug("%d deliveries not yet taken will be sent again", forgotten)

    @guarded
    def _on_message(self, _client: Any, _userdata: Any, message: MQTTMessage) -> None:
        tag = message.mid if message.qos > 0 else 0
        try:
            name = message.topic
            exchange, routing_key = split_topic(name)
            if self.session.keeps_whole(name):
                routing_key = name
        except UnicodeDecodeError:
            _log.warning("dropped a message whose topic is not UTF-8")
            if tag:
                self._link.client.ack(tag, QOS)
            return
        properties = message.properties
        headers: dict[str, Any] = {}
        content_type = None
        if properties is not None:
            user = getattr(properties, "UserProperty", None)
            if user:
                headers = dict(user)
            content_type = getattr(properties, "ContentType", None)
        if tag:
            self._outstanding.add(tag)  # before the hand-over: no ack can come first
        delivery = make_delivery(
            (
                routing_key,
                exchange,
                message.payload,
                headers,
                content_type,
                bool(message.dup),
                tag,
                self._generation,
                0,  # source: set by the multi-broker consumer
            )
        )
        with self._taken:
            self._handed_over.append(delivery)
            self._taken.notify()
