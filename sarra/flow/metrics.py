"""What each running instance is doing and has done, for `sr status`, the metrics endpoint and
the dashboard (sarra.observe): a small JSON file per instance in its config's state directory,
`sr_<component>_<config>_NN.metrics`, replaced whole every EVERY seconds while the instance runs
(and at once when a connection changes state: sarra.flow.recorder), so that a reader never sees
half of one.

A file written by an older version reads with the fields it lacks at their defaults; fields
unknown to this version are ignored: readers and writers of different versions get along.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sarra.broker.state import LinkStatus
from sarra.config import paths

EVERY = 5.0
"""Seconds between two writes of an instance's figures."""


@dataclass
class Metrics:
    """One instance's figures: counts since it started, rates and lag over the last `window`
    seconds, its connections, the depth of its queue, its last file and last error."""

    counts: dict[str, int] = field(default_factory=dict)
    bytes: int = 0  # bytes of the files handled
    retry: int = 0  # notices in the retry queue
    done: str = "downloaded"  # the verb of a file handled (downloaded, sent, posted, moved)
    last_done: float | None = None  # when a file was last handled (epoch seconds)
    started: float = field(default_factory=time.time)
    written: float = 0.0
    passive: str = ""  # why the instance waits instead of working (vip), if it does
    not_reloaded: str = ""
    """Why the config its last reload read was refused (it runs the one before): "" when
    none was, or when one read since took."""
    pid: int = 0  # the process that wrote the figures
    links: dict[str, LinkStatus] = field(default_factory=dict)
    """Its broker connections by role (consumer, publisher, reporter)."""
    queue: str = ""  # the queue consumed
    queue_depth: int | None = None  # messages ready in it, as the broker last said
    queue_depth_at: float | None = None
    window: float = 0.0  # seconds the rates and lag are measured over (the last minutes)
    received_rate: float = 0.0  # notices received a second
    done_rate: float = 0.0  # files handled a second
    bytes_rate: float = 0.0  # bytes of files handled a second
    lag_median: float | None = None  # seconds from a notice's time to its file in place
    lag_max: float | None = None
    lag_files: int = 0  # files whose lag was measured in the window
    notice_lag_median: float | None = None  # seconds from a notice's time to its receipt
    notice_lag_max: float | None = None
    lag_notices: int = 0  # notices whose lag was measured in the window
    last_file: str = ""  # the last file handled (path, or URL without password)
    last_error: str = ""  # the last line logged at ERROR, without password
    last_error_at: float | None = None
    plugins: dict[str, Any] = field(default_factory=dict)
    """What the flow callbacks' metricsReport said at the last heartbeat, by callback."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Metrics:
        """The figures of a decoded file, whatever version of sarra wrote it."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        links = values.get("links") or {}
        values["links"] = {
            role: LinkStatus(**{k: v for k, v in link.items() if k in _LINK_FIELDS})
            for role, link in links.items()
        }
        return cls(**values)


_LINK_FIELDS = frozenset(f.name for f in fields(LinkStatus))


class _Process:
    """What every figures this process writes say, whichever loop writes them."""

    not_reloaded = ""


def not_reloaded(reason: str) -> None:
    """Say in every figures this process writes from now on why its last reload was refused
    (sarra.components.run); "" once a reload took."""
    _Process.not_reloaded = reason


def metrics_file(component: str, config: str, instance: int) -> Path:
    """sr_<component>_<config>_NN.metrics in the config's state directory."""
    name = f"sr_{component}_{config}_{instance:02d}.metrics"
    return paths.state_dir(component, config) / name


def write(component: str, config: str, instance: int, metrics: Metrics) -> None:
    """Replace an instance's figures; a failure to write them is not the instance's problem."""
    path = metrics_file(component, config, instance)
    metrics.written = time.time()
    metrics.pid = os.getpid()
    metrics.not_reloaded = _Process.not_reloaded
    temporary = path.with_name(f"{path.name}.{metrics.pid}.tmp")
    with contextlib.suppress(OSError):
        temporary.write_text(json.dumps(asdict(metrics)))
        os.replace(temporary, path)


def read_one(path: Path) -> Metrics | None:
    """The figures in one file; None when absent or unreadable."""
    try:
        return Metrics.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def read(component: str, config: str, instances: list[int]) -> list[Metrics]:
    """The figures of these instances, leaving out those never written or unreadable."""
    found = (read_one(metrics_file(component, config, n)) for n in instances)
    return [m for m in found if m is not None]
