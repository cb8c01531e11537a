"""One MQTT connection: a paho client whose own network thread keeps it open, reconnecting after
every failure (the role link.py has for AMQP).

paho's thread reads and writes the socket, calls the callbacks and reconnects by itself, after
the delays of the shared back-off (backoff.Backoff: 1 s doubling to 4 s, jittered), so that a
broker back from an outage is found again within a few seconds. A refusal that retrying cannot
cure (bad credentials, a refused user, the client id taken over) is logged at error, with a
hint, and retried every PERSON_DELAY only. What is logged of an outage is backoff.Outage's
choice, as for AMQP: its first failure, a change of reason, a line a minute while it lasts, and
the recovery with how long the broker was away. `state` tells `sr status` as it changes.

What the connection is for (consuming, publishing) is a `Session`: the link tells it when a
connection is made and when it is gone, and the session tells the link when it works (`ready`).
Callers in other threads call paho's thread-safe methods (publish, ack) directly.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from paho.mqtt import client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sarra.broker.backoff import Backoff, Outage
from sarra.broker.connect import ConnectionSettings, tls_context
from sarra.broker.mqtt_errors import describe_failure, explain, needs_a_person
from sarra.broker.state import LinkState

_log = logging.getLogger(__name__)

PERSON_DELAY = 60.0
"""Seconds between attempts after a refusal that needs a person (bad credentials...)."""

FLAP_SECONDS = 5.0
FLAPS = 3
"""A connection lost within FLAP_SECONDS of being made, FLAPS times in a row, is flapping:
another client with the same client id takes the session over (Mosquitto closes the connection
it takes over without a reason code), or the broker drops the client for a cause of its own.
It needs a person, as a refusal does."""
FLAPPING = (
    "the connection drops right after it is made, again and again: is this instance running "
    "twice (also in the foreground, or on another host of the same name), or does the broker "
    "drop it (see its log)?"
)

PROTOCOLS = {"5": paho.MQTTv5, "3.1.1": paho.MQTTv311}
"""The mqtt_protocol option's values."""

NEVER_EXPIRES = 0xFFFFFFFF
"""MQTT 5's session expiry interval meaning never."""


class Session(Protocol):
    """What a link's connection is for; every method runs in paho's thread."""

    def connected(self, session_present: bool, properties: Properties) -> None:
        """A connection is made: set it up, then call the link's `ready()`."""

    def lost(self) -> None:
        """The connection is gone."""


class _Client(paho.Client):
    """paho's client, keeping why the last connection attempt failed (paho says only that it
    did)."""

    last_error: BaseException | None = None

    def reconnect(self) -> paho.MQTTErrorCode:
        try:
            return super().reconnect()
        except OSError as error:
            self.last_error = error
            raise


def new_client(
    settings: ConnectionSettings,
    client_id: str,
    *,
    protocol: str = "5",
    clean_start: bool = True,
    manual_ack: bool = False,
) -> _Client:
    """A paho client for a broker: its MQTT version, transport (tcp or websockets), TLS
    (tls_rigour) and credentials set; not connected."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"mqtt_protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    url = settings.url
    client = _Client(
        paho.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=None if protocol == "5" else clean_start,
        protocol=PROTOCOLS[protocol],
        transport="websockets" if url.websocket else "tcp",
        manual_ack=manual_ack,
    )
    if url.user:
        client.username_pw_set(url.user, url.password)
    if url.tls:
        client.tls_set_context(tls_context(settings.tls_rigour))
    if url.websocket:
        client.ws_set_options(path=url.path)
    client.suppress_exceptions = True  # a callback that fails must not end paho's thread
    return client


F = TypeVar("F", bound=Callable[..., None])


def guarded(callback: F) -> F:
    """A paho callback that logs its own failure (paho's thread goes on, the failure shows)."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            callback(*args, **kwargs)
        except Exception:
            _log.exception("unexpected error in %s", callback.__qualname__)

    return run  # type: ignore[return-value]


def connect_properties(
    protocol: str, *, clean_start: bool, expire: float = 0.0, receive_maximum: int | None = None
) -> Properties | None:
    """MQTT 5's CONNECT properties: the session expiry (none with a clean start; `expire`
    seconds, 0 = never, otherwise) and the receive maximum; None for MQTT 3.1.1."""
    if protocol != "5":
        return None
    properties = Properties(PacketTypes.CONNECT)
    if clean_start:
        properties.SessionExpiryInterval = 0
    else:
        properties.SessionExpiryInterval = round(expire) if expire > 0 else NEVER_EXPIRES
    if receive_maximum:
        properties.ReceiveMaximum = max(1, min(receive_maximum, 65535))
    return properties


def connect_arguments(
    settings: ConnectionSettings, v5: bool, clean_start: bool, properties: Properties | None
) -> dict[str, Any]:
    """The arguments of paho's connect() and connect_async()."""
    url = settings.url
    arguments: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "keepalive": max(5, round(settings.heartbeat)) if settings.heartbeat > 0 else 60,
    }
    if v5:
        arguments.update(clean_start=clean_start, properties=properties)
    return arguments


class MqttLink:
    """A paho client in its own thread, kept connected until `close()`.

    `client_id` names the session: with `clean_start` False, the broker keeps it (and the
    messages for it) `expire` seconds after a disconnection (0 = for ever) and resumes it on the
    next connection with the same id. `receive_maximum` bounds the messages the broker sends
    ahead of their acknowledgement (MQTT 5); `manual_ack` leaves every acknowledgement to the
    session.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        client_id: str,
        session: Session,
        *,
        protocol: str = "5",
        clean_start: bool = True,
        expire: float = 0.0,
        receive_maximum: int | None = None,
        manual_ack: bool = False,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.v5 = protocol == "5"
        self._session = session
        self._clean_start = clean_start
        client = new_client(
            settings, client_id, protocol=protocol, clean_start=clean_start, manual_ack=manual_ack
        )
        self._backoff = Backoff()
        first = self._backoff.next()
        client.reconnect_delay_set(first, first)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self.client = client
        self._properties = connect_properties(
            protocol, clean_start=clean_start, expire=expire, receive_maximum=receive_maximum
        )
        self.state = LinkState(str(settings.url))
        self._ready = threading.Event()
        self._closing = False
        # paho's thread only:
        self.generation = 0  # connections made so far
        self._connected = False
        self._was_ready = False
        self._outage = Outage()
        self._connected_at = 0.0
        self._flaps = 0

    # --- any thread

    def start(self) -> None:
        """Start paho's thread, which connects (and reconnects) by itself."""
        self.client.connect_async(
            **connect_arguments(self.settings, self.v5, self._clean_start, self._properties)
        )
        self.client.loop_start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the session works (again); False if `timeout` passed first."""
        return self._ready.wait(timeout)

    def close(self) -> None:
        """Disconnect (the broker keeps a persistent session) and end paho's thread."""
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()
        self._ready.clear()

    # --- paho's thread

    def ready(self) -> None:
        """The session says it works: log a recovery (once, with how long the broker was
        away), let waiters go."""
        url, name = self.settings.url, self.settings.name
        if self._flaps >= FLAPS:
            _log.debug("%s: %r connected again (flapping)", url, name)
        else:
            failures = self._outage.attempts
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
            self._backoff.reset()
        self._was_ready = True
        self._ready.set()
        self.state.connected(str(url))

    @guarded
    def _on_connect(
        self,
        _client: Any,
        _userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._failed(explain(reason), person=needs_a_person(reason))
            return
        self._connected = True
        self._connected_at = time.monotonic()
        self.generation += 1
        self._session.connected(
            flags.session_present, properties or Properties(PacketTypes.CONNACK)
        )

    @guarded
    def _on_disconnect(
        self,
        _client: Any,
        _userdata: Any,
        flags: paho.DisconnectFlags,
        reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._ready.clear()
        connected, self._connected = self._connected, False
        if not connected:
            return  # the end of an attempt refused and logged already
        self._session.lost()
        if self._closing:
            return
        if time.monotonic() - self._connected_at < FLAP_SECONDS:
            self._flaps += 1
        else:
            self._flaps = 0
        if self._flaps >= FLAPS:
            self._failed(FLAPPING, person=True)
        elif flags.is_disconnect_packet_from_server:
            self._failed(
                f"disconnected by the broker: {explain(reason)}", person=needs_a_person(reason)
            )
        elif reason.value == 0x8D:
            self._failed(explain(reason))
        else:
            self._failed("connection lost")

    @guarded
    def _on_connect_fail(self, client: Any, _userdata: Any) -> None:
        error = getattr(client, "last_error", None)
        self._failed(describe_failure(error) if error else "cannot connect")

    def _failed(self, reason: str, *, person: bool = False) -> None:
        """An attempt failed or the connection was lost: the state, the next delay (paho's
        next wait), a log line if the outage deserves one."""
        if self._closing:
            return
        url = self.settings.url
        self.state.failed(str(url), person, reason)
        delay = PERSON_DELAY if person else self._backoff.next()
        self.client.reconnect_delay_set(delay, delay)  # type: ignore[arg-type]
        logged = self._outage.failed(reason)
        attempts, away = self._outage.attempts, self._outage.away
        _log.log(
            (logging.ERROR if person else logging.WARNING) if logged else logging.DEBUG,
            "%s: %s (connection %r, client id %s); trying again in %.1f s%s",
            url,
            reason,
            self.settings.name,
            self.client_id,
            delay,
            f" (away {away:.0f} s, {attempts} failed attempts)" if attempts > 1 else "",
        )
