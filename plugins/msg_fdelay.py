"""on_message msg_fdelay: notices younger than msg_fdelay (a duration, default 60s) go to the
retry queue (parent.RetryLater) and come back later; the consumer does not wait."""


class MsgFdelay:
    def __init__(self, parent):
        parent.declare_option("msg_fdelay")
        self.delay = parent.duration_from_str(getattr(parent, "msg_fdelay", ["60"])[0])

    def on_message(self, parent):
        age = parent.msg.get_elapse()
        if age < self.delay:
            raise parent.RetryLater(f"{age:.1f}s old, held until {self.delay:g}s")
        return True


self.on_message = MsgFdelay(self).on_message
