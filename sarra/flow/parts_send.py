"""Files announced in parts, sent: each part is written at its offset into the remote file's
inflight name (its work name), which is renamed to the final name only once every part of the
file is sent, so a remote reader never sees a file in parts half-written under its final name.

The work name is the `inflight` rule's name of the final file, or `.name.sarra-work` beside it
when that rule writes the final name itself (inflight NONE), as for downloads
(sarra.flow.parts_download, whose state file format and locking this shares).

What has been sent is recorded on this side, since a remote server (sftp, file: through it)
offers no lock: one state file per remote file in the config's state directory,
`sent-parts/<hash of the remote URL>.parts`, holding `layout`, `source` and `have <n> work
<flag>,<digest>` lines under an exclusive flock. Every worker thread and every instance of the
config on this host takes that lock, so the parts of one file may be sent by any of them; the
lock is held while a part is written, so nothing is written into a file being renamed. A part
whose file was begun afresh (a new layout, or no state yet) first removes the stale work file a
crash or an older version left. A part that fails while no part of its file is recorded leaves
neither state nor remote work file.

A part's bytes are read from the local file as it is when the part is sent, whichever notice
asked for it: `source` is that file's version (inode, size, times) and `have` the checksum of
each part's bytes as sent. When the local file changed since (a new version, announced again),
the parts it no longer holds are dropped before anything else, and sent again as the new
version's notices ask; a notice of an older version (another size) is skipped. So the parts of
two versions are never mixed, and the file completes as the local file is. To a server where a
range written at offset 0 replaces the file (ftp), the first part starts the work file again and
the parts it replaced are written again with it, from the local file.

Instances on several hosts that share one queue each see only the parts they sent: a file is
then never completed (it stays under its work name, never short under its final name). A
sender of files in parts runs on one host.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sarra.flow.parts_download import WORK, Layout, PartResult, State, flocked, read_state
from sarra.integrity.checksum import checksum_fd
from sarra.message.notice import Notice
from sarra.transfer.base import Transfer
from sarra.transfer.errors import PermanentError, TransientError
from sarra.transfer.safe_fs import Folder, open_folder

logger = logging.getLogger(__name__)

Finish = Callable[[str], None]
"""Gives the remote work file (its path) its mode and times before it is renamed into place."""


def work_name(final: str, inflight: str) -> str:
    """The remote name the parts of `final` are written into: its inflight name, or a hidden
    work name beside it when the inflight name is the final name."""
    if inflight != final:
        return inflight
    directory, name = os.path.split(final)
    return os.path.join(directory, f".{name}.sarra-work")


class PartSender:
    """Sends the parts of files and renames each file into place once all its parts are sent."""

    def __init__(self, state_dir: Path, bufsize: int = 1 << 20) -> None:
        self.state_dir = state_dir
        self.bufsize = bufsize

    def send(
        self,
        transfer: Transfer,
        notice: Notice,
        local: BinaryIO,
        final: str,
        work: str,
        finish: Finish,
    ) -> PartResult:
        """Send one part of `local` (the notice's block) into `work` on the server; rename
        `work` to `final` when it completes the file."""
        blocks = notice.blocks
        assert blocks is not None
        layout = Layout(blocks.size, blocks.count, blocks.remainder)
        name = f"part {blocks.number} of {blocks.count}"
        source, size = _source(local)
        if not _may_be_cut(layout, size):
            reason = f"{name}: the local file has changed since (now {size} bytes)"
            return PartResult("skipped", reason)
        url = transfer.url(final)
        with self._folder() as folder:
            state_name = hashlib.sha256(url.encode("utf-8", "surrogateescape")).hexdigest()[:32]
            state_name += ".parts"
            recorded = False
            try:
                with flocked(folder, state_name, fcntl.LOCK_EX, append=True) as fd:
                    state, layout = _begin(fd, state_name, layout, url, transfer, work)
                    if state.source != source:
                        self._keep_unchanged(fd, state, local, layout, source)
                    if blocks.number in state.have:
                        status, what, sent = "skipped", f"{name} already sent", 0
                    else:
                        sent = self._write(fd, state, transfer, local, layout, blocks.number, work)
                        status, what = "done", f"{name} sent"
                    recorded = bool(state.have)
                    published, progress = self._complete(
                        folder, state_name, state, layout, transfer, work, final, finish
                    )
                    return PartResult(status, f"{what}; {progress}", sent, published)
            finally:
                if not recorded:
                    self._forget_if_empty(folder, state_name, transfer, work)

    def _folder(self) -> Folder:
        return open_folder(self.state_dir, "sent-parts")

    def _keep_unchanged(
        self, fd: int, state: State, local: BinaryIO, layout: Layout, source: str
    ) -> None:
        """The local file is another version than the one the recorded parts were read from:
        drop those whose bytes it no longer holds (they are sent again as its notices ask)."""
        changed = [n for n, (_, value) in state.have.items()
                   if _checksum(local, layout, n, self.bufsize) != value]  # fmt: skip
        for number in changed:
            _drop(fd, state, number)
        os.write(fd, f"source {source}\n".encode())
        state.source = source

    def _write(
        self,
        fd: int,
        state: State,
        transfer: Transfer,
        local: BinaryIO,
        layout: Layout,
        number: int,
        work: str,
    ) -> int:
        """Write part `number` of the local file into `work` and record it: the bytes sent.
        Where that replaces the file (ftp, at offset 0), the work file is begun again with it
        and with every part up to the last one recorded (which stay recorded until then)."""
        numbers = [number]
        if number == 0 and transfer.put_range_replaces_at_start:
            numbers = list(range(max(state.have, default=0) + 1))
            _remove_remote(transfer, work)
        start = layout.block(numbers[0]).offset
        end = layout.block(numbers[-1]).offset + layout.block(numbers[-1]).length
        local.seek(start)
        sent = transfer.put(local, work, start, end - start)
        sums = {n: _checksum(local, layout, n, self.bufsize) for n in numbers}
        if _source(local)[0] != state.source:
            reason = "the local file changed while it was sent"
            raise TransientError("put", transfer.url(work), reason)
        for n in numbers:
            os.write(fd, f"have {n} {WORK} {sums[n]}\n".encode())
            state.have[n] = (WORK, sums[n])
        return sent

    @staticmethod
    def _complete(
        folder: Folder,
        state_name: str,
        state: State,
        layout: Layout,
        transfer: Transfer,
        work: str,
        final: str,
        finish: Finish,
    ) -> tuple[bool, str]:
        """Rename the work file into place once every part is sent: (published, progress)."""
        here = sum(1 for n in range(layout.count) if n in state.have)
        if here < layout.count or layout.remainder is None:
            return False, f"{here} of {layout.count} parts sent"
        finish(work)
        transfer.rename(work, final)
        folder.remove(state_name)  # the lock is held until the descriptor is closed
        return True, "file complete"

    @staticmethod
    def _forget_if_empty(folder: Folder, state_name: str, transfer: Transfer, work: str) -> None:
        """After a part failed: when no part of the file is recorded, remove its state and the
        remote work file, so that a part failing leaves nothing behind."""
        try:
            with flocked(folder, state_name, fcntl.LOCK_EX, create=False) as fd:
                if read_state(fd).have:
                    return
                _remove_remote(transfer, work)
                folder.remove(state_name)
        except FileNotFoundError:
            return
        except (OSError, TransientError, PermanentError) as err:
            logger.warning("%s: work file of a failed part not removed: %s", transfer.url(work),
                           err)  # fmt: skip


def _begin(
    fd: int, state_name: str, layout: Layout, url: str, transfer: Transfer, work: str
) -> tuple[State, Layout]:
    """The file's state, begun afresh (the stale remote work file removed) when there is none
    or its layout changed (a remainder told for the first time is no change)."""
    state = read_state(fd)
    merged = state.layout and state.layout.merged(layout)
    if merged:
        if merged != state.layout:
            os.write(fd, f"layout {merged}\n".encode())
            state.layout = merged
        return state, merged
    if state.layout is not None:
        logger.info("%s: now in blocks of %s; parts sent in blocks of %s are sent again", url,
                    layout, state.layout)  # fmt: skip
    _remove_remote(transfer, work)
    os.write(fd, f"file {url}\nlayout {layout}\n".encode("utf-8", "surrogateescape"))
    return State(layout), layout


def _remove_remote(transfer: Transfer, path: str) -> None:
    """Remove a remote file that may not be there."""
    with contextlib.suppress(PermanentError):  # not there (or not removable: then overwritten)
        transfer.delete(path)


def _drop(fd: int, state: State, number: int) -> None:
    os.write(fd, f"drop {number}\n".encode())
    state.have.pop(number, None)


def _source(local: BinaryIO) -> tuple[str, int]:
    """The version of the open local file (what changes when it is written: its inode, size
    and times), and its size."""
    st = os.fstat(local.fileno())
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}", st.st_size


def _may_be_cut(layout: Layout, size: int) -> bool:
    """Whether a file of `size` bytes is cut as `layout` says (the remainder may be unknown)."""
    if layout.file_size is not None:
        return size == layout.file_size
    return layout.block_size * (layout.count - 1) < size <= layout.block_size * layout.count


def _checksum(local: BinaryIO, layout: Layout, number: int, bufsize: int) -> str:
    """The checksum of part `number` of the local file, as a state file records it."""
    block = layout.block(number)
    return "d," + checksum_fd(local.fileno(), "d", block.offset, block.length, bufsize)
