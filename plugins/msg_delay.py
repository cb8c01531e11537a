"""on_message msg_delay: hold each notice until it is msg_delay old (a duration, default 5m):
the consumer waits (sleeps) for the younger ones. See msg_fdelay, which does not wait."""

import time


class MsgDelay:
    def __init__(self, parent):
        parent.declare_option("msg_delay")
        self.delay = parent.duration_from_str(getattr(parent, "msg_delay", ["300"])[0])

    def on_message(self, parent):
        wait = self.delay - parent.msg.get_elapse()
        if wait > 0:
            parent.logger.debug("msg_delay: %s waits %.1fs", parent.msg.urlstr, wait)
            time.sleep(wait)
        return True


self.on_message = MsgDelay(self).on_message
