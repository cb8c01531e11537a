"""on_heartbeat hb_retry: log how many notices wait in the retry queue at each heartbeat."""


class HbRetry:
    def __init__(self, parent):
        pass

    def on_heartbeat(self, parent):
        retry = getattr(parent, "retry", None)
        if retry is not None:
            parent.logger.info("hb_retry: %d notices in the retry queue", len(retry))
        return True


self.on_heartbeat = HbRetry(self).on_heartbeat
