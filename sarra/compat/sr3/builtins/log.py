"""`callback log`: a line for each notice at the points logEvents names, and a summary at each
housekeeping (our wording; sr3's option names).

    logEvents        the points: after_accept, after_work, after_post, on_housekeeping,
                     on_start, on_stop, reject (a set: `+x` adds, `-x` removes)
    logMessageDump   log the whole message instead of its URL
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sarra.compat.sr3 import api
from sarra.compat.sr3.flowcb import FlowCB
from sarra.compat.sr3.options import LOG_EVENTS
from sarra.config.credentials import redact_url

logger = logging.getLogger("sarra.flowcb.log")

_VERBS = {"sender": "sent", "subscribe": "downloaded", "sarra": "downloaded",
          "post": "noticed", "poll": "noticed", "watch": "noticed", "shovel": "shoveled",
          "winnow": "winnowed"}  # fmt: skip


class Log(FlowCB):
    """Logs notices at the points of logEvents; counts them for housekeeping and metrics."""

    def __init__(self, options: Any) -> None:
        super().__init__(options, logger)
        options.add_option("logEvents", "set", list(LOG_EVENTS))
        options.add_option("logMessageDump", "flag", False)
        self.verb = _VERBS.get(str(options.component), "done")
        self._reset()

    def _reset(self) -> None:
        self.since = time.time()
        self.accepted = self.rejected = self.files = self.failed = self.posted = 0
        self.bytes = 0
        self.lag_total = self.lag_max = 0.0

    def _events(self) -> set[str]:
        return set(self.o.logEvents or ())

    def _show(self, message: Any) -> str:
        if self.o.logMessageDump:
            return str(message.dumps() if hasattr(message, "dumps") else message)
        return redact_url(message.getIDStr() if hasattr(message, "getIDStr") else str(message))

    def _lag(self, message: Any) -> float:
        try:
            return max(0.0, time.time() - api.timestr2flt(str(message["pubTime"])))
        except (KeyError, ValueError, TypeError):
            return 0.0

    def after_accept(self, worklist: Any) -> None:
        events = self._events()
        for message in worklist.incoming:
            self.accepted += 1
            lag = self._lag(message)
            self.lag_total += lag
            self.lag_max = max(self.lag_max, lag)
            if "after_accept" in events:
                logger.info("accepted %s (lag %.2fs) for %s/%s", self._show(message), lag,
                            message.get("new_dir", ""), message.get("new_file", ""))  # fmt: skip
        for message in worklist.rejected:
            self.rejected += 1
            if "reject" in events:
                logger.info("rejected %s", self._show(message))

    def after_work(self, worklist: Any) -> None:
        events = self._events()
        for message in worklist.ok:
            self.files += 1
            self.bytes += int(message.get("size") or 0)
            if "after_work" in events:
                where = f"{message.get('new_dir', '')}/{message.get('new_file', '')}"
                logger.info("%s %s to %s", self.verb, self._show(message), where)
        for message in worklist.failed:
            self.failed += 1
            if "after_work" in events:
                logger.info("failed %s: to be tried again", self._show(message))
        for message in worklist.rejected:
            self.rejected += 1
            if "reject" in events:
                logger.info("rejected %s", self._show(message))

    def after_post(self, worklist: Any) -> None:
        for message in worklist.ok:
            self.posted += 1
            if "after_post" in self._events():
                logger.info("posted %s", self._show(message))

    def on_start(self) -> None:
        if "on_start" in self._events():
            logger.info("starting %s/%s", self.o.component, self.o.config)

    def on_stop(self) -> None:
        if "on_stop" in self._events():
            logger.info("stopping %s/%s", self.o.component, self.o.config)

    def on_housekeeping(self) -> None:
        if "on_housekeeping" in self._events():
            seconds = max(time.time() - self.since, 0.001)
            mean = self.lag_total / self.accepted if self.accepted else 0.0
            logger.info(
                "in %.0fs: %d accepted (lag mean %.2fs, max %.2fs), %d rejected; %d %s (%s, "
                "%s/s), %d failed, %d posted", seconds, self.accepted, mean, self.lag_max,
                self.rejected, self.files, self.verb, api.naturalSize(self.bytes),
                api.naturalSize(self.bytes / seconds), self.failed, self.posted,
            )  # fmt: skip
        self._reset()

    def metricsReport(self) -> dict[str, Any]:
        return {"lagMax": self.lag_max, "lagTotal": self.lag_total,
                "lagMessageCount": self.accepted, "rejectCount": self.rejected}  # fmt: skip
