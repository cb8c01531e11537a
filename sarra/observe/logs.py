"""The end of an instance's log, read from its last bytes (however large the file), without
passwords: for the dashboard, and for the last error of an instance that died."""

from __future__ import annotations

import re
import time
from pathlib import Path

from sarra.config.credentials import redact_text

TAIL_BYTES = 64 * 1024
"""Most bytes read from the end of a log."""

_LINE = re.compile(
    r"^(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \[(?P<level>[A-Z]+)\] (?P<text>.*)"
)


def tail(path: Path, lines: int = 100) -> list[str]:
    """The last `lines` lines of a log (fewer if its last TAIL_BYTES hold fewer), redacted."""
    try:
        with open(path, "rb") as log:
            size = log.seek(0, 2)
            log.seek(max(0, size - TAIL_BYTES))
            data = log.read(TAIL_BYTES)
    except OSError:
        return []
    found = data.decode("utf-8", "replace").splitlines()
    if len(data) == TAIL_BYTES and size > TAIL_BYTES:
        found = found[1:]  # the first may be the end of a line cut
    return [redact_text(line) for line in found[-lines:]]


def last_error(path: Path) -> tuple[str, float | None]:
    """The last ERROR (or CRITICAL) line of a log and when it was written; ("", None) if none
    is near its end."""
    for line in reversed(tail(path, 1000)):
        match = _LINE.match(line)
        if match and match["level"] in ("ERROR", "CRITICAL"):
            try:
                when = time.mktime(time.strptime(match["when"], "%Y-%m-%d %H:%M:%S"))
            except ValueError:
                when = None
            return " ".join(match["text"].split())[:300], when
    return "", None
