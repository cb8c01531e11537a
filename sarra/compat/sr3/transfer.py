"""`sarracenia.transfer` as sr3 flow callbacks use it: a connection to the server of the
options' `sendTo` for the polls and transfers callbacks do themselves, over sarra's own
backends (sarra.transfer: file, http(s), ftp(s), sftp).

    dest = Transfer.factory("https", self.o)    # None for a scheme sarra has no backend for
    dest.connect(); dest.cd("/data"); entries = dest.ls(); dest.close()

`ls()` gives, as sr3's do, a dict of file name -> paramiko.SFTPAttributes (st_mode, st_size,
st_mtime, filename), or for http(s) the directory's index page as bytes (the poll reads it,
sarracenia.flowcb.poll.Poll.on_html_page). get and put copy whole files or byte ranges.
"""

from __future__ import annotations

import logging
import os
import posixpath
import stat
from typing import Any
from urllib.parse import urlparse

from sarra.compat.sr3 import api
from sarra.config import paths
from sarra.config.credentials import Credentials
from sarra.config.errors import ConfigError
from sarra.transfer import Entry, TransferError, open_transfer, transfer_schemes
from sarra.transfer import Transfer as Backend

logger = logging.getLogger("sarra.plugins")

_HTTP = ("http", "https")


def attributes(entry: Entry) -> Any:
    """A listing's entry as paramiko.SFTPAttributes, as sr3's polls read them."""
    from paramiko import SFTPAttributes

    found = SFTPAttributes()
    kind = stat.S_IFDIR if entry.is_dir else stat.S_IFLNK if entry.is_link else stat.S_IFREG
    found.st_mode = kind | (entry.mode if entry.mode is not None else 0o644)
    found.st_size = entry.size
    found.st_mtime = entry.mtime
    found.st_atime = entry.mtime
    found.filename = found.longname = entry.name
    return found


class Transfer:
    """A connection to the server of the options' `sendTo` (see the module's doc)."""

    def __init__(self, proto: str, options: Any) -> None:
        self.o = options
        self.proto = proto
        self.sendTo = str(getattr(options, "sendTo", None) or "")
        self.path = ""
        self._backend: Backend | None = None
        self.metrics: dict[str, int] = {"transferRxBytes": 0, "transferTxBytes": 0}

    @staticmethod
    def factory(proto: str, options: Any) -> Transfer | None:
        """A transfer for a URL scheme; None when sarra has no backend for it."""
        return Transfer(proto, options) if proto in transfer_schemes() else None

    @staticmethod
    def registered_as() -> list[str]:
        """The schemes served."""
        return transfer_schemes()

    # --- the connection

    def connect(self) -> bool:
        """Open the connection to sendTo's server (it connects on first use)."""
        self.close()
        try:
            credentials = Credentials.load(paths.credentials_file())
        except ConfigError as err:
            logger.error("sarracenia.transfer: %s", err)
            return False
        options = self.o
        self._backend = open_transfer(
            self.sendTo,
            credentials,
            timeout=float(getattr(options, "timeout", 0) or 300),
            tls_rigour=str(getattr(options, "tlsRigour", None) or "normal"),
        )
        return True

    def check_is_connected(self) -> bool:
        """Whether connect was called (and not close since)."""
        return self._backend is not None

    def close(self) -> None:
        """Close the connection."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def _server(self) -> Backend:
        if self._backend is None:
            self.connect()
        assert self._backend is not None
        return self._backend

    def remote_path(self, name: str = "") -> str:
        """The server path of a name in the current directory (for http(s), below sendTo's
        path)."""
        directory = self.path
        if self.proto in _HTTP:
            base = urlparse(self.sendTo).path
            directory = base.rstrip("/") + "/" + directory.lstrip("/") if directory else base
        return posixpath.join(directory or "/", name) if name else directory or "/"

    # --- directories

    def cd(self, path: str) -> None:
        """Make `path` the current directory."""
        self.path = path

    def getcwd(self) -> str:
        """The current directory."""
        return self.path

    def ls(self) -> dict[str, Any] | bytes:
        """The current directory's entries (see the module's doc)."""
        backend = self._server()
        if self.proto in _HTTP and hasattr(backend, "index_parser"):
            pages: list[str] = []

            def keep(page: str, directory: str) -> list[Entry]:
                pages.append(page)
                return []

            backend.index_parser = keep
            backend.ls(self.remote_path())
            data = "".join(pages).encode()
            self.metrics["transferRxBytes"] += len(data)
            return data
        return {entry.name: attributes(entry) for entry in backend.ls(self.remote_path())}

    def mkdir(self, path: str) -> None:
        """Make a directory (and its parents)."""
        self._server().mkdir(self.remote_path(path))

    def delete(self, path: str) -> None:
        """Remove a file."""
        self._server().delete(self.remote_path(path))

    def rmdir(self, path: str) -> None:
        """Remove an empty directory."""
        self._server().delete(self.remote_path(path))

    def rename(self, old: str, new: str) -> None:
        """Rename a file."""
        self._server().rename(self.remote_path(old), self.remote_path(new))

    def chmod(self, perm: int, path: str) -> None:
        """Set a file's permission bits."""
        self._server().chmod(self.remote_path(path), perm)

    def utime(self, path: str, times: tuple[float, float]) -> None:
        """Set a file's (access, modification) times."""
        self._server().utime(self.remote_path(path), times[1], times[0])

    def symlink(self, target: str, path: str) -> None:
        """Make `path` a symbolic link to `target`."""
        self._server().symlink(target, self.remote_path(path))

    def stat(self, path: str, msg: Any = None) -> api.FmdStat | None:
        """A file's metadata, from its directory's listing; None when it is not there."""
        directory, name = posixpath.split(self.remote_path(path))
        for entry in self._server().ls(directory):
            if entry.name == name:
                return api.FmdStat(st_size=entry.size, st_mode=entry.mode,
                                   st_mtime=entry.mtime, st_atime=entry.mtime)  # fmt: skip
        return None

    # --- files

    def get(
        self, msg: Any, remote_file: str, local_file: str, remote_offset: int = 0,
        local_offset: int = 0, length: int = 0, exactLength: bool = False,
    ) -> int:  # fmt: skip
        """Copy a remote file of the current directory (or `length` bytes of it from
        `remote_offset`) into `local_file` at `local_offset`; the bytes copied (-1: failed)."""
        mode = "r+b" if local_offset and os.path.exists(local_file) else "wb"
        try:
            with open(local_file, mode) as file:
                file.seek(local_offset)
                copied = self._server().get(self.remote_path(remote_file), file, remote_offset,
                                            length or None)  # fmt: skip
        except TransferError as err:
            logger.error("sarracenia.transfer: get %s failed: %s", remote_file, err)
            return -1
        self.metrics["transferRxBytes"] += copied
        return copied

    def put(
        self, msg: Any, local_file: str, remote_file: str, local_offset: int = 0,
        remote_offset: int = 0, length: int = 0,
    ) -> int:  # fmt: skip
        """Copy `local_file` (or `length` bytes of it from `local_offset`) into a remote file of
        the current directory at `remote_offset`; the bytes copied (-1: failed)."""
        try:
            with open(local_file, "rb") as file:
                file.seek(local_offset)
                copied = self._server().put(file, self.remote_path(remote_file), remote_offset,
                                            length or None)  # fmt: skip
        except TransferError as err:
            logger.error("sarracenia.transfer: put %s failed: %s", remote_file, err)
            return -1
        self.metrics["transferTxBytes"] += copied
        return copied

    def metricsReport(self) -> dict[str, int]:
        """Bytes received and sent."""
        return self.metrics
