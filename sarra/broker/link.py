"""One broker connection, with one channel, living in its own I/O thread and re-opened after
every failure.

The thread runs pika's select loop and nothing else: it never waits on a caller, so heartbeats
flow however long the callers work. Other threads talk to it only through `call_soon`. What
the channel is for (consuming, publishing) is a `Session`: the link tells it when a channel is
open and when it is gone, and the session tells the link when it works (`ready`).

After a failure (connection refused or lost, channel closed by the broker) the link waits a
back-off delay (at most 4 s, see backoff.py) and tries again: a new channel if the connection
still stands, else a new connection. The first failure of an outage is logged with its reason,
then a line a minute while it lasts (each attempt at DEBUG), and the recovery once, with how
long the broker was away.

With several brokers (the nodes of a cluster, `ConnectionSettings.alternates`), a lost or
refused connection is followed at once by an attempt on the next node; the back-off delay comes
only after every node has failed in turn. A channel closed on a connection that still stands is
re-opened on the same node.

A thread with much short work that publishes as it goes (a poster walking a tree) can borrow the
connection (`Link.lend`): the I/O thread stops between two turns of its loop, and the borrower
turns the loop itself between its pieces of work (`Link.turn`), until it gives it back. Two
threads taking turns at the interpreter's lock cost more than the publishing itself (each
system call of the worker woke the waiting I/O thread for nothing); one thread does not. The
I/O thread takes the connection back when the borrower has not turned the loop for LEND_STALE
seconds.

A consumer's deliveries can be read directly (`Link.deliver_directly`, see deliveries.py): the
connection reads the common basic.deliver in one pass and hands its fields to the consumer,
leaving every other frame to pika. So can a publisher's confirms (`Link.confirm_directly`):
each basic.ack and basic.nack goes to the publisher as its delivery tag and flags.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.channel import Channel

from sarra.broker.backoff import Backoff, Outage
from sarra.broker.connect import ConnectionSettings
from sarra.broker.deliveries import MORE, Fields, read_confirm, read_delivery
from sarra.broker.errors import describe, refused_by_broker
from sarra.broker.state import LinkState
from sarra.broker.url import BrokerUrl

_log = logging.getLogger(__name__)

NEXT_NODE_DELAY = 0.05
"""Seconds before trying the next node of a cluster after one failed."""

LEND_STALE = 1.0
"""Seconds a connection lent to another thread (`Link.lend`) stays with it while that thread
does not turn its loop: then the I/O thread takes it back, so that heartbeats flow whatever the
borrower does (a long checksum, a stalled file system)."""

LEND_WAIT = 0.1
"""Most seconds `Link.lend` waits for the I/O thread to finish its turn and hand over."""

# pika reports each failure itself, at ERROR, in its words; the link reports them once, in ours.
# Set the "pika" logger's level explicitly to see pika's own lines.
if logging.getLogger("pika").level == logging.NOTSET:
    logging.getLogger("pika").setLevel(logging.CRITICAL)


class _Direct:
    """A consumer whose deliveries the connection reads itself."""

    __slots__ = ("channel", "handler", "number", "tag")

    def __init__(self, channel: Channel, consumer_tag: str, handler: Callable[[Fields], None]):
        self.channel = channel
        self.number = channel.channel_number
        self.tag = consumer_tag.encode()
        self.handler = handler


ConfirmHandler = Callable[[int, bool, bool], None]
"""Called with a publisher confirm's delivery tag, multiple, and whether it is a nack."""


class _Confirms:
    """A publishing channel whose confirms the connection reads itself."""

    __slots__ = ("channel", "handler", "number")

    def __init__(self, channel: Channel, handler: ConfirmHandler):
        self.channel = channel
        self.number = channel.channel_number
        self.handler = handler


class DirectConnection(SelectConnection):
    """pika's SelectConnection, reading the deliveries to one consumer and the confirms of one
    publishing channel itself (see deliveries.py): while the consumer's channel is open, each
    whole basic.deliver to it goes to its handler as a Delivery's fields; while the publishing
    channel is open, each basic.ack and basic.nack on it goes to its handler; any other frame
    goes through pika, as before. (pika's count of frames received leaves out those read here;
    its count of bytes, which its heartbeat checker watches, has them.) It overrides pika's
    private frame reading, the same from pika 1.2 to 1.4: setup.cfg asks for pika below 1.5,
    and tests/unit/test_broker_deliveries.py and test_broker_confirms.py check its reads
    against pika's own."""

    _direct: _Direct | None = None
    _confirms: _Confirms | None = None

    def deliver_directly(
        self, channel: Channel, consumer_tag: str, handler: Callable[[Fields], None] | None
    ) -> None:
        """Read the deliveries to `consumer_tag` on `channel` and hand them to `handler`; with
        None, leave them to pika again."""
        self._direct = None if handler is None else _Direct(channel, consumer_tag, handler)

    def confirm_directly(self, channel: Channel, handler: ConfirmHandler | None) -> None:
        """Read the publisher confirms on `channel` (in confirm mode already) and hand them to
        `handler`; with None, leave them to pika again."""
        self._confirms = None if handler is None else _Confirms(channel, handler)

    def _on_data_available(self, data_in: bytes) -> None:
        if self._direct is None and self._confirms is None:
            super()._on_data_available(data_in)
            return
        buffer = self._frame_buffer + data_in
        offset = 0
        try:
            while offset < len(buffer):
                direct = self._direct
                if direct is not None and direct.channel.is_open:
                    found = read_delivery(buffer, offset, direct.number, direct.tag)
                    if found is MORE:
                        return
                    if found is not None:
                        fields, end = found
                        self.bytes_received += end - offset
                        offset = end
                        direct.handler(fields)
                        continue
                confirms = self._confirms
                if confirms is not None and confirms.channel.is_open:
                    confirm = read_confirm(buffer, offset, confirms.number)
                    if confirm is MORE:
                        return
                    if confirm is not None:
                        tag, multiple, nack, end = confirm
                        self.bytes_received += end - offset
                        offset = end
                        confirms.handler(tag, multiple, nack)
                        continue
                # one frame, as pika reads it
                buffer = self._frame_buffer = buffer[offset:]
                offset = 0
                consumed, frame_value = self._read_frame()
                if not frame_value:
                    return
                self._trim_frame_buffer(consumed)
                buffer = self._frame_buffer
                self._process_frame(frame_value)
                buffer = self._frame_buffer
        finally:
            self._frame_buffer = buffer[offset:]


class Session(Protocol):
    """What a link's channel is for; every method runs in the I/O thread."""

    def open(self, channel: Channel) -> None:
        """Set up a newly opened channel, then call the link's `ready()`."""

    def lost(self, reason: BaseException | None) -> None:
        """The channel is gone (closed by the broker, or with its connection)."""

    def stop(self) -> None:
        """The link is closing on request: send what can be sent without waiting."""


class _Lending:
    """Who turns a link's loop: its I/O thread, or a borrower (`Link.lend`)."""

    NONE, WANTED, LENT = 0, 1, 2

    def __init__(self) -> None:
        self.turns = threading.Condition()
        """Held by the borrower during each of its turns, and while the state changes."""
        self.state = self.NONE
        self.borrower: int | None = None  # the thread lent to
        self.last_turn = 0.0  # when the borrower last turned the loop (monotonic)

    def lent_to_caller(self) -> bool:
        """Whether the loop is lent to the calling thread."""
        return self.state == self.LENT and self.borrower == threading.get_ident()


class _LendingIOLoop(IOLoop):
    """pika's IOLoop whose thread, at the end of a turn, can hand the loop to a borrower."""

    def __init__(self, lending: _Lending) -> None:
        super().__init__()
        self._lending = lending
        self.io_ident: int | None = None
        """The I/O thread's, once started."""

    def process_timeouts(self) -> None:
        super().process_timeouts()
        lending = self._lending
        if lending.state == _Lending.WANTED and threading.get_ident() == self.io_ident:
            self._park(lending)

    @staticmethod
    def _park(lending: _Lending) -> None:
        """Hand the loop to the borrower; take it back when given back, or when the borrower
        has not turned it for LEND_STALE seconds."""
        with lending.turns:
            if lending.state != _Lending.WANTED:
                return
            lending.state = _Lending.LENT
            lending.last_turn = time.monotonic()
            lending.turns.notify_all()
            while lending.state == _Lending.LENT:
                lending.turns.wait(LEND_STALE)
                idle = time.monotonic() - lending.last_turn
                if lending.state == _Lending.LENT and idle >= LEND_STALE:
                    lending.state = _Lending.NONE
                    lending.borrower = None
                    _log.debug("connection taken back after %.1f s without a turn", idle)


class Link:
    """A connection and its channel in a dedicated I/O thread, kept open until `close()`."""

    def __init__(
        self, settings: ConnectionSettings, session: Session, backoff: Backoff | None = None
    ) -> None:
        self.settings = settings
        self._session = session
        self._backoff = backoff or Backoff()
        self._lending = _Lending()
        self._ioloop = _LendingIOLoop(self._lending)
        self._thread = threading.Thread(target=self._run, name=settings.name, daemon=True)
        self._ready = threading.Event()
        self.state = LinkState(str(settings.url))
        """Connecting, connected, refused or unreachable: for `sr status`."""
        # I/O thread only:
        self._connection: DirectConnection | None = None
        self._channel: Channel | None = None
        self._retry: Any = None
        self._stopping = False
        self._outage = Outage()
        self._was_ready = False
        self._node = 0  # which of settings.nodes is connected to (or tried)
        self._round = 0  # nodes tried in turn since the last back-off delay

    # --- any thread

    def start(self) -> None:
        """Start the I/O thread, which connects (and reconnects) by itself."""
        self._thread.start()
        self._ioloop.io_ident = self._thread.ident

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Have the I/O thread call `callback` as soon as it can."""
        self._ioloop.add_callback_threadsafe(callback)

    def in_io_thread(self) -> bool:
        """Whether the caller is the I/O thread."""
        return threading.get_ident() == self._ioloop.io_ident  # once a delivery: no property

    def lend(self) -> bool:
        """Have the I/O thread hand its loop to the caller, who then turns it (`turn`) until
        `give_back`; False when it did not within LEND_WAIT seconds (nothing is lent: the I/O
        thread goes on)."""
        lending = self._lending
        with lending.turns:
            if lending.state != _Lending.NONE or not self._thread.is_alive():
                return lending.lent_to_caller()
            lending.state = _Lending.WANTED
            lending.borrower = threading.get_ident()
        self.call_soon(_nothing)  # the I/O thread ends its turn
        with lending.turns:
            lending.turns.wait_for(lambda: lending.state != _Lending.WANTED, LEND_WAIT)
            if lending.state == _Lending.WANTED:
                lending.state = _Lending.NONE
                lending.borrower = None
            return lending.state == _Lending.LENT

    def turn(self, wait: float = 0.0) -> bool:
        """One turn of the loop lent to the caller: what the socket has, then the callbacks and
        timers due, waiting at most `wait` seconds for the socket; False (and nothing done)
        when the loop is not lent to the caller (any more)."""
        lending = self._lending
        with lending.turns:
            if not lending.lent_to_caller():
                return False
            ioloop = self._ioloop
            bound = ioloop.call_later(wait, _nothing)  # poll waits no longer than this
            try:
                ioloop.poll()
                ioloop.process_timeouts()
            except Exception:
                _log.exception("%s: unexpected error in connection %r; reconnecting",
                               self.broker, self.settings.name)  # fmt: skip
                self._abandon()
            finally:
                ioloop.remove_timeout(bound)
                lending.last_turn = time.monotonic()
            return True

    def lent_to_caller(self) -> bool:
        """Whether the loop is lent to the caller now."""
        return self._lending.lent_to_caller()

    def give_back(self) -> None:
        """The I/O thread turns the loop again (the caller's lend, if any, ends)."""
        lending = self._lending
        with lending.turns:
            if lending.borrower == threading.get_ident() and lending.state != _Lending.NONE:
                lending.state = _Lending.NONE
                lending.borrower = None
                lending.turns.notify_all()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the session works (again); False if `timeout` passed first."""
        return self._ready.wait(timeout)

    @property
    def broker(self) -> BrokerUrl:
        """The broker (node) connected to, or being tried."""
        return self.settings.nodes[self._node]

    @property
    def is_ready(self) -> bool:
        """Whether the session works now."""
        return self._ready.is_set()

    def close(self, timeout: float = 10.0) -> bool:
        """Let the session stop, close the connection and end the thread (waiting at most
        `timeout`); True when the thread has ended."""
        if not self._thread.is_alive():
            return True
        self.give_back()
        self.call_soon(self._stop)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- I/O thread

    def call_later(self, delay: float, callback: Callable[[], None]) -> object:
        """Have `callback` called after `delay` seconds (I/O thread only)."""
        return self._ioloop.call_later(delay, callback)

    def deliver_directly(
        self, channel: Channel, consumer_tag: str, handler: Callable[[Fields], None] | None
    ) -> None:
        """Have the connection read the deliveries to `consumer_tag` on `channel` itself and
        hand their fields to `handler` (None: leave them to pika again); I/O thread only."""
        connection = self._connection
        if connection is not None:
            connection.deliver_directly(channel, consumer_tag, handler)

    def confirm_directly(self, channel: Channel, handler: ConfirmHandler | None) -> None:
        """Have the connection read the publisher confirms on `channel` itself and hand them to
        `handler` (None: leave them to pika again); I/O thread only."""
        connection = self._connection
        if connection is not None:
            connection.confirm_directly(channel, handler)

    def ready(self) -> None:
        """The session says its channel works: reset the back-off, log a recovery (once, with
        how long the broker was away)."""
        url, name, failures = self.broker, self.settings.name, self._outage.attempts
        away = self._outage.recovered()
        if away is not None:
            _log.info(
                "%s: %r %s after %.1f s %s (%d failed attempt%s)",
                url,
                name,
                "reconnected" if self._was_ready else "connected",
                away,
                "away" if self._was_ready else "of trying",
                failures,
                "" if failures == 1 else "s",
            )
        elif not self._was_ready:
            _log.info("%s: %r connected", url, name)
        self._was_ready = True
        self._round = 0
        self._backoff.reset()
        self._ready.set()
        self.state.connected(str(url))

    def _run(self) -> None:
        try:
            self._connect()
            while True:
                try:
                    self._ioloop.start()
                    return  # stopped by close()
                except Exception:
                    _log.exception(
                        "%s: unexpected error in the thread of connection %r; reconnecting",
                        self.broker,
                        self.settings.name,
                    )
                    self._abandon()
        finally:
            self._ioloop.close()

    def _abandon(self) -> None:
        """After an unexpected error: close the connection, which brings the usual recovery."""
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()
        elif self._stopping and connection is None:
            self._ioloop.stop()

    def _connect(self) -> None:
        self._retry = None
        if self._stopping:
            return
        try:
            self._connection = DirectConnection(
                self.settings.parameters(self._node),
                on_open_callback=self._on_connection_open,
                on_open_error_callback=self._on_connection_failed,
                on_close_callback=self._on_connection_failed,
                custom_ioloop=self._ioloop,
            )
        except Exception as error:  # e.g. a TLS context that cannot be built
            self._failed(error, self._connect, next_node=True)

    def _on_connection_open(self, connection: SelectConnection) -> None:
        connection.add_on_connection_blocked_callback(self._on_blocked)
        connection.add_on_connection_unblocked_callback(self._on_unblocked)
        self._open_channel()

    def _open_channel(self) -> None:
        self._retry = None
        connection = self._connection
        if self._stopping or connection is None or not connection.is_open:
            return
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        self._session.open(channel)

    def _on_channel_closed(self, _channel: Channel, reason: BaseException) -> None:
        self._channel = None
        self._ready.clear()
        self._session.lost(reason)
        connection = self._connection
        if not self._stopping and connection is not None and connection.is_open:
            self._failed(reason, self._open_channel)  # the connection stands: a new channel
        # otherwise the connection is going too, and _on_connection_failed follows

    def _on_connection_failed(self, _connection: SelectConnection, reason: BaseException) -> None:
        self._connection = None
        self._ready.clear()
        if self._stopping:
            self._ioloop.stop()
        else:
            self._failed(reason, self._connect, next_node=True)

    def _failed(
        self, reason: BaseException, retry: Callable[[], None], *, next_node: bool = False
    ) -> None:
        failed = self.broker
        self.state.failed(str(failed), refused_by_broker(reason), describe(reason))
        nodes = len(self.settings.nodes)
        if next_node and nodes > 1:
            self._node = (self._node + 1) % nodes
            self._round += 1
        if next_node and nodes > 1 and self._round < nodes:
            delay = NEXT_NODE_DELAY
        else:
            self._round = 0
            delay = self._backoff.next()
        why = describe(reason)
        logged = self._outage.failed(why)
        attempts, away = self._outage.attempts, self._outage.away
        _log.log(
            logging.WARNING if logged else logging.DEBUG,
            "%s: %s (connection %r); trying %s in %.1f s%s",
            failed,
            why,
            self.settings.name,
            "again" if self.broker == failed else self.broker,
            delay,
            f" (away {away:.0f} s, {attempts} failed attempts)" if attempts > 1 else "",
        )
        self._retry = self._ioloop.call_later(delay, retry)

    def _on_blocked(self, _connection: SelectConnection, frame: Any) -> None:
        _log.warning(
            "%s: the broker holds back this connection: %s",
            self.broker,
            getattr(frame.method, "reason", "resource alarm"),
        )

    def _on_unblocked(self, _connection: SelectConnection, _frame: Any) -> None:
        _log.info("%s: the broker lets this connection through again", self.broker)

    def _stop(self) -> None:
        self._stopping = True
        if self._retry is not None:
            self._ioloop.remove_timeout(self._retry)
            self._retry = None
        channel = self._channel
        if channel is not None and channel.is_open:
            self._session.stop()
        connection = self._connection
        if connection is not None and not connection.is_closed:
            if not connection.is_closing:
                connection.close()
            # _on_connection_failed stops the loop once the connection is closed
        else:
            self._ioloop.stop()


def _nothing() -> None:
    """A callback that only makes the loop end its wait."""


class Wakeup:
    """Calls `callback` in a link's I/O thread when asked from any thread; the asks made before
    the call runs are all served by that one call (one wake-up of the loop, not one each).

    The callback must take everything waiting at the time it runs (it is cleared first).
    With `gather` > 0 the call waits that many seconds after the first ask, so that the asks of
    that window are served together (acknowledgements: fewer frames and wake-ups).
    """

    def __init__(self, link: Link, callback: Callable[[], None], gather: float = 0.0) -> None:
        self._link = link
        self._callback = callback
        self._gather = gather
        self._pending = False

    def request(self) -> None:
        """Ask for a call (any thread)."""
        if not self._pending:
            self._pending = True
            if self._gather > 0:
                self._link.call_soon(lambda: self._link.call_later(self._gather, self._run))
            else:
                self._link.call_soon(self._run)

    def _run(self) -> None:
        self._pending = False
        self._callback()
