"""on_message msg_total: count the notices received and the bytes they announce since the
start; every msg_total_interval (default 5s) log the totals and the mean rates."""

import time


class MsgTotal:
    def __init__(self, parent):
        parent.declare_option("msg_total_interval")
        self.interval = parent.duration_from_str(getattr(parent, "msg_total_interval", ["5"])[0])
        self.started = self.last = time.monotonic()
        self.messages = 0
        self.bytes = 0

    def on_message(self, parent):
        self.messages += 1
        self.bytes += parent.msg.length
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            seconds = max(now - self.started, 1e-6)
            parent.logger.info(
                "msg_total: %d notices, %d bytes announced; %.2f notices/s, %.1f bytes/s",
                self.messages, self.bytes, self.messages / seconds, self.bytes / seconds,
            )  # fmt: skip
        return True


self.on_message = MsgTotal(self).on_message
