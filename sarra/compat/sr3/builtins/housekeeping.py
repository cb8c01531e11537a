"""`callback housekeeping.resources`: at each housekeeping, the instance's resident memory is
logged, and the instance starts afresh when it grows past MemoryMax; without MemoryMax, the
limit is MemoryMultiplier (3) times the memory measured once MemoryBaseLineFile (100) notices
were accepted (or as many housekeepings passed, for components that accept none)."""

from __future__ import annotations

import logging
import os
from typing import Any

from sarra.compat.sr3 import api
from sarra.compat.sr3.flowcb import FlowCB

logger = logging.getLogger("sarra.flowcb.resources")


def resident_bytes() -> int:
    """The resident memory of this process (from /proc)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Resources(FlowCB):
    """Restarts the instance when its memory grows past its limit."""

    def __init__(self, options: Any) -> None:
        super().__init__(options, logger)
        options.add_option("MemoryMax", "size", "0")
        options.add_option("MemoryBaseLineFile", "count", 100)
        options.add_option("MemoryMultiplier", "float", 3.0)
        self.limit: int | None = int(options.MemoryMax) or None
        self.accepted = self.housekeepings = 0

    def after_accept(self, worklist: Any) -> None:
        self.accepted += len(worklist.incoming)

    def on_housekeeping(self) -> None:
        self.housekeepings += 1
        rss = resident_bytes()
        if self.limit is None:
            seen = max(self.accepted, self.housekeepings)
            if seen < int(self.o.MemoryBaseLineFile):
                logger.info("resident %s; %d of %d before setting the limit",
                            api.naturalSize(rss), seen, self.o.MemoryBaseLineFile)  # fmt: skip
                return
            self.limit = int(rss * float(self.o.MemoryMultiplier))
        if rss > self.limit:
            logger.warning("resident %s, more than %s: restarting", api.naturalSize(rss),
                           api.naturalSize(self.limit))  # fmt: skip
            self.o.restart_instance()
        else:
            logger.info("resident %s; restart above %s", api.naturalSize(rss),
                        api.naturalSize(self.limit))  # fmt: skip
