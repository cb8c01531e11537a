"""file: copies between local paths, with the same interface as the network backends."""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from sarra.config.credentials import Credential
from sarra.transfer.base import OPERATIONS, Entry, Transfer, TransferSettings, check_range
from sarra.transfer.errors import TransferError, Unsupported, os_error_class, os_error_reason
from sarra.transfer.stream import Progress


class LocalTransfer(Transfer):
    """The `file` scheme: paths are local; there is no connection, so no timeout applies."""

    capabilities = frozenset(OPERATIONS)

    def __init__(self, server: Credential, settings: TransferSettings) -> None:
        super().__init__(server, settings)
        if server.host not in ("", "localhost"):
            raise Unsupported("open", self.url(), "a file URL names no host but localhost")

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
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if whole else 0)
        with (
            self._failing("put", remote_path),
            os.fdopen(os.open(remote_path, flags, 0o666), "wb") as target,
        ):
            target.seek(offset)
            copied = self._copy(local_file.read, target.write, length, progress)
        self._check_copied("put", remote_path, copied, length)
        return copied

    def ls(self, remote_dir: str) -> list[Entry]:
        with self._failing("ls", remote_dir), os.scandir(remote_dir) as entries:
            return [_entry(e.name, e.stat(follow_symlinks=False)) for e in entries]

    def mkdir(self, path: str, mode: int = 0o775) -> None:
        with self._failing("mkdir", path):
            missing: list[str] = []
            current = os.path.normpath(path)
            while current and not os.path.isdir(current):
                missing.append(current)
                parent = os.path.dirname(current)
                if parent == current:
                    break
                current = parent
            for directory in reversed(missing):
                try:
                    os.mkdir(directory)
                except FileExistsError:
                    if not os.path.isdir(directory):  # else made meanwhile by another
                        raise
                    continue
                os.chmod(directory, mode)

    def delete(self, path: str) -> None:
        with self._failing("delete", path):
            if stat.S_ISDIR(os.lstat(path).st_mode):
                os.rmdir(path)
            else:
                os.unlink(path)

    def rename(self, old: str, new: str) -> None:
        with self._failing("rename", old):
            os.replace(old, new)

    def chmod(self, path: str, mode: int) -> None:
        with self._failing("chmod", path):
            os.chmod(path, mode)

    def utime(self, path: str, mtime: float, atime: float | None = None) -> None:
        with self._failing("utime", path):
            os.utime(path, (mtime if atime is None else atime, mtime))

    def symlink(self, target: str, path: str) -> None:
        with self._failing("symlink", path):
            os.symlink(target, path)

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
