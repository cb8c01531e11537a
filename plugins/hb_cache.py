"""on_heartbeat hb_cache: log the size of the duplicate cache at each heartbeat (the
component ages and rewrites the cache itself)."""


class HbCache:
    def __init__(self, parent):
        pass

    def on_heartbeat(self, parent):
        cache = getattr(parent, "nodupe", None)
        if cache is None:
            parent.logger.info("hb_cache: no duplicate cache (suppress_duplicates is off)")
        elif hasattr(cache, "entries"):
            parent.logger.info("hb_cache: %d entries in the duplicate cache", len(cache.entries))
        else:
            parent.logger.info("hb_cache: the duplicate cache is shared (Redis expires it)")
        return True


self.on_heartbeat = HbCache(self).on_heartbeat
