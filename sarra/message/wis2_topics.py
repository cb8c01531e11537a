"""WIS2 topics: the published WIS2 Topic Hierarchy (WTH), checks against it, and the mapping
between topics and our relative paths. Pure: the hierarchy is package data, read once.

A topic is `channel/version/system/centre-id/notification-type[/data-policy/discipline/...]`,
e.g. `origin/a/wis2/ca-eccc-msc/data/core/weather/surface-based-observations/synop`. Levels are
separated by `/` (MQTT); a topic written with `.` (the AMQP form, as our v02/v03 routing keys)
reads the same, since WIS2 level names never contain dots.

Topic <-> path: a notice received on a WIS2 topic gets the relative path `<topic without its
channel and version>/<file name>` (`wis2/ca-eccc-msc/data/core/weather/.../synop/X.bufr4`), so
the copies from `origin/` and `cache/` land at the same place. The other way, the topic of a
notice is its topic prefix followed by the directories of its relative path, as for v02/v03:
with `post_topic_prefix origin/a` that gives the topic back; a poster whose files sit at the
root of post_base_dir gives the whole topic as its prefix.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sarra.message.reason import Reason, error, warning
from sarra.message.topic import WIS2_CHANNELS as CHANNELS
from sarra.message.topic import levels

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

SYSTEM = "wis2"
FIXED_LEVELS = (
    "channel",
    "version",
    "system",
    "centre-id",
    "notification-type",
    "data-policy",
    "earth-system-discipline",
)
"""Names of levels 1 to 7 (set by WMO); level 8 and deeper are sub-discipline topics."""

SUB_DISCIPLINE_LEVEL = 8
EXPERIMENTAL = "experimental"
"""The sub-discipline under which topics not yet approved may be published, at any depth."""

DATA_COMMIT = "ee83c9a328ac937a80460317dd0c0bb945d089bd"
"""The wmo-im/wis2-topic-hierarchy commit the shipped CSV files come from."""

_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CENTRE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")
_ANY = "\0any"  # a level that accepts every well-formed name (centre-id, below experimental)


def is_wis2(topic: str | None) -> bool:
    """Whether a topic is in the WIS2 hierarchy (`origin|cache/<version>/wis2/...`)."""
    if not topic:
        return False
    words = levels(topic)
    return len(words) >= 3 and words[0] in CHANNELS and words[2] == SYSTEM


@functools.lru_cache(maxsize=4096)
def rel_dir(topic: str) -> str | None:
    """The directory a WIS2 topic stands for: the topic without its channel and version
    (`wis2/ca-eccc-msc/data/core/...`); None when the topic is not a WIS2 one, or has a level
    that cannot be a directory name (empty, `.`, `..`, a NUL)."""
    if not is_wis2(topic):
        return None
    words = levels(topic)[2:]
    if any(w in ("", ".", "..") or "\0" in w for w in words):
        return None
    return "/".join(words)


def topic_for(rel_path: str, prefix: str) -> str:
    """The topic of a relative path: `prefix` followed by the path's directories (not the
    file name), `/`-separated. Empty names are dropped; nothing is escaped or checked."""
    directories = rel_path.strip("/").rpartition("/")[0]
    words = [w for w in levels(prefix) if w] + [w for w in directories.split("/") if w]
    return "/".join(words)


def subscription(prefix: str, subtopic: str) -> str:
    """The MQTT topic filter of a `subtopic` line below `prefix`: levels joined with `/`, the
    AMQP one-level wildcard `*` written `+` (`#` is the same in both)."""
    words = [w for w in levels(prefix) if w] + levels(subtopic)
    return "/".join("+" if w == "*" else w for w in words)


@dataclass
class Node:
    """A topic of level 7 or deeper and the topics below it."""

    status: str = ""
    children: dict[str, Node] = field(default_factory=dict)
    open: bool = False  # below `experimental`: any well-formed name

    def child(self, name: str) -> Node | None:
        found = self.children.get(name)
        if found is None and self.open:
            return Node(open=True)
        return found


class Hierarchy:
    """The WIS2 topic hierarchy read from its CSV files."""

    def __init__(
        self, fixed: dict[str, dict[str, str]], centres: dict[str, str], disciplines: Node
    ) -> None:
        self.fixed = fixed  # level name -> {value: status} for levels 1-3, 5, 6
        self.centres = centres
        self.disciplines = disciplines  # children: the level-7 disciplines

    @classmethod
    def load(cls, root: Traversable) -> Hierarchy:
        """Read the CSV files of a `wis2-topic-hierarchy` directory (as shipped)."""
        tables = root / "topic-hierarchy"
        fixed = {
            name: _names(tables / f"{name}.csv")
            for name in ("channel", "version", "system", "notification-type", "data-policy")
        }
        centres = _names(tables / "centre-id.csv")
        top = tables / "earth-system-discipline"
        disciplines = Node(children={n: Node(s) for n, s in _names(top / "index.csv").items()})
        for name, node in disciplines.children.items():
            _read_tree(top / name, node)
            node.children.setdefault(EXPERIMENTAL, Node("Operational"))
        _open_experimental(disciplines)
        return cls(fixed, centres, disciplines)

    def check(self, topic: str) -> list[Reason]:
        """What is wrong with a topic to publish on (no wildcards): errors when it breaks the
        WTH, warnings for a centre-id not in the shipped list or a retired topic."""
        words = levels(topic)
        reasons = [r for i, w in enumerate(words) if (r := _convention(i, w)) is not None]
        if reasons:
            return reasons
        if len(words) < 5:
            return [
                _error(
                    f"topic {topic!r} has {len(words)} levels: a WIS2 topic has at least"
                    " channel/version/system/centre-id/notification-type"
                )
            ]
        for i in (0, 1, 2, 4):
            if words[i] not in self.fixed[_fixed_table(i)]:
                return [self._not_one_of(i, words[i])]
        reasons += self._check_centre(words[3])
        if words[4] == "metadata":
            if len(words) > 5:
                reasons.append(
                    _error(
                        "metadata is published at exactly the level "
                        f"'metadata', not below it: {topic!r}"
                    )
                )
            return reasons
        if len(words) > 5 and words[5] not in self.fixed["data-policy"]:
            return [*reasons, self._not_one_of(5, words[5])]
        if len(words) < SUB_DISCIPLINE_LEVEL:
            reasons.append(
                _error(
                    f"data is published at level {SUB_DISCIPLINE_LEVEL} "
                    f"(sub-discipline) or deeper: {topic!r}"
                )
            )
        node = self.disciplines
        for depth in range(6, len(words)):
            found = node.child(words[depth])
            if found is None:
                reasons.append(
                    _error(
                        f"topic level {depth + 1} {words[depth]!r} is not in the "
                        f"WIS2 topic hierarchy {_under(words[6:depth])} "
                        f"(known: {_some(node.children)})"
                    )
                )
                return reasons
            if found.status == "Retired":
                reasons.append(warning("topic-retired", f"topic {topic!r} is retired"))
            node = found
        return reasons

    def check_filter(self, topic_filter: str) -> list[Reason]:
        """A warning when a subscription (with MQTT `+` and `#` wildcards) can match no topic
        of the WTH; nothing when some topic may match."""
        words = levels(topic_filter)
        if "#" in words[:-1] or any(("+" in w or "#" in w) and len(w) > 1 for w in words):
            return [
                _error(
                    f"subscription {topic_filter!r}: '#' may only be the last level and "
                    "wildcards must stand alone"
                )
            ]
        if self._can_match(words, ()):
            return []
        return [
            warning(
                "subscription-empty",
                f"subscription {topic_filter!r} matches no topic of the WIS2 topic hierarchy",
            )
        ]

    def _not_one_of(self, index: int, word: str) -> Reason:
        known = ", ".join(self.fixed[_fixed_table(index)])
        return _error(
            f"topic level {index + 1} ({FIXED_LEVELS[index]}) {word!r} is not one of {known}"
        )

    def _check_centre(self, centre: str) -> list[Reason]:
        if not _CENTRE.fullmatch(centre):
            return [_error(f"centre-id {centre!r} is not tld-centre-name")]
        status = self.centres.get(centre)
        if status is None:
            return [
                warning(
                    "centre-unknown",
                    f"centre-id {centre!r} is not in the WIS2 topic "
                    f"hierarchy shipped (commit {DATA_COMMIT[:7]})",
                )
            ]
        if status == "Retired":
            return [warning("centre-retired", f"centre-id {centre!r} is retired")]
        return []

    def _choices(self, path: tuple[str, ...]) -> Iterable[str]:
        depth = len(path)
        if depth == 3:
            return (_ANY,)
        if depth < 6 and depth != 5:
            return self.fixed[_fixed_table(depth)]
        if depth == 5:
            return () if path[4] == "metadata" else self.fixed["data-policy"]
        node = self._node(path[6:])
        if node is None:
            return ()
        return (_ANY,) if node.open else node.children

    def _node(self, names: tuple[str, ...]) -> Node | None:
        node: Node | None = self.disciplines
        for name in names:
            node = node.child(name) if node is not None else None
        return node

    def _complete(self, path: tuple[str, ...]) -> bool:
        if len(path) < 5:
            return False
        return len(path) == 5 if path[4] == "metadata" else len(path) >= SUB_DISCIPLINE_LEVEL

    def _can_match(self, words: list[str], path: tuple[str, ...]) -> bool:
        if not words:
            return self._complete(path)
        word, rest = words[0], words[1:]
        if word == "#":
            return self._complete(path) or bool(self._choices(path))
        return any(
            self._can_match(rest, (*path, word if choice == _ANY else choice))
            for choice in self._choices(path)
            if word in ("+", choice) or (choice == _ANY and _NAME.fullmatch(word))
        )


def _error(text: str) -> Reason:
    return error("topic", text)


def _under(names: list[str]) -> str:
    return f"under {'/'.join(names)}" if names else "as a discipline"


def _some(names: Iterable[str], most: int = 12) -> str:
    ordered = sorted(names)
    return ", ".join(ordered[:most]) + (", ..." if len(ordered) > most else "")


def _fixed_table(index: int) -> str:
    return {0: "channel", 1: "version", 2: "system", 4: "notification-type", 5: "data-policy"}[
        index
    ]


def _convention(index: int, word: str) -> Reason | None:
    if not word:
        return _error(f"topic level {index + 1} is empty")
    if not _NAME.fullmatch(word):
        return _error(
            f"topic level {index + 1} {word!r}: WIS2 topic levels are lowercase ASCII "
            "letters and digits, words joined by '-', no dots or wildcards"
        )
    return None


def _names(table: Traversable) -> dict[str, str]:
    """{name: status} of a CSV table whose first column is Name and last is Status."""
    import csv  # the tables are read once, when a topic is first checked

    rows = list(csv.reader(io.StringIO(table.read_text(encoding="utf-8"), newline="")))
    return {row[0]: row[-1] for row in rows[1:] if row}


def _read_tree(directory: Traversable, node: Node) -> None:
    """Add the topics below a directory of the hierarchy (index.csv: one level; index-flat.csv:
    satellite/instrument pairs) and of its sub-directories."""
    import csv

    if not directory.is_dir():
        return
    entries = {entry.name: entry for entry in directory.iterdir()}
    if "index.csv" in entries:
        for name, status in _names(entries["index.csv"]).items():
            node.children.setdefault(name, Node(status))
    if "index-flat.csv" in entries:
        text = entries["index-flat.csv"].read_text(encoding="utf-8")
        for row in list(csv.reader(io.StringIO(text, newline="")))[1:]:
            if len(row) >= 2:
                group = node.children.setdefault(row[0], Node(row[-1]))
                group.children.setdefault(row[1], Node(row[-1]))
    for name, entry in entries.items():
        if entry.is_dir():
            _read_tree(entry, node.children.setdefault(name, Node()))


def _open_experimental(node: Node) -> None:
    for name, child in node.children.items():
        if name == EXPERIMENTAL:
            child.open = True
        else:
            _open_experimental(child)


@functools.cache
def hierarchy() -> Hierarchy:
    """The WIS2 topic hierarchy shipped with sarra (read on first use)."""
    from importlib import resources

    root = resources.files("sarra.message") / "data" / "wis2-topic-hierarchy"
    return Hierarchy.load(root)


def check(topic: str) -> list[Reason]:
    """What is wrong with a topic to publish on, by the shipped hierarchy."""
    return list(_checked(topic))


@functools.lru_cache(maxsize=4096)
def received_on(topic: str) -> tuple[Reason, ...]:
    """What is wrong with a topic a message came on: nothing when it is not a WIS2 one, what
    `check` says otherwise (kept: a subscriber sees the same topics again and again)."""
    return _checked(topic) if is_wis2(topic) else ()


@functools.lru_cache(maxsize=4096)
def _checked(topic: str) -> tuple[Reason, ...]:
    """The reasons of a topic, kept: a subscriber sees the same topics again and again."""
    return tuple(hierarchy().check(topic))


def check_filter(topic_filter: str) -> list[Reason]:
    """A warning when a subscription filter can match no topic of the shipped hierarchy."""
    return hierarchy().check_filter(topic_filter)
