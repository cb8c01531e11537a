"""The work of a sender: push a notice's local file to the destination, complete or not at all.

The local file is the notice's `file:` path (below base_dir), or, for a notice of another
scheme, base_dir + its relative path (the pump's own copy of a file it announced). The remote
path is the destination URL's path, then `directory` with the placement options (mirror, strip,
flatten, filename, rename), confined below that directory by name. The file is written under
its inflight name, given its mode and time, then renamed into place; a file announced in parts
is written part by part under its inflight name and renamed once every part is sent
(sarra.flow.parts_send). Directories are made as needed. File operations (remove, link,
directory) are applied to the remote side.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import posixpath
import re
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sarra.config import paths
from sarra.config.credentials import Credentials
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.config.masks import Mask
from sarra.flow.connections import ThreadTransfers
from sarra.flow.download import Outcome, remote_path
from sarra.flow.inflight import Inflight
from sarra.flow.parts_send import PartSender, work_name
from sarra.flow.placement import Placement, placed
from sarra.message.notice import Notice, time_to_epoch
from sarra.transfer.base import Transfer
from sarra.transfer.confine import PathRefused, confine, confine_remote
from sarra.transfer.errors import PermanentError, TransientError, Unsupported

logger = logging.getLogger(__name__)


class Sender:
    """Sends notices' files to `destination`; each worker thread keeps its own connection."""

    done = "sent"

    def __init__(self, config: Config, credentials: Credentials) -> None:
        if not config.destination:
            raise ConfigError(None, f"{config.name}: no destination set (add a destination line)")
        parts = urlsplit(config.destination)
        self.config = config
        self.server = f"{parts.scheme}://{parts.netloc}/"
        path = unquote(parts.path)
        self.base = path if parts.scheme == "file" else _remote_base(path)
        self.inflight = Inflight(config.inflight)
        self.parts = PartSender(paths.state_dir(config.home, config.name))
        self.transfers = ThreadTransfers(config, credentials)
        self._made = threading.local()  # remote directories this thread made or found

    def place(
        self,
        notice: Notice,
        mask: Mask | None,
        default: Mask,
        *,
        url_match: re.Match[str] | None = None,
    ) -> Placement:
        """The remote path of a notice's file (PathRefused when it would leave directory).
        The path of a `file:` notice is taken relative to base_dir, so the tree below base_dir
        is what is mirrored."""
        base_dir = self.config.base_dir
        if base_dir and urlsplit(notice.base_url).scheme == "file":
            local = posixpath.normpath(self._file_path(notice))
            notice = dataclasses.replace(notice, rel_path=posixpath.relpath(local, base_dir))
        directory, relative = placed(notice, mask, default, url_match=url_match)
        root = posixpath.join(self.base, directory) if self.base else directory
        return Placement(Path(root), Path(confine_remote(root, relative)))

    def handle(self, notice: Notice, placement: Placement) -> Outcome:
        """Send one notice's file (or apply its file operation) to its remote placement."""
        started = time.monotonic()
        try:
            transfer = self.transfers.get(self.server)
            transfer.confine_to(str(placement.root))
            if notice.file_op and "rename" not in notice.file_op:
                return self._file_op(transfer, notice, placement)
            local = self._local_file(notice)
            return self._send(transfer, notice, local, placement.path, started)
        except TransientError as err:
            self._made.__dict__.pop("dirs", None)  # the server may have lost them
            return Outcome("transient", str(err))
        except (PermanentError, PathRefused) as err:
            return Outcome("permanent", str(err))
        except FileNotFoundError as err:
            return Outcome("permanent", f"the local file is gone: {err.filename}")
        except OSError as err:
            return Outcome("transient", f"{err.filename}: {err.strerror or err}")

    def close(self) -> None:
        """Close the connections of every worker thread (once they are done)."""
        self.transfers.close()

    def _file_path(self, notice: Notice) -> str:
        """The local path a `file:` notice names. In sr3's tree, with base_dir, the notice's
        path is below base_dir (sr3's baseDir + relPath: sr3 writes relPath without its
        leading `/`); otherwise it is the path itself (v2's form, confined to base_dir)."""
        path = remote_path(notice)
        if self.config.dialect == "sr3" and self.config.base_dir:
            return posixpath.join(self.config.base_dir, path.lstrip("/"))
        return path

    def _local_file(self, notice: Notice) -> Path:
        base_dir = self.config.base_dir
        if urlsplit(notice.base_url).scheme == "file":
            source = self._file_path(notice)
            if not base_dir:
                raise PathRefused(source, "a sender reads files only below base_dir, unset")
            real_base = os.path.realpath(base_dir)
            return confine(real_base, os.path.relpath(os.path.realpath(source), real_base))
        if not base_dir:
            raise PathRefused(
                notice.url, "not a file: URL (a sender sends local files; or set base_dir)"
            )
        return confine(base_dir, notice.retrieve_path or notice.rel_path)

    def _send(
        self, transfer: Transfer, notice: Notice, local: Path, final: Path, started: float
    ) -> Outcome:
        remote = str(final)
        self._make_dirs(transfer, posixpath.dirname(remote))
        blocks = notice.blocks
        temporary = str(self.inflight.temporary(final))
        with open(local, "rb") as file:
            if blocks is not None and blocks.count > 1:  # a part: see sarra.flow.parts_send
                work = work_name(remote, temporary)
                self._make_dirs(transfer, posixpath.dirname(work))
                finish = partial(self._attributes, transfer, notice)
                result = self.parts.send(transfer, notice, file, remote, work, finish)
                seconds = time.monotonic() - started
                return Outcome(result.status, result.reason, final, result.fetched, seconds,
                               whole=result.published, source=local)  # fmt: skip
            if temporary != remote:
                self._make_dirs(transfer, posixpath.dirname(temporary))
            logger.debug("sending %s to %s (inflight %s)", local, remote, temporary)
            try:
                size = transfer.put(file, temporary)
            except BaseException:
                if temporary == remote:  # inflight NONE: nothing short left under the final name
                    self._optional(transfer.delete, remote)
                raise
        # mode and time before the rename: the file appears complete, with its attributes
        self._attributes(transfer, notice, temporary)
        if temporary != remote:
            transfer.rename(temporary, remote)
        logger.debug("sent %d bytes to %s", size, remote)
        return Outcome("done", "", final, size, time.monotonic() - started, source=local)

    def _attributes(self, transfer: Transfer, notice: Notice, remote: str) -> None:
        """Give a remote file the notice's mode (or chmod) and time, as the options ask."""
        config = self.config
        mode = _mode(notice) if config.preserve_mode else None
        if mode is None and config.chmod:
            mode = config.chmod
        if mode is not None:
            self._optional(transfer.chmod, remote, mode)
        if config.preserve_time and notice.mtime:
            self._optional(transfer.utime, remote, time_to_epoch(notice.mtime))

    def _file_op(self, transfer: Transfer, notice: Notice, placement: Placement) -> Outcome:
        operation = notice.file_op or {}
        remote = str(placement.path)
        if "remove" in operation:
            try:
                transfer.delete(remote)
            except PermanentError as err:
                reason = f"already gone ({err})"
                return Outcome("done", reason, placement.path, operation="removed")
            return Outcome("done", "removed", placement.path, operation="removed")
        if "directory" in operation:
            self._make_dirs(transfer, remote)
            return Outcome("done", "directory made", placement.path, operation="directories made")
        if "link" in operation:
            target = str(operation["link"])
            relative_dir = posixpath.relpath(posixpath.dirname(remote), str(placement.root))
            if target.startswith("/"):
                raise PathRefused(target, "an absolute link target cannot be sent")
            confine_remote(str(placement.root), posixpath.join(relative_dir, target))
            self._make_dirs(transfer, posixpath.dirname(remote))
            self._optional(transfer.delete, remote)
            transfer.symlink(target, remote)
            return Outcome("done", f"linked to {target}", placement.path, operation="linked")
        return Outcome("permanent", f"unknown file operation {sorted(operation)}")

    def _make_dirs(self, transfer: Transfer, directory: str) -> None:
        made: set[str] = self._made.__dict__.setdefault("dirs", set())
        if directory in ("", ".", "/") or directory in made:
            return
        transfer.mkdir(directory, self.config.chmod_dir or 0o775)
        made.add(directory)

    @staticmethod
    def _optional(operation: Callable[..., object], *args: object) -> None:
        """An operation the file is complete without (mode, time, an old link): its failure
        is logged, never fatal."""
        try:
            operation(*args)
        except (Unsupported, PermanentError, TransientError) as err:
            logger.debug("not applied: %s", err)


def _remote_base(url_path: str) -> str:
    """The directory a destination URL names: `sftp://h/data` is data (relative to the login
    directory), `sftp://h//data` is /data, `sftp://h/` the login directory itself (a `file:`
    URL's path is taken as it is)."""
    if url_path.startswith("//"):
        return "/" + url_path.lstrip("/")
    return url_path.lstrip("/")


def _mode(notice: Notice) -> int | None:
    try:
        return int(notice.mode, 8) & 0o7777 if notice.mode else None
    except ValueError:
        return None
