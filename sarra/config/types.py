"""Value parsers for the kinds of option: each turns config text into a typed value or raises
ValueError with a reason an operator can act on."""

from __future__ import annotations

import ipaddress
import logging
import re
from datetime import UTC, datetime

TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0", "none"})

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_NUMBER_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_bool(text: str) -> bool:
    """true/yes/on/1 or false/no/off/0/none, in any case."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} is not a boolean (use true/false, yes/no, on/off or 1/0)")


def is_bool_word(text: str) -> bool:
    """True when the text is one of the boolean words."""
    return text.strip().lower() in TRUE_WORDS | FALSE_WORDS


def _number_and_unit(text: str, units: dict[str, int], what: str, unit_help: str) -> float:
    match = _NUMBER_UNIT.match(text)
    if not match:
        raise ValueError(f"{text!r} is not {what} (a number with an optional unit {unit_help})")
    number, unit = match.groups()
    unit = unit.lower()
    if unit and unit not in units:
        raise ValueError(f"{text!r}: unknown unit {unit!r} (use {unit_help})")
    return float(number) * units.get(unit, 1)


def parse_duration(text: str) -> float:
    """A duration in seconds: a number with an optional unit s, m, h, d or w (bare = seconds)."""
    return _number_and_unit(text, _DURATION_UNITS, "a duration", "s, m, h, d or w")


def parse_size(text: str) -> int:
    """A size in bytes: a number with an optional unit b, k, m, g or t (powers of 2)."""
    return int(_number_and_unit(text, _SIZE_UNITS, "a size", "b, k, m, g or t"))


def parse_count(text: str) -> int:
    """A whole number, zero or more."""
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{text!r} must not be negative")
    return value


def parse_float(text: str) -> float:
    """A decimal number."""
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def parse_octal(text: str) -> int:
    """A permission mode written in octal, e.g. 644 or 0o644."""
    word = text.strip().lower().removeprefix("0o")
    if not word or any(c not in "01234567" for c in word):
        raise ValueError(f"{text!r} is not an octal mode (e.g. 644)")
    return int(word, 8)


def parse_list(text: str) -> list[str]:
    """A comma-separated list; blanks around items are dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4 or IPv6 address."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


def format_duration(seconds: float) -> str:
    """The shortest exact way to write a duration in config syntax."""
    for unit in ("w", "d", "h", "m"):
        size = _DURATION_UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def format_size(size: int) -> str:
    """The shortest exact way to write a size in config syntax."""
    for unit in ("t", "g", "m", "k"):
        step = _SIZE_UNITS[unit]
        if size >= step and size % step == 0:
            return f"{size // step}{unit}"
    return f"{size}"


def split_hosts(url: str) -> list[str]:
    """One URL per host of a URL listing several (`amqp://user@h1:5701,h2,h3/vhost`, the
    nodes of a cluster), each with the scheme, user and path of the list; `[url]` itself when
    it names one host or none. An empty host in the list is a ValueError."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return [url]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hosts = netloc.rpartition("@")
    if "," not in hosts:
        return [url]
    names = [name.strip() for name in hosts.split(",")]
    if not all(names):
        raise ValueError("an empty host in the list of hosts")
    return [f"{scheme}://{userinfo}{at}{name}{tail}" for name in names]


BBox = tuple[float, float, float, float]


def parse_bbox(text: str) -> BBox:
    """A bounding box `west,south,east,north` in degrees of longitude and latitude (WGS84, as
    GeoJSON); west greater than east crosses the antimeridian. ValueError otherwise."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise ValueError(f"{text!r} is not west,south,east,north")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{text!r}: west,south,east,north must be numbers") from None
    if not all(-180 <= x <= 180 for x in (west, east)) or not all(
        -90 <= y <= 90 for y in (south, north)
    ):
        raise ValueError(f"{text!r}: longitudes go from -180 to 180, latitudes from -90 to 90")
    if south > north:
        raise ValueError(f"{text!r}: south is above north")
    return west, south, east, north


TimeBound = tuple[str, float] | None
"""One end of a time window: ("at", epoch seconds), ("ago", seconds before now), or None
(open)."""


def parse_time_window(text: str) -> tuple[TimeBound, TimeBound]:
    """A time window `start/end`: each end an RFC 3339 date-time (`2024-05-01T00:00:00Z`), a
    duration before now (`6h`), or `..` (open); ValueError otherwise."""
    start, slash, end = text.strip().partition("/")
    if not slash:
        raise ValueError(f"{text!r} is not start/end (each a date-time, a duration ago, or ..)")
    bounds = (_time_bound(start.strip()), _time_bound(end.strip()))
    first, last = bounds
    both_fixed = first is not None and last is not None and first[0] == last[0] == "at"
    if both_fixed and first[1] > last[1]:  # type: ignore[index]
        raise ValueError(f"{text!r}: the window ends before it starts")
    return bounds


def _time_bound(text: str) -> TimeBound:
    if text in ("..", ""):
        return None
    if text[:1].isdigit() and ("T" in text or "t" in text or "-" in text):
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValueError(f"{text!r} is not an RFC 3339 date-time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return "at", moment.timestamp()
    return "ago", parse_duration(text)


LOG_FORMAT = "%(asctime)s [%(levelname)s] %(message)s"
"""The format of log lines unless log_format (sr3's logFormat) says otherwise."""

LOG_FORMAT_START = "%(asctime)s [%(levelname)s] "
"""How every log line starts: sr status, sanity and the dashboard read the time and level there."""

_LOG_FIELD = re.compile(r"%\((\w*)\)")
_SAMPLE_RECORD = {
    "msg": "m", "funcName": "f", "lineno": 1, "pathname": "p.py", "filename": "p.py",
    "module": "p", "thread": 1, "threadName": "t", "process": 1, "processName": "p",
}  # fmt: skip
"""A record with every field set, whatever this process's logging leaves out."""


def check_log_format(text: str) -> str:
    """A log line format in Python logging's % style (`%(funcName)s`, `%(thread)d`...): it
    starts with LOG_FORMAT_START, writes the message, and formats a record."""
    if not text.startswith(LOG_FORMAT_START):
        raise ValueError(f"{text!r} must start with {LOG_FORMAT_START!r} (sr status reads them)")
    if "%(message)s" not in text:
        raise ValueError(f"{text!r} does not write %(message)s")
    record = logging.makeLogRecord(_SAMPLE_RECORD)
    known = vars(record).keys() | {"message", "asctime"}
    unknown = [name for name in _LOG_FIELD.findall(text) if name not in known]
    if unknown:
        raise ValueError(f"{text!r}: no log record field {unknown[0]!r} (see Python's LogRecord)")
    try:
        logging.Formatter(text, style="%", validate=True).format(record)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{text!r}: not a % style logging format ({err})") from None
    return text
