"""on_message msg_rawlog: log each notice as it came from the broker: the body (bytes), the
message properties with its headers, the topic and how long ago it was published."""


class MsgRawLog:
    def __init__(self, parent):
        pass

    def on_message(self, parent):
        msg = parent.msg
        raw = parent.consumer.raw_msg
        parent.logger.info("msg_rawlog received: body=%r properties=%r topic=%s lag=%g",
                           raw.body, raw.properties, msg.topic, msg.get_elapse())  # fmt: skip
        return True


self.on_message = MsgRawLog(self).on_message
