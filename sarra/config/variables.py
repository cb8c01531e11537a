"""`${NAME}` variables in option values.

Two kinds: those known when the config is read (HOSTNAME, CONFIG, PROGRAM, BROKER_USER, RANDID,
other options, the environment) and those known only per notice (dates, SOURCE, BD, PBD, sr3's
BUP and BUPL, the Sundew fields, the groups of the accept pattern). Options that keep
per-notice variables hold them as written until a notice is placed; everywhere else every
variable is expanded on read (but for those an option names in its `keeps`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

VARIABLE = re.compile(r"\$\{([^}]*)\}")

_DATE_FORMATS = {
    "YYYYMMDD": "%Y%m%d",
    "YYYY": "%Y",
    "MM": "%m",
    "DD": "%d",
    "HH": "%H",
    "JJJ": "%j",
}
_DATE = re.compile(r"^(YYYYMMDD|YYYY|MM|DD|HH|JJJ)(?:([-+])(\d+)([DHMdhm]))?$")
_OFFSET_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
_STRFTIME = re.compile(r"^(?:%o([-+])(\d+)([smhdw]))?(%.*)$")
"""sr3's dates: a strftime pattern, after an optional offset (`${%o-1h%Y%m%d_%H}`)."""
_STRFTIME_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

PER_NOTICE_NAMES = frozenset(
    {
        "SOURCE",
        "BD",
        "PBD",
        "BUP",
        "BUPL",
        "T1",
        "T2",
        "A1",
        "A2",
        "ii",
        "CCCC",
        "YY",
        "GG",
        "Gg",
        "BBB",
        "RYYYY",
        "RMM",
        "RDD",
        "RHH",
        "RMN",
        "RSS",
        "FILE",
        "STEM",
        "RELPATH",
        "WIS2_DIR",
    }
)
"""Variables whose value comes from the notice being placed (besides dates and group numbers)."""


class UnknownVariable(ValueError):
    """A `${NAME}` with no value."""


def date_value(name: str, now: datetime | None = None) -> str | None:
    """The value of a date variable such as YYYYMMDD or JJJ-1D, or sr3's %Y%m%d and
    %o-1h%Y%m%d%H (UTC); None if not a date one."""
    when = now or datetime.now(UTC)
    sr3 = _STRFTIME.match(name)
    if sr3:
        sign, amount, unit, pattern = sr3.groups()
        if sign:
            delta = timedelta(**{_STRFTIME_UNITS[unit]: int(amount)})
            when = when - delta if sign == "-" else when + delta
        return when.strftime(pattern)
    match = _DATE.match(name)
    if not match:
        return None
    base, sign, amount, unit = match.groups()
    if sign:
        delta = timedelta(**{_OFFSET_UNITS[unit.lower()]: int(amount)})
        when = when - delta if sign == "-" else when + delta
    return when.strftime(_DATE_FORMATS[base])


def is_per_notice(name: str) -> bool:
    """True for a variable whose value is known only when a notice is placed."""
    return (
        name in PER_NOTICE_NAMES
        or name.isdigit()
        or _DATE.match(name) is not None
        or _STRFTIME.match(name) is not None
    )


def expand(
    text: str,
    lookup: Callable[[str], str | None],
    *,
    keep_per_notice: bool = False,
    keep: frozenset[str] = frozenset(),
) -> str:
    """Replace every `${NAME}` in text by lookup(NAME).

    With keep_per_notice, per-notice variables are left as written for later expansion; the
    names in `keep` are left so in any case.
    A name that lookup does not know (and that is not kept) raises UnknownVariable.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if (keep_per_notice and is_per_notice(name)) or name in keep:
            return match.group(0)
        value = lookup(name)
        if value is None:
            value = date_value(name)
        if value is None:
            raise UnknownVariable(f"unknown variable ${{{name}}}")
        return value

    return VARIABLE.sub(replace, text)


def base_url_values(base_url: str) -> dict[str, str]:
    """sr3's variables of a received notice's base URL: BUP, its path, and BUPL, the last
    element of that path."""
    path = urlsplit(base_url).path
    return {"BUP": path, "BUPL": posixpath.basename(path)}


def notice_lookup(
    values: Mapping[str, str], now: datetime | None = None
) -> Callable[[str], str | None]:
    """A lookup for per-notice expansion: the given values, then the date variables."""

    def lookup(name: str) -> str | None:
        if name in values:
            return values[name]
        return date_value(name, now)

    return lookup
