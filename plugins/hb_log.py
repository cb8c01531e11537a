"""on_heartbeat hb_log: log a line at each heartbeat: process, resident memory, uptime."""

import os
import time


class HbLog:
    def __init__(self, parent):
        self.started = time.monotonic()

    def on_heartbeat(self, parent):
        try:
            with open("/proc/self/statm") as statm:
                rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            rss = 0
        parent.logger.info("hb_log: heartbeat: pid %d, resident %d KiB, up %.0fs", os.getpid(),
                           rss // 1024, time.monotonic() - self.started)  # fmt: skip
        return True


self.on_heartbeat = HbLog(self).on_heartbeat
