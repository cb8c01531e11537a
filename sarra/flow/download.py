"""The work of a subscriber: bring a notice's file to its place, complete or not at all.

The file is written under its inflight name, checksummed while it is written, given its mode
and time, then renamed into place; every file, link, rename and removal goes through
sarra.flow.inflight and sarra.transfer.safe_fs, never through a symlink that leads out. A
local file that already matches the notice is not fetched again (overwrite False), which is
also how a redelivered notice is recognised after a crash.
A notice of one part of a file is handed to sarra.flow.parts_download. A notice that carries
the file's bytes (v03 `content`) is written from them when they match its size and checksum,
without a download; otherwise the file is downloaded as usual.

Every digest method is checked while the file is written (md5, sha512, and WIS2's sha256,
sha384, sha3-*). A file whose digest differs from its notice's is kept with a warning (as v2
did), except for a WIS2 notice, whose file never takes its place then (a transient failure:
tried again). A WIS2 file gets its message's pubtime as mtime: a message whose pubtime is not
newer than the file's leaves it alone, and a deletion is carried out only with wis2_deletions.
"""

from __future__ import annotations

import base64
import binascii
import errno
import logging
import os
import queue
import re
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, TypeVar
from urllib.parse import unquote, urlsplit

from sarra.config.credentials import Credentials, redact_url
from sarra.config.loader import Config
from sarra.config.masks import Mask
from sarra.flow import wis2
from sarra.flow.connections import ThreadTransfers
from sarra.flow.hooks import PluginFailed
from sarra.flow.inflight import Inflight
from sarra.flow.parts_download import PartDownloader
from sarra.flow.placement import Placement, below_dir, place
from sarra.integrity.checksum import (
    DIGEST_SIZES,
    b64_to_hex,
    checksum_bytes,
    checksum_file,
    new_checksum,
)
from sarra.message import http_path
from sarra.message.notice import Notice, epoch_to_time, time_to_epoch
from sarra.transfer.base import Transfer
from sarra.transfer.confine import PathRefused, confine, confine_link_target
from sarra.transfer.errors import PermanentError, TransientError
from sarra.transfer.safe_fs import Folder, open_folder

logger = logging.getLogger(__name__)
_Written = TypeVar("_Written")

_PERMANENT_ERRNOS = frozenset({errno.ENAMETOOLONG})
"""Local errors a notice causes whenever it is tried: a path too long below the directory.
(EFBIG stays transient: a file size limit, RLIMIT_FSIZE, is the host's and may be raised.)"""


def _computable(method: str | None) -> str | None:
    """The checksum computed while writing, for an identity method (its name); None when the
    method is not a digest of the data."""
    return method if method in DIGEST_SIZES else None


class IntegrityMismatch(TransientError):
    """The file downloaded is not the one a WIS2 message announced: it is not put in place."""


@dataclass(frozen=True)
class Outcome:
    """What became of one notice's file."""

    status: str  # done, skipped, transient, permanent
    reason: str = ""
    path: Path | None = None
    size: int = 0
    seconds: float = 0.0
    checksum: str | None = None  # the v02 value computed while writing, if any
    whole: bool = True  # False for a part that left its file incomplete
    transformed: bool = False  # on_data plugins changed the data: its checksum is not the notice's
    operation: str = ""  # the file operation done instead of a transfer (removed, linked...)
    source: Path | None = None  # the local file a send read (path is where it went)


class _HashingWriter:
    """A file object's write that also feeds a checksum.

    Large chunks are hashed by a thread of its own (hashlib lets go of the GIL), so that the
    checksum of a large file costs no time beside the network and the disk: the copy reads the
    next chunk while the previous one is hashed.
    """

    PARALLEL_FROM = 256 << 10

    def __init__(self, file: BinaryIO, flag: str | None) -> None:
        self.file = file
        self.checksum = new_checksum(flag) if flag else None
        self._chunks: queue.Queue[bytes | None] | None = None
        self._hasher: threading.Thread | None = None

    def write(self, data: bytes) -> int:
        if self.checksum is not None:
            if self._chunks is None and len(data) >= self.PARALLEL_FROM:
                self._chunks = queue.Queue(maxsize=4)
                self._hasher = threading.Thread(target=self._hash, name="checksum", daemon=True)
                self._hasher.start()
            if self._chunks is not None:
                self._chunks.put(data)
            else:
                self.checksum.update(data)
        return self.file.write(data)

    def _hash(self) -> None:
        assert self._chunks is not None and self.checksum is not None
        while (chunk := self._chunks.get()) is not None:
            self.checksum.update(chunk)

    def value(self) -> str | None:
        """The checksum of everything written (waits for the hashing thread)."""
        if self.checksum is None:
            return None
        self.close()
        return self.checksum.value()

    def close(self) -> None:
        """Stop the hashing thread, if one runs."""
        if self._chunks is not None and self._hasher is not None:
            self._chunks.put(None)
            self._hasher.join()
            self._chunks = None


class _Transforming:
    """A file object's write that writes its data as `transform` (on_data plugins) makes it."""

    def __init__(self, file: BinaryIO, transform: Callable[[bytes], bytes]) -> None:
        self.file = file
        self.transform = transform

    def write(self, data: bytes) -> int:
        self.file.write(self.transform(data))
        return len(data)


class _Bounded:
    """A file object's write that fails once more than `limit` bytes came: a server that sends
    more than the notice announced (or never stops) is cut off, not written to the disk's end."""

    def __init__(self, file: BinaryIO, limit: int, url: str) -> None:
        self.file = file
        self.left = limit
        self.url = url

    def write(self, data: bytes) -> int:
        self.left -= len(data)
        if self.left < 0:
            raise TransientError("get", self.url, "more bytes than the notice announced: cut off")
        return self.file.write(data)


def inline_bytes(content: dict[str, object]) -> bytes | None:
    """The bytes of a v03 `content` field ({"encoding": utf-8|base64|iso-8859-1, "value"}), or
    None when it cannot be read."""
    value, encoding = content.get("value"), str(content.get("encoding", "utf-8")).lower()
    if not isinstance(value, str):
        return None
    try:
        if encoding == "base64":
            return base64.b64decode(value, validate=True)
        return value.encode("utf-8" if encoding in ("utf-8", "utf8", "text") else encoding)
    except (binascii.Error, LookupError, UnicodeError):
        return None


def remote_path(notice: Notice) -> str:
    """The path on the server: the base URL's path followed by the notice's relative path
    (as the established formats define the URL: base URL + relative path), or its
    retrievePath. Over http(s) a retrievePath is a URL's path as written, maybe with a query:
    it comes as a http_path.Target, sent as it is; a relative path is a file's path."""
    parts = urlsplit(notice.base_url)
    relative = notice.retrieve_path or notice.rel_path
    if notice.retrieve_path and parts.scheme.lower() in http_path.SCHEMES:
        return http_path.Target(f"{parts.path.rstrip('/')}/{relative.lstrip('/')}")
    return f"{unquote(parts.path).rstrip('/')}/{relative.lstrip('/')}"


def server_key(notice: Notice) -> str:
    """The server part of the notice's base URL (one transfer per server and thread)."""
    parts = urlsplit(notice.base_url)
    return f"{parts.scheme}://{parts.netloc}/"


class Downloader:
    """Fetches notices' files; each worker thread keeps its own connection per server."""

    done = "downloaded"

    def __init__(self, config: Config, credentials: Credentials) -> None:
        self.config = config
        self.credentials = credentials
        self.inflight = Inflight(config.inflight, config.tempdir)
        self.parts = PartDownloader(
            inplace=config.inplace,
            overwrite=config.overwrite,
            bufsize=config.bufsize,
        )
        self.transfers = ThreadTransfers(config, credentials)
        self.on_data: Callable[[bytes], bytes] | None = None
        """Set when on_data plugins transform what is downloaded (whole files only)."""

    @staticmethod
    def place(
        notice: Notice,
        mask: Mask | None,
        default: Mask,
        *,
        url_match: re.Match[str] | None = None,
    ) -> Placement:
        """The local path of a notice's file (see sarra.flow.placement.place)."""
        return place(notice, mask, default, url_match=url_match)

    def _transfer(self, notice: Notice) -> Transfer:
        return self.transfers.get(server_key(notice))

    def close(self) -> None:
        """Close the connections of every worker thread (once they are done)."""
        self.transfers.close()

    # --- the work

    def handle(self, notice: Notice, placement: Placement) -> Outcome:
        """Bring one notice's file (or apply its file operation) at its placement."""
        started = time.monotonic()
        inline = notice.content is not None and self.on_data is None and not notice.file_op
        try:
            if not inline:  # a file carried in its notice reads nothing local
                self._check_local_source(notice)
            if notice.file_op:
                return self._file_op(notice, placement)
            if notice.blocks is not None and notice.blocks.count > 1:
                return self._part(notice, placement, started)
            newer = self._newer_here(notice, placement.path)
            if newer is not None:
                return Outcome("skipped", newer, placement.path)
            if not self.config.overwrite and self._already_here(notice, placement.path):
                return Outcome("skipped", "the local file already matches", placement.path)
            if inline:
                written = self._inline(notice, placement, started)
                if written is not None:
                    return written
                self._check_local_source(notice)
            return self._download(notice, placement, started)
        except (TransientError, PluginFailed) as err:
            return Outcome("transient", str(err))
        except (PermanentError, PathRefused) as err:
            return Outcome("permanent", str(err))
        except OSError as err:
            status = "permanent" if err.errno in _PERMANENT_ERRNOS else "transient"
            return Outcome(status, f"{placement.path}: {err.strerror or err}")

    def _check_local_source(self, notice: Notice) -> None:
        """A file: notice names a file of this host: it is read only below base_dir, so that a
        notice cannot make the subscriber copy (or delete) any file it can reach."""
        if urlsplit(notice.base_url).scheme != "file":
            return
        base_dir = self.config.base_dir
        source = remote_path(notice)
        if not base_dir:
            raise PathRefused(source, "file: notices are read only below base_dir, which is unset")
        real_source = os.path.realpath(source)
        if not Path(real_source).is_relative_to(os.path.realpath(base_dir)):
            raise PathRefused(source, f"outside base_dir {base_dir}")

    def _download(self, notice: Notice, placement: Placement, started: float) -> Outcome:
        config = self.config
        final = placement.path
        method = notice.identity.method if notice.identity else None
        flag = _computable(method)
        strict = wis2.is_wis2(notice) and self.on_data is None

        def fetch(file: BinaryIO) -> tuple[int, str | None]:
            target: BinaryIO = file
            if self.on_data is not None:
                target = _Transforming(target, self.on_data)  # type: ignore[assignment]
            if notice.size is not None and not config.accept_size_wrong:  # the bytes received
                target = _Bounded(target, notice.size, notice.url)  # type: ignore[assignment]
            writer = _HashingWriter(target, flag)
            try:
                size = self._transfer(notice).get(remote_path(notice), writer)  # type: ignore[arg-type]
            finally:
                writer.close()
            wrong = notice.size not in (None, size) and self.on_data is None
            if wrong and not config.accept_size_wrong:  # never a short file under a final name
                why = f"{size} bytes received of the {notice.size} announced: not put in place"
                raise TransientError("get", notice.url, why)
            computed = writer.value()
            if strict and computed is not None and notice.identity is not None:
                expected = b64_to_hex(notice.identity.value)
                if computed != expected:
                    raise IntegrityMismatch(
                        "get",
                        notice.url,
                        f"integrity check failed: {method} of the {size} bytes downloaded is "
                        f"{computed}, the message says {expected}; not put in place",
                    )
            return size, computed

        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("downloading %s to %s (inflight %s)", redact_url(notice.url), final,
                         self.config.inflight)  # fmt: skip
        size, computed = self._write_into_place(notice, placement, fetch)
        logger.debug("wrote %d bytes into %s (%s %s)", size, final, method or "no checksum",
                     computed or "")  # fmt: skip
        reason = "transformed by on_data plugins" if self.on_data is not None else ""
        if computed is not None and notice.identity is not None:
            expected = b64_to_hex(notice.identity.value)
            if computed != expected:
                reason = (
                    f"warning: checksum differs from the notice's"
                    f" ({method} {computed} != {expected})"
                )
        if notice.size not in (None, size) and not reason:  # accept_size_wrong
            reason = f"warning: size {size} differs from the notice's {notice.size}"
        seconds = time.monotonic() - started
        if config.delete:
            self._delete_source(notice)
        if config.discard:
            self._remove(placement)
        return Outcome("done", reason, final, size, seconds, computed,
                       transformed=self.on_data is not None)  # fmt: skip

    def _write_into_place(
        self, notice: Notice, placement: Placement, write: Callable[[BinaryIO], _Written]
    ) -> _Written:
        """What `write` returns, having written a new file under its inflight name, given it the
        notice's mode and time, and renamed it into place; nothing is left behind if it fails,
        under the inflight name or (inflight NONE) the final one."""
        with self.inflight.open(placement, self.config.chmod_dir or None) as destination:
            return destination.write(write, partial(self._apply_attributes, notice))

    def _remove(self, placement: Placement) -> None:
        """Remove the file at a placement (option discard), never through a symlink."""
        with open_folder(placement.root, placement.path.parent, create=False) as folder:
            folder.remove(placement.path.name)

    def _inline(self, notice: Notice, placement: Placement, started: float) -> Outcome | None:
        """The file written from the notice's own content, or None (then it is downloaded)
        when the content cannot be read or does not match the notice's size or checksum."""
        data = inline_bytes(notice.content or {})
        if data is None or (notice.size is not None and len(data) != notice.size):
            logger.debug("inline content of %s unusable: downloading", redact_url(notice.url))
            return None
        method = notice.identity.method if notice.identity else None
        flag = _computable(method)
        computed = checksum_bytes(data, flag) if flag else None
        expected = b64_to_hex(notice.identity.value) if computed and notice.identity else None
        if computed != expected:
            logger.debug("inline content of %s differs from its checksum: downloading",
                         redact_url(notice.url))  # fmt: skip
            return None
        self._write_into_place(notice, placement, lambda file: file.write(data))
        if self.config.discard:
            self._remove(placement)
        seconds = time.monotonic() - started
        return Outcome("done", "", placement.path, len(data), seconds, computed)

    def _part(self, notice: Notice, placement: Placement, started: float) -> Outcome:
        """One part of a file (see sarra.flow.parts_download)."""
        with self.inflight.open(placement, self.config.chmod_dir or None) as destination:
            result = self.parts.fetch(
                notice,
                destination,
                partial(self._get_range, notice),
                partial(self._apply_attributes, notice),
            )
        if result.published:
            if self.config.delete:
                self._delete_source(notice)
            if self.config.discard:
                self._remove(placement)
        seconds = time.monotonic() - started
        return Outcome(
            result.status, result.reason, placement.path, result.fetched, seconds,
            whole=result.published,
        )  # fmt: skip

    def _get_range(
        self, notice: Notice, file: BinaryIO, offset: int, length: int, flag: str
    ) -> str:
        """Copy a byte range of the notice's remote file to `file`; the checksum of the bytes."""
        transfer = self._transfer(notice)
        path = remote_path(notice)
        if "get_range" not in transfer.capabilities:
            why = f"{transfer.server.scheme} cannot fetch a byte range (a part of a file)"
            raise transfer.unsupported("get", path, why)
        writer = _HashingWriter(file, flag)
        try:
            transfer.get(path, writer, offset, length)  # type: ignore[arg-type]
        finally:
            writer.close()
        return writer.value() or ""

    def _delete_source(self, notice: Notice) -> None:
        """Option delete: remove the source once its copy is in place (a failure is logged:
        the copy is safe either way). A file: source is removed by a walk from base_dir, never
        through a symlink that leads out of it."""
        transfer = self._transfer(notice)
        transfer.confine_to(self.config.base_dir)
        try:
            transfer.delete(remote_path(notice))
        except (TransientError, PermanentError, PathRefused) as err:
            logger.warning("source not deleted: %s", err)

    def _folder(self, placement: Placement, directory: Path, *, create: bool = True) -> Folder:
        """A directory below the placement's root, opened (and made) by a safe walk."""
        mode = self.config.chmod_dir or None
        return open_folder(placement.root, directory, create=create, mode=mode)

    def _apply_attributes(self, notice: Notice, fd: int) -> None:
        """Give the open file `fd` the notice's mode and time (or chmod)."""
        config = self.config
        if config.preserve_mode and notice.mode:
            try:
                os.chmod(fd, int(notice.mode, 8) & 0o7777)
            except ValueError:
                logger.warning("ignored mode %r of %s", notice.mode, redact_url(notice.url))
        elif config.chmod:
            os.chmod(fd, config.chmod)
        if wis2.is_wis2(notice):  # its pubtime, which orders the versions of the file
            published = _microseconds(wis2.pubtime(notice))
            if published is not None:
                os.utime(fd, ns=(published * 1000, published * 1000))
        elif config.preserve_time and notice.mtime:
            try:
                mtime = time_to_epoch(notice.mtime)
                atime = time_to_epoch(notice.atime) if notice.atime else mtime
            except ValueError:
                return
            os.utime(fd, (atime, mtime))

    def _newer_here(self, notice: Notice, final: Path) -> str | None:
        """Why a WIS2 notice's file is left alone: the local file is of a later message (its
        mtime is its pubtime), or of this very one (unless overwrite); None otherwise."""
        if not wis2.is_wis2(notice):
            return None
        published = _microseconds(wis2.pubtime(notice))
        held = _held(final)
        if published is None or held is None or held < published:
            return None
        if held == published and self.config.overwrite:
            return None
        when = epoch_to_time(held / 1e6)
        if held > published:
            return f"the local file is of a later message (pubtime {when})"
        return f"the local file is of this message already (pubtime {when})"

    def _already_here(self, notice: Notice, final: Path) -> bool:
        """True when the local file is the notice's file: same size and checksum, or (for
        checksums that cannot be computed) same size and not older."""
        try:
            stat = final.stat()
        except OSError:
            return False
        if notice.size is not None and stat.st_size != notice.size:
            return False
        identity = notice.identity
        flag = _computable(identity.method) if identity is not None else None
        if identity is not None and flag is not None:
            local = checksum_file(final, flag, bufsize=self.config.bufsize)
            return local == b64_to_hex(identity.value)
        if notice.mtime is None or notice.size is None:
            return False
        try:
            return stat.st_mtime >= time_to_epoch(notice.mtime)
        except ValueError:
            return False

    def _file_op(self, notice: Notice, placement: Placement) -> Outcome:
        """A remove, directory, link or rename event, acted on through safe_fs: the entry
        itself, in its directory walked from the placement's root."""
        operation = notice.file_op or {}
        path = placement.path
        if "remove" in operation:
            refused = self._deletion_refused(notice, path)
            if refused is not None:
                return Outcome("skipped", refused, path)
            try:
                with self._folder(placement, path.parent, create=False) as folder:
                    folder.remove(path.name)
            except FileNotFoundError:
                pass  # its directory is gone already
            return Outcome("done", "removed", path, operation="removed")
        if "directory" in operation:
            self._folder(placement, path).close()
            return Outcome("done", "directory made", path, operation="directories made")
        if "link" in operation:
            target = confine_link_target(
                placement.root, _below_root(placement, path.parent), operation["link"]
            )
            with self._folder(placement, path.parent) as folder:
                folder.symlink(target, path.name)
            return Outcome("done", f"linked to {target}", path, operation="linked")
        if "rename" in operation:
            old = confine(placement.root, self._renamed_from(notice, str(operation["rename"])))
            if self._rename(placement, old):
                return Outcome("done", f"renamed from {old}", path, operation="renamed")
            return self._download(notice, placement, time.monotonic())
        return Outcome("permanent", f"unknown file operation {sorted(operation)}")

    def _renamed_from(self, notice: Notice, old: str) -> str:
        """The old path of a rename, relative to the local root. sr3's watch writes the old
        file's absolute path on its host beside a relPath relative to its base directory: as
        under sr3, a path below base_dir (the poster's, in a subscriber) is taken from there."""
        base_dir = self.config.base_dir
        if not base_dir or not old.startswith("/") or notice.rel_path.startswith("/"):
            return old
        below = below_dir(old, base_dir)
        return old if below is None else below

    def _deletion_refused(self, notice: Notice, path: Path) -> str | None:
        """Why a WIS2 deletion is not carried out: wis2_deletions is off, or the local file is
        of a later message than the deletion; None for other removals."""
        if not wis2.is_wis2(notice):
            return None
        if not self.config.wis2_deletions:
            return "WIS2 deletion not carried out (wis2_deletions is off)"
        published, held = _microseconds(wis2.pubtime(notice)), _held(path)
        if published is not None and held is not None and held > published:
            return f"WIS2 deletion older than the local file (pubtime {epoch_to_time(held / 1e6)})"
        return None

    def _rename(self, placement: Placement, old: Path) -> bool:
        """Rename the entry at `old` to the placement's path; False if there is none. A symlink
        renamed must still resolve inside the root from its new place (else PathRefused)."""
        path = placement.path
        try:
            source = self._folder(placement, old.parent, create=False)
        except FileNotFoundError:
            return False
        with source:
            found = source.lstat(old.name)
            if found is None:
                return False
            if stat.S_ISLNK(found.st_mode):
                link_dir = _below_root(placement, path.parent)
                confine_link_target(placement.root, link_dir, source.readlink(old.name))
            with self._folder(placement, path.parent) as folder:
                source.rename(old.name, folder, path.name)
        return True


def _microseconds(seconds: float | None) -> int | None:
    """A time in whole microseconds (the pubtime of a WIS2 file, compared as written)."""
    return None if seconds is None else round(seconds * 1_000_000)


def _held(path: Path) -> int | None:
    """The pubtime of the WIS2 file at `path` (its mtime) in microseconds; None if none."""
    try:
        return path.stat().st_mtime_ns // 1000
    except OSError:
        return None


def _below_root(placement: Placement, directory: Path) -> str:
    """`directory` relative to the placement's root (whose real path it may be below)."""
    real_root = os.path.realpath(placement.root)
    base = real_root if directory.is_relative_to(real_root) else placement.root
    return os.path.relpath(directory, base)
