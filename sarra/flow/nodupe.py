"""Duplicate suppression: a notice whose key was seen within the TTL is a duplicate.

The key is the checksum with what the basis says makes two files the same: the path
(default), the file name, or the data alone; parts count separately. Entries live in memory
and in an append-only file (`<key> <epoch> <quoted path>` a line), so the cache survives a
restart; `compact()` rewrites the file with the live entries only.
"""

from __future__ import annotations

import os
import posixpath
import time
from pathlib import Path
from urllib.parse import quote, unquote

from sarra.message.notice import Notice


def notice_key(notice: Notice, basis: str) -> tuple[str, str]:
    """The (checksum key, path) pair of a notice under a basis: path, name or data."""
    if notice.identity is not None:
        key = f"{notice.identity.method},{notice.identity.value}"
    else:
        key = f"{notice.rel_path},{notice.mtime or notice.pubtime},{notice.size}"
    if notice.file_op:
        key += "," + ",".join(sorted(notice.file_op))
    if notice.blocks is not None:
        key += f",{notice.blocks.size},{notice.blocks.number}"
    if basis == "data":
        path = "data"
    elif basis == "name":
        path = posixpath.basename(notice.rel_path)
    else:
        path = notice.rel_path
    return key, path


class NoDupeCache:
    """Seen keys with their time, kept for `ttl` seconds; persisted when given a file."""

    def __init__(self, ttl: float, file: Path | None = None) -> None:
        self.ttl = ttl
        self.file = file
        self.entries: dict[tuple[str, str], float] = {}
        if file is not None:
            self._load(file)
            file.parent.mkdir(parents=True, exist_ok=True)
            self._append = open(file, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        else:
            self._append = None

    def _load(self, file: Path) -> None:
        horizon = time.time() - self.ttl
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            parts = line.split(" ")
            if len(parts) != 3:
                continue
            key, stamp, path = parts
            try:
                seen = float(stamp)
            except ValueError:
                continue
            if seen > horizon:
                self.entries[(unquote(key), unquote(path))] = seen

    def check(self, key: str, path: str, now: float | None = None) -> bool:
        """True when new (and now remembered); False when a duplicate within the TTL."""
        now = time.time() if now is None else now
        seen = self.entries.get((key, path))
        self.entries[(key, path)] = now
        if self._append is not None:
            self._append.write(f"{quote(key, safe='')} {now:.3f} {quote(path, safe='')}\n")
            self._append.flush()
        return seen is None or now - seen > self.ttl

    def compact(self, now: float | None = None) -> int:
        """Drop expired entries and rewrite the file; returns the number kept."""
        now = time.time() if now is None else now
        self.entries = {k: t for k, t in self.entries.items() if now - t <= self.ttl}
        if self.file is not None and self._append is not None:
            fresh = self.file.with_name(self.file.name + ".new")
            with open(fresh, "w", encoding="utf-8") as out:
                for (key, path), seen in self.entries.items():
                    out.write(f"{quote(key, safe='')} {seen:.3f} {quote(path, safe='')}\n")
                out.flush()
                os.fsync(out.fileno())
            self._append.close()
            os.replace(fresh, self.file)
            self._append = open(self.file, "a", encoding="utf-8")  # noqa: SIM115
        return len(self.entries)

    def close(self) -> None:
        """Close the append file."""
        if self._append is not None:
            self._append.close()
            self._append = None
