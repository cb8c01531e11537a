"""Duplicate suppression as sr3 names it, on the component's own duplicate cache
(sarra.flow.nodupe): naming one of these sets the cache up, the loop does the rest.

    nodupe.disk        the cache of each instance on disk (nodupe_driver disk)
    nodupe.redis       the cache shared in Redis (nodupe_driver redis; nodupe_redis_serverurl)
    nodupe.name        two notices of the same file name are the same (basis name)
    nodupe.data_only   two notices of the same checksum are the same (basis data)

nodupe_ttl (how long a notice is remembered) turns the cache on, unless the config set its
time itself (suppress_duplicates).
"""

from __future__ import annotations

from typing import Any

from sarra.compat.sr3.flowcb import FlowCB


class NoDupe(FlowCB):
    """The base of sr3's duplicate suppression callbacks: the key of a message."""

    def deriveKey(self, msg: Any) -> str:
        """What makes two messages the same: a key given in nodupe_override, a link's
        target, the checksum, else the path with its time and size."""
        override = msg.get("nodupe_override") or {}
        if "key" in override:
            return str(override["key"])
        operation = msg.get("fileOp") or {}
        if "link" in operation:
            return str(operation["link"])
        identity = msg.get("identity")
        if identity and identity.get("method") != "cod":
            return f"{identity['method']},{identity['value']}"
        path = override.get("path", msg.get("relPath"))
        when = msg.get("mtime", msg.get("pubTime"))
        return f"{path},{when},{msg['size']}" if "size" in msg else f"{path},{when}"


class _Cache(NoDupe):
    driver = "disk"

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        options.add_option("nodupe_ttl", "duration", 0)
        options.apply("nodupe_driver", self.driver)
        ttl = float(options.nodupe_ttl or 0)
        if ttl > 0:
            options.apply("suppress_duplicates", ttl)


class Disk(_Cache):
    """The cache of each instance, on disk."""


class Redis(_Cache):
    """The cache shared by instances (and hosts) in Redis."""

    driver = "redis"


class Name(NoDupe):
    """Notices of the same file name, whatever their directory, are the same."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        options.apply("suppress_duplicates_basis", "name")


class Data_only(NoDupe):
    """Notices of the same checksum, whatever their name, are the same."""

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        options.apply("suppress_duplicates_basis", "data")
