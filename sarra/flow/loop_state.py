"""What the stages of the loop share: the instance's state, declared once.

`ConsumerLoop` (sarra.flow.loop) builds it; each stage is a mixin over it, in a module of its
own: gathering (sarra.flow.gather; a source's, sarra.flow.sources, is driven by the loop),
the filter (sarra.flow.filtering), the work (sarra.flow.work, sarra.flow.source_work), posting
and acknowledging (sarra.flow.settle) and the plugin points (sarra.flow.plugin_points).
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from sarra.broker import Confirmation, Consumer, Message
from sarra.config.loader import Config
from sarra.flow import wis2
from sarra.flow.faults import Faults
from sarra.flow.hooks import Hooks
from sarra.flow.job import Job
from sarra.flow.log_budget import LogBudget
from sarra.flow.nodupe import NoDupe
from sarra.flow.placement import Onward, Placement
from sarra.flow.posting import Posting
from sarra.flow.prefixes import TopicPrefixes
from sarra.flow.publish import NoticePublisher
from sarra.flow.recorder import Recorder
from sarra.flow.retry import Retries
from sarra.flow.rules import Rules
from sarra.message.notice import Notice

if TYPE_CHECKING:
    from sarra.flow.work import Worker


class LoopState:
    """The attributes every stage reads (set by ConsumerLoop.__init__), and the counts."""

    config: Config
    number: int
    stop: threading.Event
    counts: Counter[str]
    bytes: int
    last_done: float | None
    _lock: threading.Lock
    _busy: dict[tuple[Path, int], list[tuple[Job, Placement]]]
    _wis2_seen: set[str]
    selection: wis2.Selection
    global_cache: str | None
    retry: Retries
    nodupe: NoDupe | None
    rules: Rules
    worker: Worker | None
    sends: bool
    onward: Onward
    failed_code: int
    faults: Faults
    bad_input: LogBudget
    topic_prefixes: tuple[str, ...]
    topics: TopicPrefixes
    _unmatched_kinds: set[str]
    plugins: Hooks | None
    consumer: Consumer | None
    publisher: NoticePublisher | None
    posting: Posting | None
    reporter: NoticePublisher | None
    recorder: Recorder
    pool: ThreadPoolExecutor
    _taking: threading.Lock
    _held: list[tuple[Job, Sequence[Notice], list[Message]]] | None
    _to_work: list[Job]
    _unsettled: deque[tuple[Job, int, list[Confirmation]]]
    _open: bool
    _arrivals: int

    def _count(self, what: str, number: int = 1) -> None:
        with self._lock:
            self.counts[what] += number
