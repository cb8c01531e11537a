"""The broker actions of the command line over MQTT, meaning what they mean with AMQP:

- declare, setup: create each instance's session (connect with its client id, clean start off,
  the session expiry of `expire`) and subscribe it, so that the broker keeps what is published
  from then on, before the instances first start;
- cleanup, reset: remove each instance's session (connect with a clean start and a session
  expiry of 0), and with it every message kept for it.

MQTT has no exchanges to declare or delete: topics exist as they are published to. Each
action connects in the calling thread and returns one line per thing done; a refusal raises
BrokerError with the broker's reason and a hint.
"""

from __future__ import annotations

import time
from typing import Any

from paho.mqtt.client import MQTTErrorCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from sarra.broker.connect import ConnectionSettings
from sarra.broker.errors import BrokerError
from sarra.broker.mqtt_errors import describe_failure, explain
from sarra.broker.mqtt_link import connect_arguments, connect_properties, new_client
from sarra.broker.mqtt_topology import SessionSpec

TIMEOUT = 20.0
"""Seconds an action waits for the broker's answers."""


def declare_session(settings: ConnectionSettings, spec: SessionSpec, protocol: str) -> list[str]:
    """Create (or resume) a session and subscribe it; lines saying what was done."""
    answers = _Answers()
    client = new_client(settings, spec.client_id, protocol=protocol, clean_start=False)
    properties = connect_properties(protocol, clean_start=False, expire=spec.expire)
    _connect(client, settings, protocol, False, properties, answers)
    try:
        url = settings.url
        state = "resumed" if answers.session_present else "created"
        lines = [f"{url}: session {spec.client_id} {state} (expires {_expiry(spec.expire)})"]
        subscriptions = spec.subscriptions if spec.subscribe else ()
        if subscriptions:
            options = SubscribeOptions(qos=1) if protocol == "5" else 1
            client.subscribe([(name, options) for name in subscriptions])
            client.unsubscribe(list(spec.other_form))
            _wait(client, lambda: answers.subscribed is not None, "the subscriptions")
            assert answers.subscribed is not None
            for name, reason in zip(subscriptions, answers.subscribed, strict=False):
                if reason.is_failure:
                    raise BrokerError(f"{url}: cannot subscribe to {name}: {explain(reason)}")
                lines.append(f"{url}: session {spec.client_id} subscribed to {name}")
        return lines
    finally:
        _disconnect(client)


def remove_session(settings: ConnectionSettings, client_id: str, protocol: str) -> list[str]:
    """Remove a session (and the messages kept for it); a line saying so."""
    answers = _Answers()
    client = new_client(settings, client_id, protocol=protocol, clean_start=True)
    properties = connect_properties(protocol, clean_start=True)
    _connect(client, settings, protocol, True, properties, answers)
    _disconnect(client)
    return [f"{settings.url}: session {client_id} removed"]


class _Answers:
    session_present: bool | None = None
    refused: Any = None
    subscribed: list[Any] | None = None

    def on_connect(self, _c: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.refused = reason
        else:
            self.session_present = flags.session_present

    def on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: list[Any], _p: Any) -> None:
        self.subscribed = reasons


def _connect(
    client: Any,
    settings: ConnectionSettings,
    protocol: str,
    clean_start: bool,
    properties: Any,
    answers: _Answers,
) -> None:
    client.on_connect = answers.on_connect
    client.on_subscribe = answers.on_subscribe
    url = settings.url
    try:
        client.connect(**connect_arguments(settings, protocol == "5", clean_start, properties))
    except OSError as error:
        raise BrokerError(f"{url}: cannot connect: {describe_failure(error)}") from None
    try:
        _wait(client, lambda: answers.session_present is not None or answers.refused, "CONNACK")
    except BrokerError:
        _disconnect(client)
        raise
    if answers.refused is not None:
        _disconnect(client)
        raise BrokerError(f"{url}: connection refused: {explain(answers.refused)}")


def _wait(client: Any, done: Any, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            raise BrokerError(f"{client.host}: no answer from the broker ({what})")
        rc = client.loop(0.1)
        if rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN) and not done():
            raise BrokerError(f"{client.host}: connection lost waiting for {what}")


def _disconnect(client: Any) -> None:
    client.disconnect()
    for _ in range(20):  # let the DISCONNECT go out
        if client.loop(0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
            break


def _expiry(expire: float) -> str:
    return f"after {expire:.0f} s unused" if expire > 0 else "never"
