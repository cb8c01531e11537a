"""Steps that run on a pika channel of either kind, one after another, and the declaration of
exchanges: all a publisher declares (the queues, a consumer's: sarra.broker.topology).

A step calls one channel method; on a blocking channel it returns when the broker has answered,
on an asynchronous channel it passes `callback=` and the next step runs from there. Exchanges
are topic exchanges, durable, not auto-deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class Step(Protocol):
    """One declaration; str() says what it does, for logs and errors."""

    def run(self, channel: Any, **callback: Any) -> None:
        """Call the channel method (with `callback=` on an asynchronous channel)."""


@dataclass(frozen=True)
class DeclareExchange:
    """Declare a topic exchange, durable, not auto-deleted."""

    name: str

    def run(self, channel: Any, **callback: Any) -> None:
        channel.exchange_declare(
            exchange=self.name, exchange_type="topic", durable=True, auto_delete=False, **callback
        )

    def __str__(self) -> str:
        return f"declare exchange {self.name}"


def exchange_steps(names: Sequence[str]) -> list[Step]:
    """Declare each of the exchanges."""
    return [DeclareExchange(name) for name in names]


def run_steps(channel: Any, steps: Sequence[Step], done: Callable[[], None]) -> None:
    """Run `steps` one after another on an asynchronous channel, then call `done()`.

    A step the broker refuses closes the channel: the channel's close callback hears of it,
    and the remaining steps never run.
    """
    remaining: Iterator[Step] = iter(steps)

    def next_step(_frame: object = None) -> None:
        step = next(remaining, None)
        if step is None:
            done()
        else:
            step.run(channel, callback=next_step)

    next_step()
