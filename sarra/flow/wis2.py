"""WIS2 in the flow: which notices are WIS2 notification messages, their keys in the duplicate
cache, the selection options, the pubtime that orders versions of a file, and the Global Cache
role. The codec itself is sarra.message.wnm; this module holds what the loop, the downloader
and the publisher decide about WIS2 notices.

A WIS2 notice is one that carries a message `id` and a `data_id` (read from a WNM, or carried
through v03 by a relay). Such a notice is claimed in the duplicate cache twice: by its `id` (the
same message from another Global Broker) and by `data_id` with `pubtime` (the same data from
another channel, origin or cache, under another `id`). Its file on disk gets its `pubtime` as
mtime, which is how a later message is known to be newer (an update) or older (dropped).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace

from sarra.config import types
from sarra.config.loader import Config
from sarra.message import wis2_topics
from sarra.message.notice import Notice, time_to_epoch
from sarra.message.wnm_validate import parse_rfc3339

_CACHE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "http://wis.wmo.int/spec/wnm/1/global-cache")

Box = tuple[float, float, float, float]


def is_wis2(notice: Notice) -> bool:
    """Whether a notice is a WIS2 notification message (it has an `id` and a `data_id`)."""
    extra = notice.extra
    return isinstance(extra.get("id"), str) and isinstance(extra.get("data_id"), str)


def pubtime(notice: Notice) -> float | None:
    """The notice's pubtime in seconds since the epoch; None if it cannot be read."""
    try:
        return time_to_epoch(notice.pubtime)
    except (ValueError, TypeError):
        return None


def duplicate_keys(notice: Notice) -> list[tuple[str, str]]:
    """The (key, path) pairs a WIS2 notice is claimed under in the duplicate cache: its message
    id, then its data_id with its pubtime and link relation."""
    extra = notice.extra
    relation = "deletion" if notice.file_op and "remove" in notice.file_op else "data"
    return [
        (f"wis2 id {extra['id']}", "wis2"),
        (f"wis2 {relation} {notice.pubtime}", str(extra["data_id"])),
    ]


def centre_id(notice: Notice) -> str | None:
    """The centre-id of a WIS2 notice: its topic's fourth level, else the second name of its
    data_id when that starts with `wis2/`."""
    if wis2_topics.is_wis2(notice.topic):
        return wis2_topics.levels(notice.topic or "")[3]
    data_id = notice.extra.get("data_id")
    if isinstance(data_id, str):
        words = data_id.split("/")
        if len(words) > 1 and words[0] == wis2_topics.SYSTEM:
            return words[1]
    return None


class Selection:
    """The WIS2 selection options of a config; `refuses` says why a notice is not taken."""

    def __init__(self, config: Config) -> None:
        self.centres = frozenset(config.wis2_centre_id)
        self.data_ids = [re.compile(p) for p in config.wis2_data_id]
        self.metadata_ids = [re.compile(p) for p in config.wis2_metadata_id]
        self.boxes = _split_box(types.parse_bbox(config.wis2_bbox)) if config.wis2_bbox else []
        self.window = (
            types.parse_time_window(config.wis2_time_window) if config.wis2_time_window else None
        )
        self.active = bool(
            self.centres or self.data_ids or self.metadata_ids or self.boxes or self.window
        )

    def refuses(self, notice: Notice, now: float | None = None) -> str | None:
        """Why a WIS2 notice is not taken, or None when it is (any other notice is taken)."""
        if not self.active or not is_wis2(notice):
            return None
        extra = notice.extra
        if self.centres:
            centre = centre_id(notice)
            if centre not in self.centres:
                return f"centre-id {centre or 'unknown'} is not in wis2_centre_id"
        if self.data_ids and not _any_match(self.data_ids, extra.get("data_id")):
            return "data_id matches no wis2_data_id"
        if self.metadata_ids and not _any_match(self.metadata_ids, extra.get("metadata_id")):
            return "metadata_id matches no wis2_metadata_id"
        if self.boxes and not geometry_meets(extra.get("geometry"), self.boxes):
            return "geometry outside wis2_bbox"
        if self.window is not None and not self._in_window(notice, now):
            return "datetime outside wis2_time_window"
        return None

    def _in_window(self, notice: Notice, now: float | None) -> bool:
        span = data_time(notice)
        if span is None:
            return True
        now = time.time() if now is None else now
        start, end = (_bound(b, now) for b in self.window or (None, None))
        first, last = span
        return (start is None or last >= start) and (end is None or first <= end)


def _any_match(patterns: Sequence[re.Pattern[str]], value: object) -> bool:
    return isinstance(value, str) and any(p.match(value) for p in patterns)


def _bound(bound: types.TimeBound, now: float) -> float | None:
    if bound is None:
        return None
    kind, value = bound
    return value if kind == "at" else now - value


def data_time(notice: Notice) -> tuple[float, float] | None:
    """The time (an instant, or start and end) of the data a WIS2 notice announces; None when
    the message says none (datetime null) or it cannot be read."""
    extra = notice.extra
    if "start_datetime" in extra or "end_datetime" in extra:
        start, end = _epoch(extra.get("start_datetime")), _epoch(extra.get("end_datetime"))
        return None if start is None or end is None else (min(start, end), max(start, end))
    moment = _epoch(extra.get("datetime"))
    return None if moment is None else (moment, moment)


def _epoch(value: object) -> float | None:
    parsed = parse_rfc3339(value) if isinstance(value, str) else None
    if parsed is None:
        return None
    return parsed.moment.timestamp() + float(f"0.{parsed.fraction or 0}")


# --- the bounding box


def _split_box(box: Box) -> list[Box]:
    """A box as one or two boxes that do not cross the antimeridian."""
    west, south, east, north = box
    if west <= east:
        return [box]
    return [(west, south, 180.0, north), (-180.0, south, east, north)]


def geometry_meets(geometry: object, boxes: Sequence[Box]) -> bool:
    """Whether a GeoJSON geometry (a Point or a Polygon, its holes ignored) meets one of the
    boxes; a message without a usable geometry meets every box (it may be anywhere)."""
    if not isinstance(geometry, dict):
        return True
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    try:
        if kind == "Point":
            point = _point(coordinates)
            return any(_inside(point, box) for box in boxes)
        if kind == "Polygon":
            ring = [_point(p) for p in coordinates[0]]  # type: ignore[index]
            return bool(ring) and any(_ring_meets(ring, box) for box in boxes)
    except (TypeError, ValueError, IndexError, KeyError):
        pass
    return True


def _point(value: object) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise ValueError("not a position")
    x, y = value[0], value[1]
    if isinstance(x, bool) or isinstance(y, bool):
        raise ValueError("not a position")
    return float(x), float(y)


def _inside(point: tuple[float, float], box: Box) -> bool:
    x, y = point
    west, south, east, north = box
    return west <= x <= east and south <= y <= north


def _ring_meets(ring: list[tuple[float, float]], box: Box) -> bool:
    """Whether a polygon's outer ring meets a box: a vertex inside the box, a corner of the box
    inside the ring, or an edge of each crossing."""
    if any(_inside(p, box) for p in ring):
        return True
    west, south, east, north = box
    corners = [(west, south), (east, south), (east, north), (west, north)]
    if any(_in_ring(c, ring) for c in corners):
        return True
    edges = list(zip(corners, corners[1:] + corners[:1], strict=True))
    return any(
        _cross(a, b, c, d) for a, b in zip(ring, ring[1:] + ring[:1], strict=True) for c, d in edges
    )


def _in_ring(point: tuple[float, float], ring: list[tuple[float, float]]) -> bool:
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _cross(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]
) -> bool:
    def side(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    return side(a, b, c) * side(a, b, d) <= 0 and side(c, d, a) * side(c, d, b) <= 0


# --- the Global Cache role


def is_recommended(notice: Notice) -> bool:
    """Whether a WIS2 notice is of recommended data (which a Global Cache does not cache)."""
    words = wis2_topics.levels(notice.topic or "") if wis2_topics.is_wis2(notice.topic) else []
    return len(words) > 5 and words[4] == "data" and words[5] == "recommended"


def cached(notice: Notice) -> bool:
    """Whether a Global Cache keeps a copy of the data (the message's `cache`, default true)."""
    return notice.extra.get("cache") is not False


def cache_id(notice: Notice, centre: str) -> str:
    """The new `id` a Global Cache gives a message: the same for the same message and cache
    (a message republished twice is one message for the Global Brokers' loop check), another
    for another cache."""
    return str(uuid.uuid5(_CACHE_NAMESPACE, f"{centre}\n{notice.extra.get('id')}"))


def republished(notice: Notice, centre: str, copy: bool) -> Notice:
    """A notice as a Global Cache republishes it: a new `id`; with `copy` (it announces the
    cache's own copy), `global-cache` set to the cache's centre-id. pubtime and every other
    property stay as they were."""
    extra = {**notice.extra, "id": cache_id(notice, centre)}
    if copy:
        extra["global-cache"] = centre
    return replace(notice, extra=extra)


def cache_topic(topic: str | None) -> str | None:
    """A WIS2 topic on the cache channel (`cache/a/wis2/...`); None for another topic."""
    if not wis2_topics.is_wis2(topic):
        return None
    words = wis2_topics.levels(topic or "")
    return "/".join(["cache", *words[1:]])
