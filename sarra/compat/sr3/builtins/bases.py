"""Small bases sr3's callbacks subclass, under sr3's module names:

sarracenia.flowcb.authenticate   BearerToken: after_accept puts the token `get_token()`
                                 returns into the credentials of each message's baseUrl
sarracenia.flowcb.pclean         PClean: the paths of a file across the directories of
                                 sr3's flow tests, for the pclean_f9x checks
sarracenia.flowcb.work.check     Check: after_work compares each file placed with its
                                 message (size, identity), counts, and removes it
"""

from __future__ import annotations

import logging
import os
import posixpath
from typing import Any, ClassVar

from sarra.compat.sr3.config import Credential
from sarra.compat.sr3.flowcb import FlowCB
from sarra.compat.sr3.message import Message

logger = logging.getLogger("sarra.flowcb")


class BearerToken(FlowCB):
    """Authentication by bearer token: a subclass says how to get one (`get_token`)."""

    def __init__(self, options: Any, class_logger: logging.Logger | None = None) -> None:
        super().__init__(options, class_logger or logger)

    def get_token(self) -> str | None:
        """The token (None: none could be had); subclasses say how."""
        logger.error("%s: get_token is not implemented", type(self).__name__)
        return None

    def after_accept(self, worklist: Any) -> None:
        """Put the token into the credentials of each message's baseUrl (once)."""
        for msg in worklist.incoming:
            token = self.get_token()
            if not token:
                logger.error("no token for %s", msg["baseUrl"])
                continue
            credentials = self.o.credentials
            ok, details = credentials.get(msg["baseUrl"])
            if ok and getattr(details, "bearer_token", None) == token:
                continue
            credentials.add(msg["baseUrl"], details=Credential(msg["baseUrl"], bearer_token=token))


class PClean(FlowCB):
    """The base of sr3's flow-test checks pclean_f90 and pclean_f92."""

    fxx_dirs: ClassVar[list[str]] = ["", "downloaded_by_sub_amqp", "downloaded_by_sub_rabbitmqtt",
                "sent_by_tsource2send", "downloaded_by_sub_u", "downloaded_by_sub_cp",
                "posted_by_shim", "posted_by_srpost_test2", "recd_by_srpoll_test1"]  # fmt: skip
    """The directories of sr3's flow test a file passes through, sarra's first."""

    def __init__(self, options: Any) -> None:
        super().__init__(options, logger)
        self.test_extension_list = [".slink", ".hlink", ".moved"]
        self.ext_key = "pclean_ext"
        self.ext_count = 0
        self.all_fxx_dirs = list(self.fxx_dirs)

    def build_path_dict(self, fxx_dirs: list[str], relpath: str, ext: str = "") -> dict[str, str]:
        """For each directory named, the path `relpath` (a path below the first subscriber's
        directory) has there."""
        return {f"{d}{ext}": relpath.replace(self.all_fxx_dirs[1], d) for d in fxx_dirs}

    def get_extension(self, relpath: str) -> str:
        """The path's extension (`.moved`...)."""
        return posixpath.splitext(relpath)[1]


class Check(FlowCB):
    """Compares each file placed with its message, counts, and removes the file."""

    def __init__(self, options: Any) -> None:
        super().__init__(options, logger)
        self.reset_metrics()

    def reset_metrics(self) -> None:
        """Counts from zero."""
        self.checksum_mismatches = self.size_mismatches = self.ok = self.bad_content = 0

    def on_start(self) -> None:
        self.reset_metrics()

    def content_check(self, local_file: str) -> bool:
        """Whether the file's content is right (subclasses say; True here)."""
        return True

    def after_work(self, worklist: Any) -> None:
        for msg in worklist.ok:
            local_file = os.path.join(msg["new_dir"], msg["new_file"])
            if "fileOp" in msg:
                if os.path.lexists(local_file) and not os.path.isdir(local_file):
                    os.unlink(local_file)
                continue
            found = os.stat(local_file)
            if "size" in msg and found.st_size != msg["size"]:
                logger.error("%s: %d bytes, the message says %d", local_file, found.st_size,
                             msg["size"])  # fmt: skip
                self.size_mismatches += 1
            identity = msg.get("identity")
            if isinstance(identity, dict) and identity.get("method") not in (None, "cod"):
                computed = Message()
                computed.computeIdentity(local_file, _Method(identity["method"]))
                if computed["identity"] != identity:
                    logger.error("%s: identity %s, the message says %s", local_file,
                                 computed["identity"], identity)  # fmt: skip
                    self.checksum_mismatches += 1
            if self.content_check(local_file):
                os.unlink(local_file)
                logger.info("checked out ok: %s", local_file)
                self.ok += 1
            else:
                self.bad_content += 1

    def metricsReport(self) -> dict[str, int]:
        return {"checked_ok": self.ok, "checked_size_mismatches": self.size_mismatches,
                "checked_checksum_mismatches": self.checksum_mismatches,
                "checked_bad_content": self.bad_content}  # fmt: skip

    def on_housekeeping(self) -> None:
        self.reset_metrics()


class _Method:
    """Options naming only an identity method (for Message.computeIdentity)."""

    def __init__(self, method: str) -> None:
        self.identity_method = method
