"""on_post post_rate_limit: publish at most post_rate_limit notices a second (default 1):
the poster waits as needed."""

import threading
import time


class PostRateLimit:
    def __init__(self, parent):
        parent.declare_option("post_rate_limit")
        rate = float(getattr(parent, "post_rate_limit", ["1"])[0])
        if rate <= 0:
            raise ValueError("post_rate_limit must be more than 0 notices a second")
        self.spacing = 1.0 / rate
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def on_post(self, parent):
        with self.lock:
            now = time.monotonic()
            wait = self.next - now
            self.next = max(now, self.next) + self.spacing
        if wait > 0:
            time.sleep(wait)
        return True


self.on_post = PostRateLimit(self).on_post
