"""Publishing with publisher confirms, pipelined.

`publish` queues a notice and returns a `Confirmation` at once. The I/O thread keeps up to
`window` notices published and not yet confirmed; each confirm from the broker (often covering
many notices) settles their confirmations and lets more go. When the channel or connection is
lost, the notices not yet confirmed are published again, first, once it is back: at least once,
never dropped. A nack (the broker could not take the notice now: a quorum queue electing a
new leader after its node died, a queue at its length limit) is answered by publishing the
notices again after a back-off delay, on a new channel: RabbitMQ 3.10 nacks everything
published on a channel that first met a quorum queue while it had no leader. A notice is
failed only when the broker refuses it for good: an exchange that does not exist or may not be
written to (the channel closes naming it), or the publisher closing before it is confirmed.

The I/O thread works in bursts: the confirms that came in one read from the socket are settled
together once it is processed (one lock, one wake-up of the waiters, one refill of the window),
and the notices of one refill go to the socket in one write rather than three each (pika writes
the method, header and body frames of each message apart: the syscalls were a tenth of a
poster's CPU), their frames written directly (sarra.broker.frames) rather than by pika's objects.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from pika import BasicProperties
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic

from sarra.broker.backoff import Backoff
from sarra.broker.connect import ConnectionSettings
from sarra.broker.errors import PublishError, describe, refused_exchange
from sarra.broker.frames import publish_frames
from sarra.broker.interface import Confirmation, Message, settle
from sarra.broker.link import Link, Wakeup
from sarra.broker.state import LinkState
from sarra.broker.steps import exchange_steps, run_steps

_log = logging.getLogger(__name__)

__all__ = ["Confirmation", "Message", "Publisher"]


@dataclass(slots=True)
class _Notice:
    exchange: str
    routing_key: str
    body: bytes
    content_type: str
    headers: dict[str, str] | None
    delivery_mode: int
    confirmation: Confirmation


class Publisher:
    """Publishes to exchanges of one broker, declaring them on every connection if asked.

    The connection is its own (see docs/broker.md): `start()` it, `publish` (or `publish_many`),
    `flush` before acknowledging what the notices stand for, `close()` at the end. Publishing
    blocks while `max_outstanding` notices are unconfirmed (the broker is down or slow), so that
    memory stays bounded.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        exchanges: Iterable[str] = (),
        *,
        declare_exchanges: bool = True,
        window: int = 1000,
        max_outstanding: int = 10_000,
        backoff: Backoff | None = None,
    ) -> None:
        self._steps = exchange_steps(list(exchanges)) if declare_exchanges else []
        self._window = window
        self._max_outstanding = max(max_outstanding, window)
        self._link = Link(settings, self, backoff)
        self._wakeup = Wakeup(self._link, self._send)
        self._backlog: deque[_Notice] = deque()  # published by callers, not yet sent
        self._settled = threading.Condition()
        self._outstanding = 0  # guarded by _settled: published and not settled
        self._closed = False
        # I/O thread only: sent, by sequence number; None once settled out of order
        self._unconfirmed: deque[list] = deque()  # [sequence number, _Notice | None]
        self._nacked: list[_Notice] = []  # waiting to be published again
        self._nack_backoff = Backoff(first=0.5, cap=10.0)
        self._confirmed: list[_Notice] = []  # confirmed by the broker, settled at the burst's end
        self._settling = False  # a call of _settle_confirmed is due
        self._sequence = 0
        self._channel: Channel | None = None

    # --- any thread

    @property
    def state(self) -> LinkState:
        """The connection's state (connecting, connected, refused, unreachable)."""
        return self._link.state

    def start(self) -> Publisher:
        """Start the I/O thread; it connects and declares by itself."""
        self._link.start()
        return self

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until notices can be sent; False if `timeout` passed first."""
        return self._link.wait_ready(timeout)

    def lend(self) -> bool:
        """Turn the connection's loop in the caller's thread (`turn`, between pieces of work)
        until `give_back`: no hand-off between threads (see link.py); False when not lent."""
        return self._link.lend()

    def turn(self, wait: float = 0.0) -> bool:
        """Send what waits and settle what the broker confirmed, in the caller's thread, if the
        connection is lent to it (waiting at most `wait` seconds for the broker); False when it
        is not (any more: its own thread took it back)."""
        return self._link.turn(wait)

    def give_back(self) -> None:
        """The connection's own thread turns its loop again."""
        self._link.give_back()

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = "text/plain",
        persistent: bool = True,
    ) -> Confirmation:
        """Queue a notice for publishing; the Confirmation settles when the broker answers."""
        message = Message(exchange, routing_key, body, headers, content_type, persistent)
        return self.publish_many([message])[0]

    def publish_many(self, messages: Sequence[Message]) -> list[Confirmation]:
        """Queue several notices, in order, with one wake-up of the I/O thread for each
        `window` of them (`publish` wakes it for each); their Confirmations, in order."""
        confirmations: list[Confirmation] = []
        for start in range(0, len(messages), self._window):
            chunk = messages[start : start + self._window]
            self._reserve(len(chunk))
            lock = self._settled
            notices = [
                _Notice(
                    m.exchange,
                    m.routing_key,
                    m.body,
                    m.content_type,
                    dict(m.headers) if m.headers else None,
                    2 if m.persistent else 1,
                    Confirmation(lock),
                )
                for m in chunk
            ]
            self._backlog.extend(notices)
            self._wakeup.request()
            confirmations += [notice.confirmation for notice in notices]
        return confirmations

    def _reserve(self, count: int) -> None:
        """Count `count` notices as outstanding, once there is room for them."""

        def room() -> bool:
            return self._closed or self._outstanding + count <= self._max_outstanding

        while True:
            self._wait(room, None)
            with self._settled:  # another thread may have taken the room meanwhile
                if self._closed:
                    raise PublishError("publish on a closed publisher")
                if room():
                    self._outstanding += count
                    return

    @property
    def outstanding(self) -> int:
        """Notices published and not yet settled."""
        return self._outstanding

    @property
    def room(self) -> int:
        """How many more can be published now without waiting."""
        return max(0, self._max_outstanding - self._outstanding)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every notice published so far is settled; False if `timeout` passed."""
        return self._wait(lambda: self._outstanding == 0, timeout)

    def _wait(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until `done()` (under the lock of settling), at most `timeout`: turning the
        loop when it is lent to the caller (nobody else would settle anything)."""
        link = self._link
        if link.lent_to_caller():
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                with self._settled:
                    if done():
                        return True
                left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if left <= 0 or not link.turn(left):
                    break  # the I/O thread took the loop back: wait as usual
            if deadline is not None:
                timeout = max(0.0, deadline - time.monotonic())
        with self._settled:
            return self._settled.wait_for(done, timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Wait (at most `timeout`) for outstanding confirms, then close; True if all came.

        Notices still unconfirmed then are failed, so that no caller waits forever.
        """
        flushed = self.flush(timeout)
        self._link.close(timeout)
        with self._settled:
            self._closed = True
            self._settled.notify_all()
        self._settle_confirmed()  # the broker confirmed them: they settle as confirmed
        leftovers = [n for _, n in self._unconfirmed if n is not None] + list(self._backlog)
        leftovers += self._nacked
        self._unconfirmed.clear()
        self._backlog.clear()
        self._nacked.clear()
        if leftovers:
            _log.warning("closed with %d notices unconfirmed by the broker", len(leftovers))
            self._settle(
                leftovers, PublishError("the publisher closed before the broker confirmed")
            )
        return flushed

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- Session, in the I/O thread

    def open(self, channel: Channel) -> None:
        self._channel = channel
        self._sequence = 0
        channel.confirm_delivery(
            self._on_confirm, callback=lambda _frame: self._confirming(channel)
        )

    def _confirming(self, channel: Channel) -> None:
        """The channel is in confirm mode: its confirms are read by the connection itself (those
        it leaves come through pika, to `_on_confirm`); declare, then publish."""
        self._link.confirm_directly(channel, self._answered)
        run_steps(channel, self._steps, self._ready)

    def _ready(self) -> None:
        self._link.ready()
        self._send()

    def lost(self, reason: BaseException | None) -> None:
        if self._channel is not None:
            self._link.confirm_directly(self._channel, None)
        self._channel = None
        again = [n for _, n in self._unconfirmed if n is not None]
        self._unconfirmed.clear()
        waiting = self._backlog
        again += [waiting.popleft() for _ in range(len(waiting))]
        refused = refused_exchange(reason)
        if refused is not None and reason is not None:
            failed = [n for n in again if n.exchange == refused]
            again = [n for n in again if n.exchange != refused]
            error = PublishError(f"exchange {refused}: {describe(reason)}")
            _log.error("%d notices not published: %s", len(failed), error)
            self._settle(failed, error)
        if again:
            _log.info("%d notices will be published again once reconnected", len(again))
        waiting.extendleft(reversed(again))

    def stop(self) -> None:
        """Nothing to finish: close() has waited for the confirms already."""

    def _send(self) -> None:
        channel = self._channel
        if channel is None or not channel.is_open or not self._link.is_ready:
            return
        backlog, unconfirmed = self._backlog, self._unconfirmed
        room = self._window - len(unconfirmed)
        if room <= 0 or not backlog:
            return
        sequence = self._sequence
        number, frame_max = channel.channel_number, channel.connection.params.frame_max
        with _one_write(channel) as write:
            while room > 0 and backlog:
                n = backlog.popleft()
                sequence += 1
                unconfirmed.append([sequence, n])
                frames = publish_frames(number, n.exchange, n.routing_key, n.body, n.content_type,
                                        n.headers, n.delivery_mode, frame_max)  # fmt: skip
                if frames is not None:
                    write(frames)
                else:  # a message of another shape: pika writes it (or says what is wrong)
                    properties = BasicProperties(content_type=n.content_type, headers=n.headers,
                                                 delivery_mode=n.delivery_mode)  # fmt: skip
                    channel.basic_publish(n.exchange, n.routing_key, n.body, properties)
                room -= 1
        self._sequence = sequence

    def _on_confirm(self, frame: Method) -> None:
        """A confirm read by pika (one the connection did not read itself)."""
        method = frame.method
        self._answered(method.delivery_tag, method.multiple, isinstance(method, Basic.Nack))

    def _answered(self, tag: int, multiple: bool, nack: bool) -> None:
        """The broker's basic.ack (or basic.nack) of `tag`, and of every tag before it if
        `multiple`."""
        unconfirmed = self._unconfirmed
        settled: list[_Notice] = []
        if multiple:
            while unconfirmed and unconfirmed[0][0] <= tag:
                notice = unconfirmed.popleft()[1]
                if notice is not None:
                    settled.append(notice)
        elif unconfirmed and unconfirmed[0][0] <= tag:
            entry = unconfirmed[tag - unconfirmed[0][0]]
            if entry[1] is not None:
                settled.append(entry[1])
                entry[1] = None
            while unconfirmed and unconfirmed[0][1] is None:
                unconfirmed.popleft()
        if nack:
            self._nacked_now(settled)
            return
        self._nack_backoff.reset()
        self._confirmed += settled
        if not self._settling:  # after the other frames of this read: see the module's doc
            self._settling = True
            self._link.call_later(0, self._settle_confirmed_and_send)

    def _settle_confirmed_and_send(self) -> None:
        self._settle_confirmed()
        self._send()

    def _settle_confirmed(self) -> None:
        """Settle, as confirmed, what the broker confirmed since the last call."""
        self._settling = False
        confirmed, self._confirmed = self._confirmed, []
        if confirmed:
            self._settle(confirmed, None)

    def _nacked_now(self, notices: list[_Notice]) -> None:
        """Publish the notices again after a delay, and the others on a new channel."""
        if notices:
            delay = self._nack_backoff.next()
            _log.warning(
                "%d notices not taken by the broker for now (nack); publishing them again "
                "in %.1f s, on a new channel", len(notices), delay,
            )  # fmt: skip
            self._nacked += notices
            self._link.call_later(delay, lambda: self._publish_again(notices))
        channel = self._channel
        if channel is not None and channel.is_open:
            channel.close()  # the link opens another; lost() takes back what it had in hand

    def _publish_again(self, notices: list[_Notice]) -> None:
        """Nacked notices go first in the backlog (unless close() has failed them already)."""
        waiting = {id(n) for n in self._nacked}
        again = [n for n in notices if id(n) in waiting]
        chosen = {id(n) for n in again}
        self._nacked = [n for n in self._nacked if id(n) not in chosen]
        self._backlog.extendleft(reversed(again))
        self._send()

    def _settle(self, notices: list[_Notice], error: PublishError | None) -> None:
        settle(self._settled, [n.confirmation for n in notices], error, self._count_down)

    def _count_down(self, settled: int) -> None:
        self._outstanding -= settled


WRITE = 1 << 16
"""Bytes of frames gathered into one write to the socket (see _one_write)."""


@contextlib.contextmanager
def _one_write(channel: Channel) -> Iterator[Callable[[bytes], None]]:
    """Hand pika's connection the frames written meanwhile in writes of about WRITE bytes, not
    one each: the frames given to the function yielded, and those pika writes itself (it gives
    every frame to its connection's `_adapter_emit_data`, onto its transport's buffer, each
    later sent on its own). They go on in order, even if publishing failed midway."""
    connection = channel.connection
    emit = connection._adapter_emit_data
    frames: list[bytes] = []
    size = 0

    def gather(frame: bytes) -> None:
        nonlocal size
        frames.append(frame)
        size += len(frame)
        if size >= WRITE:
            emit(b"".join(frames))
            frames.clear()
            size = 0

    connection._adapter_emit_data = gather  # type: ignore[method-assign]
    try:
        yield gather
    finally:
        del connection._adapter_emit_data  # the class's own again
        if frames:
            emit(b"".join(frames))
