"""The posttroll wire format, through posttroll's own Message class.

`pytroll://<subject> <type> <user>@<host> <ISO time> v1.01 application/json <data>`. We send
v1.01 (naive datetimes), which every posttroll release reads; we read any version up to that of
the installed posttroll. Data strings that look like ISO dates come back as datetimes, as
posttroll decodes them.
"""

from __future__ import annotations

from typing import Any

from posttroll.message import Message, MessageError

VERSION = "v1.01"
SERVER_BEAT = "/heartbeat/move_it_server"
MIRROR_BEAT = "/heartbeat/move_it_mirror"
BEAT_INTERVAL = 30.0
"""Seconds between heartbeats, announced as min_interval."""

REPLY_OK = ("file", "dataset", "collection")
"""Reply types of a successful push."""

__all__ = ["BadMessage", "Message", "MessageError", "decode", "encode", "make", "prefix"]


class BadMessage(ValueError):
    """Bytes that are not a posttroll message; the text says why in one line."""


def make(subject: str, atype: str, data: Any = "") -> Message:
    """A new message from us, now, in the version every receiver reads."""
    return Message(subject, atype, data, version=VERSION)


def encode(message: Message) -> bytes:
    return message.encode().encode("utf-8")


def decode(raw: bytes | str) -> Message:
    """A received message; BadMessage when it is not one."""
    try:
        return Message.decode(raw)
    except (MessageError, ValueError, IndexError) as err:
        text = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise BadMessage(text) from None


def prefix(topic: str) -> bytes:
    """The ZeroMQ subscription prefix of a topic (a raw byte-prefix match, as posttroll's)."""
    return ("pytroll:/" + topic).encode("utf-8")


def beat(publisher_name: str) -> Message:
    """The heartbeat a publisher sends every BEAT_INTERVAL seconds."""
    return make(f"/heartbeat/{publisher_name}", "beat", {"min_interval": BEAT_INTERVAL})


def uids(data: Any) -> list[str]:
    """The uids a file, dataset or collection message names."""
    if isinstance(data, dict):
        if "uid" in data:
            return [str(data["uid"])]
        for key in ("dataset", "collection"):
            if isinstance(data.get(key), list):
                return [uid for item in data[key] for uid in uids(item)]
    return []


def files(data: Any) -> list[dict[str, Any]]:
    """The dicts with a `uri` in a file, dataset or collection message."""
    if isinstance(data, dict):
        if "uri" in data:
            return [data]
        for key in ("dataset", "collection"):
            if isinstance(data.get(key), list):
                return [item for entry in data[key] for item in files(entry)]
    return []
