"""Writing below a directory, never through a symlink that leads out of it.

Every file the pump writes, renames or removes below a destination is reached from the root of
that destination one name at a time, through directory descriptors (`open_folder`):

- each directory on the way is opened with O_DIRECTORY|O_NOFOLLOW. A symlink met there is not
  followed by the kernel: its target is read and walked by hand, while it stays below the root
  (a link to a directory inside the tree is established practice); one that leads out is
  refused (PathRefused, one log line). A missing directory is made (with `mode`, if given).
  A directory below one already open is walked the same way, that one standing for the root
  (`open_below`: the members of an archive below its output directory).
- the last name is never followed (`Folder`). A file is made with O_CREAT|O_EXCL|O_NOFOLLOW,
  after whatever stood at its name (a stale inflight file left by a crash, a symlink planted
  there) is removed, never opened through: a symlink removed so is logged. A file kept across
  writes (the state and work files of a file in parts) is used only when it is a regular file
  with a single link; anything else there is removed and the file made afresh. A name another
  process is about to write (a peer's push) is cleared the same way beforehand (`clear`).
- renames, removals, links, modes and times act on the entry itself, in its opened directory.

The descriptors hold the directories themselves: a name swapped for a symlink after the walk
changes nothing for what is done through them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import uuid
from pathlib import Path

from sarra.transfer.confine import PathRefused, StrPath

logger = logging.getLogger(__name__)

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_KEPT = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_MAX_LINKS = 40  # symlinks followed in one walk, as the kernel's own limit
_TRIES = 8  # a name raced for by another writer: how often it is taken again

Identity = tuple[int, int]
"""(device, inode) of a file written: the file a name must still be to be renamed or removed."""


def identity(fd: int) -> Identity:
    """The (device, inode) of an open file."""
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


class Folder:
    """An open directory below a root: what is done to a name in it is done through the
    directory's descriptor and never follows the name if it is a symlink."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self._path = path

    @property
    def path(self) -> Path:
        """The directory's path (as walked: below the root, before any symlink on the way)."""
        return Path(self._path)

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the directory's descriptor (once)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def path_of(self, name: str) -> Path:
        """The path of `name` in this directory, for messages."""
        return Path(self._path, name)

    def lstat(self, name: str) -> os.stat_result | None:
        """What stands at `name` (a symlink itself, not its target); None if nothing does."""
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def holds(self, name: str, written: Identity) -> bool:
        """Whether `name` is still the file `written` (not replaced, renamed or removed)."""
        st = self.lstat(name)
        return st is not None and (st.st_dev, st.st_ino) == written

    def create(self, name: str, mode: int = 0o666) -> int:
        """A new, empty file at `name`, open for reading and writing. Whatever stood at the name
        is removed first (a symlink, logged), never opened through."""
        for _ in range(_TRIES):
            try:
                return os.open(name, _NEW, mode, dir_fd=self.fd)
            except FileExistsError:
                self.clear(name)
        raise FileExistsError(
            errno.EEXIST, "made again and again by another writer", str(self.path_of(name))
        )

    def create_unique(self, prefix: str, suffix: str) -> tuple[str, int]:
        """A new file with a name of its own (prefix, random part, suffix), and its descriptor."""
        while True:
            name = f"{prefix}{uuid.uuid4().hex[:12]}{suffix}"
            try:
                return name, os.open(name, _NEW, 0o666, dir_fd=self.fd)
            except FileExistsError:
                continue

    def open_kept(self, name: str, *, create: bool = True, append: bool = False) -> int:
        """The regular file at `name` (with a single link), open for reading and writing; made
        when missing (unless not `create`: FileNotFoundError). Anything else that stands there
        (a symlink, a hard link, a device) is removed and the file made afresh."""
        flags = _KEPT | (os.O_APPEND if append else 0)
        for _ in range(_TRIES):
            try:
                fd = os.open(name, flags, dir_fd=self.fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    fd = os.open(name, _NEW | (os.O_APPEND if append else 0), 0o666, dir_fd=self.fd)
                except FileExistsError:
                    continue
                return fd
            except OSError as err:
                if err.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                    raise
                if not create:
                    raise FileNotFoundError(
                        errno.ENOENT, "not a regular file", str(self.path_of(name))
                    ) from None
                self.clear(name)
                continue
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                return fd
            os.close(fd)
            if not create:
                raise FileNotFoundError(errno.ENOENT, "not a regular file", str(self.path_of(name)))
            self.clear(name)
        raise FileExistsError(
            errno.EEXIST, "replaced again and again by another writer", str(self.path_of(name))
        )

    def open_read(self, name: str) -> int:
        """The file at `name` open for reading, never through a symlink (OSError if it is one)."""
        return os.open(name, _READ, dir_fd=self.fd)

    def remove(self, name: str) -> bool:
        """Remove the file, symlink or empty directory at `name`; False if nothing was there."""
        st = self.lstat(name)
        if st is None:
            return False
        try:
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(name, dir_fd=self.fd)
            else:
                os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            return False
        return True

    def discard(self, name: str, written: Identity) -> None:
        """Remove `name` if it is still the file `written` (what a failed write leaves)."""
        if self.holds(name, written):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=self.fd)

    def rename(self, name: str, to: Folder, new: str) -> None:
        """Rename the entry `name` (itself, even a symlink) to `new` in `to`, replacing it."""
        os.rename(name, new, src_dir_fd=self.fd, dst_dir_fd=to.fd)

    def symlink(self, target: str, name: str) -> None:
        """Make `name` a symlink to `target`, replacing what stood there in one step."""
        temporary = f".{name}.sarra-link"
        self.remove(temporary)
        os.symlink(target, temporary, dir_fd=self.fd)
        try:
            os.rename(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            self.remove(temporary)
            raise

    def readlink(self, name: str) -> str:
        """The target of the symlink `name`."""
        return os.readlink(name, dir_fd=self.fd)

    def chmod(self, name: str, mode: int) -> None:
        """Set the permission bits of the file at `name` (never of a symlink's target)."""
        fd = self.open_read(name)
        try:
            os.chmod(fd, mode)
        finally:
            os.close(fd)

    def utime(self, name: str, times: tuple[float, float]) -> None:
        """Set (atime, mtime) of the entry at `name` (a symlink's own, not its target's)."""
        os.utime(name, times, dir_fd=self.fd, follow_symlinks=False)

    def clear(self, name: str) -> None:
        """Remove what stands at `name` so that a file can be made there (by us, or by a peer
        told to write it): a symlink is logged (removed, never followed), a directory refused."""
        st = self.lstat(name)
        if st is None:
            return
        shown = self.path_of(name)
        if stat.S_ISDIR(st.st_mode):
            raise PathRefused(str(shown), "a directory stands where a file is to be written")
        if stat.S_ISLNK(st.st_mode):
            try:
                target = self.readlink(name)
            except OSError:
                target = "?"
            logger.warning("removed a symlink at %s (to %s): a file is written there, never "
                           "through a link", _show(shown), _show(target))  # fmt: skip
        else:
            logger.debug("removed a stale file at %s", _show(shown))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.fd)


def open_folder(
    root: StrPath, directory: StrPath, *, create: bool = True, mode: int | None = None
) -> Folder:
    """The directory `directory` (below `root`: absolute, or relative to it) opened by a walk from
    `root` that follows a symlink only while it stays below `root` (PathRefused otherwise).

    `root` is the operator's directory: it is made if missing and its own path is trusted.
    Missing directories below it are made with `mode` (chmod_dir), unless not `create`
    (FileNotFoundError).
    """
    root_text, shown = os.fspath(root), os.fspath(directory)
    names = _names_below(root_text, shown)
    try:
        root_fd = os.open(root_text, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        if not create:
            raise
        os.makedirs(root_text, exist_ok=True)
        if mode:
            os.chmod(root_text, mode)
        root_fd = os.open(root_text, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _walk(root_fd, root_text, names, shown, create=create, mode=mode)
    except BaseException:
        os.close(root_fd)
        raise
    if fd != root_fd:
        os.close(root_fd)
    path = shown if os.path.isabs(shown) else os.path.join(root_text, shown)
    return Folder(fd, path)


def open_below(folder: Folder, directory: str, *, create: bool = True) -> Folder:
    """The directory `directory` (relative) below an open Folder, walked as `open_folder` walks
    below its root, the Folder standing for the root (PathRefused if it leads out of it)."""
    if directory.startswith("/"):
        raise PathRefused(directory, f"absolute, not below {_show(folder.path)}")
    names = directory.split("/")
    fd = _walk(folder.fd, str(folder.path), names, directory, create=create, mode=None)
    if fd == folder.fd:
        fd = os.dup(fd)
    return Folder(fd, os.path.join(folder.path, directory))


def _names_below(root: str, directory: str) -> list[str]:
    """The names leading from `root` (as given, or its real path) to `directory`, or
    PathRefused."""
    if not directory.startswith("/"):
        return directory.split("/")
    below = _below(root, directory)
    if below is None:
        below = _below(os.path.realpath(root), directory)
    if below is None:
        raise PathRefused(directory, f"outside {_show(root)}")
    return below


def _below(base: str, path: str) -> list[str] | None:
    """The names of `path` below `base` (both absolute), None if it is not below."""
    base = base.rstrip("/")
    if path == base:
        return []
    if not path.startswith(base + "/"):
        return None
    return path[len(base) + 1 :].split("/")


def _walk(
    root_fd: int, root: str, names: list[str], shown: str, *, create: bool, mode: int | None
) -> int:
    """The descriptor of the directory `names` lead to from `root_fd` (root_fd itself when they
    lead nowhere else; the caller keeps it); `shown` names that directory in refusals."""
    stack = [root_fd]  # the directories walked, root first: '..' goes back one
    walked: list[str] = []  # their names below root, for messages
    pending = list(reversed(names))
    links = made = 0
    just_made = None
    try:
        while pending:
            name = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if len(stack) == 1:
                    raise PathRefused(shown, f"climbs out of {_show(root)}")
                os.close(stack.pop())
                walked.pop()
                continue
            try:
                fd = os.open(name, _DIRECTORY, dir_fd=stack[-1])
            except FileNotFoundError:
                if not create or made >= len(names) + _TRIES:
                    raise
                made += 1
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=stack[-1])
                    just_made = name
                pending.append(name)
                continue
            except OSError as err:
                if err.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                target = _symlink_target(stack[-1], name)
                if target is None:  # a file where a directory is wanted
                    raise
                links += 1
                link = "/".join([*walked, name])
                if links > _MAX_LINKS:
                    raise PathRefused(
                        shown, f"{_show(link)}: too many levels of symlinks"
                    ) from None
                if target.startswith("/"):
                    below = _link_below(root, target)
                    if below is None:
                        reason = (
                            f"{_show(link)} is a symlink to {_show(target)}, outside {_show(root)}"
                        )
                        raise PathRefused(shown, reason) from None
                    while len(stack) > 1:
                        os.close(stack.pop())
                    walked.clear()
                    pending.extend(reversed(below))
                    continue
                pending.extend(reversed(target.split("/")))
                continue
            stack.append(fd)
            walked.append(name)
            if name == just_made and mode:
                os.chmod(fd, mode)
            just_made = None
        return stack.pop()
    finally:
        for fd in stack[1:]:
            os.close(fd)


def _symlink_target(dir_fd: int, name: str) -> str | None:
    """The target of `name` if it is a symlink, else None."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as err:
        if err.errno == errno.EINVAL:  # not a symlink
            return None
        raise


def _link_below(root: str, target: str) -> list[str] | None:
    """An absolute symlink target as names below `root` (as given, or its real path), or None
    when it names a place outside."""
    below = _below(root, target)
    return below if below is not None else _below(os.path.realpath(root), target)


def _show(path: StrPath) -> str:
    """A path as it can go on one log line."""
    text = os.fspath(path)
    return text if text.isprintable() else repr(text)
