"""hb_memory (on_heartbeat): restart the instance when its resident memory grows too much.

The limit is hb_memory_max when set, else hb_memory_multiplier (3) times the memory measured
once hb_memory_baseline_file (100) notices were received (or as many heartbeats passed, for
components that receive none). A restart stops the instance and starts it afresh.
"""

import os


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
        if self.limit is None:
            if self._items(parent) >= parent.hb_memory_baseline_file:
                self.limit = int(rss * parent.hb_memory_multiplier)
                parent.logger.info("hb_memory: baseline %d KiB, restart above %d KiB",
                                   rss // 1024, self.limit // 1024)  # fmt: skip
            return True
        if rss > self.limit:
            parent.logger.warning("hb_memory: resident %d KiB, more than %d KiB: restarting",
                                  rss // 1024, self.limit // 1024)  # fmt: skip
            parent.restart_instance()
        return True


self.plugin = "HbMemory"
