"""The interface every transfer backend implements, and the parts they share.

A backend is made for one server (scheme, host, port, user) and reused for many files: it connects
on first use and renews its connection after `batch` files. Remote paths are plain server paths,
not percent-encoded: http(s) paths are URL paths, ftp(s) paths are below the login's root, sftp
paths are the server's (relative ones from the login directory), file paths are local ones.
Confining paths below a destination is the caller's job (see `sarra.transfer.confine`).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, ClassVar

from sarra.config.credentials import Credential
from sarra.transfer import stream
from sarra.transfer.errors import TransferError, TransientError, Unsupported
from sarra.transfer.stream import Progress

log = logging.getLogger(__name__)

TLS_RIGOURS = ("lax", "normal", "strict")

OPERATIONS = (
    "get",
    "get_range",
    "put",
    "put_range",
    "ls",
    "mkdir",
    "delete",
    "rename",
    "chmod",
    "utime",
    "symlink",
)
"""What a backend may be able to do; `get_range`/`put_range` are byte ranges with a length."""


@dataclass(frozen=True)
class Entry:
    """One item of a remote directory listing; None where the protocol does not say.

    `mtime` is in seconds since the epoch; `mode` holds the permission bits only. The entry
    describes the item itself: a symlink has `is_link` and not `is_dir`.
    """

    name: str
    size: int | None = None
    mtime: float | None = None
    mode: int | None = None
    is_dir: bool = False
    is_link: bool = False
    wall_clock: bool = False  # mtime was read as a time of day without a zone, and taken as UTC
    link: str | None = None
    """An index page's link to a file with a query, as written (`get.py?station=A`): where the
    file is fetched from (sarra.message.http_path); `name` is then the local file's name."""


@dataclass(frozen=True)
class TransferSettings:
    """How transfers behave.

    timeout: seconds without progress before a transfer fails (0 = wait forever);
    bufsize: bytes read and written at a time; batch: files per connection before it is renewed
    (0 = never); kbytes_ps: rate limit in KiB/s (0 = none); tls_rigour: lax (no certificate or
    host key checks, warned once), normal or strict (verified certificates and known host keys).
    """

    timeout: float = 300.0
    bufsize: int = 1 << 20
    batch: int = 100
    kbytes_ps: float = 0
    tls_rigour: str = "normal"

    def __post_init__(self) -> None:
        if self.timeout < 0 or self.bufsize < 1 or self.batch < 0 or self.kbytes_ps < 0:
            raise ValueError(f"transfer settings out of range: {self}")
        if self.tls_rigour not in TLS_RIGOURS:
            raise ValueError(f"tls_rigour must be one of {', '.join(TLS_RIGOURS)}")

    @property
    def socket_timeout(self) -> float | None:
        """The timeout as sockets take it (None = wait forever)."""
        return self.timeout or None

    @property
    def lax(self) -> bool:
        return self.tls_rigour == "lax"


class Transfer(ABC):
    """A connection to one server for copying files; see the module docstring for paths.

    Every failure is raised as a TransientError or a PermanentError (Unsupported where the
    protocol cannot do the operation), never as the library's own exception. A backend is not
    thread-safe: give each worker thread its own.
    """

    capabilities: ClassVar[frozenset[str]] = frozenset({"get"})
    """The OPERATIONS this backend can do; the others raise Unsupported."""

    put_range_replaces_at_start: ClassVar[bool] = False
    """Whether a range put at offset 0 replaces the whole file (ftp: STOR without REST
    truncates it), losing the bytes after the range, as a whole put does."""

    def __init__(self, server: Credential, settings: TransferSettings) -> None:
        """`server` is the URL's scheme, host, port, user and password with its credentials."""
        self.server = server
        self.settings = settings
        self._files = 0

    # --- operations

    @abstractmethod
    def get(
        self,
        remote_path: str,
        local_file: BinaryIO,
        offset: int = 0,
        length: int | None = None,
        *,
        progress: Progress | None = None,
    ) -> int:
        """Copy bytes [offset, offset+length) of a remote file (to its end when length is None)
        to `local_file` at its current position; return the bytes copied.

        Fewer bytes than `length` is a TransientError (the file may be changing).
        """

    def put(
        self,
        local_file: BinaryIO,
        remote_path: str,
        offset: int = 0,
        length: int | None = None,
        *,
        progress: Progress | None = None,
    ) -> int:
        """Copy `length` bytes (to the end when None) from `local_file`'s current position into
        the remote file at `offset`; return the bytes copied.

        A whole file (offset 0, no length) replaces the remote one; a range leaves the rest.
        """
        raise self.unsupported("put", remote_path)

    def ls(self, remote_dir: str) -> list[Entry]:
        """The entries of a remote directory (without '.' and '..')."""
        raise self.unsupported("ls", remote_dir)

    def mkdir(self, path: str, mode: int = 0o775) -> None:
        """Make a directory and its missing parents; those made get `mode`."""
        raise self.unsupported("mkdir", path)

    def delete(self, path: str) -> None:
        """Remove a file, a symlink or an empty directory."""
        raise self.unsupported("delete", path)

    def rename(self, old: str, new: str) -> None:
        """Rename `old` to `new`, replacing `new` if it exists."""
        raise self.unsupported("rename", old)

    def chmod(self, path: str, mode: int) -> None:
        """Set the permission bits of a file or directory."""
        raise self.unsupported("chmod", path)

    def utime(self, path: str, mtime: float, atime: float | None = None) -> None:
        """Set the modification time (and access time, by default the same) of a file."""
        raise self.unsupported("utime", path)

    def symlink(self, target: str, path: str) -> None:
        """Make `path` a symbolic link to `target`."""
        raise self.unsupported("symlink", path)

    def confine_to(self, root: str | None) -> None:
        """Keep the writes that follow (put, mkdir, delete, rename, chmod, utime, symlink) below
        the directory `root` (None: no such bound). A backend that reaches the file system
        itself (file:) walks from `root` and never follows a symlink that leads out of it; one
        behind a server relies on the caller's confinement by name, as here."""
        return None

    def close(self) -> None:
        """Close the connection; the backend reconnects if used again."""
        self._disconnect()

    def __enter__(self) -> Transfer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- for backends

    @abstractmethod
    def _disconnect(self) -> None:
        """Drop the connection, quietly: it may already be broken."""

    def url(self, path: str = "") -> str:
        """The URL of `path` on this server, for messages (it never holds the password)."""
        user = f"{self.server.user}@" if self.server.user else ""
        separator = "" if path.startswith("/") or not path else "/"
        return f"{self.server.scheme}://{user}{self.host_port}{separator}{path}"

    @property
    def host_port(self) -> str:
        """host:port as a URL writes it (an IPv6 address in brackets)."""
        host = f"[{self.server.host}]" if ":" in self.server.host else self.server.host
        return host if self.server.port is None else f"{host}:{self.server.port}"

    def unsupported(self, operation: str, path: str, why: str = "") -> Unsupported:
        """The error for an operation this protocol cannot do."""
        reason = why or f"{self.server.scheme} cannot {operation}"
        return Unsupported(operation, self.url(path), reason)

    def _classify(self, exc: Exception) -> tuple[type[TransferError], str] | None:
        """The class and reason of a library exception; None to let it through unchanged."""
        return None

    @contextmanager
    def _failing(self, operation: str, path: str) -> Iterator[None]:
        """Turn library exceptions into TransferErrors; a transient one also drops the
        connection, which may be broken or out of step."""
        try:
            yield
        except TransferError:
            raise
        except Exception as exc:
            classified = self._classify(exc)
            if classified is None:
                raise
            kind, reason = classified
            if kind is TransientError:
                self._disconnect()
            raise kind(operation, self.url(path), reason) from exc

    def _copy(
        self,
        read: stream.Read,
        write: Callable[[bytes], object],
        length: int | None,
        progress: Progress | None,
    ) -> int:
        """stream.copy with this backend's bufsize and rate limit."""
        return stream.copy(
            read,
            write,
            bufsize=self.settings.bufsize,
            length=length,
            kbytes_ps=self.settings.kbytes_ps,
            progress=progress,
        )

    def _check_copied(self, operation: str, path: str, copied: int, length: int | None) -> None:
        """A copy that ended short of the length asked for is transient: the file may change."""
        if length is not None and copied < length:
            raise TransientError(
                operation, self.url(path), f"ended after {copied} of {length} bytes"
            )

    def _check_offset(self, operation: str, path: str, offset: int, size: int) -> None:
        """An offset past the end of the file is transient, like a short read."""
        if offset > size:
            reason = f"offset {offset} is past the end of the file ({size} bytes)"
            raise TransientError(operation, self.url(path), reason)

    def _file_done(self) -> None:
        """Count a file against `batch`, renewing the connection when the batch is full."""
        self._files += 1
        if self.settings.batch and self._files >= self.settings.batch:
            self._files = 0
            self.close()


def check_range(offset: int, length: int | None) -> None:
    """Refuse a negative offset or length (a programming error, not a transfer failure)."""
    if offset < 0 or (length is not None and length < 0):
        raise ValueError(f"bad byte range: offset {offset}, length {length}")
