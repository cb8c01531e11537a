"""on_message msg_quiet: accept every notice and log nothing (a stand-in for msg_log)."""


class MsgQuiet:
    def __init__(self, parent):
        pass

    def on_message(self, parent):
        return True


self.on_message = MsgQuiet(self).on_message
