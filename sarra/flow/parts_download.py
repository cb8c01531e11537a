"""Files announced in parts: each part is fetched, verified against its own notice and kept
until every part is here; then the file is reassembled under its work name and renamed into
place, so a file under its final name is always whole.

Beside the final file `name`, while its parts come in:

- `.name.sarra-parts`, the state: one line appended per event, `layout <block size> <count>
  <remainder>` (the file's cut; a new one starts afresh; `?` for a remainder not yet known, as
  sr3's v02 parts of a block other than the last leave it, then told by the last block without
  starting afresh), `source <mtime>` (the version of the file the parts are of: a part of a
  later one drops them, a part of an earlier one is skipped, so a file that changed at its
  source while its parts came is never assembled from two versions), `have <n> <where>
  <flag>,<digest>` (a verified part) and `drop <n>`. Its exclusive flock guards the file's
  bookkeeping across worker threads and instances; a restart reads where the last run stopped.
- the work file (the inflight name; `.name.sarra-work` when inflight would be the final name):
  parts written in place (inplace), and the reassembly. Workers writing parts into it share its
  flock; reassembly holds it alone and, still holding it, renames the work file to
  `.name.sarra-ready` beside it, so nothing is written into a file being put in place; closed,
  that is renamed to the final name (a watcher sees the close under a hidden name, then the
  move).
- part files `name.<block size>.<count>.<n>.<flag>.Part` (inplace False), each a verified part,
  renamed to that name when it is recorded.

A part's bytes are in the work file, in its part file, or already in the final file (`final`):
that is how a changed file moves only its changed parts. Once every part of the layout is
recorded, each is copied into the work file and verified again against its checksum; a part
found wrong is dropped (and fetched when announced again), else the file is cut to its size,
given its mode and times and renamed into place, and the part files and state removed.

Each of these files is opened through sarra.transfer.safe_fs (in the directories the Destination
holds open), never through a symlink; one found at their name is removed and the file made
afresh. A part that fails or is refused while no part of the file is recorded leaves neither
state nor work file behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sarra.flow.inflight import Destination, publish
from sarra.integrity.checksum import b64_to_hex, checksum_fd, new_checksum
from sarra.integrity.parts import INPLACE, Parts
from sarra.message.notice import Notice, time_to_epoch
from sarra.transfer.safe_fs import Folder, Identity, identity

logger = logging.getLogger(__name__)

FetchRange = Callable[[BinaryIO, int, int, str], str]
"""(file, offset, length, flag): copy that byte range of the remote file to the file at its
position and return the checksum of the bytes copied (the v02 value of that flag)."""

Finish = Callable[[int], None]
"""Gives the assembled file (an open descriptor) its mode and times."""

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
    """How a file is cut: the block size, the block count and the remainder (None while no
    notice has told it: only the last block's must)."""

    block_size: int
    count: int
    remainder: int | None

    def block(self, number: int) -> Parts:
        return Parts(INPLACE, self.block_size, self.count, self.remainder or 0, number)

    @property
    def file_size(self) -> int | None:
        return None if self.remainder is None else self.block(0).file_size

    def merged(self, other: Layout) -> Layout | None:
        """The cut both describe (one may not know the remainder); None if they differ."""
        if (self.block_size, self.count) != (other.block_size, other.count):
            return None
        if self.remainder is None or other.remainder is None:
            return self if other.remainder is None else other
        return self if self.remainder == other.remainder else None

    def __str__(self) -> str:
        remainder = "?" if self.remainder is None else self.remainder
        return f"{self.block_size} {self.count} {remainder}"


class _Files:
    """The names of one file in parts, in the directories its Destination holds open: the
    final file, its state, its part files (beside it) and the work file (its inflight name, or
    `.name.sarra-work` when that is the final name)."""

    def __init__(self, destination: Destination) -> None:
        self.folder = destination.folder
        self.final = destination.name
        self.state = f".{self.final}.sarra-parts"
        self.ready = f".{self.final}.sarra-ready"  # beside the work file: assembled, closed
        if destination.writes_final:
            self.work_folder, self.work = self.folder, f".{self.final}.sarra-work"
        else:
            self.work_folder, self.work = destination.inflight, destination.inflight_name

    @property
    def path(self) -> Path:
        """The final path, for messages and keys."""
        return self.folder.path_of(self.final)

    def part(self, layout: Layout, number: int, flag: str) -> str:
        return f"{self.final}.{layout.block_size}.{layout.count}.{number}.{flag}.Part"

    def remove_parts(self, state: State) -> None:
        """Remove the part files a state records."""
        if state.layout is None:
            return
        for number, (where, value) in state.have.items():
            if where == PART:
                self.folder.remove(self.part(state.layout, number, value.split(",")[0]))

    def remove_work(self) -> None:
        """Remove the work file once no part is being written into it."""
        with (
            contextlib.suppress(FileNotFoundError),
            flocked(self.work_folder, self.work, fcntl.LOCK_EX, create=False),
        ):
            self.work_folder.remove(self.work)


@dataclass
class State:
    """What a state file records: the file's layout, the parts here (`have`) and which
    version of the source they are of (`source`: the notices' mtime here; the local file's
    version for a file sent, sarra.flow.parts_send)."""

    layout: Layout | None = None
    have: dict[int, tuple[str, str]] = field(default_factory=dict)  # n: (where, "flag,digest")
    source: str | None = None


class _Book:
    """The state file of one final file, under its exclusive lock."""

    def __init__(self, fd: int, files: _Files, layout: Layout) -> None:
        self.fd = fd
        self.files = files
        self.layout = layout
        self.state = read_state(fd)
        self.stale = False  # the part is of an older version than the parts recorded

    def write(self, line: str) -> None:
        os.write(self.fd, f"{line}\n".encode())

    def record(self, number: int, where: str, value: str) -> None:
        self.write(f"have {number} {where} {value}")
        self.state.have[number] = (where, value)

    def drop(self, number: int) -> None:
        self.write(f"drop {number}")
        self.state.have.pop(number, None)

    def remove(self) -> None:
        """Remove the state file (the lock is held until it is closed)."""
        self.files.folder.remove(self.files.state)


def read_state(fd: int) -> State:
    """The state a state file's lines record (a line cut short by a crash is cut off)."""
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    end = data.rfind(b"\n") + 1
    if end < len(data):  # a line cut short by a crash: its part was not acknowledged
        os.ftruncate(fd, end)
    state = State()
    for line in data[:end].decode("utf-8", "replace").splitlines():
        match line.split():
            case ["layout", size, count, remainder] if _digits(size, count) and (
                remainder == "?" or _digits(remainder)
            ):
                layout = Layout(int(size), int(count), None if remainder == "?" else int(remainder))
                merged = state.layout and state.layout.merged(layout)
                state = State(merged, state.have, state.source) if merged else State(layout)
            case ["source", source]:
                state.source = source
            case ["have", number, where, value] if _digits(number) and where in _PLACES:
                state.have[int(number)] = (where, value)
            case ["drop", number] if _digits(number):
                state.have.pop(int(number), None)
    return state


def _superseded(wanted: _Wanted) -> PartResult:
    reason = f"{wanted.name} is of an older version of the file than the parts here"
    return PartResult("skipped", reason)


def _source_time(state: State) -> float | None:
    """The mtime of the version of the source the parts recorded are of (None if unknown)."""
    try:
        return None if state.source is None else float(state.source)
    except ValueError:
        return None


def _digits(*texts: str) -> bool:
    return all(text.isascii() and text.isdigit() for text in texts)


@contextlib.contextmanager
def flocked(
    folder: Folder, name: str, mode: int, *, create: bool = True, append: bool = False
) -> Iterator[int]:
    """A descriptor of the regular file `name` under flock `mode`, once `name` still names the
    very file locked (it may have been renamed or removed while we waited)."""
    while True:
        fd = folder.open_kept(name, create=create, append=append)
        try:
            fcntl.flock(fd, mode)
            if folder.holds(name, identity(fd)):
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

    files: _Files
    part: Parts
    remainder: int | None  # the notice's (the part's is 0 when not known)
    flag: str
    digest: str | None  # None: the notice's identity is not the part's checksum (sr3's)
    mtime: float | None

    @property
    def expected(self) -> str | None:
        return None if self.digest is None else f"{self.flag},{self.digest}"

    @property
    def name(self) -> str:
        return f"part {self.part.number} of {self.part.block_count}"

    @property
    def layout(self) -> Layout:
        return Layout(self.part.block_size, self.part.block_count, self.remainder)

    def held_by_final(self, bufsize: int) -> bool:
        """Whether the final file (never read through a symlink) already holds this part's
        bytes."""
        flag, digest, part = self.flag, self.digest, self.part
        if digest is None:
            return False
        try:
            fd = self.files.folder.open_read(self.files.final)
        except OSError:
            return False
        try:
            if os.fstat(fd).st_size < part.offset + part.length:
                return False
            return checksum_fd(fd, flag, part.offset, part.length, bufsize) == digest
        except (OSError, ValueError):
            return False
        finally:
            os.close(fd)

    def is_version_of_final(self) -> bool:
        """Whether the final file has the size and time the notice announces: then a part it
        holds is simply here, with no assembly to begin."""
        stat = self.files.folder.lstat(self.files.final)
        return (
            stat is not None
            and self.mtime is not None
            and self.layout.file_size is not None
            and stat.st_size == self.layout.file_size
            and abs(stat.st_mtime - self.mtime) < _SAME_MTIME
        )


class PartDownloader:
    """Writes parts of files (in place or as part files) and reassembles them."""

    def __init__(self, *, inplace: bool, overwrite: bool, bufsize: int) -> None:
        self.inplace = inplace
        self.overwrite = overwrite
        self.bufsize = bufsize
        self._busy = _KeyedLocks()  # a part delivered twice at once: the second one waits

    def fetch(
        self,
        notice: Notice,
        destination: Destination,
        fetch_range: FetchRange,
        finish: Finish,
    ) -> PartResult:
        """Bring one part of a file to its destination. `finish` gives the assembled file its
        mode and times before it is renamed into place."""
        assert notice.blocks is not None
        identity = notice.identity
        flag = _FLAGS.get(identity.method) if identity else None
        if identity is None or flag is None:
            return PartResult("permanent", "a file in parts needs md5 or sha512 checksums")
        blocks = notice.blocks
        try:
            digest = None if blocks.unchecked else b64_to_hex(identity.value)
            mtime = time_to_epoch(notice.mtime) if notice.mtime else None
        except ValueError as err:
            return PartResult("permanent", str(err))
        files = _Files(destination)
        wanted = _Wanted(files, blocks.to_parts(), blocks.remainder, flag, digest, mtime)
        with self._busy.hold((files.path, wanted.part.number)):
            with self._book(wanted) as book:
                known = _superseded(wanted) if book.stale else self._known(book, wanted, finish)
            if known is not None:
                return known
            result = None
            try:
                result = self._download(wanted, fetch_range, finish)
            finally:
                if result is None or result.status not in ("done", "skipped"):
                    self._forget_if_empty(wanted)
            return result

    def _known(self, book: _Book, wanted: _Wanted, finish: Finish) -> PartResult | None:
        """The result for a part already recorded or already in the local file; None if it
        is to be fetched."""
        have, name, expected = book.state.have, wanted.name, wanted.expected
        if expected is None:
            return None  # nothing to know it by: fetched
        if have.get(wanted.part.number, ("", ""))[1] == expected:
            return self._settle(book, finish, "skipped", f"{name} already here")
        if self.overwrite or not wanted.held_by_final(self.bufsize):
            return None
        if not have and wanted.is_version_of_final():
            book.remove()  # no assembly begun, none left behind
            return PartResult("skipped", f"{name} matches; the local file is this version")
        book.record(wanted.part.number, FINAL, expected)
        return self._settle(book, finish, "skipped", f"{name} already in the local file")

    def _download(self, wanted: _Wanted, fetch_range: FetchRange, finish: Finish) -> PartResult:
        """Fetch the part (into the work file, or a part file), verify and record it."""
        files, part, name = wanted.files, wanted.part, wanted.name
        flag, digest = wanted.flag, wanted.digest
        pending: tuple[str, Identity] | None = None
        written_into: Identity | None = None
        try:
            if self.inplace:
                where = WORK
                got, written_into = self._write_in_place(files, part, flag, fetch_range)
            else:
                where = PART
                pending, got = self._write_part_file(files, part, flag, fetch_range)
            if digest is not None and got != digest:
                return PartResult("transient", f"{name}: checksum {got} is not the notice's")
            with self._book(wanted) as book:
                if book.stale:  # a newer version's part came meanwhile
                    return _superseded(wanted)
                done_meanwhile = (
                    not self.overwrite and not book.state.have and wanted.is_version_of_final()
                )
                if done_meanwhile and wanted.held_by_final(self.bufsize):  # this part came twice
                    files.remove_work()
                    book.remove()
                    return PartResult("skipped", f"{name} came twice; the file is complete")
                replaced = written_into is not None and not files.work_folder.holds(
                    files.work, written_into
                )
                if replaced:
                    return PartResult("transient", f"{name}: the work file was replaced meanwhile")
                if pending is not None:
                    part_name = files.part(wanted.layout, part.number, flag)
                    files.folder.rename(pending[0], files.folder, part_name)
                    pending = None
                book.record(part.number, where, f"{flag},{got}")
                done = "written and verified" if digest else "written (sr3's: nothing to verify)"
                return self._settle(book, finish, "done", f"{name} {done}", part.length)
        finally:
            if pending is not None:
                files.folder.discard(*pending)

    def _forget_if_empty(self, wanted: _Wanted) -> None:
        """After a part failed: when no part of the file is recorded, remove its state and
        work file, so that a part refused or failing leaves nothing behind."""
        files = wanted.files
        try:
            try:
                with flocked(files.folder, files.state, fcntl.LOCK_EX, create=False) as fd:
                    if read_state(fd).have:
                        return
                    files.remove_work()
                    files.folder.remove(files.state)
            except FileNotFoundError:
                files.remove_work()
        except OSError as err:
            logger.warning("%s: state or work file of a failed part not removed: %s",
                           files.path, err)  # fmt: skip

    def _settle(
        self, book: _Book, finish: Finish, status: str, what: str, fetched: int = 0
    ) -> PartResult:
        """The result of a part now recorded, completing the file if it was the last one."""
        published, progress = self._complete(book, finish)
        return PartResult(status, f"{what}; {progress}", fetched, published)

    @contextlib.contextmanager
    def _book(self, wanted: _Wanted) -> Iterator[_Book]:
        """The file's state under its exclusive lock, begun afresh if the layout changed (a
        remainder told for the first time is no change); the parts of an older version are
        dropped when a newer one's part comes (a later mtime), and a part of an older version
        than those recorded leaves the state as it is (`stale`)."""
        files, layout = wanted.files, wanted.layout
        with flocked(files.folder, files.state, fcntl.LOCK_EX, append=True) as fd:
            book = _Book(fd, files, layout)
            old = book.state
            recorded = _source_time(old)
            if wanted.mtime is not None and recorded is not None:
                book.stale = wanted.mtime < recorded - _SAME_MTIME
                if book.stale:
                    yield book
                    return
            merged = old.layout and old.layout.merged(layout)
            if merged:
                if merged != old.layout:
                    book.write(f"layout {merged}")
                    old.layout = merged
                book.layout = merged
            else:
                if old.layout is not None:
                    logger.info("%s: now in blocks of %s; parts of %s dropped",
                                files.path, layout, old.layout)  # fmt: skip
                    files.remove_parts(old)
                book.write(f"layout {layout}")
                book.state = State(layout)
            current = _source_time(book.state)
            if wanted.mtime is not None and (
                current is None or wanted.mtime > current + _SAME_MTIME
            ):
                if current is not None and book.state.have:
                    logger.info("%s: changed at its source; the parts of its older version "
                                "dropped", files.path)  # fmt: skip
                    files.remove_parts(book.state)
                    for number in list(book.state.have):
                        book.drop(number)
                book.write(f"source {wanted.mtime!r}")
                book.state.source = repr(wanted.mtime)
            yield book

    def _write_in_place(
        self, files: _Files, part: Parts, flag: str, fetch_range: FetchRange
    ) -> tuple[str, Identity]:
        """The part written into the work file: its checksum, and which file that was."""
        with (
            flocked(files.work_folder, files.work, fcntl.LOCK_SH) as fd,
            open(fd, "r+b", closefd=False) as file,
        ):
            file.seek(part.offset)
            return fetch_range(file, part.offset, part.length, flag), identity(fd)

    def _write_part_file(
        self, files: _Files, part: Parts, flag: str, fetch_range: FetchRange
    ) -> tuple[tuple[str, Identity], str]:
        """The part fetched into a hidden file of its own ((name, identity)), and its
        checksum."""
        name, fd = files.folder.create_unique(f".{files.final}.", ".tmp")
        written = identity(fd)
        try:
            with open(fd, "wb") as file:
                return (name, written), fetch_range(file, part.offset, part.length, flag)
        except BaseException:
            files.folder.discard(name, written)
            raise

    def _complete(self, book: _Book, finish: Finish) -> tuple[bool, str]:
        """Reassemble and publish the file once every part is here: (published, progress)."""
        files, layout, have = book.files, book.layout, book.state.have
        here = sum(1 for n in range(layout.count) if n in have)
        size = layout.file_size  # told by the last part
        if here < layout.count or size is None:
            return False, f"{here} of {layout.count} parts here"
        final = files.folder.lstat(files.final)
        unchanged = final is not None and final.st_size == size
        if unchanged and all(where == FINAL for where, _ in have.values()):
            files.remove_work()
            book.remove()
            return False, "the local file is unchanged"
        with (
            flocked(files.work_folder, files.work, fcntl.LOCK_EX) as fd,
            open(fd, "r+b", closefd=False) as out,
        ):
            wrong = [n for n in range(layout.count) if not self._place(out, fd, book, n)]
            if wrong:
                for number in wrong:
                    if have[number][0] == PART:
                        flag = have[number][1].split(",")[0]
                        files.folder.remove(files.part(layout, number, flag))
                    book.drop(number)
                logger.warning("%s: parts %s no longer match their checksums; each is fetched "
                               "again when announced again", files.path, wrong)  # fmt: skip
                return False, f"parts {wrong} no longer match, to be fetched again"
            out.truncate(size)
            out.flush()
            finish(fd)
            written = identity(fd)
            # under the lock, the work name is let go: no part is written into it from now on
            files.work_folder.rename(files.work, files.work_folder, files.ready)
        # closed before it takes its final name: a watcher of the directory (sr_watch) sees
        # the close under a hidden name, then the move, never a close of the final name
        try:
            publish(written, files.work_folder, files.ready, files.folder, files.final)
        except BaseException:
            files.work_folder.discard(files.ready, written)  # its parts are fetched again
            raise
        files.remove_parts(book.state)
        book.remove()
        return True, "file complete"

    def _place(self, out: BinaryIO, work: int, book: _Book, number: int) -> bool:
        """Whether part `number` is in the work file (copied there from its part file or the
        final file) and matches its recorded checksum."""
        files, layout = book.files, book.layout
        where, value = book.state.have[number]
        flag = value.split(",")[0]
        block = layout.block(number)
        try:
            if where == WORK:
                got = checksum_fd(work, flag, block.offset, block.length, self.bufsize)
            else:
                source = files.final if where == FINAL else files.part(layout, number, flag)
                out.seek(block.offset)
                start = block.offset if where == FINAL else 0
                got = self._copy(files.folder, source, start, block.length, out, flag)
                out.flush()
        except (OSError, ValueError):
            return False
        return f"{flag},{got}" == value

    def _copy(
        self, folder: Folder, source: str, offset: int, length: int, out: BinaryIO, flag: str
    ) -> str:
        """Copy `length` bytes of `source` (never read through a symlink) from `offset` to
        `out`; their checksum."""
        checksum = new_checksum(flag)
        with open(folder.open_read(source), "rb") as file:
            file.seek(offset)
            left = length
            while left > 0:
                chunk = file.read(min(left, self.bufsize))
                if not chunk:
                    raise ValueError(f"{folder.path_of(source)} ends {left} bytes short")
                checksum.update(chunk)
                out.write(chunk)
                left -= len(chunk)
        return checksum.value()
