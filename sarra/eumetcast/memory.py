"""The first-wins memory of one client section: the files already received, for a time.

A file received is remembered for `ttl` seconds, so later announcements of it (by another
provider, or the same one after its restart) are acknowledged instead of transferred. The
memory is kept per section, in an append-only file of `<time> <uid>` lines that is read back,
and rewritten without the expired entries, when the section starts again.

The file is written as sarra writes every file (sarra.transfer.safe_fs): it is never read or
written through a symlink. At start it is rewritten under a new `.name.tmp` (whatever stood
there removed, a symlink logged) and renamed into place; the entries that follow are appended
to that same file, through the descriptor it was made with.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TextIO

from sarra.flow.inflight import publish
from sarra.transfer.safe_fs import Folder, identity, open_folder

log = logging.getLogger(__name__)


class Memory:
    """uids seen, each with the time it was added; thread-safe."""

    def __init__(self, path: Path | None, ttl: float) -> None:
        self.path = path
        self.ttl = ttl
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if path is not None:
            with open_folder(path.parent, ".") as folder:
                self._load(folder, path.name)
                self._file = self._rewrite(folder, path.name)

    def _load(self, folder: Folder, name: str) -> None:
        """Read back the entries not expired yet (none from a file that is not one)."""
        try:
            fd = folder.open_read(name)
        except OSError:
            return  # missing, or not a file of its own: written afresh
        now = time.time()
        with open(fd, encoding="utf-8", errors="replace") as file:
            for line in file:
                stamp, _, uid = line.rstrip("\n").partition(" ")
                try:
                    when = float(stamp)
                except ValueError:
                    continue
                if uid and now - when < self.ttl:
                    self._seen[uid] = when

    def _rewrite(self, folder: Folder, name: str) -> TextIO:
        """The memory file rewritten with the entries kept, open to append the next ones."""
        temporary = f".{name}.tmp"
        fd = folder.create(temporary)
        written = identity(fd)
        file = open(fd, "a", encoding="utf-8")  # noqa: SIM115 (kept open: the memory appends)
        try:
            file.write("".join(f"{when:.3f} {uid}\n" for uid, when in self._seen.items()))
            file.flush()
            publish(written, folder, temporary, folder, name)
        except BaseException:
            folder.discard(temporary, written)
            file.close()
            raise
        return file

    def __contains__(self, uid: str) -> bool:
        with self._lock:
            when = self._seen.get(uid)
            if when is None:
                return False
            if time.time() - when >= self.ttl:
                del self._seen[uid]
                return False
            return True

    def add(self, uid: str) -> None:
        now = time.time()
        with self._lock:
            self._seen[uid] = now
            if self._file is not None:
                self._file.write(f"{now:.3f} {uid}\n")
                self._file.flush()
            if len(self._seen) % 1000 == 0:
                self._expire(now)

    def _expire(self, now: float) -> None:
        old = [uid for uid, when in self._seen.items() if now - when >= self.ttl]
        for uid in old:
            del self._seen[uid]

    def __len__(self) -> int:
        return len(self._seen)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
