"""The first-wins memory of one client section: the files already received, for a time.

A file received is remembered for `ttl` seconds, so later announcements of it (by another
provider, or the same one after its restart) are acknowledged instead of transferred. The
memory is kept per section, in an append-only file of `<time> <uid>` lines that is read back,
and rewritten without the expired entries, when the section starts again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)


class Memory:
    """uids seen, each with the time it was added; thread-safe."""

    def __init__(self, path: Path | None, ttl: float) -> None:
        self.path = path
        self.ttl = ttl
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._file = None
        if path is not None:
            self._load(path)
            self._file = path.open("a", encoding="utf-8")

    def _load(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        now = time.time()
        try:
            for line in path.read_text(encoding="utf-8").splitlines():
                stamp, _, uid = line.partition(" ")
                try:
                    when = float(stamp)
                except ValueError:
                    continue
                if uid and now - when < self.ttl:
                    self._seen[uid] = when
        except FileNotFoundError:
            pass
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(f"{when:.3f} {uid}\n" for uid, when in self._seen.items()))
        os.replace(tmp, path)

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
