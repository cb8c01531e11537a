"""Directory listings served as text: HTML index pages (http) and `ls -l` lines (ftp LIST).

Index pages are read in the forms Apache (table or <pre>), nginx (autoindex) and Python's
http.server write. Each link to a direct child of the directory is an entry (a file's link with
a query too: the entry keeps the link, and is named with its query); the date and size written
after the link (if any) fill in its mtime and size. Times are taken as UTC, which is what nginx
writes by default (Apache writes the server's local time, which a page does not name). Sizes
written for people ("1.2K") are converted with 1K = 1024, so they are approximate.
"""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

from sarra.message import http_path
from sarra.transfer.base import Entry

DEEPEST = 16
"""Levels of sub-directories a poll lists below a directory it polls (recursive): a deeper one
is not listed, which it logs once. Product trees are a few levels deep; a tree without end (a
server's /proc, a loop of bind mounts) is not walked whole at every pass."""

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}

# "2024-01-15 10:30", "2024-01-15 10:30:05", "15-Jan-2024 10:30", "15-Jan-2024 10:30:05"
_DATE = re.compile(
    r"(?:(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})|(?P<d2>\d{1,2})-(?P<mon>[A-Za-z]{3})-(?P<y2>\d{4}))"
    r"\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
)
_SIZE = re.compile(r"\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGTP]?)(?:i?B)?(?![\w.])", re.I)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def parse_index(html: str, directory: str = "/") -> list[Entry]:
    """The entries of an HTML index page of `directory` (a URL path), in page order."""
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    base = directory if directory.endswith("/") else directory + "/"
    entries: dict[str, Entry] = {}
    for href, text, tail in parser.anchors:
        name, is_dir, link = _child_name(href, base)
        if name is None or name in entries:
            continue
        mtime, size = _date_and_size(tail)
        entries[name] = Entry(
            name=name,
            size=None if is_dir else size,
            mtime=mtime,
            is_dir=is_dir,
            is_link=text.strip().endswith("@") and not name.endswith("@"),
            wall_clock=mtime is not None,
            link=link,
        )
    return list(entries.values())


class _Anchors(HTMLParser):
    """Collects (href, link text, text after the link up to the next link) for every <a href>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, str, str]] = []
        self._href: str | None = None
        self._in_link = False
        self._text: list[str] = []
        self._tail: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._flush()
            self._href = dict(attrs).get("href")
            self._in_link = True
        elif tag in ("tr", "li", "br"):
            self._flush()
        elif tag == "td":
            self._data(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_link = False
        elif tag in ("tr", "li", "pre", "table"):
            self._flush()

    def handle_data(self, data: str) -> None:
        self._data(data)

    def _data(self, data: str) -> None:
        if self._href is None:
            return
        if self._in_link:
            self._text.append(data)
        else:
            # In a <pre> listing the next entry starts on the next line.
            line, newline, _ = data.partition("\n")
            self._tail.append(line)
            if newline:
                self._flush()

    def _flush(self) -> None:
        if self._href is not None:
            self.anchors.append((self._href, "".join(self._text), "".join(self._tail)))
        self._href = None
        self._in_link = False
        self._text, self._tail = [], []

    def close(self) -> None:
        super().close()
        self._flush()


def _child_name(href: str, base: str) -> tuple[str | None, bool, str | None]:
    """The name of the direct child of `base` that `href` links to (None if it is not one),
    whether it is a directory, and the link as written when it has a query.

    Links naming a host are left out: the page does not say which host it is on. A link to a
    file with a query (`get.py?a=b`) is named with its query (sarra.message.http_path.link_name);
    one to a directory with a query, or to the page itself (Apache's `?C=N;O=D`), is left out.
    """
    parts = urlsplit(urljoin(base, href.strip()))
    if parts.netloc or not parts.path.startswith(base):
        return None, False, None
    rest = parts.path[len(base) :]
    is_dir = rest.endswith("/")
    name = unquote(rest.removesuffix("/"))
    if not name or "/" in name or name in (".", "..") or (parts.query and is_dir):
        return None, False, None
    if not parts.query:
        return name, is_dir, None
    return http_path.link_name(name, parts.query), False, f"{rest}?{parts.query}"


def _date_and_size(tail: str) -> tuple[float | None, int | None]:
    """The first date written after a link, and the size written right after that date."""
    found = _DATE.search(tail)
    if found is None:
        return None, None
    month = int(found["m"]) if found["m"] else _MONTHS.get(found["mon"].lower())
    if month is None:
        return None, None
    try:
        when = datetime(
            int(found["y"] or found["y2"]),
            month,
            int(found["d"] or found["d2"]),
            int(found["H"]),
            int(found["M"]),
            int(found["S"] or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None, None
    size = _SIZE.match(tail, found.end())
    if size is None:
        return when.timestamp(), None
    return when.timestamp(), round(float(size["number"]) * _UNITS[size["unit"].upper()])


# drwxr-xr-x  2 owner group  4096 Jan 15 10:30 name
# -rw-r--r--  1 owner group   123 Jan 15  2023 name
# lrwxrwxrwx  1 owner group     4 Jan 15 10:30 name -> target
_LS_LINE = re.compile(
    r"^(?P<mode>[-bcdlps][-rwxsStT]{9})[+.@]?\s+\d+\s+\S+\s+(?:\S+\s+)?(?P<size>\d+)\s+"
    r"(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+(?:(?P<H>\d{1,2}):(?P<M>\d{2})|(?P<year>\d{4}))\s"
    r"(?P<name>.+)$"
)
_A_DAY = timedelta(days=1)


def parse_ls_line(line: str, now: datetime | None = None) -> Entry | None:
    """The entry of one `ls -l` style line (as ftp LIST sends), or None for others ("total 8").

    A date without a year is in the twelve months before `now` (an aware datetime; by default
    the current time), as ls writes it.
    """
    found = _LS_LINE.match(line.rstrip("\r\n"))
    if found is None:
        return None
    month = _MONTHS.get(found["mon"].lower())
    if month is None:
        return None
    kind = found["mode"][0]
    name = found["name"]
    if kind == "l":
        name = name.split(" -> ", 1)[0]
    if name in (".", ".."):
        return None
    now = now or datetime.now(UTC)
    try:
        if found["year"]:
            when = datetime(int(found["year"]), month, int(found["day"]), tzinfo=UTC)
        else:
            hour, minute = int(found["H"]), int(found["M"])
            when = datetime(now.year, month, int(found["day"]), hour, minute, tzinfo=UTC)
            if when > now + _A_DAY:
                when = when.replace(year=now.year - 1)
    except ValueError:
        return None
    return Entry(
        name=name,
        size=int(found["size"]),
        mtime=when.timestamp(),
        mode=_mode_bits(found["mode"][1:]),
        is_dir=kind == "d",
        is_link=kind == "l",
        wall_clock=True,
    )


def _mode_bits(text: str) -> int:
    """Permission bits from 'rwxr-sr-T' style text."""
    mode = 0
    for i, char in enumerate(text):
        bit = 1 << (8 - i)
        if char in "rwxst":
            mode |= bit
    for i, special in ((2, stat.S_ISUID), (5, stat.S_ISGID), (8, stat.S_ISVTX)):
        if text[i] in "sStT":
            mode |= special
    return mode
