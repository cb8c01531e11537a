"""Scheduled flows and polls, as sr3 names them.

    callback scheduled        at each appointment, the URLs of `path` (below post_baseUrl)
                              enter the flow (a subscriber downloads them, a poll posts them)
    callback scheduled.poll   a poll lists its directories only at the appointments

Appointments: every scheduled_interval (the first at the start); else each day at the hours
of scheduled_hour (all hours by default) and minutes of scheduled_minute (0 by default), and at
the times of scheduled_time (HH:MM), UTC; with none of them, every 5 minutes.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from sarra.compat.sr3 import api
from sarra.compat.sr3.flowcb import FlowCB
from sarra.compat.sr3.message import Message

logger = logging.getLogger("sarra.flowcb.scheduled")

DEFAULT_WAIT = datetime.timedelta(seconds=300)
UTC = datetime.UTC


def _numbers(lines: list[str]) -> list[int]:
    return [int(word) for line in lines for word in str(line).split(",") if word.strip()]


class Scheduled(FlowCB):
    """The base of scheduled callbacks: `ready_to_gather()` says when an appointment is due."""

    def __init__(self, options: Any, class_logger: logging.Logger | None = None) -> None:
        super().__init__(options, class_logger or logger)
        options.add_option("scheduled_interval", "duration", 0)
        options.add_option("scheduled_hour", "list", [])
        options.add_option("scheduled_minute", "list", [])
        options.add_option("scheduled_time", "list", [])
        self.interval = float(options.scheduled_interval or 0)
        hours = _numbers(options.scheduled_hour or []) or list(range(24))
        minutes = _numbers(options.scheduled_minute or []) or [0]
        self.times: list[tuple[int, int]] = []
        if options.scheduled_hour or options.scheduled_minute:
            self.times = [(h, m) for h in hours for m in minutes]
        for line in options.scheduled_time or []:
            for word in str(line).split(","):
                hour, _, minute = word.strip().partition(":")
                self.times.append((int(hour), int(minute or 0)))
        self.times.sort()
        now = datetime.datetime.now(UTC)
        self.next_gather_time = now if self.interval > 0 else self._after(now)

    def _after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first appointment after `moment`."""
        if self.interval > 0:
            return moment + datetime.timedelta(seconds=self.interval)
        if not self.times:
            return moment + DEFAULT_WAIT
        for days in (0, 1):
            day = moment.date() + datetime.timedelta(days=days)
            for hour, minute in self.times:
                when = datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                if when > moment:
                    return when
        raise AssertionError("an appointment is always found within two days")

    def ready_to_gather(self) -> bool:
        """True once an appointment is due (the next one is then set)."""
        now = datetime.datetime.now(UTC)
        if now < self.next_gather_time or self.stop_requested:
            return False
        logger.info("appointment of %s due (%.1fs late)", self.next_gather_time,
                    (now - self.next_gather_time).total_seconds())  # fmt: skip
        self.next_gather_time = self._after(now)
        return True

    def gather(self, messageCountMax: int) -> tuple[bool, list[Message]]:
        if not self.ready_to_gather():
            return False, []
        messages = []
        for path in self.o.path or []:
            message = Message()
            message["pubTime"] = api.nowstr()
            message["baseUrl"] = str(self.o.post_baseUrl or "").split(",")[0]
            message["relPath"] = self.o.variableExpansion(str(path)).lstrip("/")
            messages.append(message)
        return True, messages

    def on_housekeeping(self) -> None:
        logger.info("next appointment: %s", self.next_gather_time)


class Poll(Scheduled):
    """A poll lists only at the appointments: its gather says whether this pass polls."""

    def gather(self, messageCountMax: int) -> tuple[bool, list[Message]]:
        return self.ready_to_gather(), []
