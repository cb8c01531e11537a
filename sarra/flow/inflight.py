"""Writing a file so that it is never seen half-written under its final name: it is written
under an inflight name (suffix, '.' prefix, a sub-directory or the tempdir), then renamed into
place. `inflight NONE` writes the final name directly, as the operator asked; what a failed
write left there is removed.

Every file is opened through sarra.transfer.safe_fs: the directories from the destination's
root (or the tempdir) are walked without following a symlink that leads out, and a file is made
anew at its name, never opened through what stood there (a stale inflight file, a symlink). A
final name that is a symlink is replaced by the file, never written through.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import BinaryIO, TypeVar

from sarra.flow.placement import Placement
from sarra.transfer.safe_fs import Folder, Identity, identity, open_folder
from sarra.transfer.stream import write_all

_Written = TypeVar("_Written")


class Inflight:
    """The naming rule of files being written."""

    def __init__(self, inflight: str | None, tempdir: str | None = None) -> None:
        self.rule = (inflight or "NONE").strip()
        self.tempdir = Path(tempdir) if tempdir else None

    def temporary(self, final: Path) -> Path:
        """The name a file is written under until complete."""
        if self.tempdir is not None:
            return self.tempdir / final.name
        rule = self.rule
        if rule.upper() == "NONE" or rule == "umask" or _is_number(rule):
            return final
        if rule == ".":
            return final.with_name("." + final.name)
        if rule.endswith("/"):
            return final.parent / rule / final.name
        return final.with_name(final.name + rule)

    def is_temporary(self, name: str) -> bool:
        """Whether a file name is one of this rule's inflight names (to leave alone)."""
        rule = self.rule
        if rule == ".":
            return name.startswith(".")
        if rule.startswith(".") and len(rule) > 1:
            return name.endswith(rule)
        return False

    def open(self, placement: Placement, dir_mode: int | None = None) -> Destination:
        """The directories of a file's final and inflight names, opened (and made, with
        `dir_mode`) from the placement's root, or the tempdir (PathRefused if a symlink on the
        way leads out)."""
        final = placement.path
        temporary = self.temporary(final)
        folder = open_folder(placement.root, final.parent, mode=dir_mode)
        try:
            if temporary.parent == final.parent:
                return Destination(folder, final.name, folder, temporary.name)
            root = self.tempdir if self.tempdir is not None else placement.root
            inflight = open_folder(root, temporary.parent, mode=dir_mode)
        except BaseException:
            folder.close()
            raise
        return Destination(folder, final.name, inflight, temporary.name)


class Destination:
    """Where one file goes: its final name and its inflight name, each in its open directory."""

    def __init__(self, folder: Folder, name: str, inflight: Folder, inflight_name: str) -> None:
        self.folder = folder
        self.name = name
        self.inflight = inflight
        self.inflight_name = inflight_name

    def __enter__(self) -> Destination:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close both directories."""
        self.inflight.close()
        self.folder.close()

    @property
    def writes_final(self) -> bool:
        """Whether the inflight name is the final name itself (inflight NONE)."""
        return self.inflight is self.folder and self.inflight_name == self.name

    def write(
        self, write: Callable[[BinaryIO], _Written], finish: Callable[[int], None]
    ) -> _Written:
        """What `write` returns, having written a new file under the inflight name, given it
        its attributes (`finish`, with its descriptor) and renamed it into place. If anything
        fails, what was written is removed, under whichever name it was."""
        fd = self.inflight.create(self.inflight_name)
        written = identity(fd)
        try:
            try:
                with open(fd, "wb", closefd=False) as file:
                    result = write(file)
                finish(fd)
            finally:
                # closed before the rename: a watcher of the directory (sr_watch) sees the
                # close under the inflight name, then the move; never a close of the final name
                os.close(fd)
            publish(written, self.inflight, self.inflight_name, self.folder, self.name)
        except BaseException:
            self.inflight.discard(self.inflight_name, written)
            raise
        return result


def publish(
    written: Identity, inflight: Folder, inflight_name: str, folder: Folder, name: str
) -> None:
    """Make the complete file `written`, at `inflight_name`, visible as `name` in `folder`: a
    rename, or across file systems (a tempdir elsewhere) a copy beside the final name renamed
    into place. OSError if the inflight name no longer holds this file."""
    if inflight is folder and inflight_name == name:
        return
    if not inflight.holds(inflight_name, written):
        raise _replaced(inflight, inflight_name)
    try:
        inflight.rename(inflight_name, folder, name)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
        source = inflight.open_read(inflight_name)
        try:
            if identity(source) != written:
                raise _replaced(inflight, inflight_name) from None
            _copy_across(source, folder, name)
        finally:
            os.close(source)
        inflight.discard(inflight_name, written)


def _replaced(inflight: Folder, name: str) -> OSError:
    shown = inflight.path_of(name)
    return FileNotFoundError(errno.ENOENT, "replaced while it was written", str(shown))


def _copy_across(fd: int, folder: Folder, name: str) -> None:
    """Copy the file `fd` (with its mode and times) beside `name`, then rename it into place."""
    beside = f".{name}.sarra-copy"
    target = folder.create(beside)
    try:
        try:
            position = 0
            while chunk := os.pread(fd, 1 << 20, position):
                write_all(partial(os.write, target), chunk)
                position += len(chunk)
            st = os.fstat(fd)
            os.chmod(target, st.st_mode & 0o7777)
            os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
            os.fsync(target)
        finally:
            os.close(target)  # before the rename, as the file written (Destination.write)
        folder.rename(beside, folder, name)
    except BaseException:
        with contextlib.suppress(OSError):
            folder.remove(beside)
        raise


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
