"""on_post post_log: log each notice just before it is published. post_log_format says how:
old (the default: the v02 notice, topic and headers), compact (time, lag, format, base URL and
path) or v03 (time, lag and every header)."""

FORMATS = ("old", "compact", "v03", "raw")


class PostLog:
    def __init__(self, parent):
        parent.declare_option("post_log_format")
        self.format = getattr(parent, "post_log_format", ["old"])[0]
        if self.format not in FORMATS:
            raise ValueError(f"post_log_format {self.format}: use one of {', '.join(FORMATS)}")

    def on_post(self, parent):
        msg = parent.msg
        if self.format == "compact":
            parent.logger.info("post_log compact %s lag=%.3f version=%s baseurl=%s relpath=%s",
                               msg.pubtime, msg.get_elapse(), msg.post_version, msg.baseurl,
                               msg.relpath)  # fmt: skip
        elif self.format == "v03":
            parent.logger.info("post_log v03 %s lag=%.3f headers=%s", msg.pubtime,
                               msg.get_elapse(), msg.headers)  # fmt: skip
        else:
            parent.logger.info("post_log notice=%s topic=%s headers=%s", msg.notice, msg.topic,
                               msg.hdrstr)  # fmt: skip
        return True


self.on_post = PostLog(self).on_post
