"""The loop of the components fed from a queue: gather -> filter -> work -> post -> acknowledge.

The broker connections live in their own threads (sarra.broker). Where nothing in the filter can
wait (no plugins, the duplicate cache in memory), deliveries are gathered, filtered, posted and
acknowledged in the consuming connection's own thread, as they arrive: no hand-off between threads
per notice; otherwise (and for a batch that finds a publisher without room, which would make it
wait) the loop's thread takes them in batches and does the same. Only the work (downloads, sends)
goes to a small pool of worker threads. A notice is acknowledged only when its work is done: its
file complete under its final name, its onward notice confirmed by the broker, or its failure kept
in the on-disk retry queue. Malformed notices, rejected ones and refused paths are logged and
acknowledged.

Plugins, when the config names any, run at fixed points (sarra.flow.hooks: the components layer
passes them in): on_start and on_stop, gather, on_message after the filter, do_download/do_get
(do_send/do_put) before the worker's own transfer, on_part/on_file after a download, after_work
after the work of every notice, on_post before a publish and after_post after it, on_report
before a report, on_heartbeat; a plugin that raises sends its notice to the retry queue.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import re
import socket
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from sarra.broker import Confirmation, Consumer, Delivery, admin, naming, open_consumer, plan
from sarra.broker.mqtt_topology import is_whole, matches
from sarra.broker.multi import links
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_url
from sarra.config.errors import ConfigError, Where
from sarra.config.loader import Config
from sarra.config.masks import Mask, is_accepted
from sarra.flow import metrics, wis2
from sarra.flow.download import Downloader, Outcome, remote_path
from sarra.flow.faults import Faults
from sarra.flow.hooks import Hooks, NoticeView, PluginFailed
from sarra.flow.nodupe import NoDupeUnavailable, RedisNoDupe, notice_keys, open_nodupe
from sarra.flow.placement import Placement
from sarra.flow.publish import NoticePublisher
from sarra.flow.recorder import Recorder
from sarra.flow.retry import FIRST_DELAY, RetryEntry, open_retry_queue
from sarra.flow.send import Sender
from sarra.integrity.checksum import checksum_file, sum_to_identity
from sarra.message import decode_any, v03
from sarra.message.errors import MalformedNotice, NotEncodable
from sarra.message.notice import Identity, Notice, Report, epoch_to_time, time_to_epoch
from sarra.message.reason import Reason
from sarra.sizes import human_size, short_duration
from sarra.transfer.confine import PathRefused, confine, confine_remote

logger = logging.getLogger("sarra.flow")

BATCH = 1000
"""Most deliveries taken from the consumer at once."""

UNEXPECTED_TRIES = 3
"""Tries of a notice whose handling raised an unexpected error (a defect, or a plugin that
raised): it is kept for retry while it has failed fewer times than this, then dropped."""

TOPIC_KINDS = 20
"""Kinds of routing key matching no topic prefix that are logged; more are only counted."""

ROOM_MARGIN = 1000
"""Room a publisher keeps beyond a batch for the connection's thread to post it (workers post
too): with less, the batch goes to the loop's thread, which may wait."""

GIVE_BACK_DELAY = FIRST_DELAY
"""Seconds a notice that could not be settled is held before it goes back to its queue (so that
a failure that persists, a full disk, does not turn into a busy loop)."""


@dataclass
class Job:
    """One notice on its way through the loop: from a delivery, or from the retry queue."""

    notice: Notice
    delivery: Delivery | None
    retry: RetryEntry | None
    claims: tuple[tuple[str, str], ...] = ()
    """Its (key, path) pairs in the duplicate cache, settled when it is acknowledged."""
    msg: NoticeView | None = None  # what plugins make of this notice, when they look at it

    def retry_entry(self, reason: str) -> RetryEntry:
        """The entry that keeps this notice in the retry queue (one gathered by a plugin, which
        came from no queue, is kept as a v03 notice)."""
        if self.retry is not None:
            self.retry.attempts += 1
            self.retry.reason = reason
            return self.retry
        delivery = self.delivery
        if delivery is None:
            key, body = v03.encode(self.notice, "v03.post")
            return RetryEntry(key, body, {}, v03.CONTENT_TYPE, self.notice.exchange, reason=reason)
        return RetryEntry(
            routing_key=delivery.routing_key,
            body=delivery.body,
            headers={k: str(v) for k, v in delivery.headers.items()},
            content_type=delivery.content_type,
            exchange=delivery.exchange,
            reason=reason,
        )


class ConsumerLoop:
    """One instance's loop; `run()` returns when `stop` is set."""

    def __init__(
        self, config: Config, number: int, stop: threading.Event, hooks: Hooks | None = None
    ) -> None:
        if not config.broker:
            raise ConfigError(None, f"{config.name}: no broker set (add a broker line)")
        self.config = config
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
        self.credentials = Credentials.load(paths.credentials_file())
        state = paths.state_dir(config.component, config.name)
        prefix = f"sr_{config.component}_{config.name}_{self.number:02d}"
        self.retry = open_retry_queue(config, state / f"{prefix}.retry", stop)
        cache_file = state / f"recent_files_{self.number:03d}.cache"
        self.nodupe = open_nodupe(config, cache_file, stop)
        self.default_mask = Mask(
            pattern="",
            regex=re.compile(""),
            accept=True,
            directory=config.directory,
            mirror=config.mirror,
            strip=config.strip,
            flatten=config.flatten,
            filename=config.filename,
            where=Where("accept_unmatch"),
        )
        self.worker = _worker(config, self.credentials)
        self.sends = config.component == "sender"
        self.failed_code = 496 if self.sends else 499
        self.faults = Faults(logger)
        self.topic_prefixes = tuple({b.topic_prefix for b in config.bindings}) or (
            config.topic_prefix,
        )
        self._unmatched_kinds: set[str] = set()
        self.plugins = hooks
        if hooks is not None and hooks.has("on_data") and isinstance(self.worker, Downloader):
            self.worker.on_data = hooks.transform
        if hooks is not None:  # for the hb_* plugins
            hooks.attach(counts=self.counts, retry=self.retry, nodupe=self.nodupe)
        self.plugin_figures: dict[str, object] = {}
        """What the plugins' metricsReport said at the last heartbeat."""
        self.consumer: Consumer | None = None
        self.publisher: NoticePublisher | None = None
        self.reporter: NoticePublisher | None = None
        self.recorder = Recorder(config.component, config.name, number, self._figures)
        threads = 1 if self.worker is None else max(1, config.threads)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="transfer")
        self._taking = threading.Lock()  # held while a connection's thread takes deliveries
        self._open = True  # deliveries are taken (under _taking)
        self._arrivals = 0  # batches taken in a connection's thread (under _taking)

    # --- set up and run

    def _connect(self) -> None:
        config = self.config
        if config.reset and self.share == 1:
            for line in admin.reset(config, credentials=self.credentials):
                logger.info("reset: %s", line)
        self.consumer = open_consumer(
            config, self.share, number=self.number, credentials=self.credentials
        )
        for role, state in links(self.consumer):  # one per broker (also_broker)
            self.recorder.watch(role, state)
        self.recorder.queue(self.consumer.queue_name, lambda: self.consumer.depth)  # type: ignore[union-attr]
        if plan.post_broker(config):
            self.publisher = NoticePublisher(config, self.credentials, self.number)
            self.recorder.watch("publisher", self.publisher.state)
            self.publisher.start()
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

    def _filter_never_waits(self) -> bool:
        """Whether the filter can run in a connection's thread: no plugin (code that may wait)
        and no duplicate cache in Redis (a round trip per notice, and waits while it is
        down)."""
        return self.plugins is None and not isinstance(self.nodupe, RedisNoDupe)

    def run(self) -> None:
        """Consume until stopped; then finish the work in hand and close."""
        self._connect()
        self.recorder.start()
        assert self.consumer is not None
        last_heartbeat = time.monotonic()
        if self.plugins is not None:
            self.plugins.event("on_start")
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
            self.retry.close()
            if self.nodupe is not None:
                self.nodupe.close()
            self._heartbeat()
            self.recorder.close()
            if self.plugins is not None:
                self.plugins.event("on_stop")

    # --- gather and filter (in a connection's thread, or the loop's)

    def _arrived(self, batch: list[Delivery]) -> list[Delivery]:
        """The deliveries of one read, in the consuming connection's thread: gathered and
        filtered there; those left to the loop's thread (stopping: never taken, so the broker
        delivers them again; or a publisher short of room) are returned."""
        with self._taking:
            if not self._open or self.stop.is_set():
                return batch
            count = len(batch) + ROOM_MARGIN
            if any(p is not None and p.room < count for p in (self.publisher, self.reporter)):
                return batch
            self._arrivals += 1
            self._gathered(batch)
        return []

    def _gathered(self, batch: list[Delivery]) -> None:
        """Decode each delivery of a batch (received together), and take it through."""
        self._count("received", len(batch))
        received = time.time()
        values = self.config.values  # read once per batch, on the hot path
        validation, own_source = values["wis2_validation"], values["source_from_exchange"]
        for delivery in batch:
            if not self._topic_matches(delivery.routing_key):
                self._unmatched_topic(delivery.routing_key)
            try:
                notice = decode_any(
                    delivery.routing_key, delivery.body, delivery.headers, delivery.content_type,
                    wis2_validation=validation, on_wis2_reasons=self._wis2_reasons,
                )  # fmt: skip
            except MalformedNotice as err:
                self._count("malformed")
                logger.warning("malformed notice dropped (%s): %s", delivery.routing_key,
                               err.reason)  # fmt: skip
                self.consumer.ack(delivery)  # type: ignore[union-attr]
                continue
            notice.exchange = delivery.exchange
            self.recorder.received(notice_lag(notice, received), received)
            if own_source:
                # A source cannot pass for another: its exchange, not its notice, says who it is.
                notice.source = naming.exchange_owner(delivery.exchange) or notice.source
            self._take(Job(notice, delivery, None))

    def _plugin_gather(self) -> None:
        """Notices that gather plugins bring: through the flow like those from the queue
        (with nothing to acknowledge)."""
        assert self.plugins is not None
        _, notices = self.plugins.gather(BATCH)
        for notice in notices:
            self._count("received")
            self._take(Job(notice, None, None))

    def _topic_matches(self, routing_key: str) -> bool:
        return any(
            routing_key == prefix
            or routing_key.startswith(prefix + ".")
            or (is_whole(prefix) and matches(prefix + "/#", routing_key))  # MQTT, e.g. WIS2
            for prefix in self.topic_prefixes
        )

    def _unmatched_topic(self, routing_key: str) -> None:
        """Count a notice whose routing key starts with no topic prefix of the config (the
        queue has bindings the config does not make); log the first of each kind."""
        self._count("unmatched topic")
        words = len(self.topic_prefixes[0].split("."))
        kind = ".".join(routing_key.split(".", words)[:words])
        if kind in self._unmatched_kinds or len(self._unmatched_kinds) > TOPIC_KINDS:
            return
        self._unmatched_kinds.add(kind)
        if len(self._unmatched_kinds) > TOPIC_KINDS:
            logger.warning("more kinds of routing key match no topic prefix: counted only")
            return
        logger.warning("notice under routing key %s matches no topic prefix (%s): handled all"
                       " the same; more like it are counted as 'unmatched topic'", routing_key,
                       ", ".join(self.topic_prefixes))  # fmt: skip

    def _wis2_refused(self, job: Job) -> bool:
        """The wis2_* selection options, and the recommended data a Global Cache leaves alone:
        True when the notice stops here (counted as rejected, logged as rejects are)."""
        notice = job.notice
        why = self.selection.refuses(notice)
        if why is None and self.global_cache is not None and wis2.is_recommended(notice):
            why = "recommended data: not cached by a Global Cache"
        if why is None:
            return False
        self._count("rejected")
        level = logging.INFO if self.config.log_reject else logging.DEBUG
        if logger.isEnabledFor(level):
            logger.log(level, "rejected %s: %s", redact_url(notice.url), why)
        self._finish(job)
        return True

    def _take(self, job: Job) -> None:
        """Filter a job, and hand it to the workers; an unexpected error is classified as in
        the work."""
        try:
            self._filter(job)
        except Exception as err:
            self._unexpected(job, err)

    def _wis2_reasons(self, notice: Notice, reasons: list[Reason]) -> None:
        """What the validator found in a WIS2 message that was taken: each kind of fault is
        logged at warning level the first time, at debug level after (a peer's steady fault
        would flood the log)."""
        for reason in reasons:
            first = reason.code not in self._wis2_seen
            self._wis2_seen.add(reason.code)
            logger.log(logging.WARNING if first else logging.DEBUG, "WIS2 message %s (%s): %s%s",
                       notice.extra.get("id", "-"), redact_url(notice.url), reason.text,
                       " (more of this kind at debug level)" if first else "")  # fmt: skip

    def _filter(self, job: Job) -> None:
        config = self.config
        notice = job.notice
        url = notice.url
        debug = logger.isEnabledFor(logging.DEBUG)
        if debug:
            where = "the retry queue" if job.retry else f"exchange {notice.exchange}"
            logger.debug("received %s from %s (topic %s)", redact_url(url), where, notice.topic)
        accepted, mask = is_accepted(config.masks, url, config.values["accept_unmatch"])
        if not accepted:
            self._count("rejected")
            if config.log_reject or debug:
                why = f"matches reject {mask.pattern} ({mask.where})" if mask else "no accept"
                logger.log(logging.INFO if config.log_reject else logging.DEBUG,
                           "rejected %s: %s", redact_url(url), why)  # fmt: skip
            self._finish(job)
            return
        if self._wis2_refused(job):
            return
        if self.nodupe is not None and job.retry is None:
            redelivered = job.delivery is not None and job.delivery.redelivered
            passes = True
            try:
                for key, path in notice_keys(notice, config.suppress_duplicates_basis):
                    passes = self.nodupe.claim(key, path, redelivered)
                    if passes:
                        job.claims += ((key, path),)  # settled with the job, passed or not
                    else:
                        break
            except NoDupeUnavailable:
                return  # stopping: the broker delivers it again
            if not passes:
                self._count("duplicates")
                logger.debug("duplicate dropped: %s", redact_url(url))
                self._finish(job)
                return
        if self.global_cache is not None and wis2.is_wis2(notice) and not wis2.cached(notice):
            # cache false: a Global Cache republishes it on cache/ with a new id only
            self._post_then_finish(job, wis2.republished(notice, self.global_cache, copy=False))
            return
        if notice.report is not None and config.component == "report":
            self._reported(notice, notice.report)
        placement = None
        if self.worker is not None:
            try:
                placement = self.worker.place(
                    notice, mask, self.default_mask,
                    url_match=mask.regex.match(url) if mask else None,
                )  # fmt: skip
            except PathRefused as err:
                self._count("refused")
                logger.error("refused %s: %s", redact_url(url), err)
                self._finish(job)
                return
        if debug:
            rule = f"accept {mask.pattern} ({mask.where})" if mask else "accept_unmatch"
            to = f" -> {placement.path}" if placement is not None else ""
            logger.debug("accepted %s by %s%s", redact_url(url), rule, to)
        if self.plugins is not None and not self._on_message(job, placement):
            return
        if placement is None:
            if self._after_work(job, "done", None):
                self._post_then_finish(job, job.notice)
            return
        try:
            placement = job_placement(job, placement, remote=self.sends)
        except PathRefused as err:
            self._count("refused")
            logger.error("refused %s: a plugin's new_dir/new_file: %s", redact_url(url), err)
            self._finish(job)
            return
        slot = (placement.path, notice.blocks.number if notice.blocks else 0)
        with self._lock:
            jobs = self._busy.get(slot)
            if jobs is not None:  # the same file (or part) is in hand: after it
                jobs.append((job, placement))
                return
            self._busy[slot] = [(job, placement)]
        self.pool.submit(self._work, job, placement, slot).add_done_callback(
            functools.partial(self._slot_ended, slot)
        )

    # --- work (in a worker thread)

    def _work(self, job: Job, placement: Placement, slot: tuple[Path, int]) -> None:
        """Handle a job, then each job that waited for the same file (a copy of the notice,
        most likely, which then finds the file in place)."""
        following: tuple[Job, Placement] | None = (job, placement)
        while following is not None:
            try:
                self._handle(*following)
            except Exception as err:  # a defect, or input nobody foresaw
                self._unexpected(following[0], err)
            with self._lock:
                jobs = self._busy[slot]
                jobs.pop(0)  # the job just handled
                following = jobs[0] if jobs else None
                if following is None:
                    del self._busy[slot]

    def _unexpected(self, job: Job, err: Exception) -> None:
        """An unexpected error: a traceback once per kind (sarra.flow.faults); the notice is
        kept for retry until it has failed UNEXPECTED_TRIES times, then dropped."""
        self._count("unexpected errors")
        url = redact_url(job.notice.url)
        tries = _tries(job)
        if self.config.retry and tries < UNEXPECTED_TRIES:
            self.faults.log(err, "failed %s (try %d of %d); kept for retry", url, tries,
                            UNEXPECTED_TRIES)  # fmt: skip
            self._report(job.notice, self.failed_code, f"Failed, kept for retry: {err}")
            self._keep_for_retry(job, f"unexpected error: {type(err).__name__}: {err}")
        else:
            self.faults.log(err, "failed %s (try %d); dropped", url, tries)
            self._report(job.notice, self.failed_code, f"Failed: {err}")
            self._finish(job)

    def _slot_ended(self, slot: tuple[Path, int], work: Future[None]) -> None:
        """Whatever escaped `_work` (past its failure path: a defect, a plugin's SystemExit) is
        logged, and the slot is released: its jobs, the one in hand first, are given back
        (never stuck behind it)."""
        error = work.exception()
        if error is None:
            return
        logger.error("a worker stopped on an error: %r", error, exc_info=error)
        with self._lock:
            jobs = self._busy.pop(slot, [])
        for job, _placement in jobs:
            self._give_back(job, "its worker stopped on an error")

    def _handle(self, job: Job, placement: Placement) -> None:
        assert self.worker is not None
        notice = job.notice
        url = redact_url(notice.url)
        outcome = self._fetch(job, placement)
        attempt = 1
        while outcome.status == "transient" and attempt < self.config.attempts:
            if self.stop.is_set():
                break
            attempt += 1
            logger.warning("failed %s (try %d of %d): %s", url, attempt - 1,
                           self.config.attempts, outcome.reason)  # fmt: skip
            outcome = self._fetch(job, placement)
        self._outcome(job, outcome)

    def _fetch(self, job: Job, placement: Placement) -> Outcome:
        assert self.worker is not None
        if self.config.dry_run:
            return Outcome("skipped", f"dry_run: it would be {self.worker.done}", placement.path)
        if self.plugins is not None:
            outcome = self._plugin_transfer(job, placement)
            if outcome is not None:
                return outcome
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s to %s", "sending" if self.sends else "fetching",
                         redact_url(job.notice.url), placement.path)  # fmt: skip
        return self.worker.handle(job.notice, placement)

    def _outcome(self, job: Job, outcome: Outcome) -> None:
        notice = job.notice
        url = redact_url(notice.url)
        if outcome.status == "done":
            done = self.worker.done if self.worker else "downloaded"
            if not outcome.operation:
                self._count(done)
            landed = time.time()
            with self._lock:
                self.bytes += outcome.size
                self.last_done = landed
            lag = notice_lag(notice, landed)
            self.recorder.landed(str(outcome.path or url), lag)
            if outcome.operation:
                self._count(outcome.operation)
                logger.info("%s: %s (notice %s)", outcome.path, outcome.reason, url)
            elif logger.isEnabledFor(logging.INFO):
                rate = outcome.size / outcome.seconds if outcome.seconds > 0 else 0
                # the path last, after "downloaded to:" (or "sent to:"), as v2's file_log wrote
                # it: scripts grep that and take the last word
                logger.info(
                    "%s (%s in %.3fs, %s/s, lag %s%s) %s to: %s",
                    url,
                    human_size(outcome.size),
                    outcome.seconds,
                    human_size(rate),
                    "?" if lag is None else short_duration(lag),
                    f"; {outcome.reason}" if outcome.reason else "",
                    done,
                    outcome.path,
                )
            if outcome.transformed:
                self._report(notice, 203, "Transformed during download", outcome.seconds)
            elif outcome.operation:
                self._report(notice, 201, outcome.reason.capitalize(), outcome.seconds)
            else:
                self._report(notice, 201, done.capitalize(), outcome.seconds)
            if self.plugins is not None and not self._after_download(job, outcome):
                return
            if not self._after_work(job, "done", outcome.path):
                return
            if outcome.whole:
                self._post_then_finish(job, self._onward(job.notice, outcome))
            else:  # a part of a file still incomplete: nothing to announce yet
                self._finish(job)
        elif outcome.status == "skipped":
            self._count("skipped")
            logger.info("skipped %s: %s (%s)", url, outcome.reason, outcome.path)
            self._report(notice, 304, f"Not modified: {outcome.reason}", outcome.seconds)
            self._after_work(job, "skipped", outcome.path)
            self._finish(job)
        elif outcome.status == "transient" and self.config.retry:
            self._count("failed")
            logger.error("failed %s: %s; kept for retry", url, outcome.reason)
            self._report(notice, self.failed_code, f"Failed, kept for retry: {outcome.reason}")
            self._after_work(job, "transient", outcome.path)
            self._keep_for_retry(job, outcome.reason)
        else:
            self._count("failed")
            logger.error("failed %s: %s; dropped", url, outcome.reason)
            self._report(notice, self.failed_code, f"Failed: {outcome.reason}")
            self._after_work(job, outcome.status, outcome.path)
            self._finish(job)

    def _onward(self, notice: Notice, outcome: Outcome) -> Notice:
        """The notice to post for a downloaded file: the local file under post_base_url; a file
        assembled from parts is announced once, whole, with the checksum of the whole file."""
        config = self.config
        if (notice.blocks is not None or outcome.transformed) and outcome.path is not None:
            notice = self._whole_file(notice, outcome.path)
        base_url = config.post_base_url or (config.destination if self.sends else None)
        if not base_url or outcome.path is None:
            return notice
        relative = str(outcome.path)
        if config.post_base_dir and relative.startswith(config.post_base_dir):
            relative = relative[len(config.post_base_dir) :]
        relayed = wis2.is_wis2(notice)  # a WIS2 message keeps its pubtime (and its id)
        copy = dataclasses.replace(
            notice, base_url=base_url.split(",")[0], rel_path=relative, retrieve_path=None,
            pubtime=notice.pubtime if relayed else epoch_to_time(time.time()),
        )  # fmt: skip
        if relayed and self.global_cache is not None:
            return wis2.republished(copy, self.global_cache, copy=True)
        return copy

    def _whole_file(self, notice: Notice, path: Path) -> Notice:
        identity = None
        if notice.identity is not None and notice.identity.method in ("md5", "sha512"):
            flag = "d" if notice.identity.method == "md5" else "s"
            value = checksum_file(path, flag, bufsize=self.config.bufsize)
            identity = Identity(*sum_to_identity(f"{flag},{value}"))
        return dataclasses.replace(notice, blocks=None, size=path.stat().st_size, identity=identity)

    # --- post and acknowledge

    def _post_then_finish(self, job: Job, notice: Notice) -> None:
        if self.publisher is None:
            self._finish(job)
            return
        if self.plugins is not None and self.plugins.has("on_post"):
            posted = self._on_post(job, notice)
            if posted is None:
                return
            notice = posted
        try:
            confirmation = self.publisher.publish(notice)
        except NotEncodable as err:
            logger.error("not posted %s: %s", redact_url(notice.url), err)
            self._finish(job)
            return
        if self.plugins is not None and self.plugins.has("after_post"):
            self._after_post(job, notice)

        def settled(done: Confirmation) -> None:
            if done.error is None:
                self._count("posted")
                self._finish(job)
            else:
                logger.error("post of %s refused by the broker: %s; it will come again",
                             redact_url(notice.url), done.error)  # fmt: skip

        confirmation.add_done_callback(settled)

    def _finish(self, job: Job) -> None:
        if job.retry is not None:
            self.retry.done(job.retry)
        self._ack(job)

    def _keep_for_retry(self, job: Job, reason: str) -> None:
        """Keep a failed notice in the retry queue, then acknowledge it; if it cannot be kept,
        it is not acknowledged but given back."""
        try:
            self.retry.put(job.retry_entry(reason))
        except Exception as err:
            self._give_back(job, f"not kept for retry: {err}")
            return
        self._ack(job)

    def _give_back(self, job: Job, why: str) -> None:
        """A notice that could not be settled comes again (logged): from the broker (not
        acknowledged, given back to its queue after a pause), or from the retry queue (the
        entry released, unchanged, for its next try)."""
        logger.error("%s: %s; it will come again", redact_url(job.notice.url), why)
        if job.delivery is not None:
            self.consumer.reject(job.delivery, delay=GIVE_BACK_DELAY)  # type: ignore[union-attr]
        if job.retry is not None:
            self.retry.release(job.retry)

    def _ack(self, job: Job) -> None:
        for claim in job.claims:
            self.nodupe.settle(*claim)  # type: ignore[union-attr]
        if job.delivery is not None:
            self.consumer.ack(job.delivery)  # type: ignore[union-attr]
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("acknowledged %s", redact_url(job.notice.url))

    def _report(self, notice: Notice, code: int, message: str, seconds: float = 0.0) -> None:
        """Publish a report of what became of a notice (report_back), never blocking the ack."""
        if self.reporter is None:
            return
        report = Report(
            code=code, message=message, host=socket.gethostname(),
            user=self.config.broker_user(), elapsed=f"{seconds:.6f}",
        )  # fmt: skip
        notice = dataclasses.replace(notice, report=report)
        if self.plugins is not None and self.plugins.has("on_report"):
            try:
                msg = self.plugins.message(notice)
                if not self.plugins.run("on_report", msg):
                    return
                notice = msg.to_notice()
            except (PluginFailed, MalformedNotice) as err:
                logger.warning("no report for %s: %s", redact_url(notice.url), err)
                return
        try:
            self.reporter.publish(notice)
        except NotEncodable as err:
            logger.warning("no report for %s: %s", redact_url(notice.url), err)

    def _reported(self, notice: Notice, report: Report) -> None:
        """sr_report: one line per report received, counted by its class of code."""
        self._count(f"reports {report.code // 100}xx")
        logger.info("report %d %s: %s by %s@%s (%ss)", report.code, report.message or "",
                    redact_url(notice.url), report.user or "-", report.host or "-",
                    report.elapsed if report.elapsed is not None else "-")  # fmt: skip

    # --- retries and housekeeping

    def _retry_some(self) -> None:
        for _ in range(10):
            entry = self.retry.take()
            if entry is None:
                return
            try:
                notice = decode_any(entry.routing_key, entry.body, entry.headers,
                                    entry.content_type,
                                    wis2_validation=self.config.wis2_validation)  # fmt: skip
            except MalformedNotice as err:  # kept by an older version, held to today's checks
                self._count("malformed")
                logger.warning("malformed notice dropped from the retry queue (%s): %s",
                               entry.routing_key, err.reason)  # fmt: skip
                self.retry.done(entry)
                continue
            notice.exchange = entry.exchange
            self._count("retried")
            self._take(Job(notice, None, entry))

    # --- plugins (sarra.flow.hooks): each hook says whether the notice goes on

    def _plugin_failed(self, job: Job, err: PluginFailed) -> None:
        """A plugin asked to see the notice later: it goes to the retry queue; or a plugin
        raised (it is logged): the notice is retried as after an unexpected error."""
        self._count("delayed" if err.later else "failed")
        level = logging.INFO if err.later else logging.ERROR
        if err.permanent:
            logger.error("%s: %s; dropped", redact_url(job.notice.url), err)
            self._finish(job)
        elif not err.later and _tries(job) >= UNEXPECTED_TRIES:
            logger.error("%s: %s; dropped after %d tries", redact_url(job.notice.url), err,
                         _tries(job))  # fmt: skip
            self._finish(job)
        elif self.config.retry:
            logger.log(level, "%s: %s; kept for retry", redact_url(job.notice.url), err)
            self._keep_for_retry(job, str(err))
        else:
            logger.log(level, "%s: %s; dropped", redact_url(job.notice.url), err)
            self._finish(job)

    def _plugin_stopped(self, job: Job, entry: str) -> None:
        self._count("stopped by plugin")
        logger.debug("%s: a plugin at %s returned False", redact_url(job.notice.url), entry)
        self._finish(job)

    def _on_message(self, job: Job, placement: Placement | None) -> bool:
        """destfn_script and on_message: False when the notice stops here (handled)."""
        plugins = self.plugins
        assert plugins is not None
        if not (plugins.has("on_message") or plugins.has("destfn_script")):
            return True
        if placement is not None:
            new_dir, new_file = str(placement.path.parent), placement.path.name
        else:
            new_dir, new_file = self.config.directory, job.notice.rel_path.rpartition("/")[2]
        msg = plugins.message(job.notice, new_dir=new_dir, new_file=new_file,
                              is_retry=job.retry is not None)  # fmt: skip
        job.msg = msg
        try:
            if placement is not None:
                plugins.run("destfn_script", msg)
            if not plugins.run("on_message", msg):
                self._plugin_stopped(job, "on_message")
                return False
            job.notice = msg.to_notice()
        except PluginFailed as err:
            self._plugin_failed(job, err)
            return False
        except MalformedNotice as err:
            self._count("malformed")
            logger.error("%s: changed by a plugin into no notice: %s",
                         redact_url(job.notice.url), err)  # fmt: skip
            self._finish(job)
            return False
        return True

    def _plugin_transfer(self, job: Job, placement: Placement) -> Outcome | None:
        """do_task (any scheme), then do_download and do_get plugins of the notice's scheme (a
        sender: do_send and do_put, of the destination's scheme); None = the built-in
        transfer."""
        plugins = self.plugins
        assert plugins is not None
        if self.sends:
            entries, scheme = (
                ("do_task", "do_send", "do_put"),
                urlsplit(self.config.destination).scheme,
            )
        else:
            entries = ("do_task", "do_download", "do_get")
            scheme = urlsplit(job.notice.base_url).scheme
        for entry in entries:
            if not plugins.has(entry):
                continue
            started = time.monotonic()
            msg = job.msg or plugins.message(job.notice)
            msg.new_dir, msg.new_file = str(placement.path.parent), placement.path.name
            if self.sends and urlsplit(job.notice.base_url).scheme == "file":
                msg.local_file = remote_path(job.notice)  # the file to send
            try:
                done = plugins.transfer(entry, scheme, msg)
            except PluginFailed as err:
                return Outcome("transient", str(err))
            if done is None:
                continue
            if not done:
                return Outcome("transient", f"{entry} plugin failed")
            path = Path(msg.new_dir or placement.path.parent) / (msg.new_file or "")
            size = path.stat().st_size if not self.sends and path.is_file() else 0
            size = size or job.notice.size or 0
            return Outcome("done", f"by {entry} plugin", path, size, time.monotonic() - started)
        return None

    def _after_download(self, job: Job, outcome: Outcome) -> bool:
        """on_part (each part, a whole file being one), then on_file (the file complete), for
        downloads: False when the notice stops here."""
        plugins = self.plugins
        assert plugins is not None
        entries = [e for e in ("on_part", "on_file") if plugins.has(e)]
        if not entries or self.sends or job.notice.file_op or outcome.path is None:
            return True
        msg = job.msg or plugins.message(job.notice)
        msg.new_dir, msg.new_file = str(outcome.path.parent), outcome.path.name
        try:
            for entry in entries:
                if entry == "on_file" and not outcome.whole:
                    break
                if not plugins.run(entry, msg):
                    self._plugin_stopped(job, entry)
                    return False
        except PluginFailed as err:
            self._plugin_failed(job, err)
            return False
        return True

    def _after_work(self, job: Job, status: str, path: Path | None) -> bool:
        """after_work: every notice once its work is over, whatever its Outcome's status (the
        file at `path`); False when a done notice goes no further (a plugin dropped it, or
        failed it: then it is kept for retry). What plugins do with the others is only
        looked at: their notices go their way."""
        plugins = self.plugins
        if plugins is None or not plugins.has("after_work"):
            return True
        msg = job.msg or plugins.message(job.notice, is_retry=job.retry is not None)
        job.msg = msg
        if path is not None:
            msg.new_dir, msg.new_file = str(path.parent), path.name
        try:
            go_on = plugins.run("after_work", msg, status)
            if status != "done":
                return True
            if not go_on:
                self._plugin_stopped(job, "after_work")
                return False
            job.notice = msg.to_notice()
        except PluginFailed as err:
            if status == "done":
                self._plugin_failed(job, err)
                return False
        except MalformedNotice as err:
            logger.error("%s: changed by a plugin into no notice: %s",
                         redact_url(job.notice.url), err)  # fmt: skip
            self._finish(job)
            return False
        return True

    def _after_post(self, job: Job, notice: Notice) -> None:
        """after_post: a notice handed to the broker; failures are logged, nothing more."""
        assert self.plugins is not None
        msg = self.plugins.message(notice, is_retry=job.retry is not None, follows=job.msg)
        with contextlib.suppress(PluginFailed):
            self.plugins.run("after_post", msg)

    def _on_post(self, job: Job, notice: Notice) -> Notice | None:
        """on_post: the notice to publish, or None when it is not published (handled)."""
        plugins = self.plugins
        assert plugins is not None
        msg = plugins.message(notice, follows=job.msg)
        try:
            if plugins.run("on_post", msg):
                return msg.to_notice()
            self._plugin_stopped(job, "on_post")
        except PluginFailed as err:
            self._plugin_failed(job, err)
        except MalformedNotice as err:
            logger.error("not posted %s: changed by a plugin into no notice: %s",
                         redact_url(notice.url), err)  # fmt: skip
            self._finish(job)
        return None

    def _count(self, what: str, number: int = 1) -> None:
        with self._lock:
            self.counts[what] += number

    def _figures(self) -> metrics.Metrics:
        """What the instance did, for its Recorder (any thread)."""
        with self._lock:
            return metrics.Metrics(
                counts=dict(self.counts), bytes=self.bytes, retry=len(self.retry),
                done=self.worker.done if self.worker else "moved", last_done=self.last_done,
                started=self.started, plugins=self.plugin_figures,
            )  # fmt: skip

    def _heartbeat(self) -> None:
        if self.number:  # a sign of life for sanity, whatever the log level
            log = paths.log_file(self.config.component, self.config.name, self.number)
            with contextlib.suppress(OSError):
                os.utime(log)
        if self.nodupe is not None:
            self.nodupe.compact()
        self.retry.compact()
        if self.plugins is not None:  # figures first, as sr3 asks for them before housekeeping
            self.plugin_figures = self.plugins.metrics()
            self.plugins.event("on_heartbeat")
        with self._lock:
            counts = dict(self.counts)
            size = self.bytes
        summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing"
        logger.info("so far: %s; %s %s; %d in the retry queue", summary,
                    human_size(size),
                    self.worker.done if self.worker else "moved", len(self.retry))  # fmt: skip


class Worker(Protocol):
    """What the loop's workers do with an accepted notice: a Downloader or a Sender."""

    done: str
    """The verb of the log line and count of a file handled: downloaded, sent."""

    def place(
        self,
        notice: Notice,
        mask: Mask | None,
        default: Mask,
        *,
        url_match: re.Match[str] | None = None,
    ) -> Placement: ...

    def handle(self, notice: Notice, placement: Placement) -> Outcome: ...

    def close(self) -> None: ...


def _worker(config: Config, credentials: Credentials) -> Worker | None:
    """The worker of a component: a sender sends, the others download unless notify_only."""
    if config.component == "sender":
        return Sender(config, credentials)
    return None if config.notify_only else Downloader(config, credentials)


def _tries(job: Job) -> int:
    """How many times a job's notice has been tried, this time included."""
    return 1 if job.retry is None else job.retry.attempts + 1


def job_placement(job: Job, placement: Placement, remote: bool = False) -> Placement:
    """The placement after the plugins: where they moved new_dir/new_file, confined there
    (`remote`: a sender's destination, judged on the names alone)."""
    msg = job.msg
    if msg is None or msg.new_file is None:
        return placement
    new_dir = Path(msg.new_dir or placement.path.parent)
    if new_dir == placement.path.parent and msg.new_file == placement.path.name:
        return placement
    root = placement.root if new_dir.is_relative_to(placement.root) else new_dir
    relative = str(new_dir.relative_to(root) / msg.new_file)
    path = Path(confine_remote(str(root), relative)) if remote else confine(root, relative)
    return Placement(root, path)


def notice_lag(notice: Notice, now: float) -> float | None:
    """How old the notice was at `now` (seconds since its pubtime), if its time can be read."""
    try:
        return now - time_to_epoch(notice.pubtime)
    except (ValueError, TypeError):
        return None
