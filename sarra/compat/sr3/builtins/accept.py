"""Small after_accept callbacks sr3 ships, under its names (our code):

accept.httptohttps        http: base URLs become https:
accept.toclusters         only notices whose to_clusters is among msgToClusters go on
accept.hourtree           files go into a directory of the current hour (local time)
accept.posthourtree       the same, in UTC
accept.printlag           logs how old each notice is
accept.trim_legacy_fields drops atime, mtime, source, from_cluster, to_clusters,
                          filename and sundew_extension from the notice
accept.renamewhatfn       the file name loses everything from its first ':'
accept.tolocalfile        the notice points at the local file (file: below baseDir),
                          keeping what it said in saved_baseUrl and saved_relPath
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sarra.compat.sr3 import api
from sarra.compat.sr3.flowcb import FlowCB

logger = logging.getLogger("sarra.flowcb.accept")


class HttpToHttps(FlowCB):
    """http: base URLs become https:."""

    def after_accept(self, worklist: Any) -> None:
        for message in worklist.incoming:
            if str(message["baseUrl"]).startswith("http:"):
                message["baseUrl"] = "https:" + message["baseUrl"][len("http:") :]


class ToClusters(FlowCB):
    """Notices for other clusters (to_clusters not among msgToClusters) are rejected."""

    def __init__(self, options: Any) -> None:
        super().__init__(options, logger)
        options.add_option("msgToClusters", "list")
        wanted = [w.strip() for line in options.msgToClusters or [] for w in line.split(",")]
        self.clusters = {w for w in wanted if w}
        if not self.clusters:
            logger.warning("accept.toclusters: no msgToClusters set: every notice is rejected")

    def after_accept(self, worklist: Any) -> None:
        going = []
        for message in worklist.incoming:
            to = {c.strip() for c in str(message.get("to_clusters", "")).split(",")}
            (going if to & self.clusters else worklist.rejected).append(message)
        worklist.incoming = going


class HourTree(FlowCB):
    """Files go into a directory named after the current hour (local time)."""

    clock = staticmethod(time.localtime)

    def after_accept(self, worklist: Any) -> None:
        hour = time.strftime("%H", self.clock())
        for message in worklist.incoming:
            message["new_dir"] = f"{message.get('new_dir', '')}/{hour}"


class Posthourtree(HourTree):
    """As accept.hourtree, with the hour in UTC."""

    clock = staticmethod(time.gmtime)


class PrintLag(FlowCB):
    """Logs how old each notice is when accepted."""

    def after_accept(self, worklist: Any) -> None:
        for message in worklist.incoming:
            lag = api.nowflt() - api.timestr2flt(message["pubTime"])
            logger.info("lag %.2fs: %s (published %s) for %s", lag, message.getIDStr(),
                        message["pubTime"], message.get("new_file"))  # fmt: skip


class Trim_legacy_fields(FlowCB):
    """The notice loses the fields only older peers read."""

    FIELDS = ("atime", "filename", "from_cluster", "mtime", "source", "sundew_extension",
              "to_clusters")  # fmt: skip

    def after_accept(self, worklist: Any) -> None:
        for message in worklist.incoming:
            for name in self.FIELDS:
                message.pop(name, None)


class RenameWhatFn(FlowCB):
    """The file name loses everything from its first ':' (Sundew's WHATFN)."""

    def after_accept(self, worklist: Any) -> None:
        for message in worklist.incoming:
            name = str(message.get("new_file", ""))
            if ":" in name:
                message["new_file"] = name.split(":", 1)[0]


class ToLocalFile(FlowCB):
    """The notice points at the file on this host: file: and baseDir/relPath."""

    def after_accept(self, worklist: Any) -> None:
        base_dir = getattr(self.o, "baseDir", None) or ""
        for message in worklist.incoming:
            message["saved_baseUrl"] = message["baseUrl"]
            message["saved_relPath"] = message["relPath"]
            message["_deleteOnPost"] |= {"saved_baseUrl", "saved_relPath"}
            path = f"{base_dir}/{message['relPath']}" if base_dir else str(message["relPath"])
            message["baseUrl"] = "file:"
            message["relPath"] = path.replace("//", "/")
