"""Queues on a broker: QueueSpec, the steps that declare and bind a queue, and those that delete
queues and exchanges, run as sarra.broker.steps runs them (a publisher needs that module only).
Queues are not exclusive nor auto-deleted.

A quorum queue (queue_type quorum) is replicated by a RabbitMQ cluster: it is declared with
`x-queue-type: quorum` and always durable (the broker refuses a non-durable, exclusive or
auto-deleted one, and a priority queue). It honours `x-expires` and `x-message-ttl` (RabbitMQ
3.10 and later), but re-declaring it does not renew its expiry lease the way a consumer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sarra.broker.steps import Step


@dataclass(frozen=True)
class QueueSpec:
    """A queue to consume from: its declaration, its bindings, and what may be done about them.

    `expire` and `message_ttl` are in seconds, 0 meaning none; `bindings` are
    (exchange, routing key) pairs; `declare` and `bind` are the declare_queue and bind_queue
    options (False on brokers where the administrator does it).
    """

    name: str
    durable: bool = True
    expire: float = 300.0
    message_ttl: float = 0.0
    bindings: tuple[tuple[str, str], ...] = ()
    declare: bool = True
    bind: bool = True
    queue_type: str = "classic"

    @property
    def is_durable(self) -> bool:
        """Whether the queue is declared durable (a quorum queue always is)."""
        return self.durable or self.queue_type == "quorum"

    def arguments(self) -> dict[str, int | str]:
        """The x-arguments of the declaration (durations in milliseconds)."""
        arguments: dict[str, int | str] = {}
        if self.queue_type != "classic":
            arguments["x-queue-type"] = self.queue_type
        if self.expire > 0:
            arguments["x-expires"] = round(self.expire * 1000)
        if self.message_ttl > 0:
            arguments["x-message-ttl"] = round(self.message_ttl * 1000)
        return arguments

    def steps(self, *, bindings: bool = True) -> list[Step]:
        """The declaration (if `declare`), then the bindings (if asked and `bind`)."""
        steps: list[Step] = [DeclareQueue(self)] if self.declare else []
        if bindings and self.bind:
            steps += [Bind(self.name, exchange, key) for exchange, key in self.bindings]
        return steps


@dataclass(frozen=True)
class DeclareQueue:
    """Declare a queue (idempotent when the arguments are the same)."""

    queue: QueueSpec

    def run(self, channel: Any, **callback: Any) -> None:
        channel.queue_declare(
            queue=self.queue.name,
            durable=self.queue.is_durable,
            exclusive=False,
            auto_delete=False,
            arguments=self.queue.arguments(),
            **callback,
        )

    def __str__(self) -> str:
        return f"declare queue {self.queue.name}"


@dataclass(frozen=True)
class Bind:
    """Bind a queue to an exchange with one routing key."""

    queue: str
    exchange: str
    key: str

    def run(self, channel: Any, **callback: Any) -> None:
        channel.queue_bind(
            queue=self.queue, exchange=self.exchange, routing_key=self.key, **callback
        )

    def __str__(self) -> str:
        return f"bind queue {self.queue} to exchange {self.exchange} with key {self.key}"


@dataclass(frozen=True)
class DeleteQueue:
    """Delete a queue, with its bindings and any notice still in it."""

    name: str

    def run(self, channel: Any, **callback: Any) -> None:
        channel.queue_delete(queue=self.name, **callback)

    def __str__(self) -> str:
        return f"delete queue {self.name}"


@dataclass(frozen=True)
class DeleteExchange:
    """Delete an exchange, only if no queue is bound to it."""

    name: str

    def run(self, channel: Any, **callback: Any) -> None:
        channel.exchange_delete(exchange=self.name, if_unused=True, **callback)

    def __str__(self) -> str:
        return f"delete exchange {self.name} (if unused)"
