"""What the rest of sarra sees of a broker, whatever its kind (AMQP or MQTT): deliveries taken
from a consumer and acknowledged after the work, messages published with a Confirmation that
settles when the broker has them.

Both kinds implement `Consumer` and `Publisher` below; `sarra.broker.open_consumer` and
`open_publisher` choose the kind from the broker URL's scheme.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from sarra.broker.errors import PublishError
from sarra.broker.state import LinkState

_log = logging.getLogger(__name__)

_CONFIRMED = "confirmed"


class Delivery(NamedTuple):
    """One notice received; pass it back to `Consumer.ack` when done with it.

    `exchange` and `routing_key` are the AMQP names; over MQTT they are the topic's first level
    and the rest of it with `.` between levels. `delivery_tag` is AMQP's delivery tag or MQTT's
    packet identifier (0 for a QoS 0 message, which needs no acknowledgement); `generation`
    counts the connections, whose tags are only valid on their own; `source` says which of the
    brokers of a config it came from (0: `broker`, 1...: each `also_broker`).
    """

    routing_key: str
    exchange: str
    body: bytes
    headers: dict[str, Any]
    content_type: str | None
    redelivered: bool
    delivery_tag: int
    generation: int
    source: int = 0


make_delivery: Callable[[tuple[Any, ...]], Delivery] = functools.partial(tuple.__new__, Delivery)
"""A Delivery of all its fields in order, `source` included: what `Delivery(...)` makes, without
the Python frame of a NamedTuple's `__new__` (one a message, in the connection's thread)."""


class QueueDepth(NamedTuple):
    """What the broker said of the queue consumed, at a moment."""

    messages: int
    """Messages ready in the queue, not yet handed to a consumer."""
    consumers: int
    at: float
    """When the broker said it, epoch seconds."""


class Message(NamedTuple):
    """A message to publish: its exchange, routing key, body and properties."""

    exchange: str
    routing_key: str
    body: bytes
    headers: Mapping[str, str] | None = None
    content_type: str = "text/plain"
    persistent: bool = True


class Confirmation:
    """The broker's answer to one publish: wait for it, or have a callback called with it.

    Callbacks run in the publisher's I/O thread (or at once, if already settled): keep them
    short, and never wait on the publisher in them.
    """

    __slots__ = ("_callbacks", "_lock", "_outcome")

    def __init__(self, lock: threading.Condition) -> None:
        self._lock = lock
        self._outcome: str | PublishError | None = None
        self._callbacks: list[Callable[[Confirmation], None]] = []

    def done(self) -> bool:
        """Whether the broker has answered (or the publisher gave up at close)."""
        return self._outcome is not None

    @property
    def error(self) -> PublishError | None:
        """Why the notice was not taken; None if confirmed or not settled yet."""
        outcome = self._outcome
        return outcome if isinstance(outcome, PublishError) else None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until settled; True when confirmed, False when refused or timed out."""
        with self._lock:
            self._lock.wait_for(self.done, timeout)
        return self._outcome == _CONFIRMED

    def result(self, timeout: float | None = None) -> None:
        """Return once confirmed; raise PublishError if refused, TimeoutError if no answer."""
        if not self.wait(timeout):
            raise self.error or TimeoutError("no confirmation from the broker in time")

    def add_done_callback(self, callback: Callable[[Confirmation], None]) -> None:
        """Call `callback(self)` once settled."""
        with self._lock:
            if self._outcome is None:
                self._callbacks.append(callback)
                return
        callback(self)


def settle(
    lock: threading.Condition,
    confirmations: Iterable[Confirmation],
    error: PublishError | None,
    counted: Callable[[int], None] | None = None,
) -> None:
    """Settle confirmations (confirmed, or failed with `error`) under their publisher's `lock`,
    call `counted(number settled)` under it too (the publisher's count of outstanding
    messages), wake the waiters, then run the confirmations' callbacks."""
    outcome = error or _CONFIRMED
    callbacks = []
    count = 0
    with lock:
        for confirmation in confirmations:
            confirmation._outcome = outcome
            count += 1
            if confirmation._callbacks:
                callbacks += [(fn, confirmation) for fn in confirmation._callbacks]
                confirmation._callbacks = []
        if counted is not None:
            counted(count)
        lock.notify_all()
    for callback, confirmation in callbacks:
        try:
            callback(confirmation)
        except Exception:
            _log.exception("a confirmation callback failed")


class Consumer(Protocol):
    """Consumes the notices meant for one instance of a config, on its own connection."""

    depth: QueueDepth | None
    """The depth of the queue consumed, when the broker tells it (AMQP; None over MQTT)."""

    @property
    def state(self) -> LinkState:
        """The connection's state (connecting, connected, refused, unreachable)."""

    @property
    def queue_name(self) -> str:
        """The queue consumed (over MQTT, the instance's session)."""

    def start(self) -> Consumer:
        """Start the I/O thread; it connects and subscribes by itself (and reconnects)."""

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until notices flow; False if `timeout` passed first."""

    def get_batch(self, max_count: int = 100, timeout: float = 1.0) -> list[Delivery]:
        """Up to `max_count` deliveries, waiting at most `timeout` seconds for the first."""

    def deliver_to(self, handler: Callable[[list[Delivery]], list[Delivery]]) -> bool:
        """Have the connection's thread call `handler` with each batch of deliveries (no
        hand-off between threads); those it returns, and every one when this kind cannot (it
        returns False), go to `get_batch`."""

    def ack(self, delivery: Delivery) -> None:
        """The work of a delivery is done: the broker may forget it."""

    def reject(self, delivery: Delivery, delay: float = 0.0) -> None:
        """Give a delivery back, unacknowledged, after `delay` seconds: it comes again."""

    def describe(self) -> str:
        """What is consumed, for a log line (the queue, or the MQTT session)."""

    def close(self, timeout: float = 10.0) -> bool:
        """Stop; deliveries not acknowledged come again. True if it ended within `timeout`."""


class Publisher(Protocol):
    """Publishes to one broker on its own connection, each message confirmed by the broker."""

    @property
    def state(self) -> LinkState:
        """The connection's state (connecting, connected, refused, unreachable)."""

    def start(self) -> Publisher:
        """Start the I/O thread; it connects by itself (and reconnects)."""

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until messages can be sent; False if `timeout` passed first."""

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = "text/plain",
        persistent: bool = True,
    ) -> Confirmation:
        """Queue one message; its Confirmation settles when the broker answers."""

    def publish_many(self, messages: Sequence[Message]) -> list[Confirmation]:
        """Queue several messages, in order; their Confirmations, in order."""

    def lend(self) -> bool:
        """Have the caller's thread do the connection's work (`turn`) until `give_back`, where
        the kind allows it (a poster's many short jobs: no hand-off between threads); False
        when not lent."""

    def turn(self, wait: float = 0.0) -> bool:
        """When lent to the caller: send what waits and settle what was confirmed, waiting at
        most `wait` seconds for the broker; False when not lent (any more)."""

    def give_back(self) -> None:
        """The connection's own thread does its work again."""

    @property
    def outstanding(self) -> int:
        """Messages published and not yet settled."""

    @property
    def room(self) -> int:
        """How many more messages can be published now without waiting."""

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every message published so far is settled; False on timeout."""

    def close(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) for the outstanding confirmations, then close."""
