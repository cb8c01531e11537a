"""`callback filter.fdelay`: a notice goes on only once it, and its file (a local one), are
at least fdelay seconds old (default 60; msg_fdelay is the older name); until then it waits in
the retry queue. A removal goes no further."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from sarra.compat.sr3 import api
from sarra.compat.sr3.flowcb import FlowCB

logger = logging.getLogger("sarra.flowcb.fdelay")


class Fdelay(FlowCB):
    """Holds back notices (and local files) younger than fdelay seconds."""

    def __init__(self, options: Any) -> None:
        super().__init__(options, logger)
        options.add_option("fdelay", "duration", 0)
        options.add_option("msg_fdelay", "duration", 60)
        self.delay = float(options.fdelay or options.msg_fdelay)

    def after_accept(self, worklist: Any) -> None:
        going = []
        now = time.time()
        for message in worklist.incoming:
            if "remove" in (message.get("fileOp") or {}):
                worklist.rejected.append(message)
                continue
            if now - api.timestr2flt(message["pubTime"]) < self.delay:
                worklist.failed.append(message)
                continue
            local = "/" + str(message["relPath"]).lstrip("/")
            if not os.path.exists(local) or now - os.path.getmtime(local) < self.delay:
                worklist.failed.append(message)
                continue
            going.append(message)
        worklist.incoming = going
