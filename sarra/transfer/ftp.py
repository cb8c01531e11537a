"""ftp and ftps with ftplib: passive (default) or active, binary (default) or ascii.

ftps is explicit TLS (AUTH TLS on the control connection); the data connections are protected
too when the credentials say `prot_p`, reusing the control connection's TLS session as many
servers demand. Listings use MLSD, or LIST where the server has no MLSD.

FTP has no byte ranges: REST sets where a transfer starts, but nothing stops a read before the
end of the file. So a get whose range ends before the file does is Unsupported; a get from an
offset to the end works. A put of a range (a part of a file in parts) is REST then STOR, the
data connection closed after its bytes: servers that take REST before STOR (pyftpdlib, as
tested) write them at the offset and keep the rest of the file. They cannot write past the end
of the file, nor at offset 0 without truncating it, so a part is written only once the bytes
before it are there (else a TransientError: it is sent again later), and the first part only
into an empty or missing file (else a PermanentError). ascii mode converts line ends (CRLF on
the wire, LF here), so it takes no offset either.
"""

from __future__ import annotations

import ftplib
import logging
import posixpath
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import BinaryIO

from sarra.config.credentials import Credential
from sarra.transfer.base import Entry, Transfer, TransferSettings, check_range
from sarra.transfer.errors import (
    PermanentError,
    TransferError,
    TransientError,
    os_error_class,
    os_error_reason,
)
from sarra.transfer.listing import parse_ls_line
from sarra.transfer.stream import CrlfToLf, Progress, lf_to_crlf

log = logging.getLogger(__name__)

_NOT_IMPLEMENTED = ("500", "501", "502", "504")
_MLSD_FACTS = ["type", "size", "modify", "unix.mode"]
# Servers warned about (once each).
_warned: set[tuple[str, str]] = set()


class _FtpTls(ftplib.FTP_TLS):
    """FTP_TLS whose protected data connections resume the control connection's TLS session."""

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[object, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            session = self.sock.session  # type: ignore[attr-defined]
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


class FtpTransfer(Transfer):
    """The `ftp` and `ftps` schemes (and ftp with the `tls` credential option)."""

    capabilities = frozenset(
        {"get", "put", "put_range", "ls", "mkdir", "delete", "rename", "chmod", "utime"}
    )
    put_range_replaces_at_start = True

    def __init__(self, server: Credential, settings: TransferSettings) -> None:
        super().__init__(server, settings)
        self._ftp: ftplib.FTP | None = None
        self._home = "/"

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
        self._check_path("get", remote_path)
        if not self.server.binary and (offset or length is not None):
            raise self.unsupported("get", remote_path, "ftp ascii mode cannot read a byte range")
        try:
            with self._failing("get", remote_path):
                ftp = self._connection()
                if offset or length is not None:
                    self._check_range_fits(ftp, remote_path, offset, length)
                ftp.voidcmd(self._type)
                conn, _ = ftp.ntransfercmd(f"RETR {remote_path}", rest=offset or None)
                with self._dropping_on_error():
                    with conn:
                        read = conn.recv if self.server.binary else CrlfToLf(conn.recv)
                        copied = self._copy(read, local_file.write, length, progress)
                        _unwrap(conn)
                    ftp.voidresp()
        finally:
            self._file_done()
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
        self._check_path("put", remote_path)
        ranged = offset > 0 or length is not None
        if not self.server.binary and ranged:
            raise self.unsupported("put", remote_path, "ftp ascii mode cannot write a byte range")
        try:
            with self._failing("put", remote_path):
                ftp = self._connection()
                if length is not None:
                    self._check_put_fits(ftp, remote_path, offset)
                ftp.voidcmd(self._type)
                conn, _ = ftp.ntransfercmd(f"STOR {remote_path}", rest=offset or None)
                with self._dropping_on_error():
                    with conn:
                        read = (
                            local_file.read if self.server.binary else lf_to_crlf(local_file.read)
                        )
                        copied = self._copy(read, conn.sendall, length, progress)
                        _unwrap(conn)
                    ftp.voidresp()
        finally:
            self._file_done()
        self._check_copied("put", remote_path, copied, length)
        return copied

    def ls(self, remote_dir: str) -> list[Entry]:
        self._check_path("ls", remote_dir)
        with self._failing("ls", remote_dir):
            ftp = self._connection()
            try:
                return [
                    _mlsd_entry(name, facts)
                    for name, facts in ftp.mlsd(remote_dir, facts=_MLSD_FACTS)
                    if facts.get("type", "").lower() not in ("cdir", "pdir")
                    and name not in (".", "..")
                ]
            except ftplib.error_perm as exc:
                if not str(exc).startswith(_NOT_IMPLEMENTED):
                    raise
            lines: list[str] = []
            ftp.retrlines(f"LIST {remote_dir}", lines.append)
            return [entry for line in lines if (entry := parse_ls_line(line)) is not None]

    def mkdir(self, path: str, mode: int = 0o775) -> None:
        self._check_path("mkdir", path)
        with self._failing("mkdir", path):
            ftp = self._connection()
            if self._is_dir(ftp, path):
                return
            made: list[str] = []
            current = "/" if path.startswith("/") else ""
            for name in filter(None, path.split("/")):
                current = posixpath.join(current, name)
                if not self._is_dir(ftp, current):
                    try:
                        ftp.mkd(current)
                    except ftplib.error_perm:
                        if not self._is_dir(ftp, current):  # else made meanwhile by another
                            raise
                        continue
                    made.append(current)
            for directory in made:
                if not self._site_chmod(ftp, directory, mode):
                    self._warn_once("chmod", f"{self.url()} has no SITE CHMOD: mkdir ignores mode")
                    break

    def delete(self, path: str) -> None:
        self._check_path("delete", path)
        with self._failing("delete", path):
            ftp = self._connection()
            try:
                ftp.delete(path)
            except ftplib.error_perm as not_a_file:
                try:
                    ftp.rmd(path)
                except ftplib.error_perm:
                    raise not_a_file from None

    def rename(self, old: str, new: str) -> None:
        self._check_path("rename", old)
        self._check_path("rename", new)
        with self._failing("rename", old):
            self._connection().rename(old, new)

    def chmod(self, path: str, mode: int) -> None:
        self._check_path("chmod", path)
        with self._failing("chmod", path):
            if not self._site_chmod(self._connection(), path, mode):
                raise self.unsupported("chmod", path, "the server has no SITE CHMOD")

    def utime(self, path: str, mtime: float, atime: float | None = None) -> None:
        """Set the modification time (MFMT); FTP has no access time."""
        self._check_path("utime", path)
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(mtime))
        with self._failing("utime", path):
            try:
                self._connection().voidcmd(f"MFMT {stamp} {path}")
            except ftplib.error_perm as exc:
                if str(exc).startswith(_NOT_IMPLEMENTED):
                    raise self.unsupported("utime", path, "the server has no MFMT") from exc
                raise

    def close(self) -> None:
        """Say QUIT (politely, ignoring a broken connection) and close."""
        if self._ftp is not None:
            with suppress(OSError, EOFError, ftplib.Error):
                self._ftp.quit()
        self._disconnect()

    # --- internals

    @property
    def _type(self) -> str:
        return "TYPE I" if self.server.binary else "TYPE A"

    def _connection(self) -> ftplib.FTP:
        if self._ftp is not None:
            return self._ftp
        server = self.server
        tls = server.scheme == "ftps" or server.tls
        ftp = _FtpTls(context=self._tls_context()) if tls else ftplib.FTP()
        try:
            ftp.connect(server.host, server.port or 21, timeout=self.settings.socket_timeout)
            ftp.login(server.user or "anonymous", server.password or "anonymous@")
            if isinstance(ftp, ftplib.FTP_TLS) and server.prot_p:
                ftp.prot_p()
            ftp.set_pasv(server.passive)
            self._home = ftp.pwd()
        except BaseException:
            ftp.close()
            raise
        self._ftp = ftp
        return ftp

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.settings.lax:
            self._warn_once("lax", f"{self.url()}: tls_rigour lax, certificates not checked")
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _disconnect(self) -> None:
        if self._ftp is not None:
            self._ftp.close()
            self._ftp = None

    @contextmanager
    def _dropping_on_error(self) -> Iterator[None]:
        """After a failure in the middle of a transfer the control connection is out of step."""
        try:
            yield
        except BaseException:
            self._disconnect()
            raise

    def _check_range_fits(
        self, ftp: ftplib.FTP, path: str, offset: int, length: int | None
    ) -> None:
        """Check a range against the file's size (SIZE): FTP cannot stop a read early, so a
        range must run to the end of the file; one past the end is transient."""
        ftp.voidcmd("TYPE I")
        try:
            size = ftp.size(path)
        except ftplib.error_perm as exc:
            if not str(exc).startswith(_NOT_IMPLEMENTED):
                raise
            size = None
        if size is None:
            raise self.unsupported("get", path, "ftp cannot read a byte range (no SIZE)")
        self._check_offset("get", path, offset, size)
        if length is None:
            return
        end = offset + length
        if end < size:
            reason = f"ftp cannot read a byte range that stops before the end ({end} < {size})"
            raise self.unsupported("get", path, reason)
        if end > size:
            reason = f"the file has {size} bytes, fewer than the {end} asked for"
            raise TransientError("get", self.url(path), reason)

    def _check_put_fits(self, ftp: ftplib.FTP, path: str, offset: int) -> None:
        """Check that a range can be written at `offset` (SIZE): after the bytes before it (a
        gap is transient: the parts before it are still to come), and the first one only into
        an empty or missing file, since STOR without REST replaces the file."""
        ftp.voidcmd("TYPE I")
        try:
            size = ftp.size(path) or 0
        except ftplib.error_perm as exc:
            if str(exc).startswith(_NOT_IMPLEMENTED):
                reason = "ftp cannot write a byte range (no SIZE)"
                raise self.unsupported("put", path, reason) from exc
            size = 0  # no such file yet
        if offset > size:
            reason = f"the file has {size} bytes: ftp writes the part at {offset} after them"
            raise TransientError("put", self.url(path), reason)
        if offset == 0 and size > 0:
            reason = f"ftp cannot write the first part into a file of {size} bytes (it replaces it)"
            raise PermanentError("put", self.url(path), reason)

    def _is_dir(self, ftp: ftplib.FTP, path: str) -> bool:
        try:
            ftp.cwd(path)
        except ftplib.error_perm:
            return False
        ftp.cwd(self._home)
        return True

    def _site_chmod(self, ftp: ftplib.FTP, path: str, mode: int) -> bool:
        """SITE CHMOD; False when the server does not have it."""
        try:
            ftp.voidcmd(f"SITE CHMOD {mode:o} {path}")
        except ftplib.error_perm as exc:
            if str(exc).startswith(_NOT_IMPLEMENTED):
                return False
            raise
        return True

    def _check_path(self, operation: str, path: str) -> None:
        if "\r" in path or "\n" in path:
            raise PermanentError(
                operation, self.url(repr(path)), "an ftp path cannot hold a newline"
            )

    def _warn_once(self, what: str, message: str) -> None:
        key = (what, self.url())
        if key not in _warned:
            _warned.add(key)
            log.warning(message)

    def _classify(self, exc: Exception) -> tuple[type[TransferError], str] | None:
        if isinstance(exc, ftplib.error_temp):
            return TransientError, str(exc)
        if isinstance(exc, ftplib.error_perm):
            return PermanentError, str(exc)
        if isinstance(exc, ftplib.error_reply | ftplib.error_proto):
            return TransientError, f"unexpected reply: {exc}"
        if isinstance(exc, EOFError):
            return TransientError, "the server closed the connection"
        if isinstance(exc, OSError):
            return os_error_class(exc), os_error_reason(exc)
        return None


def _unwrap(conn: object) -> None:
    """End TLS on a data connection cleanly, as the server expects before its reply."""
    if isinstance(conn, ssl.SSLSocket):
        conn.unwrap()


def _mlsd_entry(name: str, facts: dict[str, str]) -> Entry:
    kind = facts.get("type", "").lower()
    modify = facts.get("modify", "")
    mtime = None
    if len(modify) >= 14 and modify[:14].isdigit():
        mtime = datetime.strptime(modify[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
    size = facts.get("size") or facts.get("sizd")
    mode = facts.get("unix.mode")
    return Entry(
        name=name,
        size=int(size) if size and size.isdigit() else None,
        mtime=mtime,
        mode=int(mode, 8) & 0o7777 if mode and set(mode) <= set("01234567") else None,
        is_dir=kind == "dir",
        is_link=kind.startswith(("os.unix=slink", "os.unix=symlink")),
    )
