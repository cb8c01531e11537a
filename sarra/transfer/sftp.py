"""sftp with paramiko: every operation, byte ranges by seeking.

Authentication uses the password, the key in `ssh_keyfile`, or else the ssh agent and the default
keys (~/.ssh/id_*). Host keys are checked against ~/.ssh/known_hosts: an unknown or changed key
is refused with the command that fixes it, unless tls_rigour is lax, which accepts any key and
warns once per server.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import logging
import os
import posixpath
import socket
import stat
import threading
from pathlib import Path
from typing import BinaryIO

import paramiko

from sarra.config.credentials import Credential
from sarra.transfer.base import OPERATIONS, Entry, Transfer, TransferSettings, check_range
from sarra.transfer.errors import (
    PermanentError,
    TransferError,
    TransientError,
    os_error_class,
    os_error_reason,
)
from sarra.transfer.stream import Progress

log = logging.getLogger(__name__)

_CONNECT_TIMEOUTS = [
    name
    for name in ("timeout", "banner_timeout", "auth_timeout", "channel_timeout")
    if name in inspect.signature(paramiko.SSHClient.connect).parameters
]
"""The timeouts this paramiko's connect takes: channel_timeout came in 3.1 (Debian 12 has 2.12,
where the sftp channel's own timeout, set once it is open, bounds the rest)."""

# Servers whose host key was accepted unchecked (tls_rigour lax), warned about once each.
_warned: set[str] = set()
_warned_lock = threading.Lock()


class HostKeyRefused(Exception):
    """A host key not in known_hosts, or different from the one there."""


class SftpTransfer(Transfer):
    """The `sftp` scheme."""

    capabilities = frozenset(OPERATIONS)

    def __init__(self, server: Credential, settings: TransferSettings) -> None:
        super().__init__(server, settings)
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

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
        try:
            with (
                self._failing("get", remote_path),
                self._connection().open(remote_path, "rb") as remote,
            ):
                size = remote.stat().st_size or 0
                self._check_offset("get", remote_path, offset, size)
                end = size if length is None else min(size, offset + length)
                read = _WindowReader(remote, offset, end, self.settings.bufsize)
                copied = self._copy(read, local_file.write, length, progress)
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
        try:
            with self._failing("put", remote_path):
                sftp = self._connection()
                with self._open_for_writing(sftp, remote_path, offset, length) as remote:
                    remote.set_pipelined(True)
                    remote.seek(offset)
                    copied = self._copy(local_file.read, remote.write, length, progress)
        finally:
            self._file_done()
        self._check_copied("put", remote_path, copied, length)
        return copied

    def ls(self, remote_dir: str) -> list[Entry]:
        with self._failing("ls", remote_dir):
            return [_entry(a) for a in self._connection().listdir_attr(remote_dir)]

    def mkdir(self, path: str, mode: int = 0o775) -> None:
        with self._failing("mkdir", path):
            sftp = self._connection()
            missing: list[str] = []
            current = posixpath.normpath(path)
            while not self._is_dir(sftp, current):
                missing.append(current)
                parent = posixpath.dirname(current)
                if parent == current:
                    break
                current = parent
            for directory in reversed(missing):
                try:
                    sftp.mkdir(directory, mode)
                except OSError:
                    if not self._is_dir(sftp, directory):  # else made meanwhile by another
                        raise
                    continue
                sftp.chmod(directory, mode)  # mkdir's mode is cut by the server's umask

    def delete(self, path: str) -> None:
        with self._failing("delete", path):
            sftp = self._connection()
            if stat.S_ISDIR(sftp.lstat(path).st_mode or 0):
                sftp.rmdir(path)
            else:
                sftp.remove(path)

    def rename(self, old: str, new: str) -> None:
        """Rename with the posix-rename extension (replaces `new`), as OpenSSH servers have."""
        with self._failing("rename", old):
            self._connection().posix_rename(old, new)

    def chmod(self, path: str, mode: int) -> None:
        with self._failing("chmod", path):
            self._connection().chmod(path, mode)

    def utime(self, path: str, mtime: float, atime: float | None = None) -> None:
        with self._failing("utime", path):
            self._connection().utime(path, (mtime if atime is None else atime, mtime))

    def symlink(self, target: str, path: str) -> None:
        with self._failing("symlink", path):
            self._connection().symlink(target, path)

    # --- internals

    def _connection(self) -> paramiko.SFTPClient:
        if self._sftp is not None:
            return self._sftp
        server = self.server
        timeout = self.settings.socket_timeout
        keyfile = os.path.expanduser(server.ssh_keyfile) if server.ssh_keyfile else None
        if keyfile is not None and not os.path.isfile(keyfile):
            raise PermanentError("connect", self.url(), f"ssh_keyfile {keyfile}: no such file")
        client = paramiko.SSHClient()
        known_hosts = _known_hosts()
        if self.settings.lax:
            client.set_missing_host_key_policy(_AcceptAndWarn())
        else:
            if known_hosts.is_file():
                client.load_system_host_keys(str(known_hosts))
            client.set_missing_host_key_policy(_Refuse(known_hosts, server.port or 22))
        timeouts = dict.fromkeys(_CONNECT_TIMEOUTS, timeout)
        try:
            client.connect(
                server.host,
                server.port or 22,
                username=server.user,
                password=server.password,
                key_filename=keyfile,
                allow_agent=keyfile is None,
                look_for_keys=keyfile is None,
                **timeouts,
            )
            transport = client.get_transport()
            if transport is not None:
                # Small SFTP requests wait on delayed ACKs without this (tens of ms each).
                transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sftp = client.open_sftp()
            sftp.get_channel().settimeout(timeout)
        except BaseException:
            client.close()
            raise
        self._client, self._sftp = client, sftp
        return sftp

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    @staticmethod
    def _is_dir(sftp: paramiko.SFTPClient, path: str) -> bool:
        try:
            return stat.S_ISDIR(sftp.stat(path).st_mode or 0)
        except FileNotFoundError:
            return False

    @staticmethod
    def _open_for_writing(
        sftp: paramiko.SFTPClient, path: str, offset: int, length: int | None
    ) -> paramiko.SFTPFile:
        """A whole file is replaced; a range is written into the file (made if missing)."""
        if offset == 0 and length is None:
            return sftp.open(path, "wb")
        try:
            return sftp.open(path, "r+b")
        except FileNotFoundError:
            return sftp.open(path, "wb")

    def _classify(self, exc: Exception) -> tuple[type[TransferError], str] | None:
        if isinstance(exc, HostKeyRefused):
            return PermanentError, str(exc)
        if isinstance(exc, paramiko.BadHostKeyException):
            return PermanentError, _changed_key_reason(exc, self.server.port or 22)
        if isinstance(exc, paramiko.AuthenticationException):
            return PermanentError, f"authentication failed: {exc}"
        if isinstance(exc, paramiko.SSHException):
            # Raised when there is no password, key or agent to try at all.
            if "no authentication methods" in str(exc).lower():
                return PermanentError, str(exc)
            return TransientError, f"ssh: {exc}"
        if isinstance(exc, EOFError):
            return TransientError, "the server closed the connection"
        if isinstance(exc, OSError):
            # SFTP statuses without an errno ("Failure") include a full disk: worth a retry.
            return os_error_class(exc), os_error_reason(exc)
        return None


class _WindowReader:
    """Reads [offset, end) of a remote file a window of `window` bytes at a time.

    Each window's requests are sent together (readv), so a read does not wait a round trip per
    32 KiB, and no more than one window is held in memory.
    """

    def __init__(self, remote: paramiko.SFTPFile, offset: int, end: int, window: int) -> None:
        self._remote = remote
        self._next = offset
        self._end = end
        self._window = max(window, 32 * 1024)
        self._chunks: list[bytes] = []

    def __call__(self, n: int) -> bytes:
        if not self._chunks:
            if self._next >= self._end:
                return b""
            size = min(self._window, self._end - self._next)
            self._chunks = list(self._remote.readv([(self._next, size)]))
            self._chunks.reverse()
            self._next += size
        chunk = self._chunks.pop()
        if len(chunk) > n:
            self._chunks.append(chunk[n:])
            chunk = chunk[:n]
        return chunk


class _Refuse(paramiko.MissingHostKeyPolicy):
    """Refuses a host key that known_hosts does not hold, saying how to add it."""

    def __init__(self, known_hosts: Path, port: int) -> None:
        self._known_hosts = known_hosts
        self._port = port

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        host = hostname.removeprefix("[").split("]")[0]
        port = f"-p {self._port} " if self._port != 22 else ""
        raise HostKeyRefused(
            f"unknown host key {key.get_name()} {fingerprint(key)} for {hostname}, not in "
            f"{self._known_hosts}; if it is right, add it with: "
            f"ssh-keyscan {port}-t {key.get_name()} {host} >> {self._known_hosts}"
        )


class _AcceptAndWarn(paramiko.MissingHostKeyPolicy):
    """tls_rigour lax: accepts any host key, with one warning per server."""

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        with _warned_lock:
            if hostname in _warned:
                return
            _warned.add(hostname)
        log.warning(
            "tls_rigour lax: accepting the host key of %s unchecked (%s %s)",
            hostname,
            key.get_name(),
            fingerprint(key),
        )


def fingerprint(key: paramiko.PKey) -> str:
    """A host key's fingerprint as OpenSSH shows it (`SHA256:` and the unpadded base64 of the
    key's digest, as paramiko 3's PKey.fingerprint; Debian 12's 2.12 has none)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _known_hosts() -> Path:
    return Path("~/.ssh/known_hosts").expanduser()


def _changed_key_reason(exc: paramiko.BadHostKeyException, port: int) -> str:
    known_hosts = _known_hosts()
    host = exc.hostname if port == 22 else f"[{exc.hostname}]:{port}"
    return (
        f"the host key of {host} ({fingerprint(exc.key)}) differs from the one in {known_hosts} "
        f"({fingerprint(exc.expected_key)}): possibly an impostor; if the change is expected, "
        f"remove the old key with: ssh-keygen -R '{host}' -f {known_hosts}"
    )


def _entry(attributes: paramiko.SFTPAttributes) -> Entry:
    mode = attributes.st_mode or 0
    return Entry(
        name=attributes.filename,
        size=attributes.st_size,
        mtime=attributes.st_mtime,
        mode=stat.S_IMODE(mode),
        is_dir=stat.S_ISDIR(mode),
        is_link=stat.S_ISLNK(mode),
    )
