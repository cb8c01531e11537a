"""sr3's base of flow callbacks, `sarracenia.flowcb.FlowCB`, for the callbacks that subclass it.

A flow callback is a class made with `Class(options)` whose methods named like sr3's entry points
are called by the flow (sarra.compat.sr3.adapters says where each runs here).
"""

from __future__ import annotations

import logging
from typing import Any

entry_points: list[str] = [
    "ack", "after_accept", "after_gather", "after_post", "after_work", "destfn", "do_poll",
    "download", "gather", "metricsReport", "on_cleanup", "on_declare", "on_features",
    "on_housekeeping", "on_sanity", "on_start", "on_stop", "please_stop", "poll", "post",
    "report", "send",
]  # fmt: skip
"""The names sr3 looks for on a callback."""


class FlowCB:
    """The base of flow callbacks: keeps the options as `self.o`; `please_stop` sets
    `stop_requested`, which long-running callbacks look at."""

    def __init__(self, options: Any, class_logger: logging.Logger | None = None) -> None:
        self.o = options
        self.stop_requested = False
        level = getattr(options, "logLevel", None)
        if class_logger is not None and isinstance(level, str):
            class_logger.setLevel(getattr(logging, level.upper(), logging.INFO))

    def please_stop(self) -> None:
        """The component is stopping: finish what is in hand, start nothing long."""
        self.stop_requested = True
