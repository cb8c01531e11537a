"""The v2 plugin that changes the onward path of files, run by tests/integration/test_onward_path.py
and by v2 2.24.8 beside ours in tests/compat/test_onward_path_peer.py."""

V2_PLUGIN = '''
import os


class Onward:
    """a.dat: placed in a tree of its own, announced below it (parent.post_base_dir);
    b.dat: announced elsewhere (msg.new_relpath, msg.new_baseurl); c.dat: moved by on_file."""

    def __init__(self, parent):
        self.post_base_dir = parent.post_base_dir

    def on_message(self, parent):
        msg = parent.msg
        if msg.new_file == "a.dat":
            parent.post_base_dir = self.post_base_dir + "/hourly"
            msg.new_dir = parent.post_base_dir + "/12"
        else:
            parent.post_base_dir = self.post_base_dir
        return True

    def on_file(self, parent):
        msg = parent.msg
        if msg.new_file == "b.dat":
            msg.new_relpath = "/renamed/" + msg.new_file
            msg.new_baseurl = "http://there/"
        elif msg.new_file == "c.dat":
            moved = os.path.join(msg.new_dir, "moved")
            os.makedirs(moved)
            os.rename(msg.local_file, os.path.join(moved, msg.new_file))
            msg.new_dir = moved
        return True


self.plugin = "Onward"
'''
