"""on_message msg_skip_old: drop notices published longer ago than msg_skip_threshold
(a duration, default 1h) and log each one dropped."""


class MsgSkipOld:
    def __init__(self, parent):
        parent.declare_option("msg_skip_threshold")
        text = getattr(parent, "msg_skip_threshold", ["1h"])[0]
        self.threshold = parent.duration_from_str(text)

    def on_message(self, parent):
        lag = parent.msg.get_elapse()
        if lag > self.threshold:
            parent.logger.info("msg_skip_old: %s is %.1fs old (more than %gs): skipped",
                               parent.msg.urlstr, lag, self.threshold)  # fmt: skip
            return False
        return True


self.on_message = MsgSkipOld(self).on_message
