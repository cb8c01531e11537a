"""on_message msg_log: log each notice accepted, with its topic, lag and headers."""


class MsgLog:
    def __init__(self, parent):
        pass

    def on_message(self, parent):
        msg = parent.msg
        parent.logger.info(
            "msg_log received: %s topic=%s lag=%.3fs %s",
            msg.notice, msg.topic, msg.get_elapse(), msg.hdrstr,
        )  # fmt: skip
        return True


msg_log = MsgLog(self)
self.on_message = msg_log.on_message
