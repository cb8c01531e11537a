"""msg_pclean: the base class of the flow test's propagation checks (msg_pclean_f90 and
msg_pclean_f92 import it as `sarra.plugins.msg_pclean.Msg_Pclean`). It registers nothing itself.

A file the flow test publishes is copied into one directory per component of the flow; the checks
look for it in each, derived from its path under the first subscriber's directory. A file may be
given an extension naming a further test: `.slink` (symbolic link), `.hlink` (hard link) or
`.moved` (renamed).
"""

from __future__ import annotations

import posixpath
from typing import Any

FLOW_DIRECTORIES = (
    "",  # sr_sarra's own tree
    "downloaded_by_sub_amqp",
    "downloaded_by_sub_rabbitmqtt",
    "sent_by_tsource2send",
    "downloaded_by_sub_u",
    "downloaded_by_sub_cp",
    "posted_by_shim",
    "posted_by_srpost_test2",
    "recd_by_srpoll_test1",
)


class Msg_Pclean:
    """What the propagation checks share: the test extensions and the flow's directories."""

    def __init__(self, parent: Any) -> None:
        self.test_extension_list = [".slink", ".hlink", ".moved"]
        self.ext_key = "pclean_ext"
        self.all_fxx_dirs = list(FLOW_DIRECTORIES)

    def build_path_dict(self, fxx_dirs: list[str], relpath: str, ext: str = "") -> dict[str, str]:
        """For each flow directory named, the path of `relpath` there (keyed by the directory
        and the test extension)."""
        first = self.all_fxx_dirs[1]
        return {f"{directory}{ext}": relpath.replace(first, directory) for directory in fxx_dirs}

    def get_extension(self, relpath: str) -> str:
        """The extension of a path (the test it names, if any), with its dot."""
        return posixpath.splitext(relpath)[1]

    def log_msg_details(self, parent: Any) -> None:
        """Log the notice that failed a check."""
        msg = parent.msg
        parent.logger.error("message received is incorrect")
        parent.logger.error(
            "msg_log received: %s %s%s topic=%s lag=%.3f %s",
            *(msg.pubtime, msg.baseurl, msg.relpath, msg.topic, msg.get_elapse(), msg.hdrstr),
        )
