"""on_message msg_2localfile: for a sender, make the notice name its local file: a file: URL
is kept; another URL is mapped below base_dir (its path appended to base_dir). Sets
msg.local_file and turns the notice into a file: one."""

import os


class Msg2LocalFile:
    def __init__(self, parent):
        pass

    def on_message(self, parent):
        msg = parent.msg
        url = msg.url
        if url.scheme == "file":
            path = url.path
        else:
            base_dir = parent.base_dir or "/"
            path = os.path.join(base_dir, url.path.lstrip("/"))
            msg.set_notice("file:", path)
        msg.local_file = path
        return True


self.on_message = Msg2LocalFile(self).on_message
