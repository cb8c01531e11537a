"""The state of every config of this host, from what lies on disk: the configs, the pid and
state files of their instances (sarra.components.instances), the figures each instance writes
(sarra.flow.metrics) and, for an instance that died, the end of its log.

`collect` gives one `ConfigStatus` per config; `sr status` (sarra.observe.text), its JSON
(`to_json`), the Prometheus endpoint and the dashboard all show these same records.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sarra.broker import held_share
from sarra.broker import state as link_state
from sarra.components import instances
from sarra.config import paths
from sarra.config.credentials import redact_text
from sarra.config.errors import ConfigError
from sarra.config.loader import config_file, config_names, load
from sarra.config.options import CONFIG_COMPONENTS
from sarra.flow import metrics
from sarra.flow.metrics import Metrics
from sarra.observe import logs

SCHEMA = 1
"""The version of the JSON of `sr status --json` and /api/status; it changes only when a field
changes meaning or goes away (new fields may appear at any time)."""

STALE = 3 * metrics.EVERY
"""Seconds after which the figures of a running instance are old: it no longer writes them."""

GRACE = 30.0
"""Seconds an instance may spend starting or connecting before it needs a look."""

RECENT = 300.0
"""Seconds an error stays worth a look."""

STATES = (
    "bad config",  # the config cannot be read, and nothing runs
    "crashed",  # an instance's pid file is left, its process gone (killed, died)
    "exited",  # an instance started and ended by itself (see its last error)
    "refused",  # the broker refuses a connection: login, vhost, permission, exchange
    "unreachable",  # no broker answers: nothing listens, host down, connection lost
    "stale",  # running, but its figures are not written any more: hung?
    "connecting",  # running, not connected yet
    "starting",  # running, no figures yet
    "passive",  # running, waiting: the vip is on another host
    "running",  # running, connected
    "stopped",  # not started
    "disabled",  # disabled (<name>.conf.off), not running
)
"""Every state, the worst first: a config is in the worst state of its instances."""

PROBLEMS = frozenset({"bad config", "crashed", "exited", "refused", "unreachable", "stale"})
"""The states that need a look."""


@dataclass
class InstanceStatus:
    """One instance of a config: its process, its state and the figures it wrote."""

    number: int
    pid: int | None
    state: str
    reason: str = ""
    figures: Metrics | None = None
    since: float | None = None  # when the state began, when known
    last_error: str = ""  # from its figures, or the end of its log when it died
    last_error_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The instance in the JSON of `sr status --json`."""
        found = self.figures
        figures = _figures_json(found) if found is not None else {}
        return {
            "instance": self.number,
            "pid": self.pid,
            "state": self.state,
            "reason": self.reason,
            "since": self.since,
            **figures,
            "last_error": redact_text(self.last_error),
            "last_error_at": self.last_error_at,
        }


@dataclass
class ConfigStatus:
    """One config with its instances, and the figures of the running ones added up."""

    component: str
    config: str
    enabled: bool
    state: str
    reason: str = ""
    since: float | None = None  # when the state began, when known
    problems: list[str] = field(default_factory=list)
    expected: int = 0  # instances started (0 when stopped)
    running: int = 0  # instances whose process runs
    instances: list[InstanceStatus] = field(default_factory=list)
    done: str = "downloaded"
    counts: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    window: float = 0.0
    received_rate: float = 0.0
    done_rate: float = 0.0
    bytes_rate: float = 0.0
    lag_median: float | None = None
    lag_max: float | None = None
    notice_lag_median: float | None = None
    notice_lag_max: float | None = None
    queue_depth: int | None = None
    retry: int = 0
    last_file: str = ""
    last_done: float | None = None
    last_error: str = ""
    last_error_at: float | None = None

    @property
    def label(self) -> str:
        """component/config, as people name it."""
        return f"{self.component}/{self.config}"

    def to_json(self) -> dict[str, Any]:
        """The config in the JSON of `sr status --json` (see docs/operations.md)."""
        return {
            "component": self.component,
            "config": self.config,
            "enabled": self.enabled,
            "state": self.state,
            "reason": self.reason,
            "since": self.since,
            "problems": list(self.problems),
            "instances_expected": self.expected,
            "instances_running": self.running,
            "done": self.done,
            "counts": dict(self.counts),
            "bytes": self.bytes,
            "window": self.window,
            "received_rate": self.received_rate,
            "done_rate": self.done_rate,
            "bytes_rate": self.bytes_rate,
            "lag_median": self.lag_median,
            "lag_max": self.lag_max,
            "notice_lag_median": self.notice_lag_median,
            "notice_lag_max": self.notice_lag_max,
            "queue_depth": self.queue_depth,
            "retry": self.retry,
            "last_file": self.last_file,
            "last_done": self.last_done,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "instances": [i.to_json() for i in self.instances],
        }


def _figures_json(found: Metrics) -> dict[str, Any]:
    return {
        "started": found.started,
        "written": found.written,
        "passive": found.passive,
        "not_reloaded": redact_text(found.not_reloaded),
        "links": {
            role: {
                "broker": link.broker,
                "state": link.state,
                "reason": link.reason,
                "since": link.since,
                "failures": link.failures,
            }
            for role, link in found.links.items()
        },
        "queue": found.queue,
        "queue_depth": found.queue_depth,
        "queue_depth_at": found.queue_depth_at,
        "done": found.done,
        "counts": dict(found.counts),
        "bytes": found.bytes,
        "window": found.window,
        "received_rate": found.received_rate,
        "done_rate": found.done_rate,
        "bytes_rate": found.bytes_rate,
        "lag_median": found.lag_median,
        "lag_max": found.lag_max,
        "notice_lag_median": found.notice_lag_median,
        "notice_lag_max": found.notice_lag_max,
        "retry": found.retry,
        "last_file": redact_text(found.last_file),
        "last_done": found.last_done,
    }


def every_config() -> list[tuple[str, str, bool]]:
    """(component, config, enabled) of every config of this host, disabled ones too."""
    found = []
    for component in CONFIG_COMPONENTS:
        names = {name: True for name in config_names(component)}
        for name in config_names(component, disabled=True):
            names.setdefault(name, False)
        found += [(component, name, names[name]) for name in sorted(names)]
    return found


def collect(
    configs: Iterable[tuple[str, str, bool]] | None = None, now: float | None = None
) -> list[ConfigStatus]:
    """The status of these configs (component, name, enabled), or of every one."""
    now = time.time() if now is None else now
    chosen = every_config() if configs is None else configs
    return [observe(component, name, enabled, now) for component, name, enabled in chosen]


def observe(component: str, name: str, enabled: bool, now: float) -> ConfigStatus:
    """Look at one config on disk."""
    path = config_file(component, name, disabled=not enabled) or paths.component_dir(component) / (
        f"{name}.conf" if enabled else f"{name}.conf.off"
    )
    config = None
    try:
        config = load(component, path)
        config_error = ""
    except ConfigError as err:
        config_error = redact_text(" ".join(str(err).split()))
    expected = instances.expected(component, name)
    found = []
    for instance in instances.instances(component, name):
        figures = metrics.read_one(metrics.metrics_file(component, name, instance.number))
        found.append(look_at(component, name, instance, expected, figures, now))
    status = assess(component, name, enabled, config_error, expected, found, now)
    missing = any(i.state in ("crashed", "exited") for i in status.instances)
    if missing and config is not None and (held := held_share(config)):
        status.problems.append(held)
    return status


def look_at(
    component: str,
    name: str,
    instance: instances.Instance,
    expected: int,
    figures: Metrics | None,
    now: float,
) -> InstanceStatus:
    """The state of one instance from its process and the figures it wrote."""
    number, pid = instance.number, instance.pid
    if not instance.running:
        if pid is None and number > expected:
            return InstanceStatus(number, None, "stopped")
        if pid is not None:
            found = InstanceStatus(number, pid, "crashed", f"process {pid} is gone", figures)
        else:
            found = InstanceStatus(number, None, "exited", "its process ended", figures)
        if figures is not None and figures.last_error:
            found.last_error, found.last_error_at = figures.last_error, figures.last_error_at
        else:  # what it said last, if it said why
            log = paths.log_file(component, name, number)
            found.last_error, found.last_error_at = logs.last_error(log)
        if found.last_error:
            found.reason += f"; its last error: {found.last_error}"
        return found
    if figures is not None and figures.pid and figures.pid != pid:
        figures = None  # a previous process's: this one has not written yet
    if figures is None:
        age = now - _started(component, name, number, now)
        if age > GRACE:
            return InstanceStatus(number, pid, "stale", f"no figures after {age:.0f} s")
        return InstanceStatus(number, pid, "starting")
    if now - figures.written > STALE:
        reason = f"figures not written for {now - figures.written:.0f} s"
        return InstanceStatus(number, pid, "stale", reason, figures, figures.written)
    if figures.passive:
        found = InstanceStatus(number, pid, "passive", figures.passive, figures, figures.started)
    else:
        found = _connections(number, pid, figures, now)
    found.last_error, found.last_error_at = figures.last_error, figures.last_error_at
    return found


def _connections(number: int, pid: int | None, figures: Metrics, now: float) -> InstanceStatus:
    """A running instance, as its worst connection says."""
    order = (link_state.REFUSED, link_state.UNREACHABLE, link_state.CONNECTING)
    for wanted, state in zip(order, ("refused", "unreachable", "connecting"), strict=True):
        for role, link in figures.links.items():
            if link.state == wanted:
                reason = f"{role} {link.broker}: {link.reason}" if link.reason else ""
                if state == "connecting" and now - link.since > GRACE:
                    reason = f"{role} {link.broker}: no answer yet"
                return InstanceStatus(number, pid, state, redact_text(reason), figures, link.since)
    since = max((link.since for link in figures.links.values()), default=None)
    return InstanceStatus(number, pid, "running", "", figures, since)


def _started(component: str, name: str, number: int, now: float) -> float:
    try:
        return paths.pid_file(component, name, number).stat().st_mtime
    except OSError:
        return now


def assess(
    component: str,
    name: str,
    enabled: bool,
    config_error: str,
    expected: int,
    found: list[InstanceStatus],
    now: float,
) -> ConfigStatus:
    """A config's state, problems and figures, from its instances'."""
    running = [i for i in found if i.state not in ("crashed", "exited", "stopped")]
    status = ConfigStatus(component, name, enabled, "stopped", expected=expected)
    status.running = len(running)
    counted = [i for i in found if i.state != "stopped"]
    status.instances = counted
    if counted:
        worst = min(counted, key=lambda i: STATES.index(i.state))
        status.state, status.reason, status.since = worst.state, worst.reason, worst.since
        if len(counted) > 1 and worst.reason:
            status.reason = f"instance {worst.number:02d}: {worst.reason}"
    elif config_error:
        status.state, status.reason = "bad config", config_error
    elif not enabled:
        status.state = "disabled"
    _add_up(status, counted, running)
    status.problems = _problems(status, config_error, counted, now)
    return status


def _add_up(
    status: ConfigStatus, counted: list[InstanceStatus], running: list[InstanceStatus]
) -> None:
    """The figures of the instances added up: counts and retry of every one that wrote some,
    rates, lag and queue depth of the running ones; the last error of any."""
    erred = max(counted, key=lambda i: i.last_error_at or 0.0, default=None)
    if erred is not None and erred.last_error:
        status.last_error = redact_text(erred.last_error)
        status.last_error_at = erred.last_error_at
    figures = [i.figures for i in counted if i.figures is not None]
    if not figures:
        return
    status.done = figures[0].done
    for found in figures:
        for what, number in found.counts.items():
            status.counts[what] = status.counts.get(what, 0) + number
        status.bytes += found.bytes
        status.retry += found.retry
    latest = max(figures, key=lambda f: f.last_done or 0.0)
    status.last_file, status.last_done = redact_text(latest.last_file), latest.last_done
    live = [i.figures for i in running if i.figures is not None and i.state != "stale"]
    if not live:
        return
    status.window = max(f.window for f in live)
    status.received_rate = sum(f.received_rate for f in live)
    status.done_rate = sum(f.done_rate for f in live)
    status.bytes_rate = sum(f.bytes_rate for f in live)
    lagged = [f for f in live if f.lag_files and f.lag_median is not None]
    if lagged:
        files = sum(f.lag_files for f in lagged)
        status.lag_median = sum((f.lag_median or 0.0) * f.lag_files for f in lagged) / files
        status.lag_max = max(f.lag_max or 0.0 for f in lagged)
    late = [f for f in live if f.lag_notices and f.notice_lag_median is not None]
    if late:
        notices = sum(f.lag_notices for f in late)
        status.notice_lag_median = (
            sum((f.notice_lag_median or 0.0) * f.lag_notices for f in late) / notices
        )
        status.notice_lag_max = max(f.notice_lag_max or 0.0 for f in late)
    depths: dict[str, tuple[float, int]] = {}  # queue -> (when, depth): the latest of each
    for found in live:
        at, depth = found.queue_depth_at, found.queue_depth
        if depth is not None and at is not None and at >= depths.get(found.queue, (0.0, 0))[0]:
            depths[found.queue] = (at, depth)
    if depths:
        status.queue_depth = sum(depth for _, depth in depths.values())


def _problems(
    status: ConfigStatus, config_error: str, counted: list[InstanceStatus], now: float
) -> list[str]:
    """What needs a look, one line each."""
    problems = []
    for instance in counted:
        if instance.state in PROBLEMS:
            problems.append(f"instance {instance.number:02d} {instance.state}: {instance.reason}")
        elif instance.state == "connecting" and instance.since and now - instance.since > GRACE:
            problems.append(f"instance {instance.number:02d} connecting: {instance.reason}")
        figures = instance.figures
        if figures is not None and figures.not_reloaded and instance.state not in PROBLEMS:
            problems.append(f"instance {instance.number:02d} runs its old config: "
                            f"{redact_text(figures.not_reloaded)}")  # fmt: skip
    if config_error and status.state != "bad config":
        problems.append(f"the config has errors: {config_error}")
    elif config_error:
        problems.append(config_error)
    if not status.enabled and status.running:
        problems.append("disabled, but still running")
    recent = status.last_error_at is not None and now - status.last_error_at < RECENT
    if recent and not any(status.last_error in problem for problem in problems):
        assert status.last_error_at is not None
        problems.append(f"error {_ago(now - status.last_error_at)} ago: {status.last_error}")
    return problems


def _ago(seconds: float) -> str:
    return f"{max(0.0, seconds):.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def by_state(statuses: list[ConfigStatus]) -> dict[str, int]:
    """How many configs are in each state, the worst first."""
    counted: dict[str, int] = {}
    for status in sorted(statuses, key=lambda s: STATES.index(s.state)):
        counted[status.state] = counted.get(status.state, 0) + 1
    return counted


def to_json(statuses: list[ConfigStatus], now: float | None = None) -> dict[str, Any]:
    """The document of `sr status --json` and /api/status (see docs/operations.md)."""
    now = time.time() if now is None else now
    states = by_state(statuses)
    return {
        "schema": SCHEMA,
        "host": socket.gethostname(),
        "time": now,
        "totals": {
            "configs": len(statuses),
            "states": states,
            "problems": sum(1 for s in statuses if s.problems),
            "received_rate": sum(s.received_rate for s in statuses),
            "done_rate": sum(s.done_rate for s in statuses),
            "bytes_rate": sum(s.bytes_rate for s in statuses),
            "queue_depth": sum(s.queue_depth or 0 for s in statuses),
            "retry": sum(s.retry for s in statuses),
        },
        "configs": [s.to_json() for s in statuses],
    }
