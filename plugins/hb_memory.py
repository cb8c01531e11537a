"""hb_memory (on_heartbeat): log the instance's memory at each heartbeat, and restart it when
its resident memory grows too much.

The limit is hb_memory_max when set, else hb_memory_multiplier (3) times the memory measured
once hb_memory_baseline_file (100) notices were received (or as many heartbeats passed, for
components that receive none). A restart stops the instance and starts it afresh. The figures
come from /proc (no library needed) and are written for people (humanize).
"""

import os

import humanize


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class HbMemory:
    def __init__(self, parent):
        self.limit = parent.hb_memory_max or None
        self.heartbeats = 0

    def _items(self, parent):
        counts = getattr(parent, "counts", None)
        return counts.get("received", 0) if counts is not None else self.heartbeats

    def on_heartbeat(self, parent):
        self.heartbeats += 1
        rss = resident_bytes()
        size = humanize.naturalsize(rss, binary=True)
        if self.limit is None:
            items = self._items(parent)
            if items < parent.hb_memory_baseline_file:
                parent.logger.info("hb_memory: resident %s; %d of %d items before the baseline",
                                   size, items, parent.hb_memory_baseline_file)  # fmt: skip
                return True
            self.limit = int(rss * parent.hb_memory_multiplier)
        limit = humanize.naturalsize(self.limit, binary=True)
        if rss > self.limit:
            parent.logger.warning("hb_memory: resident %s, more than %s: restarting", size, limit)
            parent.restart_instance()
        else:
            parent.logger.info("hb_memory: resident %s; restart above %s", size, limit)
        return True


self.plugin = "HbMemory"
