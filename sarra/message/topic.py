"""Topics: path <-> topic mapping, escaping, binding keys and exchange splitting.

A topic is the topic prefix followed by the directories of the relative path, `/` becoming `.`.
Spaces and `#` are escaped as `%20` and `%23`, in topics and in the v02 body, as v2 does. So that
unescaping gives back every path exactly, a `%` that is followed by `20`, `23` or `25` in the
original is escaped as `%25`; other paths are written exactly as v2 writes them.
"""

from __future__ import annotations

import functools
import re

MAX_KEY_BYTES = 255
"""AMQP limit on a routing key (a short string), in bytes of UTF-8."""

WIS2_CHANNELS = ("origin", "cache")
"""The first level of a WIS2 topic (its hierarchy: sarra.message.wis2_topics)."""

_LITERAL_PERCENT = re.compile(r"%(?=20|23|25)")
_ESCAPED = re.compile(r"%(20|23|25)")
_UNESCAPED = {"20": " ", "23": "#", "25": "%"}
_PARTIAL_ESCAPE_AT_END = re.compile(r"%2?$")


def levels(topic: str) -> list[str]:
    """The levels of a topic, written with `/` or (AMQP form) with `.`."""
    return topic.split("/") if "/" in topic else topic.split(".")


def escape(text: str) -> str:
    """Escape ' ' as %20, '#' as %23 and a '%' that would read as an escape as %25."""
    if "%" in text:
        text = _LITERAL_PERCENT.sub("%25", text)
    return text.replace(" ", "%20").replace("#", "%23")


def unescape(text: str) -> str:
    """Reverse escape(): one left-to-right pass replacing %20, %23 and %25."""
    return _ESCAPED.sub(lambda match: _UNESCAPED[match[1]], text)


class RoutingKey(str):
    """A routing key; `truncated` tells whether it was cut to fit MAX_KEY_BYTES."""

    truncated: bool

    def __new__(cls, value: str, truncated: bool = False) -> RoutingKey:
        key = super().__new__(cls, value)
        key.truncated = truncated
        return key


def path_to_topic(rel_path: str, prefix: str) -> str:
    """`prefix` followed by the escaped directories of `rel_path` (not the file name).

    Leading and trailing `/` are stripped and empty words dropped; a `.` inside a directory
    name adds a topic level, as in v2. The result is not truncated (see routing_key).
    """
    return _directories_to_topic(_directories(rel_path), prefix)


def _directories(rel_path: str) -> str:
    """The directories of a relative path, without leading or trailing `/`."""
    return rel_path.strip("/").rpartition("/")[0]


def _directories_to_topic(directories: str, prefix: str) -> str:
    words = [word for name in directories.split("/") for word in escape(name).split(".") if word]
    return ".".join([prefix, *words]) if prefix else ".".join(words)


def fit_routing_key(topic: str) -> RoutingKey:
    """`topic` cut to at most MAX_KEY_BYTES of UTF-8, never inside a character or an escape."""
    data = topic.encode()
    if len(data) <= MAX_KEY_BYTES:
        return RoutingKey(topic)
    end = MAX_KEY_BYTES
    while data[end] & 0xC0 == 0x80:  # the first byte left out continues a character
        end -= 1
    cut = _PARTIAL_ESCAPE_AT_END.sub("", data[:end].decode())
    return RoutingKey(cut.rstrip("."), truncated=True)


def routing_key(rel_path: str, prefix: str) -> RoutingKey:
    """The routing key announcing `rel_path` under `prefix`, truncated if it must be."""
    return _directory_key(_directories(rel_path), prefix)


@functools.lru_cache(maxsize=1024)
def _directory_key(directories: str, prefix: str) -> RoutingKey:
    """The routing key of the files of a directory (files of a tree share a few)."""
    return fit_routing_key(_directories_to_topic(directories, prefix))


def report_prefix(prefix: str) -> str:
    """The topic prefix of reports: the last word `post` becomes `report` (`v02.post` ->
    `v02.report`); a prefix without it gets `.report` appended (`v03` -> `v03.report`)."""
    head, _, last = prefix.rpartition(".")
    if last == "post":
        return f"{head}.report" if head else "report"
    return f"{prefix}.report"


def subtopic_binding(prefix: str, subtopic: str) -> str:
    """The binding key for a `subtopic` option: `prefix.subtopic`, escaped like topics.

    A `#` standing alone as a word is the AMQP wildcard and kept; any other `#`, and spaces, are
    escaped, so that the key matches the escaped topics. `*` and `.` keep their AMQP meaning.
    """
    words = [word if word == "#" else escape(word) for word in subtopic.split(".")]
    return ".".join([prefix, *words]) if prefix else ".".join(words)


def topic_to_dirs(topic: str, prefix: str) -> str:
    """The directory path a topic stands for under `prefix` (`/`-separated, unescaped).

    A `.` that was inside a directory name reads back as `/`: topics do not tell them apart.
    ValueError if the topic does not start with the prefix.
    """
    if topic == prefix:
        return ""
    if not topic.startswith(prefix + "."):
        raise ValueError(f"topic {topic!r} does not start with {prefix!r}")
    return unescape(topic[len(prefix) + 1 :].replace(".", "/"))


def split_exchange(exchange: str, n: int, checksum: str) -> str:
    """The exchange for `post_exchange_split n`: `exchange` + `%02d` of the sum of the bytes of
    the checksum (the v02 `sum` header, or the v03 identity value) modulo n."""
    if n < 1:
        raise ValueError(f"exchange split must be at least 1, not {n}")
    return f"{exchange}{sum(checksum.encode()) % n:02d}"
