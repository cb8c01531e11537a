"""MQTT reason codes and connection failures as one line for people, with what to do.

paho gives MQTT 3.1.1 answers the MQTT 5 reason codes too, so one table serves both versions.
A failure that retrying cannot cure (bad credentials, a refused user or client id, a protocol the
broker does not speak) `needs_a_person`: it is logged once, at error, and retried slowly.
"""

from __future__ import annotations

import ssl

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from sarra.config.credentials import redact_text

NEEDS_A_PERSON = frozenset({0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C, 0x8E})
"""Unsupported protocol version, client id not valid, bad user name or password, not
authorised, banned, bad authentication method, session taken over."""

_HINTS: dict[int, str] = {
    0x84: "the broker does not speak this MQTT version (set mqtt_protocol 3.1.1?)",
    0x85: "the broker refuses the client id (too long, or characters it does not take)",
    0x86: "wrong user or password (check the URL or credentials.conf)",
    0x87: "the broker user lacks this permission; ask the broker's administrator",
    -0x87: "wrong user or password, or a user that may not connect (check the URL or "
    "credentials.conf)",
    0x8A: "the broker has banned this client",
    0x8B: "the broker is shutting down",
    0x8D: "no answer from the broker within the keepalive: the connection is dead",
    0x8E: (
        "another client connected with the same client id: is this instance running twice "
        "(also in the foreground, or on another host of the same name)?"
    ),
    0x8F: "the broker refuses this topic filter",
    0x90: "the broker refuses this topic name",
    0x93: "more messages were unacknowledged than the broker allows (receive maximum)",
    0x97: "the broker's quota for this client is exceeded",
    0x9E: "the broker does not support shared subscriptions ($share/...)",
    0xA2: "the broker does not support wildcards in subscriptions",
}


def code(reason: ReasonCode | int) -> int:
    """The numeric value of a reason code."""
    return reason if isinstance(reason, int) else reason.value


def needs_a_person(reason: ReasonCode | int) -> bool:
    """Whether retrying cannot cure this refusal."""
    return code(reason) in NEEDS_A_PERSON


def explain(reason: ReasonCode | int) -> str:
    """`(0x86) Bad user name or password; wrong user or password ...`."""
    value = code(reason)
    name = reason.getName() if isinstance(reason, ReasonCode) else "refused"
    connack = isinstance(reason, ReasonCode) and reason.packetType == PacketTypes.CONNACK
    hint = _HINTS.get(-value if connack and value == 0x87 else value, "")
    text = f"({value:#04x}) {name}"
    return redact_text(f"{text}; {hint}" if hint else text)


def describe_failure(error: BaseException) -> str:
    """A one-line reason for a connection that could not be made (socket, TLS, websocket)."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return redact_text(
            f"certificate not trusted: {error.verify_message or error.reason}"
            " (tls_rigour lax skips the check, for tests only)"
        )
    if isinstance(error, ssl.SSLError):
        return redact_text(f"TLS failed: {error.reason or error}")
    if isinstance(error, OSError) and error.strerror:
        return redact_text(error.strerror)
    text = str(error) or type(error).__name__
    return redact_text(" ".join(text.split()))
