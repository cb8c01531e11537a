"""Several log lines in one record: a poster logs a line per file, and the lines of a chunk of
files go out together (sarra.components.logs writes each as a log line of its own, with the
record's time and level), which costs a third of a record each."""

from __future__ import annotations

import logging
from collections.abc import Sequence

SEVERAL_LINES = "several_lines"
"""The attribute of a record whose message is several lines (`extra={SEVERAL_LINES: True}`)."""


def log_lines(logger: logging.Logger, level: int, lines: Sequence[str]) -> None:
    """Log `lines` at `level` on `logger`, in one record."""
    if len(lines) == 1:
        logger.log(level, "%s", lines[0])
    elif lines:
        logger.log(level, "%s", "\n".join(lines), extra={SEVERAL_LINES: True})
