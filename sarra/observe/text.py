"""`sr status` for people: one line per config, sizes and times as people say them, a totals
line; with `problems`, only the configs that need a look, each problem on a line of its own."""

from __future__ import annotations

import time

import humanize

from sarra.observe.status import ConfigStatus, by_state
from sarra.sizes import short_duration


def render(
    statuses: list[ConfigStatus],
    now: float | None = None,
    *,
    problems: bool = False,
    totals: bool = True,
) -> list[str]:
    """The lines of `sr status`: every config (or only those with problems, each problem
    under it), then the totals."""
    now = time.time() if now is None else now
    shown = [s for s in statuses if s.problems] if problems else statuses
    width = max((len(s.label) for s in shown), default=0)
    state_width = max((len(_state(s)) for s in shown), default=0)
    lines = []
    for status in shown:
        said = line(status, now, width, state_width)
        lines.append(said)
        if problems:  # what the line does not say already
            lines += [f"    ! {p}" for p in status.problems if p.partition(": ")[2] not in said]
    if totals:
        lines.append(total(statuses))
    return lines


def line(status: ConfigStatus, now: float, width: int = 0, state_width: int = 0) -> str:
    """One config on one line."""
    mark = "!" if status.problems else " "
    head = f"{mark} {status.label:<{width}}  {_state(status):<{state_width}}"
    parts = []
    if status.reason and status.state != "running":
        lasting = f" (for {humanize.naturaldelta(now - status.since)})" if status.since else ""
        parts.append(status.reason + lasting)
    if status.running and (status.state == "running" or status.counts):
        parts += _figures(status, now)
    elif status.last_done is not None:
        parts.append(f"last file {humanize.naturaldelta(now - status.last_done)} ago")
    if not status.enabled and status.running:
        parts.append("disabled while running")
    return f"{head}  {'; '.join(parts)}".rstrip()


def _state(status: ConfigStatus) -> str:
    if status.expected or status.running:
        return f"{status.state} {status.running}/{status.expected}"
    return status.state


def _figures(status: ConfigStatus, now: float) -> list[str]:
    parts = []
    received, rejected = status.counts.get("received", 0), status.counts.get("rejected", 0)
    if status.received_rate or received:
        parts.append(f"received {_rate(status.received_rate)}/s")
    if received and rejected:  # sr3 status's %rej, since the instances started
        parts.append(f"{100 * rejected / received:.1f}% rejected")
    size = humanize.naturalsize(status.bytes_rate, binary=True)
    parts.append(f"{status.done} {_rate(status.done_rate)} files/s ({size}/s)")
    if status.lag_median is not None and status.lag_max is not None:
        parts.append(
            f"lag {short_duration(status.lag_median)}, worst {short_duration(status.lag_max)}"
        )
    elif status.notice_lag_median is not None and status.notice_lag_max is not None:
        median, worst = status.notice_lag_median, status.notice_lag_max
        parts.append(f"notice lag {short_duration(median)}, worst {short_duration(worst)}")
    if status.queue_depth is not None:
        parts.append(f"queue {status.queue_depth:,}")
    if status.retry:
        parts.append(f"retry {status.retry:,}")
    if status.last_done is not None:
        parts.append(f"last file {humanize.naturaldelta(now - status.last_done)} ago")
    elif status.counts:
        parts.append("no file yet")
    return parts


def _rate(per_second: float) -> str:
    if per_second == 0:
        return "0"
    if per_second < 10:
        return f"{per_second:.1f}"
    return f"{per_second:,.0f}"


def total(statuses: list[ConfigStatus]) -> str:
    """The totals line: configs by state, rates, queues, retries and how many need a look."""
    states = by_state(statuses)
    counted = ", ".join(f"{n} {state}" for state, n in states.items())
    line = f"{len(statuses)} configs" + (f": {counted}" if counted else "")
    done = sum(s.done_rate for s in statuses)
    size = humanize.naturalsize(sum(s.bytes_rate for s in statuses), binary=True)
    line += f"; {_rate(done)} files/s ({size}/s)"
    depth = sum(s.queue_depth or 0 for s in statuses)
    if depth:
        line += f"; {depth:,} queued"
    retry = sum(s.retry for s in statuses)
    if retry:
        line += f"; {retry:,} to retry"
    troubled = sum(1 for s in statuses if s.problems)
    line += f"; {troubled} need{'s' if troubled == 1 else ''} a look" if troubled else "; all well"
    return line
