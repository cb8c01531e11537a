"""The one loop of every component: gather -> filter -> work -> post -> acknowledge.

Gather is a queue's deliveries (sr_subscribe, sr_sarra, sr_shovel, sr_winnow, sr_sender,
sr_report) or a source's batches (sarra.flow.sources: sr_post's paths, sr_watch's files once
complete, sr_poll's listings); every other stage is the same code for all.

The broker connections live in their own threads (sarra.broker). Where nothing in the filter can
wait (no plugins, the duplicate cache in memory), deliveries are gathered, filtered, posted and
acknowledged in the consuming connection's own thread, as they arrive: no hand-off between threads
per notice; otherwise (and for a batch that finds a publisher without room, which would make it
wait) the loop's thread takes them in batches and does the same. Only the work of a transfer
(downloads, sends) goes to a small pool of worker threads. A notice is acknowledged only when its
work is done: its file complete under its final name, its onward notice confirmed by the broker,
or its failure kept in the on-disk retry queue. Malformed notices, rejected ones and refused
paths are logged and acknowledged.

A source's batch is taken in the loop's thread: each job filtered by its notice's URL, worked
(the checksum of a local file: sarra.flow.source_work), its notices encoded, and every
SEND_EVERY jobs those held are published together; the loop goes on working the next while the
broker confirms them (a pipeline: files worked while earlier ones await their confirms), up to
WINDOW jobs unsettled. Each job is settled in the loop's thread once the broker has answered for
all its notices, by its source's bookkeeping in place of an acknowledgement. While it works a
batch of more than SEND_EVERY jobs, the loop's thread borrows the publisher's connection and
sends, reads the confirms and keeps the heartbeats itself between chunks (sarra.broker.link:
no hand-off between threads per chunk, no wake-ups of a thread waiting for the interpreter's
lock at each system call of the work; the connection's thread takes it back if a chunk takes
long).

Each stage is a module of its own, a mixin over the state they share (sarra.flow.loop_state):
gather (sarra.flow.gather for a queue, sarra.flow.sources for the others), filter
(sarra.flow.filtering), work (sarra.flow.work with a transfer, sarra.flow.source_work without),
post and acknowledge (sarra.flow.settle, through sarra.flow.posting), and the plugin points
(sarra.flow.plugin_points); this module builds an instance's loop, connects it and runs it,
with its heartbeat.

Plugins, when the config names any, run at fixed points (sarra.flow.hooks: the components layer
passes them in): on_start and on_stop, gather, on_message after the filter, do_download/do_get
(do_send/do_put) before the worker's own transfer, on_part/on_file after a download, after_work
after the work of every notice, on_post before a publish and after_post after it, on_report
before a report, on_heartbeat; a plugin that raises sends its notice to the retry queue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sarra.broker import Consumer, naming, open_consumer, plan
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_url
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.flow import metrics, wis2
from sarra.flow.faults import Faults
from sarra.flow.filtering import Filtering
from sarra.flow.gather import BATCH, Gathering
from sarra.flow.hooks import Hooks
from sarra.flow.job import Job
from sarra.flow.log_budget import LogBudget
from sarra.flow.nodupe import RedisNoDupe, open_nodupe
from sarra.flow.placement import Onward, Placement
from sarra.flow.plugin_points import PluginPoints
from sarra.flow.posting import Posting
from sarra.flow.prefixes import TopicPrefixes
from sarra.flow.publish import NoticePublisher
from sarra.flow.recorder import Recorder
from sarra.flow.retry import open_retry_queue
from sarra.flow.rules import Rules
from sarra.flow.settle import Settling
from sarra.flow.source_work import SourceWork
from sarra.flow.sources import Source
from sarra.flow.work import Working, worker_for
from sarra.sizes import human_size

logger = logging.getLogger("sarra.flow")

SEND_EVERY = 100
"""Jobs of a source worked between two publishes: the broker confirms the ones sent while the
next are worked, and the end of a run waits for the confirms of a few only."""

WINDOW = 2000
"""Most jobs of a source posted and not settled yet before the loop gathers more (then it waits
for the broker's confirms): memory stays bounded while the broker is slow or away, and a job is
settled only once its notices are confirmed."""


class ConsumerLoop(Gathering, Filtering, Working, SourceWork, Settling, PluginPoints):
    """One instance's loop, fed from its queue or from a `source` (sr_post, sr_watch, sr_poll:
    sarra.flow.sources); `run()` returns when `stop` is set (or a source has no more)."""

    def __init__(
        self,
        config: Config,
        number: int,
        stop: threading.Event,
        hooks: Hooks | None = None,
        source: Source | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        if source is None and not config.broker:
            raise ConfigError(None, f"{config.name}: no broker set (add a broker line)")
        if source is not None and not plan.post_broker(config):
            raise ConfigError(None, f"{config.name}: no post_broker (or broker) to post to")
        self.config = config
        self.source = source
        self.number = number  # 0 in the foreground: its own retry queue and cache files
        self.share = max(number, 1)  # which queue it consumes (with exchange_split)
        self.stop = stop
        self.counts: Counter[str] = Counter()
        self.bytes = 0
        self.last_done: float | None = None  # when a file was last handled (epoch seconds)
        self.started = time.time()
        self._lock = threading.Lock()
        self._busy: dict[tuple[Path, int], list[tuple[Job, Placement]]] = {}
        """Files (or parts) in the workers' hands: the job in hand, then those waiting."""
        self._wis2_seen: set[str] = set()  # kinds of WIS2 message faults logged at warning
        self.selection = wis2.Selection(config)  # the wis2_* selection options
        self.global_cache = config.wis2_global_cache if config.component == "sarra" else None
        self.credentials = credentials or Credentials.load(paths.credentials_file())
        state = paths.state_dir(config.home, config.name)
        prefix = f"sr_{config.component}_{config.name}_{self.number:02d}"
        self.retry = open_retry_queue(config, state / f"{prefix}.retry", stop)
        cache_file = state / f"recent_files_{self.number:03d}.cache"
        self.nodupe = open_nodupe(config, cache_file, stop)
        # the filter's accept/reject, for every component (a poll's chose the names it lists)
        self.rules = source.rules if source is not None and source.rules else Rules.of(config)
        self.worker = None if source is not None else worker_for(config, self.credentials)
        self.sends = config.component == "sender"
        self.onward = Onward.of(config)  # how files done are announced
        self.failed_code = 496 if self.sends else 499
        self.faults = Faults(logger)
        self.bad_input = LogBudget(logger)
        self.topic_prefixes = tuple({b.topic_prefix for b in config.bindings}) or (
            config.topic_prefix,
        )
        self.topics = TopicPrefixes(self.topic_prefixes)
        self._unmatched_kinds: set[str] = set()
        self.plugins = hooks
        if hooks is not None and hooks.has("on_data") and self.worker is not None:
            from sarra.flow.download import Downloader  # a poster needs no transfer

            if isinstance(self.worker, Downloader):
                self.worker.on_data = hooks.transform
        if hooks is not None:  # for the hb_* plugins
            hooks.attach(counts=self.counts, retry=self.retry, nodupe=self.nodupe)
        self.plugin_figures: dict[str, object] = {}
        """What the plugins' metricsReport said at the last heartbeat."""
        self.consumer: Consumer | None = None
        self.publisher: NoticePublisher | None = None
        self.posting: Posting | None = None  # the post stage, as sr_post's
        self.reporter: NoticePublisher | None = None
        self.recorder = Recorder(config.home, config.name, number, self._figures)
        threads = 1 if self.worker is None else max(1, config.threads)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="transfer")
        self._taking = threading.Lock()  # held while a connection's thread takes deliveries
        self._open = True  # deliveries are taken (under _taking)
        self._arrivals = 0  # batches taken in a connection's thread (under _taking)
        self._held = None
        """Posts held to be published together (a source's batch), or None: at once."""
        self._to_work: list[Job] = []
        """A source's jobs filtered and not worked yet: a chunk is worked stage by stage."""
        self._unsettled = deque()
        """The jobs of a source published and not yet answered for, in order, with the bytes
        of their files."""

    def _connect(self) -> None:
        config = self.config
        if self.source is not None:
            self._connect_publisher()
            return
        if config.reset and self.share == 1:
            from sarra.broker import admin  # the topology's steps: only to reset

            for line in admin.reset(config, credentials=self.credentials):
                logger.info("reset: %s", line)
        self.consumer = open_consumer(
            config, self.share, number=self.number, credentials=self.credentials
        )
        from sarra.broker.multi import links  # a consuming loop's: a source has no consumer

        for role, state in links(self.consumer):  # one per broker (also_broker)
            self.recorder.watch(role, state)
        self.recorder.queue(self.consumer.queue_name, lambda: self.consumer.depth)  # type: ignore[union-attr]
        if plan.post_broker(config):
            self._connect_publisher()
        if config.report_back:
            user = config.broker_user() or "anonymous"
            exchange = config.report_exchange or naming.user_exchange(user)
            self.reporter = NoticePublisher(
                config, self.credentials, self.number, reports_to=exchange
            )
            self.recorder.watch("reporter", self.reporter.state)
            self.reporter.start()
        inline = self._filter_never_waits() and self.consumer.deliver_to(self._arrived)
        self.consumer.start()
        logger.info(
            "consuming %s on %s (prefetch %d%s)%s",
            self.consumer.describe(),
            ", ".join(redact_url(url) for url in (config.broker, *config.also_broker)),
            config.prefetch,
            "" if inline else ", filtered in the loop's thread",
            f", posting to {self.publisher.describe()}" if self.publisher else "",
        )

    def _connect_publisher(self) -> None:
        self.publisher = NoticePublisher(self.config, self.credentials, self.number)
        self.recorder.watch("publisher", self.publisher.state)
        self.publisher.start()
        self.posting = Posting(self.publisher, self.plugins)
        if self.source is not None:
            logger.info("posting to %s", self.publisher.describe())

    def _filter_never_waits(self) -> bool:
        """Whether the filter can run in a connection's thread: no plugin (code that may wait)
        and no duplicate cache in Redis (a round trip per notice, and waits while it is
        down)."""
        return self.plugins is None and not isinstance(self.nodupe, RedisNoDupe)

    def run(self) -> None:
        """Consume until stopped; then finish the work in hand and close."""
        self._connect()
        self.recorder.start()
        if self.plugins is not None:
            self.plugins.event("on_start")
        if self.source is not None:
            self._run_source(self.source)
            return
        assert self.consumer is not None
        last_heartbeat = time.monotonic()
        try:
            while not self.stop.is_set():
                arrivals = self._arrivals
                batch = self.consumer.get_batch(BATCH, timeout=0.2)
                if batch:
                    self._gathered(batch)
                if self.plugins is not None and self.plugins.has("gather"):
                    self._plugin_gather()
                if not batch and arrivals == self._arrivals:  # idle: time for retries
                    self._retry_some()
                if time.monotonic() - last_heartbeat >= self.config.heartbeat:
                    last_heartbeat = time.monotonic()
                    self._heartbeat()
        finally:
            with self._taking:
                self._open = False
            self.pool.shutdown(wait=True, cancel_futures=False)
            if self.worker is not None:
                self.worker.close()
            for publisher in (self.publisher, self.reporter):
                if publisher is not None:
                    publisher.close()
            self.consumer.close()
            self._closed()

    def _run_source(self, source: Source) -> None:
        """Gather from a source until stopped or until it has no more; then wait (bounded) for
        the broker to confirm what was posted, and close."""
        last_heartbeat = time.monotonic()
        try:
            source.start()
            self._held = []  # only this thread posts: the jobs of a chunk go out together
            while not self.stop.is_set():
                if len(self._unsettled) >= WINDOW:
                    self._await_confirms(0.2)
                else:
                    jobs = source.gather(0.2)
                    if jobs is None:
                        break
                    self._take_batch(jobs)
                    if not jobs:
                        self._retry_some()
                        self._send_held()
                self._reap()
                if time.monotonic() - last_heartbeat >= self.config.heartbeat:
                    last_heartbeat = time.monotonic()
                    self._heartbeat()
        finally:
            self._send_held()
            self._held = None
            assert self.publisher is not None
            self.publisher.flush(source.confirm_wait)
            self.publisher.close()  # what is still not confirmed fails
            self._reap()
            source.close()
            self._closed()

    def _take_batch(self, jobs: list[Job]) -> None:
        """Filter and work a source's batch, publishing every SEND_EVERY jobs: the broker
        confirms those while the next are worked. A batch of more than SEND_EVERY borrows the
        publisher's connection, sending and settling in this thread between the chunks (no
        hand-off to the connection's thread; it takes the connection back if a chunk takes
        long)."""
        publisher = self.publisher
        assert publisher is not None
        lent = len(jobs) > SEND_EVERY and publisher.lend()
        try:
            for start in range(0, len(jobs), SEND_EVERY):
                for job in jobs[start : start + SEND_EVERY]:
                    self._take(job)
                self._send_held()
                if lent:
                    publisher.turn()
                self._reap()
        finally:
            if lent:
                publisher.give_back()

    def _closed(self) -> None:
        self.retry.close()
        if self.nodupe is not None:
            self.nodupe.close()
        self._heartbeat(say=self.source is None)  # a source's component says its own summary
        self.recorder.close()
        if self.plugins is not None:
            self.plugins.event("on_stop")

    def _figures(self) -> metrics.Metrics:
        """What the instance did, for its Recorder (any thread)."""
        with self._lock:
            return metrics.Metrics(
                counts=dict(self.counts), bytes=self.bytes, retry=len(self.retry),
                done=self._done_verb(), last_done=self.last_done,
                started=self.started, plugins=self.plugin_figures,
                passive=self.source.passive() if self.source is not None else "",
            )  # fmt: skip

    def _heartbeat(self, say: bool = True) -> None:
        if self.number:  # a sign of life for sanity, whatever the log level
            log = paths.log_file(self.config.home, self.config.name, self.number)
            with contextlib.suppress(OSError):
                os.utime(log)
        if self.nodupe is not None:
            self.nodupe.compact()
        self.retry.compact()
        self.bad_input.flush()
        if self.plugins is not None:  # figures first, as sr3 asks for them before housekeeping
            self.plugin_figures = self.plugins.metrics()
            self.plugins.event("on_heartbeat")
        if not say:
            return
        with self._lock:
            counts = dict(self.counts)
            size = self.bytes
        summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing"
        note = self.source.note() if self.source is not None else ""
        logger.info("so far: %s; %s %s; %d in the retry queue%s", summary, human_size(size),
                    self._done_verb(), len(self.retry), f"; {note}" if note else "")  # fmt: skip

    def _done_verb(self) -> str:
        if self.worker is not None:
            return self.worker.done
        return "posted" if self.source is not None else "moved"
