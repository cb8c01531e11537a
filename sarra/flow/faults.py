"""Unexpected errors (a defect, or input nobody foresaw): a traceback once per kind, then a count.

A kind is the exception's type and the place it was raised (file and line of the innermost
frame). The first error of a kind is logged with its traceback; the next ones with one line that
says how often it was seen. So a flood of notices that hit the same defect costs one traceback,
and each different defect still shows where it is.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

MAX_KINDS = 100
"""Kinds remembered; beyond them an error is logged without its traceback."""

Kind = tuple[str, str, int]


def kind_of(error: BaseException) -> Kind:
    """The type of `error` and where it was raised (the innermost frame of its traceback)."""
    where, line = "", 0
    tb = error.__traceback__
    while tb is not None:
        where, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
        tb = tb.tb_next
    return type(error).__qualname__, where, line


class Faults:
    """The kinds of unexpected error met so far by one component, each with its count."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.seen: dict[Kind, int] = {}
        self._lock = threading.Lock()

    def log(self, error: BaseException, message: str, *args: Any) -> int:
        """Log `message % args` at error level, followed by the error: with its traceback the
        first time its kind is met, else with how many times it was; the count is returned."""
        kind = kind_of(error)
        with self._lock:
            count = self.seen.get(kind, 0) + 1
            if count > 1 or len(self.seen) < MAX_KINDS:
                self.seen[kind] = count
        what = message % args if args else message
        text = f"{type(error).__name__}: {error}"
        if count == 1 and kind in self.seen:
            self.logger.error("%s: %s", what, text, exc_info=error)
        elif count == 1:
            self.logger.error("%s: %s (traceback left out: too many kinds of error)", what, text)
        else:
            self.logger.error("%s: %s (same error as before, %d times)", what, text, count)
        return count
