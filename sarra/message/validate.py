"""The checks every decoded notice passes, whatever its format: notices are untrusted input.

A notice that passes `check` can be handled without an exception raised by its content: every
field has its type, every name can be a local file name, every URL can be split, every time read.
What fails raises MalformedNotice naming the first problem; the loop logs that one line, drops
the notice and acknowledges it.

Limits, and why:
- paths (relPath, retrievePath, rename, fileOp link, hlink and rename) hold at most MAX_PATH_BYTES
  bytes of UTF-8 (PATH_MAX on Linux, its final NUL included), names of at most MAX_NAME_BYTES bytes
  (NAME_MAX), at most MAX_DEPTH names: a local file system refuses longer paths and names, and
  no product tree comes near that deep (a path thousands of directories deep exhausts recursion);
- every text is encodable as UTF-8 (no lone surrogates, which JSON escapes can carry), and names
  hold no NUL byte: neither can be a file name, a URL or a log line;
- the base URL splits, has a scheme and, but for `file:`, a host; a port, if any, is a number
  from 0 to 65535;
- sizes and block numbers are integers from 0 to MAX_SIZE (the largest file offset);
- times are real dates (YYYYMMDD[T]HHMMSS[.fff]), the mode is octal (at most 6 digits);
- source, from_cluster and to_clusters are names: no `/`, not `.` or `..` (a directory may be
  named after the source).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any
from urllib.parse import urlsplit

from sarra.message.errors import MalformedNotice, excerpt
from sarra.message.notice import Notice, time_to_epoch

MAX_PATH_BYTES = 4095
"""Longest path, in bytes of UTF-8 (Linux PATH_MAX is 4096 with the final NUL)."""

MAX_NAME_BYTES = 255
"""Longest name of a file or directory in a path, in bytes of UTF-8 (NAME_MAX)."""

MAX_DEPTH = 64
"""Most names in a path (directories and the file)."""

MAX_SIZE = (1 << 63) - 1
"""Largest size or block number: the largest file offset (off_t)."""

MAX_NESTING = 32
"""Deepest nesting of lists and objects in the fields no codec knows (carried as they are)."""

FILE_OP_PATHS = ("link", "hlink", "rename")
"""fileOp keys whose value is a path; the others (remove, directory) are flags."""

MODE = re.compile(r"[0-7]{1,6}")
_TIME = re.compile(
    r"(?!0000)[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"T?(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9](?:\.[0-9]+)?"
)
"""A time with its fields in range; a day from 29 on is checked against its month."""


def check(notice: Notice) -> None:
    """MalformedNotice when a field of `notice` has the wrong type or a value it must not have."""
    _time("pubTime", notice.pubtime)
    _base_url(notice.base_url)
    _path("relPath", notice.rel_path)
    for key, value in (("retrievePath", notice.retrieve_path), ("rename", notice.rename)):
        if value is not None:
            _path(key, value)
    if notice.identity is not None:
        _text("identity.method", notice.identity.method)
        _text("identity.value", notice.identity.value)
    if notice.size is not None:
        _size("size", notice.size)
    if notice.blocks is not None:
        _size("the file of blocks", notice.blocks.to_parts().file_size)
    if notice.file_op is not None:
        _file_op(notice.file_op)
    for key, value in (("mtime", notice.mtime), ("atime", notice.atime)):
        if value is not None:
            _time(key, value)
    if notice.mode is not None and not (
        isinstance(notice.mode, str) and MODE.fullmatch(notice.mode)
    ):
        raise MalformedNotice(f"mode is not octal: {excerpt(str(notice.mode))}")
    for key, value in (
        ("source", notice.source),
        ("from_cluster", notice.from_cluster),
        ("to_clusters", notice.to_clusters),
    ):
        if value is not None:
            _name(key, value)
    if notice.content is not None:
        _content(notice.content)
    if notice.report is not None:
        report = notice.report
        if not 0 <= report.code <= 999:
            raise MalformedNotice(f"report code {report.code} is not a 3-digit code")
        _json("report", [report.message, report.host, report.user, report.elapsed, report.extra])
    if notice.extra:
        _json("", notice.extra)


def _text(key: str, value: Any) -> str:
    """`value` if it is a string that UTF-8 can encode."""
    if not isinstance(value, str):
        raise MalformedNotice(f"{key} must be a string, not {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise MalformedNotice(f"{key} holds a lone surrogate: {excerpt(value)}") from None
    return value


def _name(key: str, value: Any) -> None:
    text = _text(key, value)
    if "/" in text or "\0" in text or text in (".", ".."):
        raise MalformedNotice(f"{key} is not a name: {excerpt(text)}")
    if (len(text) if text.isascii() else len(text.encode())) > MAX_NAME_BYTES:
        raise MalformedNotice(f"{key} is longer than {MAX_NAME_BYTES} bytes")


def _path(key: str, value: Any) -> None:
    """A path that can be a local file name: encodable, no NUL, within the limits."""
    text = _text(key, value)
    if "\0" in text:
        raise MalformedNotice(f"{key} holds a NUL byte: {excerpt(text)}")
    size = len(text) if text.isascii() else len(text.encode())
    if size > MAX_PATH_BYTES:
        raise MalformedNotice(f"{key} is {size} bytes long, more than {MAX_PATH_BYTES}")
    if text.count("/") >= MAX_DEPTH:
        depth = sum(1 for name in text.split("/") if name)
        if depth > MAX_DEPTH:
            raise MalformedNotice(f"{key} has {depth} names, more than {MAX_DEPTH}")
    if size <= MAX_NAME_BYTES:
        return  # too short to hold a name too long
    for name in text.split("/"):
        if len(name.encode()) > MAX_NAME_BYTES:
            raise MalformedNotice(
                f"{key} holds a name longer than {MAX_NAME_BYTES} bytes: {excerpt(name)}"
            )


def _base_url(value: Any) -> None:
    problem = url_problem(_text("baseUrl", value))
    if problem:
        raise MalformedNotice(f"baseUrl {problem}: {excerpt(value)}")


@functools.lru_cache(maxsize=256)
def url_problem(url: str) -> str | None:
    """What is wrong with a base URL, or None (base URLs repeat: the answer is kept)."""
    if "\0" in url:
        return "holds a NUL byte"
    if len(url.encode()) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsed on access: a port that is not a number raises here
    except ValueError as err:
        return f"does not parse ({err})"
    if not parts.scheme:
        return "has no scheme"
    if parts.scheme != "file" and not parts.hostname:
        return "has no host"
    return None


def quick_path(text: str) -> bool:
    """Whether `text`, a string, is a path `check` finds nothing wrong with, judged in one quick
    look at the plain form (ASCII, short enough to hold no name too long); False says that
    `check` must look (it may find nothing either)."""
    return (
        0 < len(text) <= MAX_NAME_BYTES
        and text.isascii()
        and "\0" not in text
        and text.count("/") < MAX_DEPTH
    )


def quick_name(text: str) -> bool:
    """Whether `text`, a string, is a name (source, cluster) `check` finds nothing wrong with,
    in the plain form; False says that `check` must look."""
    return (
        len(text) <= MAX_NAME_BYTES
        and text.isascii()
        and "/" not in text
        and "\0" not in text
        and text != "."
        and text != ".."
    )


def quick_time(text: str) -> str | None:
    """A v02 or v03 time (`YYYYMMDD[T]HHMMSS[.fff]`) in the v03 form when `check` finds nothing
    wrong with it (each second looked at once, then kept); None says that the full conversion
    and check must look."""
    second, dot, digits = text.partition(".")
    if dot and not (digits.isdigit() and digits.isascii()):
        return None
    whole = _quick_second(second)
    return None if whole is None else whole + dot + digits


@functools.lru_cache(maxsize=256)
def _quick_second(whole: str) -> str | None:
    """`YYYYMMDD[T]HHMMSS` as `YYYYMMDDTHHMMSS` when it is a real time; None otherwise."""
    digits = whole[:8] + whole[9:] if whole[8:9] == "T" else whole
    if len(digits) != 14 or not (digits.isascii() and digits.isdigit()):
        return None
    moment = f"{digits[:8]}T{digits[8:]}"
    return moment if _TIME.fullmatch(moment) and (moment[6:8] <= "28" or _has_day(moment)) else None


def quick_value(value: Any) -> bool:
    """Whether a value of a field no codec knows needs no look (see `_plain`)."""
    return _plain(value)


def _size(key: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SIZE:
        raise MalformedNotice(
            f"{key} must be an integer from 0 to {MAX_SIZE}, not {excerpt(repr(value))}"
        )


def _time(key: str, value: Any) -> None:
    if type(value) is str and _TIME.fullmatch(value) and (value[6:8] <= "28" or _has_day(value)):
        return
    text = _text(key, value)
    raise MalformedNotice(f"{key} is not a time: {excerpt(text)}")


def _has_day(text: str) -> bool:
    """Whether the month of a time has its day (the 29th to the 31st)."""
    try:
        time_to_epoch(text)
    except ValueError:
        return False
    return True


def _file_op(op: dict[str, Any]) -> None:
    for key, value in op.items():
        _text("a fileOp key", key)
        if key in FILE_OP_PATHS:
            _path(f"fileOp.{key}", value)
            if not value:
                raise MalformedNotice(f"fileOp.{key} is empty")
        elif isinstance(value, (dict, list)):
            raise MalformedNotice(f"fileOp.{key} must be a flag, not {type(value).__name__}")
        else:
            _json(f"fileOp.{key}", value)


def _content(content: dict[str, Any]) -> None:
    _text("content.value", content.get("value"))
    if "encoding" in content:
        _text("content.encoding", content["encoding"])
    _json("content", content)


def _json(key: str, value: Any, depth: int = 0) -> None:
    """Every string in `value` (nested lists and objects, keys too) encodable; numbers finite.
    `key` names `value` in the reason (the notice's own fields: "")."""
    if isinstance(value, str):
        if not value.isascii():
            _text(key, value)
    elif isinstance(value, dict | list | tuple):
        if depth >= MAX_NESTING:
            raise MalformedNotice(f"{key} is nested more than {MAX_NESTING} deep")
        if isinstance(value, dict):
            for name, item in value.items():
                if type(name) is not str or not name.isascii():
                    _text(f"a key of {key or 'the notice'}", name)
                if not _plain(item):
                    _json(f"{key}.{name}" if key else name, item, depth + 1)
        else:
            for item in value:
                if not _plain(item):
                    _json(key, item, depth + 1)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MalformedNotice(f"{key} is not a finite number")
    elif value is not None and not isinstance(value, int):
        raise MalformedNotice(f"{key} must be text or a number, not {type(value).__name__}")


def _plain(value: Any) -> bool:
    """Whether a value needs no look (ASCII text, a whole number, a finite float, a flag, null):
    most values of a notice, checked without building the name of each."""
    kind = type(value)
    if kind is str:
        return value.isascii()  # type: ignore[no-any-return]
    if kind is float:
        return math.isfinite(value)
    return kind is int or kind is bool or value is None
