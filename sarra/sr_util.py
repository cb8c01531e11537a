"""`sarra.sr_util` under its historic name, for plugins written against v2: its time helpers.

Times are v2's strings, `YYYYMMDDHHMMSS.fff` (UTC; v03 puts a `T` after the date). Every form
v2 wrote is read (sarra.message.notice); times are written with a plain fraction of at most
nine digits, never in the exponent form v2 wrote for fractions under 0.0001.
"""

from __future__ import annotations

import time

from sarra.message.notice import time_to_epoch, time_v02_to_v03

__all__ = ["nowflt", "nowstr", "timeflt2str", "timestr2flt", "timev2tov3str", "v3timeflt2str"]


def _format(seconds: float, layout: str) -> str:
    whole, fraction = divmod(seconds, 1)  # exact: the fraction is split off before scaling
    nanoseconds = round(fraction * 1_000_000_000)
    if nanoseconds == 1_000_000_000:
        whole, nanoseconds = whole + 1, 0
    digits = f"{nanoseconds:09d}".rstrip("0")
    return time.strftime(layout, time.gmtime(int(whole))) + (f".{digits}" if digits else "")


def timeflt2str(seconds: float) -> str:
    """A v02 time string (`YYYYMMDDHHMMSS.fff`) of seconds since the epoch."""
    return _format(seconds, "%Y%m%d%H%M%S")


def v3timeflt2str(seconds: float) -> str:
    """A v03 time string (`YYYYMMDDTHHMMSS.fff`) of seconds since the epoch."""
    return _format(seconds, "%Y%m%dT%H%M%S")


def timestr2flt(text: str) -> float:
    """Seconds since the epoch of a v02 or v03 time string (ValueError if it is none)."""
    return time_to_epoch(text)


def timev2tov3str(text: str) -> str:
    """A v02 time string in the v03 form (a v03 one as it is)."""
    return time_v02_to_v03(text)


def nowstr() -> str:
    """Now, as a v02 time string."""
    return timeflt2str(time.time())


def nowflt() -> float:
    """Now, in seconds since the epoch (as precise as a time string keeps)."""
    return timestr2flt(nowstr())
