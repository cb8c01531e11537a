"""on_post post_log: log each notice just before it is published."""


class PostLog:
    def __init__(self, parent):
        pass

    def on_post(self, parent):
        msg = parent.msg
        parent.logger.info("post_log notice=%s topic=%s headers=%s", msg.notice, msg.topic,
                           msg.hdrstr)  # fmt: skip
        return True


self.on_post = PostLog(self).on_post
