"""Files announced in parts: each part is fetched, verified against its own notice and kept
until every part is here; then the file is reassembled under its work name and renamed into
place, so a file under its final name is always whole.

Beside the final file `name`, while its parts come in:

- `.name.sarra-parts`, the state: one line appended per event, `layout <block size> <count>
  <remainder>` (the file's cut; a new one starts afresh), `have <n> <where> <flag>,<digest>` (a
  verified part) and `drop <n>`. Its exclusive flock guards the file's bookkeeping across worker
  threads and instances; a restart reads where the last run stopped.
- the work file (the inflight name; `.name.sarra-work` when inflight would be the final name):
  parts written in place (inplace), and the reassembly. Workers writing parts into it share its
  flock; reassembly holds it alone, so nothing is written into a file being renamed.
- part files `name.<block size>.<count>.<remainder>.<n>.<flag>.Part` (inplace False), each a
  verified part, renamed to that name when it is recorded.

A part's bytes are in the work file, in its part file, or already in the final file (`final`):
that is how a changed file moves only its changed parts. Once every part of the layout is
recorded, each is copied into the work file and verified again against its checksum; a part
found wrong is dropped (and fetched when announced again), else the file is cut to its size,
given its mode and times and renamed into place, and the part files and state removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sarra.flow.inflight import Inflight, publish_file
from sarra.integrity.checksum import b64_to_hex, checksum_file, new_checksum
from sarra.integrity.parts import INPLACE, Parts
from sarra.message.notice import Notice, time_to_epoch

logger = logging.getLogger(__name__)

FetchRange = Callable[[BinaryIO, int, int, str], str]
"""(file, offset, length, flag): copy that byte range of the remote file to the file at its
position and return the checksum of the bytes copied (the v02 value of that flag)."""

WORK, PART, FINAL = "work", "part", "final"
_PLACES = (WORK, PART, FINAL)
_FLAGS = {"md5": "d", "sha512": "s"}
_SAME_MTIME = 1e-3  # seconds: times in notices have at most microseconds


@dataclass(frozen=True)
class PartResult:
    """What became of one part: a status as an Outcome's, a one-line reason, the bytes fetched,
    and whether this part completed the file (renamed into place)."""

    status: str
    reason: str
    fetched: int = 0
    published: bool = False


@dataclass(frozen=True)
class Layout:
    """How a file is cut: the block size, the block count and the remainder."""

    block_size: int
    count: int
    remainder: int

    def block(self, number: int) -> Parts:
        return Parts(INPLACE, self.block_size, self.count, self.remainder, number)

    @property
    def file_size(self) -> int:
        return self.block(0).file_size

    def __str__(self) -> str:
        return f"{self.block_size} {self.count} {self.remainder}"


@dataclass
class _State:
    layout: Layout | None = None
    have: dict[int, tuple[str, str]] = field(default_factory=dict)  # n: (where, "flag,digest")


class _Book:
    """The state file of one final file, under its exclusive lock."""

    def __init__(self, fd: int, path: Path, final: Path, layout: Layout) -> None:
        self.fd = fd
        self.path = path
        self.final = final
        self.layout = layout
        self.state = _read_state(fd)

    def write(self, line: str) -> None:
        os.write(self.fd, f"{line}\n".encode())

    def record(self, number: int, where: str, value: str) -> None:
        self.write(f"have {number} {where} {value}")
        self.state.have[number] = (where, value)

    def drop(self, number: int) -> None:
        self.write(f"drop {number}")
        self.state.have.pop(number, None)


def _read_state(fd: int) -> _State:
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    end = data.rfind(b"\n") + 1
    if end < len(data):  # a line cut short by a crash: its part was not acknowledged
        os.ftruncate(fd, end)
    state = _State()
    for line in data[:end].decode("utf-8", "replace").splitlines():
        match line.split():
            case ["layout", size, count, remainder] if _digits(size, count, remainder):
                state = _State(Layout(int(size), int(count), int(remainder)))
            case ["have", number, where, value] if _digits(number) and where in _PLACES:
                state.have[int(number)] = (where, value)
            case ["drop", number] if _digits(number):
                state.have.pop(int(number), None)
    return state


def _digits(*texts: str) -> bool:
    return all(text.isascii() and text.isdigit() for text in texts)


@contextlib.contextmanager
def _flocked(path: Path, mode: int, *, create: bool = True, append: bool = False) -> Iterator[int]:
    """A descriptor of `path` under flock `mode`, once `path` still names the very file locked
    (it may have been renamed or removed while we waited)."""
    flags = os.O_RDWR | (os.O_CREAT if create else 0) | (os.O_APPEND if append else 0)
    while True:
        fd = os.open(path, flags, 0o666)
        try:
            fcntl.flock(fd, mode)
            if _inode(path) == _inode(fd):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)


class _KeyedLocks:
    """One lock per key, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                users = self._locks[key][1] - 1
                if users:
                    self._locks[key] = (lock, users)
                else:
                    del self._locks[key]


@dataclass(frozen=True)
class _Wanted:
    """One part as its notice announces it."""

    final: Path
    part: Parts
    expected: str  # flag,digest
    mtime: float | None

    @property
    def name(self) -> str:
        return f"part {self.part.number} of {self.part.block_count}"

    @property
    def layout(self) -> Layout:
        return Layout(self.part.block_size, self.part.block_count, self.part.remainder)

    def held_by(self, path: Path, bufsize: int) -> bool:
        """Whether the file at `path` already holds this part's bytes."""
        flag, _, digest = self.expected.partition(",")
        part = self.part
        if _size(path) < part.offset + part.length:
            return False
        try:
            return checksum_file(path, flag, part.offset, part.length, bufsize) == digest
        except (OSError, ValueError):
            return False

    def is_version_of(self, path: Path) -> bool:
        """Whether the file at `path` has the size and time the notice announces: then a part it
        holds is simply here, with no assembly to begin."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return False
        return (
            self.mtime is not None
            and stat.st_size == self.layout.file_size
            and abs(stat.st_mtime - self.mtime) < _SAME_MTIME
        )


class PartDownloader:
    """Writes parts of files (in place or as part files) and reassembles them."""

    def __init__(self, inflight: Inflight, *, inplace: bool, overwrite: bool, bufsize: int) -> None:
        self.inflight = inflight
        self.inplace = inplace
        self.overwrite = overwrite
        self.bufsize = bufsize
        self._busy = _KeyedLocks()  # a part delivered twice at once: the second one waits

    def work_file(self, final: Path) -> Path:
        """Where the file is assembled: its inflight name, never the final name itself."""
        temporary = self.inflight.temporary(final)
        return temporary if temporary != final else final.with_name(f".{final.name}.sarra-work")

    def fetch(
        self,
        notice: Notice,
        final: Path,
        fetch_range: FetchRange,
        finish: Callable[[Path], None],
    ) -> PartResult:
        """Bring one part of a file to `final`. `finish` gives the assembled file its mode and
        times before it is renamed into place."""
        assert notice.blocks is not None
        identity = notice.identity
        flag = _FLAGS.get(identity.method) if identity else None
        if identity is None or flag is None:
            return PartResult("permanent", "a file in parts needs md5 or sha512 checksums")
        try:
            expected = f"{flag},{b64_to_hex(identity.value)}"
            mtime = time_to_epoch(notice.mtime) if notice.mtime else None
        except ValueError as err:
            return PartResult("permanent", str(err))
        wanted = _Wanted(final, notice.blocks.to_parts(), expected, mtime)
        with self._busy.hold((final, wanted.part.number)):
            with self._book(wanted) as book:
                known = self._known(book, wanted, finish)
            return known or self._download(wanted, fetch_range, finish)

    def _known(
        self, book: _Book, wanted: _Wanted, finish: Callable[[Path], None]
    ) -> PartResult | None:
        """The result for a part already recorded or already in the local file; None if it
        is to be fetched."""
        have, name = book.state.have, wanted.name
        if have.get(wanted.part.number, ("", ""))[1] == wanted.expected:
            return self._settle(book, finish, "skipped", f"{name} already here")
        if self.overwrite or not wanted.held_by(wanted.final, self.bufsize):
            return None
        if not have and wanted.is_version_of(wanted.final):
            book.path.unlink()  # no assembly begun, none left behind
            return PartResult("skipped", f"{name} matches; the local file is this version")
        book.record(wanted.part.number, FINAL, wanted.expected)
        return self._settle(book, finish, "skipped", f"{name} already in the local file")

    def _download(
        self, wanted: _Wanted, fetch_range: FetchRange, finish: Callable[[Path], None]
    ) -> PartResult:
        """Fetch the part (into the work file, or a part file), verify and record it."""
        final, part, name = wanted.final, wanted.part, wanted.name
        flag, digest = wanted.expected.split(",")
        work = self.work_file(final)
        pending: Path | None = None
        written_into: tuple[int, int] | None = None
        try:
            if self.inplace:
                where = WORK
                got, written_into = self._write_in_place(work, part, flag, fetch_range)
            else:
                where = PART
                pending, got = self._write_part_file(final, part, flag, fetch_range)
            if got != digest:
                return PartResult("transient", f"{name}: checksum {got} is not the notice's")
            with self._book(wanted) as book:
                done_meanwhile = (
                    not self.overwrite and not book.state.have and wanted.is_version_of(final)
                )
                if done_meanwhile and wanted.held_by(final, self.bufsize):  # this part came twice
                    _remove_locked(work)
                    book.path.unlink()
                    return PartResult("skipped", f"{name} came twice; the file is complete")
                if where == WORK and _inode(work) != written_into:
                    return PartResult("transient", f"{name}: the work file was replaced meanwhile")
                if pending is not None:
                    os.replace(pending, _part_file(final, wanted.layout, part.number, flag))
                    pending = None
                book.record(part.number, where, wanted.expected)
                return self._settle(
                    book, finish, "done", f"{name} written and verified", part.length
                )
        finally:
            if pending is not None:
                pending.unlink(missing_ok=True)

    def _settle(
        self, book: _Book, finish: Callable[[Path], None], status: str, what: str, fetched: int = 0
    ) -> PartResult:
        """The result of a part now recorded, completing the file if it was the last one."""
        published, progress = self._complete(book, finish)
        return PartResult(status, f"{what}; {progress}", fetched, published)

    @contextlib.contextmanager
    def _book(self, wanted: _Wanted) -> Iterator[_Book]:
        """The file's state under its exclusive lock, begun afresh if the layout changed."""
        final, layout = wanted.final, wanted.layout
        path = final.with_name(f".{final.name}.sarra-parts")
        with _flocked(path, fcntl.LOCK_EX, append=True) as fd:
            book = _Book(fd, path, final, layout)
            old = book.state
            if old.layout != layout:
                if old.layout is not None:
                    logger.info("%s: now in blocks of %s; parts of %s dropped",
                                final, layout, old.layout)  # fmt: skip
                    _remove_part_files(final, old)
                book.write(f"layout {layout}")
                book.state = _State(layout)
            yield book

    def _write_in_place(
        self, work: Path, part: Parts, flag: str, fetch_range: FetchRange
    ) -> tuple[str, tuple[int, int]]:
        """The part written into the work file: its checksum, and which file that was."""
        with _flocked(work, fcntl.LOCK_SH) as fd, open(fd, "r+b", closefd=False) as file:
            file.seek(part.offset)
            return fetch_range(file, part.offset, part.length, flag), _inode(fd)

    def _write_part_file(
        self, final: Path, part: Parts, flag: str, fetch_range: FetchRange
    ) -> tuple[Path, str]:
        """The part fetched into a hidden file of its own, and its checksum."""
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        try:
            with open(fd, "wb") as file:
                return Path(name), fetch_range(file, part.offset, part.length, flag)
        except BaseException:
            os.unlink(name)
            raise

    def _complete(self, book: _Book, finish: Callable[[Path], None]) -> tuple[bool, str]:
        """Reassemble and publish the file once every part is here: (published, progress)."""
        final, layout, have = book.final, book.layout, book.state.have
        here = sum(1 for n in range(layout.count) if n in have)
        if here < layout.count:
            return False, f"{here} of {layout.count} parts here"
        work = self.work_file(final)
        if all(where == FINAL for where, _ in have.values()) and _size(final) == layout.file_size:
            _remove_locked(work)
            book.path.unlink()
            return False, "the local file is unchanged"
        with _flocked(work, fcntl.LOCK_EX) as fd, open(fd, "r+b", closefd=False) as out:
            wrong = [n for n in range(layout.count) if not self._place(out, work, book, n)]
            if wrong:
                for number in wrong:
                    if have[number][0] == PART:
                        flag = have[number][1].split(",")[0]
                        _part_file(final, layout, number, flag).unlink(missing_ok=True)
                    book.drop(number)
                logger.warning("%s: parts %s no longer match their checksums; each is fetched "
                               "again when announced again", final, wrong)  # fmt: skip
                return False, f"parts {wrong} no longer match, to be fetched again"
            out.truncate(layout.file_size)
            out.flush()
            finish(work)
            publish_file(work, final)
        _remove_part_files(final, book.state)
        book.path.unlink()
        return True, "file complete"

    def _place(self, out: BinaryIO, work: Path, book: _Book, number: int) -> bool:
        """Whether part `number` is in the work file (copied there from its part file or the
        final file) and matches its recorded checksum."""
        final, layout = book.final, book.layout
        where, value = book.state.have[number]
        flag = value.split(",")[0]
        block = layout.block(number)
        try:
            if where == WORK:
                got = checksum_file(work, flag, block.offset, block.length, self.bufsize)
            else:
                source = final if where == FINAL else _part_file(final, layout, number, flag)
                out.seek(block.offset)
                start = block.offset if where == FINAL else 0
                got = self._copy(source, start, block.length, out, flag)
                out.flush()
        except (OSError, ValueError):
            return False
        return f"{flag},{got}" == value

    def _copy(self, source: Path, offset: int, length: int, out: BinaryIO, flag: str) -> str:
        """Copy `length` bytes of `source` from `offset` to `out`; their checksum."""
        checksum = new_checksum(flag)
        with open(source, "rb") as file:
            file.seek(offset)
            left = length
            while left > 0:
                chunk = file.read(min(left, self.bufsize))
                if not chunk:
                    raise ValueError(f"{source} ends {left} bytes short")
                checksum.update(chunk)
                out.write(chunk)
                left -= len(chunk)
        return checksum.value()


def _inode(file: Path | int) -> tuple[int, int] | None:
    """(device, inode) of a path or descriptor; None if there is no such file."""
    try:
        stat = os.fstat(file) if isinstance(file, int) else file.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _part_file(final: Path, layout: Layout, number: int, flag: str) -> Path:
    cut = f"{layout.block_size}.{layout.count}.{layout.remainder}"
    return final.with_name(f"{final.name}.{cut}.{number}.{flag}.Part")


def _remove_part_files(final: Path, state: _State) -> None:
    if state.layout is None:
        return
    for number, (where, value) in state.have.items():
        if where == PART:
            flag = value.split(",")[0]
            _part_file(final, state.layout, number, flag).unlink(missing_ok=True)


def _remove_locked(path: Path) -> None:
    """Remove a work file once no part is being written into it."""
    with contextlib.suppress(FileNotFoundError), _flocked(path, fcntl.LOCK_EX, create=False):
        path.unlink()
