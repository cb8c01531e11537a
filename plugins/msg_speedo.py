"""msg_speedo (on_message): every msg_speedo_interval (default 5s) log the rate of notices
and of the bytes they announce, and the lag of the last one; warn when the lag is more than
msg_speedo_maxlag (default 60s)."""

import logging
import time


class MsgSpeedo:
    def __init__(self, parent):
        parent.declare_option("msg_speedo_interval")
        parent.declare_option("msg_speedo_maxlag")
        self.interval = parent.duration_from_str(getattr(parent, "msg_speedo_interval", ["5"])[0])
        self.maxlag = parent.duration_from_str(getattr(parent, "msg_speedo_maxlag", ["60"])[0])
        self._reset(time.monotonic())

    def _reset(self, now):
        self.started = now
        self.messages = 0
        self.bytes = 0

    def on_message(self, parent):
        msg = parent.msg
        self.messages += 1
        self.bytes += msg.length
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-6)
        if elapsed >= self.interval:
            lag = msg.get_elapse()
            level = logging.WARNING if lag > self.maxlag else logging.INFO
            parent.logger.log(
                level,
                "msg_speedo: %d notices received: %.2f notices/s, %.1f bytes/s, lag %.2fs",
                self.messages, self.messages / elapsed, self.bytes / elapsed, lag,
            )  # fmt: skip
            self._reset(now)
        return True


self.plugin = "MsgSpeedo"
