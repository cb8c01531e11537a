"""What each running instance has done, for `sr status`: a small JSON file per instance in its
config's state directory, replaced whole every few seconds while the instance runs, so that a
reader never sees half of one."""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sarra.config import paths
from sarra.sizes import human_size

EVERY = 5.0
"""Seconds between two writes of an instance's figures."""

_ORDER = ("downloaded", "sent", "posted", "received", "rejected", "duplicates", "skipped",
          "failed", "refused", "malformed")  # fmt: skip


@dataclass
class Metrics:
    """One instance's figures since it started."""

    counts: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    retry: int = 0  # notices in the retry queue
    done: str = "downloaded"  # the verb of a file handled
    last_done: float | None = None  # when a file was last handled (epoch seconds)
    started: float = field(default_factory=time.time)
    written: float = 0.0
    passive: str = ""  # why the instance waits instead of working (vip), if it does


def metrics_file(component: str, config: str, instance: int) -> Path:
    """sr_<component>_<config>_NN.metrics in the config's state directory."""
    name = f"sr_{component}_{config}_{instance:02d}.metrics"
    return paths.state_dir(component, config) / name


def write(component: str, config: str, instance: int, metrics: Metrics) -> None:
    """Replace an instance's figures; a failure to write them is not the instance's problem."""
    path = metrics_file(component, config, instance)
    metrics.written = time.time()
    temporary = path.with_name(path.name + ".tmp")
    with contextlib.suppress(OSError):
        temporary.write_text(json.dumps(asdict(metrics)))
        os.replace(temporary, path)


def read(component: str, config: str, instances: list[int]) -> list[Metrics]:
    """The figures of these instances, leaving out those never written or unreadable."""
    found = []
    for number in instances:
        try:
            fields = json.loads(metrics_file(component, config, number).read_text())
            found.append(Metrics(**fields))
        except (OSError, ValueError, TypeError):
            continue
    return found


def summary(found: list[Metrics], now: float | None = None) -> str | None:
    """One line of what the instances did together, or None when none said anything."""
    if not found:
        return None
    now = time.time() if now is None else now
    waiting = [m for m in found if m.passive]
    found = [m for m in found if not m.passive]
    if not found:
        return f"{waiting[0].passive} (for {_ago(now - min(m.written for m in waiting))})"
    counts: dict[str, int] = {}
    for metrics in found:
        for what, number in metrics.counts.items():
            counts[what] = counts.get(what, 0) + number
    done = found[0].done
    shown = sorted((w for w, n in counts.items() if n), key=_rank)
    parts = []
    for what in shown:
        text = f"{what} {counts[what]:,}"
        if what == done:
            text += f" ({human_size(sum(m.bytes for m in found))})"
        parts.append(text)
    line = ", ".join(parts) or "nothing yet"
    line += f"; {sum(m.retry for m in found):,} in the retry queue"
    last = max((m.last_done for m in found if m.last_done is not None), default=None)
    if last is not None:
        line += f"; last {done} {_ago(now - last)} ago"
    oldest = min(m.written for m in found)
    return f"{line} (figures since start, {_ago(now - oldest)} old)"


def _rank(what: str) -> tuple[int, str]:
    return (_ORDER.index(what) if what in _ORDER else len(_ORDER), what)


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
