"""The helpers sr3 flow callbacks import from `sarracenia` (time strings, durations, sizes, file
metadata), under sr3's names, for the `sarracenia` shim (sarra.compat.sr3.shim).

sr3 writes times as `YYYYMMDDTHHMMSS.fff` (UTC); a v02 time (without the `T`) reads too.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import ParseResult, urlparse

import platformdirs

from sarra import __version__ as sarra_version
from sarra.config import types
from sarra.message.notice import epoch_to_time, time_to_epoch, time_v02_to_v03
from sarra.sizes import human_size, short_duration

__all__ = [
    "FmdStat", "baseUrlParse", "durationToSeconds", "durationToString", "known_report_codes",
    "naturalSize", "naturalTime", "nowflt", "nowstr", "site_config_dir", "stat",
    "timeValidate", "timeflt2str", "timestr2flt", "timev2tov3str", "user_cache_dir",
    "user_config_dir",
]  # fmt: skip

__version__ = f"3.0.0+sarra{sarra_version}"
"""What `sarracenia.__version__` says here: an sr3 version, then whose."""

known_report_codes: dict[int, str] = {
    201: "Download successful",
    202: "Accepted: directory already there",
    203: "Transformed during download",
    205: "Checksum recalculated on receipt",
    206: "Partial content: received and inserted",
    304: "Not modified: the local file already matches",
    307: "Insertion deferred",
    404: "Not found: no pattern match",
    406: "Not acceptable: file older than fileAgeMax",
    410: "Gone: file too old",
    415: "Unsupported content type",
    417: "Expectation failed: invalid notice",
    422: "Unprocessable: no path to transfer to",
    425: "Too early: file younger than fileAgeMin",
    499: "Failure: not copied",
    503: "Unable to process: service unavailable",
    504: "Gateway timeout: notice too old",
}
"""The report codes sr3 callbacks pass to Message.setReport, with a short text each."""


def timeflt2str(seconds: float | None = None) -> str:
    """A time string (`YYYYMMDDTHHMMSS.ffffff`, UTC) for seconds since the epoch."""
    return epoch_to_time(time.time() if seconds is None else seconds)


def timestr2flt(text: str) -> float:
    """Seconds since the epoch of a time string (v03 or v02 form)."""
    return time_to_epoch(text)


def nowstr() -> str:
    """Now, as a time string."""
    return timeflt2str(time.time())


def nowflt() -> float:
    """Now, in seconds since the epoch."""
    return time.time()


def timev2tov3str(text: str) -> str:
    """A v02 time string in the v03 form."""
    return time_v02_to_v03(text)


def timeValidate(text: str) -> bool:
    """Whether a string is a time string."""
    try:
        time_to_epoch(text)
    except (ValueError, TypeError):
        return False
    return True


def durationToSeconds(value: Any, default: float | None = None) -> float:
    """Seconds of a duration (30, 5m, 1h, 2d, 1w; a number as it is); 0 for none, off or
    false, and for what is no duration; `default` for on or true."""
    if isinstance(value, list):
        value = value[0] if value else 0
    if isinstance(value, bool):
        return float(default or 0) if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return 0.0
    word = value.strip().lower()
    if word in ("none", "off", "false"):
        return 0.0
    if word in ("on", "true") and default is not None:
        return float(default)
    try:
        return types.parse_duration(value.strip())
    except ValueError:
        return 0.0


def durationToString(seconds: float) -> str:
    """A short duration for people (2m30s)."""
    return short_duration(seconds)


def naturalSize(size: float) -> str:
    """A size for people (1.2 MiB)."""
    return human_size(size)


def naturalTime(seconds: float) -> str:
    """A duration for people."""
    return short_duration(seconds)


def baseUrlParse(url: str) -> ParseResult:
    """A base URL parsed, its path at least `/`."""
    parsed = urlparse(url)
    return parsed if parsed.path else parsed._replace(path="/")


def user_config_dir(app: str, author: str | None = None) -> str:
    """The user's configuration directory of an application (~/.config/<app>)."""
    return platformdirs.user_config_dir(app, author or False)


def user_cache_dir(app: str, author: str | None = None) -> str:
    """The user's cache directory of an application (~/.cache/<app>)."""
    return platformdirs.user_cache_dir(app, author or False)


def site_config_dir(app: str, author: str | None = None) -> str:
    """The host's configuration directory of an application."""
    return platformdirs.site_config_dir(app, author or False)


@dataclass
class FmdStat:
    """A file's metadata as sr3 keeps it (paramiko's attribute names)."""

    st_size: int | None = None
    st_uid: int | None = None
    st_gid: int | None = None
    st_mode: int | None = None
    st_atime: float | None = None
    st_mtime: float | None = None
    attr: dict[str, Any] = field(default_factory=dict)


def stat(path: str) -> FmdStat:
    """The metadata of a local file (not following a symlink)."""
    found = os.lstat(path)
    return FmdStat(found.st_size, found.st_uid, found.st_gid, found.st_mode, found.st_atime,
                   found.st_mtime)  # fmt: skip
