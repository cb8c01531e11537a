"""on_message msg_print_lag: log how long ago each notice was published; at warning level
when more than msg_print_lag_warn (a duration, default 60s)."""

import logging


class MsgPrintLag:
    def __init__(self, parent):
        parent.declare_option("msg_print_lag_warn")
        self.warn = parent.duration_from_str(getattr(parent, "msg_print_lag_warn", ["60"])[0])

    def on_message(self, parent):
        lag = parent.msg.get_elapse()
        level = logging.WARNING if lag > self.warn else logging.INFO
        parent.logger.log(level, "msg_print_lag: lag %.3fs for %s", lag, parent.msg.urlstr)
        return True


self.on_message = MsgPrintLag(self).on_message
