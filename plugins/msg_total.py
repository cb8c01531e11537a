"""on_message msg_total: count the notices received and the bytes they announce since the
start; every msg_total_interval (default 5s) log the totals and the mean rates, with a warning
when the last notice was published more than msg_total_maxlag (default 60s) earlier. With
msg_total_count N, the instance stops once it received N notices."""

import time


class MsgTotal:
    def __init__(self, parent):
        for name in ("msg_total_interval", "msg_total_maxlag", "msg_total_count"):
            parent.declare_option(name)
        self.interval = parent.duration_from_str(getattr(parent, "msg_total_interval", ["5"])[0])
        self.maxlag = parent.duration_from_str(getattr(parent, "msg_total_maxlag", ["60"])[0])
        self.count = int(getattr(parent, "msg_total_count", ["0"])[0])
        self.started = self.last = time.monotonic()
        self.messages = 0
        self.bytes = 0

    def on_message(self, parent):
        self.messages += 1
        self.bytes += parent.msg.length
        now = time.monotonic()
        if self.count and self.messages >= self.count:
            parent.logger.info("msg_total: %d notices received: stopping", self.messages)
            parent.stop_instance()
        if now - self.last >= self.interval:
            self.last = now
            seconds = max(now - self.started, 1e-6)
            parent.logger.info(
                "msg_total: %d notices, %d bytes announced; %.2f notices/s, %.1f bytes/s",
                self.messages, self.bytes, self.messages / seconds, self.bytes / seconds,
            )  # fmt: skip
            lag = parent.msg.get_elapse()
            if lag > self.maxlag:
                parent.logger.warning("msg_total: excessive lag: notices published %.1fs ago",
                                      lag)  # fmt: skip
        return True


self.on_message = MsgTotal(self).on_message
