"""file: copies between local paths, with the same interface as the network backends.

Every write goes through sarra.transfer.safe_fs: from the root given by `confine_to` (a
sender's destination directory), directories are walked without following a symlink that
leads out, and the last name is never followed (a file is made anew there; a rename, removal
or link acts on the entry itself). Without a root, the directories of a path are followed as
the system does, and its last name still never is.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from sarra.config.credentials import Credential
from sarra.transfer.base import OPERATIONS, Entry, Transfer, TransferSettings, check_range
from sarra.transfer.errors import TransferError, Unsupported, os_error_class, os_error_reason
from sarra.transfer.safe_fs import Folder, open_folder
from sarra.transfer.stream import Progress


class LocalTransfer(Transfer):
    """The `file` scheme: paths are local; there is no connection, so no timeout applies."""

    capabilities = frozenset(OPERATIONS)

    def __init__(self, server: Credential, settings: TransferSettings) -> None:
        super().__init__(server, settings)
        if server.host not in ("", "localhost"):
            raise Unsupported("open", self.url(), "a file URL names no host but localhost")
        self._root: str | None = None

    def confine_to(self, root: str | None) -> None:
        self._root = root

    def _folder(self, path: str, *, create: bool = False, mode: int | None = None) -> Folder:
        """The directory `path` opened from the root (see the module docstring)."""
        root = self._root or ("/" if os.path.isabs(path) else ".")
        return open_folder(root, path, create=create, mode=mode)

    def _parent(self, path: str) -> tuple[Folder, str]:
        """The directory of `path`, opened, and the last name of `path`."""
        directory, name = os.path.split(path)
        if not name:
            raise IsADirectoryError(path)
        return self._folder(directory or "."), name

    def url(self, path: str = "") -> str:
        return f"file://{path}"

    def get(
        self,
        remote_path: str,
        local_file: BinaryIO,
        offset: int = 0,
        length: int | None = None,
        *,
        progress: Progress | None = None,
    ) -> int:
        check_range(offset, length)
        with self._failing("get", remote_path), open(remote_path, "rb") as source:
            self._check_offset("get", remote_path, offset, os.fstat(source.fileno()).st_size)
            source.seek(offset)
            copied = self._copy(source.read, local_file.write, length, progress)
        self._check_copied("get", remote_path, copied, length)
        return copied

    def put(
        self,
        local_file: BinaryIO,
        remote_path: str,
        offset: int = 0,
        length: int | None = None,
        *,
        progress: Progress | None = None,
    ) -> int:
        check_range(offset, length)
        whole = offset == 0 and length is None
        with self._failing("put", remote_path):
            folder, name = self._parent(remote_path)
            with folder:  # a whole file is made anew; a range goes into the file kept there
                fd = folder.create(name) if whole else folder.open_kept(name)
            with os.fdopen(fd, "wb") as target:
                target.seek(offset)
                copied = self._copy(local_file.read, target.write, length, progress)
        self._check_copied("put", remote_path, copied, length)
        return copied

    def ls(self, remote_dir: str) -> list[Entry]:
        with self._failing("ls", remote_dir), os.scandir(remote_dir) as entries:
            return [_entry(e.name, e.stat(follow_symlinks=False)) for e in entries]

    def mkdir(self, path: str, mode: int = 0o775) -> None:
        with self._failing("mkdir", path):
            self._folder(path, create=True, mode=mode).close()

    def delete(self, path: str) -> None:
        with self._failing("delete", path):
            folder, name = self._parent(path)
            with folder:
                if not folder.remove(name):
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)

    def rename(self, old: str, new: str) -> None:
        with self._failing("rename", old):
            source, old_name = self._parent(old)
            with source:
                target, new_name = self._parent(new)
                with target:
                    source.rename(old_name, target, new_name)

    def chmod(self, path: str, mode: int) -> None:
        with self._failing("chmod", path):
            folder, name = self._parent(path)
            with folder:
                folder.chmod(name, mode)

    def utime(self, path: str, mtime: float, atime: float | None = None) -> None:
        with self._failing("utime", path):
            folder, name = self._parent(path)
            with folder:
                folder.utime(name, (mtime if atime is None else atime, mtime))

    def symlink(self, target: str, path: str) -> None:
        with self._failing("symlink", path):
            folder, name = self._parent(path)
            with folder:
                folder.symlink(target, name)

    def _disconnect(self) -> None:
        """Nothing to close: local files are opened per operation."""

    def _classify(self, exc: Exception) -> tuple[type[TransferError], str] | None:
        if isinstance(exc, OSError):
            return os_error_class(exc), os_error_reason(exc)
        return None


def _entry(name: str, st: os.stat_result) -> Entry:
    return Entry(
        name=name,
        size=st.st_size,
        mtime=st.st_mtime,
        mode=stat.S_IMODE(st.st_mode),
        is_dir=stat.S_ISDIR(st.st_mode),
        is_link=stat.S_ISLNK(st.st_mode),
    )
