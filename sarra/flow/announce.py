"""Notices for local files: what sr_post and sr_watch announce for a path. No broker here.

A regular file is announced with its checksum (`sum`) and size; when `blocksize` and `parts`
partition it, with one notice per block, each carrying that block's checksum. preserve_time adds
mtime and atime, preserve_mode the mode. A symbolic link is announced as fileOp link (v02 sum
`L`), a removal as fileOp remove (`R`), a rename as the file under its new name with fileOp
rename naming the old one. `header k=v` lines add (or, with None, remove) fields of every notice.

The URL of a file is `post_base_url` (default `file:`) followed by the relative path: the path
less `post_base_dir`, without its leading `/`; with a bare `file:` base, the absolute path.
Source files are only read: checksums of a file unchanged since they were computed (same size,
mtime and ctime) are kept in memory for the life of the process, never in extended attributes.

Posting WIS2 notification messages (post_format wis, or a WIS2 post_topic_prefix), whole files
only are announced (a part has no such form) and the checksum is sha512 (`sum s`, a WIS2
integrity method) unless `sum` is set.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import itertools
import logging
import os
import stat
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from sarra.config.loader import Config
from sarra.flow.placement import below_dir
from sarra.flow.rules import Rules
from sarra.integrity.checksum import (
    DigestChecksum,
    checksum_bytes,
    file_identity,
    new_checksum,
    sum_to_identity,
)
from sarra.integrity.parts import INPLACE, PARTITIONED, WHOLE, auto_blocksize, partition
from sarra.message import format_for
from sarra.message.notice import Blocks, Identity, Notice, epoch_to_time

logger = logging.getLogger("sarra.flow.announce")

CACHE_ENTRIES = 100_000
"""Most checksums kept in memory (the least recently used go first)."""

_FIELDS = {
    name: name for name in ("mtime", "atime", "mode", "rename", "source", "from_cluster")
} | {"to_clusters": "to_clusters"}
"""`header` names that set a Notice field rather than an extra header."""


class ChecksumCache:
    """Checksums of byte ranges of files, by file identity: reading a file again is needed only
    when its size, mtime or ctime changed (ctime changes on every write, and cannot be set)."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._values: OrderedDict[tuple[Any, ...], Identity] = OrderedDict()

    def identity(
        self, path: str, st: os.stat_result, flag: str, offset: int, length: int
    ) -> Identity:
        """The identity (checksum) of `length` bytes at `offset` of the file `st` describes."""
        key = (path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, flag, offset, length)
        values = self._values
        cached = values.get(key)
        if cached is not None:
            values.move_to_end(key)
            return cached
        identity = Identity(*file_identity(path, flag, offset, length))
        values[key] = identity
        if len(values) > self.entries:
            values.popitem(last=False)
        return identity


def partitioning(config: Config) -> tuple[int, str]:
    """(blocksize option, method) from `blocksize` and `parts`: `1` whole files, `p` blocks
    announced as part files, `i,N` and `0,N` blocks of N bytes, `0` automatic."""
    parts = config.parts
    if not parts:
        return config.blocksize, INPLACE
    method, _, size = parts.partition(",")
    if method == WHOLE:
        return 1, INPLACE
    if method == PARTITIONED:
        return config.blocksize, PARTITIONED
    return (int(size) if size else config.blocksize), INPLACE


class Announcer:
    """Builds the notices a config announces for local paths; `accepts` applies its rules."""

    def __init__(self, config: Config) -> None:
        self.config = config
        prefix = config.post_topic_prefix or config.topic_prefix
        wis = format_for(config.post_format, prefix) == "wis"
        self.sum = "s" if wis and "sum" not in config.origin else config.sum
        letter = self.sum.partition(",")[0]
        if letter == "a":
            raise ValueError("sum a (arbitrary) comes from an application: sarra cannot post it")
        self.sum_letter = letter
        self.computed = isinstance(new_checksum(self.sum, "x"), DigestChecksum)
        self.blocksize, self.method = (1, INPLACE) if wis else partitioning(config)
        base_urls = (config.post_base_url or "file:").split(",")
        self.first_base_url = base_urls[0]
        self.base_urls = itertools.cycle(base_urls)
        self.base_dir = (config.post_base_dir or "").rstrip("/")
        self.checksums = ChecksumCache()
        self.rules = Rules.of(config)  # the filter's, for `accepts` (a progress line's total)
        self.realpath_filter = config.realpath_filter
        self.realpath_post = config.realpath_post
        self.preserve_time = config.preserve_time
        self.preserve_mode = config.preserve_mode
        # v02 has no field for a file's bytes: inline is for v03 and WIS2 notices only
        inline = config.inline and (wis or prefix.startswith("v03"))
        self.inline_max = config.inline_max if inline else -1
        self.inline_encoding = config.inline_encoding
        host = urlsplit(config.post_broker or config.broker or "").hostname
        self.fixed = {
            "rename": config.rename,
            "source": config.source,
            "from_cluster": config.cluster or host,
            "to_clusters": ",".join(config.to) or host,
        }
        headers = config.header.items()
        self.overrides = {_FIELDS[name]: value for name, value in headers if name in _FIELDS}
        self.extra = {
            name: value for name, value in headers if name not in _FIELDS and value is not None
        }

    def accepts(self, path: str) -> bool:
        """Whether the accept/reject rules take a local path: the URL it is announced under, as
        the filter stage sees it (filter_text; the first base URL of a list)."""
        return self.rules.verdict(self.filter_text(path, self.first_base_url))[0]

    def filter_text(self, path: str, base_url: str) -> str:
        """What the accept/reject rules match for a local path announced under `base_url`:
        its URL, as for every notice (realpath_filter: the URL of its real path)."""
        if self.realpath_filter:
            path = os.path.realpath(path)
        return Notice("", base_url, self.rel_path(path, base_url)).url

    def rel_path(self, path: str, base_url: str) -> str:
        """The relative path announcing `path` under `base_url`."""
        if base_url == "file:":
            return path
        below = below_dir(path, self.base_dir) if self.base_dir else None
        return path if below is None else below

    def notices(
        self, path: str, st: os.stat_result, renamed_from: str | None = None
    ) -> list[Notice]:
        """The notices of a file or symbolic link as it is now (`st` from os.lstat), with fileOp
        rename when it was `renamed_from` another path: `complete` of its `candidate`."""
        return self.complete(self.candidate(path, renamed_from), path, st)

    def candidate(self, path: str, renamed_from: str | None = None) -> Notice:
        """The notice of a file before its work: what needs no reading of it (its URL, times of
        publication, fileOp rename), for the filter stage to take or reject (realpath_post: the
        file a link points to)."""
        if self.realpath_post:
            path = os.path.realpath(path)
        return self._notice(path, None, renamed_from)

    def complete(self, candidate: Notice, path: str, st: os.stat_result) -> list[Notice]:
        """The work on a file's candidate notice: the notices of the file or symbolic link as it
        is now (`st` from os.lstat), filled in from it (`candidate` itself for a whole file).
        Empty for other kinds of file.

        Raises OSError when the file cannot be read (or vanished), ValueError when it shrank
        while its checksum was computed."""
        if self.realpath_post:
            real = os.path.realpath(path)
            if real != path:
                path, st = real, os.stat(real)
        if stat.S_ISLNK(st.st_mode):
            candidate.file_op = {"link": os.readlink(path), **(candidate.file_op or {})}
            return [candidate]
        if stat.S_ISREG(st.st_mode):
            return self._file(candidate, path, st)
        return []

    def remove(self, path: str) -> Notice:
        """The notice of a removed file (or symbolic link)."""
        return self._notice(path, {"remove": ""})

    def directory(self, path: str, removed: bool = False) -> Notice:
        """The notice of a directory made (or removed)."""
        return self._notice(path, {"directory": "", "remove": ""} if removed else {"directory": ""})

    # --- building

    def _file(self, notice: Notice, path: str, st: os.stat_result) -> list[Notice]:
        overrides = self.overrides
        if self.preserve_time:
            if "mtime" not in overrides:
                notice.mtime = _time(st.st_mtime_ns)
            if "atime" not in overrides:
                notice.atime = _time(st.st_atime_ns)
        if self.preserve_mode and "mode" not in overrides:
            notice.mode = f"{stat.S_IMODE(st.st_mode):o}"
        size = st.st_size
        if 0 <= size <= self.inline_max and self._inline(path, st, notice):
            return [notice]
        if self.blocksize == 1 or size <= (self.blocksize or auto_blocksize(size)):
            # one block, the whole file: the common case, without partition's Parts
            notice.identity = self._identity(path, st, 0, size)
            notice.size = size
            return [notice]
        notices = []
        for block in partition(size, self.blocksize, self.method):
            whole = block.method == WHOLE
            notices.append(
                dataclasses.replace(
                    notice,
                    identity=self._identity(path, st, block.offset, block.length),
                    size=size if whole else block.length,
                    blocks=None if whole else Blocks.from_parts(block),
                    extra=dict(notice.extra),
                )
            )
        return notices

    def _identity(self, path: str, st: os.stat_result, offset: int, length: int) -> Identity:
        if self.computed:
            return self.checksums.identity(path, st, self.sum, offset, length)
        return Identity(*file_identity(path, self.sum))  # random, or checksum on download

    def _inline(self, path: str, st: os.stat_result, notice: Notice) -> bool:
        """Fill in the notice of a small file carrying its bytes (v03 `content`), its checksum
        computed from those very bytes; False when the sum is not of the data (then it is posted
        as usual)."""
        if not self.computed:
            return False
        with open(path, "rb") as file:
            data = file.read(st.st_size + 1)
        if len(data) != st.st_size:
            raise ValueError(f"{path} changed size while it was read")
        text = None
        if self.inline_encoding != "binary":
            with contextlib.suppress(UnicodeDecodeError):
                text = data.decode()
        notice.content = (
            {"encoding": "utf-8", "value": text}
            if text is not None
            else {"encoding": "base64", "value": base64.b64encode(data).decode()}
        )
        value = checksum_bytes(data, self.sum)
        notice.identity = Identity(*sum_to_identity(f"{self.sum_letter},{value}"))
        notice.size = len(data)
        return True

    def _notice(
        self, path: str, file_op: dict[str, str] | None, renamed_from: str | None = None
    ) -> Notice:
        fields = self._fields(path, file_op, renamed_from)
        fields.update(self.overrides)
        return Notice(**fields, extra=dict(self.extra))

    def _fields(
        self, path: str, file_op: dict[str, str] | None, renamed_from: str | None
    ) -> dict[str, Any]:
        base_url = next(self.base_urls)
        if renamed_from:
            file_op = {**(file_op or {}), "rename": self.rel_path(renamed_from, base_url)}
        return {
            **self.fixed,
            "pubtime": _time(time.time_ns()),
            "base_url": base_url,
            "rel_path": self.rel_path(path, base_url),
            "file_op": file_op,
        }


def _time(ns: int) -> str:
    """epoch_to_time of nanoseconds since the epoch; the whole seconds' text is remembered."""
    whole, micro = divmod((ns + 500) // 1000, 1_000_000)
    return f"{_second(whole)}.{micro:06d}"


@functools.lru_cache(maxsize=1024)
def _second(whole: int) -> str:
    return epoch_to_time(whole).partition(".")[0]


def walk(
    top: str, follow_symlinks: bool = False, quiet: bool = False
) -> Iterator[tuple[str, os.stat_result]]:
    """(path, lstat) of `top` when it is not a directory, else of every file and symbolic link
    below it, in name order. With follow_symlinks, links to directories are descended (each
    directory once) instead of being yielded. Directories that cannot be read are logged (but
    when `quiet`) and skipped; OSError if `top` itself does not exist."""
    st = os.lstat(top)
    if not _is_directory(top, st, follow_symlinks):
        yield top, st
        return
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            identity = os.stat(directory)
            if (identity.st_dev, identity.st_ino) in seen:
                continue
            seen.add((identity.st_dev, identity.st_ino))
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as err:
            if not quiet:
                logger.warning("cannot list %s: %s", directory, err.strerror or err)
            continue
        below = []
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone since it was listed
            if _is_directory(entry.path, st, follow_symlinks):
                below.append(entry.path)
            elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                yield entry.path, st
        stack.extend(reversed(below))


def _is_directory(path: str, st: os.stat_result, follow_symlinks: bool) -> bool:
    if stat.S_ISDIR(st.st_mode):
        return True
    return follow_symlinks and stat.S_ISLNK(st.st_mode) and os.path.isdir(path)
