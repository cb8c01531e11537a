"""on_message msg_renamer: name each file after its whole relative path, directories joined
by '_' (a/b/c.txt -> a_b_c.txt), so that files of many directories can share one directory
without colliding."""


class MsgRenamer:
    def __init__(self, parent):
        pass

    def on_message(self, parent):
        msg = parent.msg
        msg.new_file = msg.relpath.strip("/").replace("/", "_")
        return True


self.on_message = MsgRenamer(self).on_message
