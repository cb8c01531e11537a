"""MQTT in AMQP's terms: topics from exchanges and routing keys, and the session that stands for
a queue. Pure, no I/O.

The exchange is the first level of an MQTT topic and the routing key's words the next ones
(`xpublic` + `v03.a.b` <-> `xpublic/v03/a/b`), as sr3 maps them. A `+` or `#` inside a word is
written `%2B` or `%23` (MQTT forbids them in the topic of a message; sarra's topics already
escape `#`). A `.` inside a level of a received topic becomes a word boundary of the routing key,
as a `.` in a directory name does in AMQP topics.

A topic prefix written with `/` names whole topics instead, with no exchange level: WIS2's
`origin/a/wis2/...`, whose notices have their `/` topic as routing key. Such a routing key is
published as it is, a subscription below such a prefix is the prefix's levels then the
subtopic's, and a message matching it keeps its whole topic as routing key (its exchange is its
first level, the WIS2 channel).

A queue is a persistent session: each instance connects with a client id of its own that stays
the same from run to run (`<queue>_<host>_iNN`), so the broker keeps what arrives while it is
away. Several instances (or a queue named by the `queue` option, which other hosts may use too)
share their subscriptions (`$share/<queue>/<filter>`): each message goes to one of them. A lone
instance subscribes plainly: Mosquitto (2.0) forgets the shared subscriptions of a session that
is offline when it restarts, and would drop what is published before the instance returns.
"""

from __future__ import annotations

from dataclasses import dataclass

SHARE = "$share"

_FORBIDDEN_IN_NAMES = frozenset("/+#")


@dataclass(frozen=True)
class SessionSpec:
    """The session of one instance: what it subscribes to and how long the broker keeps it.

    `group` is the queue name (the shared subscriptions' group); `filters` the topic filters
    subscribed to; `shared` whether they are shared among the group (`$share/<group>/...`);
    `expire` the session expiry in seconds (0 = kept forever); `subscribe` is bind_queue
    (False: the session's subscriptions are set up by someone else); `whole` the filters below
    a prefix of whole topics (see the module's docstring).
    """

    client_id: str
    group: str
    filters: tuple[str, ...]
    expire: float = 300.0
    subscribe: bool = True
    shared: bool = True
    whole: tuple[str, ...] = ()
    """The filters, among `filters`, below a prefix of whole topics."""

    def keeps_whole(self, name: str) -> bool:
        """Whether a received topic keeps its whole `/` form as routing key: it matches one of
        the `whole` filters (all of them, when every filter is one)."""
        if not self.whole:
            return False
        if len(self.whole) == len(self.filters):
            return True
        return any(matches(f, name) for f in self.whole)

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """The topic filters as subscribed: shared among the group, or not."""
        return self._form(self.shared)

    @property
    def other_form(self) -> tuple[str, ...]:
        """The same filters in the other form (shared or not), unsubscribed on connecting, so
        that a session that changed form does not get each message twice."""
        return self._form(not self.shared)

    def _form(self, share: bool) -> tuple[str, ...]:
        return tuple(shared(self.group, f) for f in self.filters) if share else self.filters


def _escape_level(word: str) -> str:
    return word.replace("+", "%2B").replace("#", "%23")


def topic(exchange: str, routing_key: str) -> str:
    """The MQTT topic a message is published to: the exchange, then the routing key's words;
    a routing key written with `/` is a whole topic, published as it is."""
    if "/" in routing_key:
        return "/".join(_escape_level(level) for level in routing_key.split("/"))
    words = routing_key.split(".") if routing_key else []
    levels = [exchange, *words] if exchange else words
    return "/".join(_escape_level(level) for level in levels)


def split_topic(name: str) -> tuple[str, str]:
    """(exchange, routing key) of a received topic: its first level, and the others joined
    by `.`."""
    exchange, _, rest = name.partition("/")
    return exchange, rest.replace("/", ".")


def topic_filter(exchange: str, key: str) -> str:
    """The MQTT topic filter of an AMQP binding (`*` -> `+`; `#` stays, last only).

    ValueError when the key cannot be written in MQTT (a `#` before its last word).
    """
    words = key.split(".") if key else []
    levels = [_escape_level(exchange)] if exchange else []
    for index, word in enumerate(words):
        if word == "#" and index != len(words) - 1:
            raise ValueError(f"{key!r}: over MQTT, # may only be the last word of a subtopic")
        levels.append(word if word == "#" else "+" if word == "*" else _escape_level(word))
    return "/".join(levels)


def is_whole(prefix: str) -> bool:
    """Whether a topic prefix names whole topics (written with `/`)."""
    return "/" in prefix


def whole_filter(prefix: str, subtopic: str) -> str:
    """The filter of a subtopic below a prefix of whole topics: the prefix's levels, then the
    subtopic's (written with `/` or `.`); `*` or `+` one level, `#` the rest, last only
    (ValueError otherwise)."""
    words = [w for w in prefix.split("/") if w]
    words += subtopic.split("/") if "/" in subtopic else subtopic.split(".")
    for index, word in enumerate(words):
        if word == "#" and index != len(words) - 1:
            raise ValueError(f"{subtopic!r}: over MQTT, # may only be the last word of a subtopic")
    return "/".join(w if w in ("#", "+") else "+" if w == "*" else _escape_level(w) for w in words)


def matches(topic_filter: str, name: str) -> bool:
    """Whether a topic matches a filter (`+` one level, `#` the rest; `$share/g/` ignored)."""
    if topic_filter.startswith(SHARE + "/"):
        topic_filter = topic_filter.split("/", 2)[2]
    wanted, levels = topic_filter.split("/"), name.split("/")
    for index, word in enumerate(wanted):
        if word == "#":
            return True
        if index >= len(levels) or (word != "+" and word != levels[index]):
            return False
    return len(wanted) == len(levels)


def shared(group: str, topic_filter: str) -> str:
    """The shared subscription of a group to a topic filter."""
    return f"{SHARE}/{group}/{topic_filter}"


def check_name(what: str, name: str) -> str:
    """`name` if it can be a shared subscription's group or a client id; ValueError if not."""
    bad = sorted(_FORBIDDEN_IN_NAMES.intersection(name))
    if not name or bad:
        raise ValueError(f"{what} {name!r} cannot be used over MQTT (no /, + or #)")
    return name


def client_id(queue: str, host: str, instance: int) -> str:
    """The client id of an instance: the same on every run, distinct per host and instance."""
    return f"{queue}_{host.split('.')[0]}_i{instance:02d}"
