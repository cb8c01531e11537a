"""The notice: one model for every format, shaped after v03 (the richer one).

Times are kept as strings in the v03 form `YYYYMMDDTHHMMSS.fff...` (UTC) so no precision is lost;
v02 writes the same without the `T`. Fields that no codec knows are kept in `extra` and written
back out, so they survive every round trip.
"""

from __future__ import annotations

import calendar
import functools
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sarra.integrity.parts import INPLACE, PARTITIONED, Parts

_TIME = re.compile(r"[0-9]{8}T?[0-9]{6}(?:\.[0-9]+)?")
_EXPONENT_TIME = re.compile(r"([0-9]{8})T?([0-9]{6})(?:\.([0-9]+))?(e-[0-9]{1,3})")
"""A v02 or v03 time; and one whose fraction v2 wrote in exponent form. v2 wrote the fraction of
a second with `{:.9g}` less its leading digit, so a fraction under 0.0001 came out as
`.91685486e-05` (0.91685486e-05 s, as v2 read it back), or `e-10` alone when the mantissa had
one digit."""

_FRACTION_DIGITS = 18
"""Digits kept of a fraction written in exponent form (far below what a float holds)."""


def _split_time(text: str, want_v03: bool) -> str:
    """The one time parser: `YYYYMMDD[T]HHMMSS[.fff][e-NN]` in the form asked for (v03 with
    the `T`, v02 without), an exponent fraction written out in plain digits."""
    if _TIME.fullmatch(text):
        if (text[8] == "T") == want_v03:
            return text  # already in the form asked for: the common case, no copy
        return f"{text[:8]}T{text[8:]}" if want_v03 else text[:8] + text[9:]
    match = _EXPONENT_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not a timestamp: {text!r}")
    date, clock, fraction, exponent = match.groups()
    digits = format(Decimal(f"0.{fraction or ''}{exponent}"), "f").partition(".")[2]
    digits = digits[:_FRACTION_DIGITS].rstrip("0")
    clock += f".{digits}" if digits else ""
    return f"{date}T{clock}" if want_v03 else date + clock


def time_v02_to_v03(text: str) -> str:
    """`YYYYMMDDHHMMSS.fff` -> `YYYYMMDDTHHMMSS.fff`; a v03 time is returned as is."""
    return _split_time(text, want_v03=True)


def time_v03_to_v02(text: str) -> str:
    """`YYYYMMDDTHHMMSS.fff` -> `YYYYMMDDHHMMSS.fff`; a v02 time is returned as is."""
    return _split_time(text, want_v03=False)


def time_to_epoch(text: str) -> float:
    """Seconds since the epoch of a v02 or v03 time string."""
    whole, dot, fraction = text.partition(".")
    seconds = _second(whole)
    if seconds is not None and (not dot or (fraction.isdigit() and fraction.isascii())):
        return seconds + float(f"0.{fraction}") if fraction else float(seconds)
    whole, _, fraction = time_v03_to_v02(text).partition(".")  # any other form, or no time
    return _whole_seconds(whole) + float(f"0.{fraction or 0}")


@functools.lru_cache(maxsize=256)
def _second(whole: str) -> int | None:
    """Seconds since the epoch of `YYYYMMDD[T]HHMMSS` (kept: notices of a second share it);
    None when it is not that, or no real time."""
    digits = whole[:8] + whole[9:] if len(whole) == 15 and whole[8] == "T" else whole
    if len(digits) != 14 or not (digits.isascii() and digits.isdigit()):
        return None
    try:
        return _whole_seconds(digits)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def _whole_seconds(whole: str) -> int:
    """Seconds since the epoch of `YYYYMMDDHHMMSS` (kept: notices of a second share it)."""
    fields = (whole[0:4], whole[4:6], whole[6:8], whole[8:10], whole[10:12], whole[12:14])
    moment = datetime(*map(int, fields))  # checks the ranges; much faster than strptime
    return calendar.timegm(moment.timetuple())


def epoch_to_time(seconds: float) -> str:
    """A v03 time string (microseconds) for seconds since the epoch."""
    whole, micro = divmod(round(seconds * 1_000_000), 1_000_000)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(whole)) + f".{micro:06d}"


@dataclass(frozen=True, slots=True)
class Identity:
    """The checksum of a file in v03 form: a method name and its value (base64 for digests).

    Slots: one is made for nearly every notice decoded, in a third of the time.
    """

    method: str
    value: str


_BLOCK_METHODS = {"inplace": INPLACE, "partitioned": PARTITIONED}


@dataclass(frozen=True)
class Blocks:
    """One block of a partitioned file (v03 `blocks`); invalid numbers raise ValueError.

    `remainder` is None when the notice does not tell it: sr3's v02 `parts` of a block other
    than the last gives that block's length where v2 gives the file's remainder, so the size of
    the file is known only from its last block. `identities` are the checksum values of every
    block, as sr3's `blocks.manifest` lists them (kept to be written on, None when not given).
    """

    method: str
    size: int
    count: int
    remainder: int | None
    number: int
    identities: tuple[str, ...] | None = None
    unchecked: bool = False

    def __post_init__(self) -> None:
        if self.method not in _BLOCK_METHODS:
            raise ValueError(f"blocks method must be inplace or partitioned, not {self.method!r}")
        parts = self.to_parts()
        if self.remainder is None and self.number == self.count - 1:
            raise ValueError(f"parts {parts}: the last block must tell the remainder")
        if self.remainder is None and not self.unchecked:
            raise ValueError(f"parts {parts}: only sr3's blocks leave the remainder unknown")
        if self.identities is not None and len(self.identities) != self.count:
            raise ValueError(f"{len(self.identities)} block identities for {self.count} blocks")

    def to_parts(self) -> Parts:
        """The v02 parts of this block (remainder 0 where it is not known: the offset and
        length of a block other than the last do not depend on it)."""
        return Parts(
            _BLOCK_METHODS[self.method], self.size, self.count, self.remainder or 0, self.number
        )

    @property
    def offset(self) -> int:
        """Where this block starts in the file."""
        return self.number * self.size

    @property
    def length(self) -> int:
        """How many bytes this block holds."""
        return self.to_parts().length

    def lengths(self) -> list[int]:
        """The length of every block of the file (ValueError when the remainder is unknown)."""
        if self.remainder is None:
            raise ValueError("the size of the file is not known from this block")
        return [self.size] * (self.count - 1) + [self.remainder or self.size]

    @classmethod
    def from_parts(cls, parts: Parts) -> Blocks:
        """The block described by v02 `i` or `p` parts."""
        methods = {letter: name for name, letter in _BLOCK_METHODS.items()}
        if parts.method not in methods:
            raise ValueError(f"parts {parts} describe a whole file, not a block")
        return cls(
            methods[parts.method],
            parts.block_size,
            parts.block_count,
            parts.remainder,
            parts.number,
        )


@dataclass(frozen=True)
class Report:
    """What a component reports about a notice it processed (v02 report body, v03 `report`).

    `elapsed` (seconds, v02 body or v03 `elapsedTime`) and `time_completed` are kept as given.
    """

    code: int
    message: str | None = None
    host: str | None = None
    user: str | None = None
    elapsed: str | float | None = None
    time_completed: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Notice:
    """A file announcement.

    `size` is the size of the file, or of this block when `blocks` is set (as v2 writes it).
    `file_op` holds the v03 fileOp keys: link, hlink, remove, rename (the old path), directory.
    `topic` and `exchange` are where it travelled; they are not part of the body and are
    ignored when notices are compared.
    """

    pubtime: str
    base_url: str
    rel_path: str
    identity: Identity | None = None
    size: int | None = None
    blocks: Blocks | None = None
    file_op: dict[str, Any] | None = None
    mtime: str | None = None
    atime: str | None = None
    mode: str | None = None
    rename: str | None = None
    retrieve_path: str | None = None
    source: str | None = None
    from_cluster: str | None = None
    to_clusters: str | None = None
    content: dict[str, Any] | None = None
    report: Report | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    topic: str | None = field(default=None, compare=False)
    exchange: str | None = field(default=None, compare=False)

    @property
    def url(self) -> str:
        """base_url + rel_path; a `/` is added between them only when neither has one."""
        if self.base_url.endswith("/") or self.rel_path.startswith("/"):
            return self.base_url + self.rel_path
        return f"{self.base_url}/{self.rel_path}"
