"""Consuming from several brokers at once as from one: a config's `broker` and each of its
`also_broker`, one consumer (one connection, one queue or session) per broker, their
deliveries taken together.

The consumers hand their deliveries over under one shared condition, so that the caller wakes
as soon as any of them has something, and takes from each in turn (the first consumer asked
changes at every batch, so that a busy broker never starves another). Each delivery is tagged
with the index of its consumer (`Delivery.source`), and its acknowledgement goes back to that
consumer: a notice is acknowledged on the broker that sent it, whatever became of its copies.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence

from sarra.broker.interface import Consumer, Delivery, QueueDepth
from sarra.broker.state import LinkState


class MultiConsumer:
    """Several consumers read as one; built by sarra.broker.open_consumer."""

    def __init__(self, consumers: Sequence[Consumer], taken: threading.Condition) -> None:
        """`taken` is the condition every one of `consumers` hands its deliveries over under."""
        self.consumers = list(consumers)
        self._taken = taken
        self._next = 0

    @property
    def state(self) -> LinkState:
        """The first broker's connection (see `links` for each)."""
        return self.consumers[0].state

    def links(self) -> list[tuple[str, LinkState]]:
        """(role, state) of each connection: `consumer`, then `consumer 2`, `consumer 3`..."""
        return [
            ("consumer" if n == 0 else f"consumer {n + 1}", part.state)
            for n, part in enumerate(self.consumers)
        ]

    @property
    def depth(self) -> QueueDepth | None:
        """The queues' depths added up, when any broker tells it."""
        known = [part.depth for part in self.consumers if part.depth is not None]
        if not known:
            return None
        return QueueDepth(
            sum(d.messages for d in known),
            sum(d.consumers for d in known),
            min(d.at for d in known),
        )

    @property
    def queue_name(self) -> str:
        """The first broker's queue (or session); the others have the same name."""
        return self.consumers[0].queue_name

    def start(self) -> MultiConsumer:
        """Start every consumer."""
        for part in self.consumers:
            part.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every consumer is ready; False if `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for part in self.consumers:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not part.wait_ready(left):
                return False
        return True

    def get_batch(self, max_count: int = 100, timeout: float = 1.0) -> list[Delivery]:
        """Up to `max_count` deliveries from any of the brokers, waiting at most `timeout`
        seconds for the first."""
        deadline = time.monotonic() + timeout
        count = len(self.consumers)
        with self._taken:
            while True:
                batch: list[Delivery] = []
                first = self._next
                self._next = (first + 1) % count
                for step in range(count):
                    index = (first + step) % count
                    got = self.consumers[index].get_batch(max_count - len(batch), timeout=0)
                    batch += [d._replace(source=index) for d in got] if index else got
                    if len(batch) >= max_count:
                        break
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0:
                    return batch
                self._taken.wait(remaining)

    def deliver_to(self, handler: Callable[[list[Delivery]], list[Delivery]]) -> bool:
        """Have each consumer that can call `handler` in its own thread (so the handler may
        be called from several threads at once); True if any can, the others keep handing
        over to `get_batch`."""
        accepted = False
        for index, part in enumerate(self.consumers):
            tagged = handler if index == 0 else functools.partial(_tagged, handler, index)
            accepted = part.deliver_to(tagged) or accepted
        return accepted

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge a delivery on the broker it came from."""
        self.consumers[delivery.source].ack(delivery)

    def reject(self, delivery: Delivery, delay: float = 0.0) -> None:
        """Give a delivery back to the broker it came from."""
        self.consumers[delivery.source].reject(delivery, delay)

    def describe(self) -> str:
        """What is consumed on each broker, for a log line."""
        return "; ".join(part.describe() for part in self.consumers)

    def close(self, timeout: float = 10.0) -> bool:
        """Close every consumer; True if all ended within `timeout`."""
        return all([part.close(timeout) for part in self.consumers])


def _tagged(
    handler: Callable[[list[Delivery]], list[Delivery]], source: int, batch: list[Delivery]
) -> list[Delivery]:
    return handler([d._replace(source=source) for d in batch])


def links(consumer: Consumer) -> list[tuple[str, LinkState]]:
    """(role, state) of each connection of a consumer, as `sr status` names them."""
    if isinstance(consumer, MultiConsumer):
        return consumer.links()
    return [("consumer", consumer.state)]
