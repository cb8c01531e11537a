"""Whether a notice's routing key falls under one of a config's topic prefixes: AMQP prefixes
followed by `.` and more words, or MQTT ones (whole topics, written with `/`) followed by more
levels; asked of every notice received, so most keys are answered by one `startswith`."""

from __future__ import annotations

from collections.abc import Iterable

from sarra.broker.mqtt_topology import SHARE, is_whole, matches


class TopicPrefixes:
    """A config's topic prefixes, as given, and what a routing key under them starts with."""

    __slots__ = ("_filters", "_starts", "names")

    def __init__(self, prefixes: Iterable[str]) -> None:
        self.names = tuple(prefixes)
        starts, filters = [], []
        for prefix in self.names:
            if not is_whole(prefix):
                starts.append(prefix + ".")
            elif "+" in prefix or "#" in prefix or prefix.startswith(SHARE) or prefix[-1] == "/":
                filters.append(prefix + "/#")  # wildcards: matched level by level
            else:
                starts.append(prefix + "/")
        self._starts = tuple(starts)
        self._filters = tuple(filters)

    def match(self, routing_key: str) -> bool:
        """Whether `routing_key` is a prefix, or falls under one."""
        return (
            routing_key.startswith(self._starts)
            or routing_key in self.names
            or any(matches(f, routing_key) for f in self._filters)
        )
