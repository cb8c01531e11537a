"""Consuming a queue: basic_consume with a prefetch, deliveries handed over in batches,
acknowledgements taken from any thread.

The I/O thread collects the deliveries of one read from the socket and hands them over at once: to
callers taking them with `get_batch`, or, once a handler is set with `deliver_to`, to that handler,
called in the I/O thread itself (no hand-off between threads: the handler must never wait on
anything slow; those it leaves go to `get_batch`). `ack` queues the acknowledgement for the I/O
thread, which sends as few frames as it can (see acks.py) and never acknowledges what was not asked
for: at once when a quarter of the prefetch is waiting (those a handler asked for, once it
returns), else together within ACK_GATHER seconds (one `multiple` frame for a run of them);
`reject` gives a delivery back to the queue, to be delivered again.

While it consumes, the I/O thread looks at the queue's depth every DEPTH_EVERY seconds with a
passive declare on its own channel (the broker's Queue.DeclareOk says how many messages wait):
`depth` tells `sr status`, with no need of the broker's management plugin.

Each channel opened is a new generation: after a reconnection, the broker redelivers what was
not acknowledged on the old channel (with the redelivered flag), so acknowledgements of the old
generation are dropped, and deliveries of it not yet taken by a caller are forgotten.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pika.channel import Channel
from pika.spec import Basic, BasicProperties

from sarra.broker.acks import AckTracker
from sarra.broker.backoff import Backoff
from sarra.broker.connect import ConnectionSettings
from sarra.broker.deliveries import Fields, text_headers
from sarra.broker.interface import Delivery, QueueDepth, make_delivery
from sarra.broker.link import Link, Wakeup
from sarra.broker.state import LinkState
from sarra.broker.steps import run_steps
from sarra.broker.topology import QueueSpec

_log = logging.getLogger(__name__)

__all__ = ["Consumer", "Delivery", "QueueDepth"]

ACK_GATHER = 0.005
"""Seconds acknowledgements are gathered before they are sent together, unless a quarter of
the prefetch is waiting (then they go at once, so that the broker never runs dry)."""

DEPTH_EVERY = 5.0
"""Seconds between two looks at the depth of the queue consumed."""


class Consumer:
    """Consumes one queue (declared and bound on every connection if its spec says so).

    The connection is its own (see docs/broker.md): `start()` it, take deliveries with
    `get_batch`, `ack` each when done, `close()` at the end.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        queue: QueueSpec,
        *,
        prefetch: int = 100,
        backoff: Backoff | None = None,
        taken: threading.Condition | None = None,
    ) -> None:
        """`taken` is the condition deliveries are handed over under: one of its own, or one
        shared by the consumers read together (sarra.broker.multi)."""
        self.queue = queue
        self._prefetch = prefetch
        self._link = Link(settings, self, backoff)
        self._taken = taken or threading.Condition()
        self._handed_over: deque[Delivery] = deque()  # guarded by _taken
        self._acks: deque[Delivery] = deque()
        self._ack_soon = Wakeup(self._link, self._send_acks, gather=ACK_GATHER)
        self._ack_now = Wakeup(self._link, self._send_acks)
        self._ack_batch = max(1, prefetch // 4)
        """Acknowledgements waiting that are sent at once (fewer wait ACK_GATHER seconds)."""
        # I/O thread only:
        self._channel: Channel | None = None
        self._consumer_tag: str | None = None
        self._generation = 0
        self._tracker = AckTracker()
        self._incoming: list[Delivery] = []
        self._handler: Callable[[list[Delivery]], list[Delivery]] | None = None
        self.depth: QueueDepth | None = None
        """The queue's depth, looked at every DEPTH_EVERY seconds while consuming."""

    # --- any thread

    @property
    def state(self) -> LinkState:
        """The connection's state (connecting, connected, refused, unreachable)."""
        return self._link.state

    def start(self) -> Consumer:
        """Start the I/O thread; it connects, declares, binds and consumes by itself."""
        self._link.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the queue is being consumed; False if `timeout` passed first."""
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

    def deliver_to(self, handler: Callable[[list[Delivery]], list[Delivery]]) -> bool:
        """From now on, call `handler` in the I/O thread with the deliveries of each read; it
        returns those it leaves to `get_batch`. True: this kind of consumer can."""
        self._handler = handler
        return True

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge a delivery: the broker forgets it (sent soon, by the I/O thread)."""
        self._acks.append(delivery)
        if self._link.in_io_thread():
            return  # by the handler: looked at once it returns
        if len(self._acks) >= self._ack_batch:
            self._ack_now.request()  # the broker would soon run out of prefetch
        else:
            self._ack_soon.request()

    def describe(self) -> str:
        """The queue consumed, for a log line."""
        return f"queue {self.queue.name}"

    @property
    def queue_name(self) -> str:
        """The queue consumed."""
        return self.queue.name

    def reject(self, delivery: Delivery, delay: float = 0.0) -> None:
        """Give a delivery back to its queue after `delay` seconds, unacknowledged: the broker
        delivers it again, to this consumer or another (it is given back anyway if the
        connection goes first)."""
        self._link.call_soon(lambda: self._link.call_later(delay, lambda: self._reject(delivery)))

    def close(self, timeout: float = 10.0) -> bool:
        """Stop consuming, send the acknowledgements asked for, close the connection and end
        the thread; True if it ended within `timeout`. Deliveries not acknowledged go back to
        the queue."""
        return self._link.close(timeout)

    def __enter__(self) -> Consumer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- Session, in the I/O thread

    def open(self, channel: Channel) -> None:
        self._generation += 1
        self._channel = channel
        self._tracker = AckTracker()
        channel.add_on_cancel_callback(self._on_cancelled)
        steps = self.queue.steps()
        channel.basic_qos(
            prefetch_count=self._prefetch,
            callback=lambda _frame: run_steps(channel, steps, self._consume),
        )

    def _consume(self) -> None:
        assert self._channel is not None
        self._consumer_tag = self._channel.basic_consume(
            self.queue.name, self._on_message, callback=self._consuming
        )
        self._link.deliver_directly(self._channel, self._consumer_tag, self._on_delivery)

    def _consuming(self, _frame: object) -> None:
        self._link.ready()
        self._measure(self._generation)

    def _measure(self, generation: int) -> None:
        """Ask the broker for the queue's depth, and again in DEPTH_EVERY seconds, for as long
        as this channel (generation) lasts."""
        channel = self._channel
        if generation != self._generation or channel is None or not channel.is_open:
            return
        channel.queue_declare(self.queue.name, passive=True, callback=self._measured)
        self._link.call_later(DEPTH_EVERY, lambda: self._measure(generation))

    def _measured(self, frame: Any) -> None:
        ok = frame.method
        self.depth = QueueDepth(ok.message_count, ok.consumer_count, time.time())

    def lost(self, reason: BaseException | None) -> None:
        self._channel = None
        self._consumer_tag = None
        self._incoming.clear()
        with self._taken:
            forgotten = len(self._handed_over)
            self._handed_over.clear()
        if forgotten:
            _log.debug("%d deliveries not yet taken will be redelivered", forgotten)

    def stop(self) -> None:
        if self._channel is not None and self._consumer_tag is not None:
            self._link.deliver_directly(self._channel, self._consumer_tag, None)
            self._channel.basic_cancel(self._consumer_tag)
        self._send_acks()

    def _on_message(
        self, _channel: Channel, method: Basic.Deliver, properties: BasicProperties, body: bytes
    ) -> None:
        """A delivery read by pika (one the connection did not read itself)."""
        self._on_delivery(
            (
                method.routing_key,
                method.exchange,
                body,
                text_headers(properties.headers),
                properties.content_type,
                method.redelivered,
                method.delivery_tag,
            )
        )

    def _on_delivery(self, fields: Fields) -> None:
        self._tracker.delivered(fields[6])
        if not self._incoming:  # the first of this read: hand them all over once it is done
            self._link.call_later(0, self._hand_over)
        self._incoming.append(make_delivery((*fields, self._generation, 0)))  # source: set by multi

    def _hand_over(self) -> None:
        batch, self._incoming = self._incoming, []
        if batch and self._handler is not None:
            try:
                batch = self._handler(batch)
            finally:  # those the handler asked for go together, as those of other threads
                if len(self._acks) >= self._ack_batch:
                    self._send_acks()
                elif self._acks:
                    self._ack_soon.request()
        if batch:
            with self._taken:
                self._handed_over.extend(batch)
                self._taken.notify_all()

    def _send_acks(self) -> None:
        acks = self._acks
        done = [acks.popleft() for _ in range(len(acks))]
        channel = self._channel
        if channel is None or not channel.is_open:
            return  # lost with the channel: the broker redelivers them
        generation = self._generation
        tags = [d.delivery_tag for d in done if d.generation == generation]
        for tag, multiple in self._tracker.acks(tags):
            channel.basic_ack(tag, multiple)

    def _reject(self, delivery: Delivery) -> None:
        channel = self._channel
        if channel is None or not channel.is_open or delivery.generation != self._generation:
            return  # lost with the channel: the broker redelivers it
        for tag in self._tracker.rejects([delivery.delivery_tag]):
            channel.basic_reject(tag, requeue=True)

    def _on_cancelled(self, _frame: object) -> None:
        _log.warning(
            "the broker cancelled consumption of queue %s (deleted?); consuming again",
            self.queue.name,
        )
        if self._channel is not None and self._channel.is_open:
            self._link.deliver_directly(self._channel, self._consumer_tag or "", None)
            self._channel.close()
