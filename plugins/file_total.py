"""on_file file_total: count the files received and their bytes since the start; every
file_total_interval (default 5s) log the totals and the mean rates, with a warning when the
last file was published more than file_total_maxlag (default 60s) earlier."""

import os
import threading
import time


class FileTotal:
    def __init__(self, parent):
        parent.declare_option("file_total_interval")
        parent.declare_option("file_total_maxlag")
        self.interval = parent.duration_from_str(getattr(parent, "file_total_interval", ["5"])[0])
        self.maxlag = parent.duration_from_str(getattr(parent, "file_total_maxlag", ["60"])[0])
        self.started = self.last = time.monotonic()
        self.files = 0
        self.bytes = 0
        self.lock = threading.Lock()  # files arrive from several download threads

    def on_file(self, parent):
        try:
            size = os.stat(parent.msg.local_file).st_size
        except OSError:
            size = 0
        with self.lock:
            self.files += 1
            self.bytes += size
            now = time.monotonic()
            if now - self.last < self.interval:
                return True
            self.last = now
            seconds = max(now - self.started, 1e-6)
            files, total = self.files, self.bytes
        parent.logger.info("file_total: %d files, %d bytes received; %.2f files/s, %.1f bytes/s",
                           files, total, files / seconds, total / seconds)  # fmt: skip
        lag = parent.msg.get_elapse()
        if lag > self.maxlag:
            parent.logger.warning("file_total: excessive lag: files published %.1fs ago", lag)
        return True


self.on_file = FileTotal(self).on_file
