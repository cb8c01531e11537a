"""on_post post_override: change the headers of every notice posted.

post_override <name> <value>    sets a header (value None: removes it)
post_override_del <name>        removes a header
"""


class PostOverride:
    def __init__(self, parent):
        parent.declare_option("post_override")
        parent.declare_option("post_override_del")
        self.set = {}
        for line in getattr(parent, "post_override", []):
            name, _, value = line.partition(" ")
            if not value.strip():
                raise ValueError(f"post_override {line!r}: give a header name and a value")
            self.set[name] = value.strip()
        self.delete = set(getattr(parent, "post_override_del", []))

    def on_post(self, parent):
        headers = parent.msg.headers
        for name, value in self.set.items():
            if value == "None":
                headers.pop(name, None)
            else:
                headers[name] = value
        for name in self.delete:
            headers.pop(name, None)
        return True


self.on_post = PostOverride(self).on_post
