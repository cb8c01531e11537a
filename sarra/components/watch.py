"""sr_watch: announce the files of directory trees as they change, through watchdog's inotify
observer, or its polling observer with `force_polling` (one pass every `sleep` seconds).

A file is announced once, when complete: when its writer closes it after writing (inotify's
close-after-write), or when it is renamed into place; never once per write. Names that other
tools use while writing (a `.` prefix, also on a directory, a `.tmp` suffix, the `inflight`
suffix) are not announced; the file is, when renamed to its final name. With `inflight N` (a
number of seconds) a file is announced only once unmodified for N seconds, checked again just
before. The polling observer sees no closes: what it finds new or changed is announced once
unmodified for a polling period (or N).

Which changes are announced follows `events` (create, modify, delete, link, move, mkdir,
rmdir), and the accept/reject rules apply to every notice's URL. With post_on_start the files
already there are announced at start.

sr_watch runs on the one loop of every component (sarra.flow.loop): WatchSource is its gather
stage (sarra.flow.sources), which gives the loop a batch of jobs each time events come (all those
queued at once, handled in the loop's thread: nothing waits between a close and its notice) or
a file being written has settled; the loop filters each (the rules, on_message), works (the
checksum), posts the batch together and settles each job once the broker confirmed it.
"""

from __future__ import annotations

import contextlib
import heapq
import inspect
import logging
import os
import queue
import stat
import threading
import time
from collections import Counter
from collections.abc import Sequence

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.inotify import InotifyObserver
from watchdog.observers.polling import PollingObserver
from watchdog.version import VERSION_STRING as WATCHDOG_VERSION

from sarra.broker import Message
from sarra.compat.plugins import Plugins
from sarra.components import terminal
from sarra.components.post import FAILURES
from sarra.components.progress import summary
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.flow.announce import Announcer, walk
from sarra.flow.faults import Faults
from sarra.flow.inflight import Inflight
from sarra.flow.job import Job
from sarra.flow.local_files import LocalFiles
from sarra.flow.loop import ConsumerLoop
from sarra.flow.rules import Rules

logger = logging.getLogger("sarra.watch")
file_log = logging.getLogger(terminal.PER_FILE)

QUIET = 1.0
"""Seconds a file found in a newly made directory must stay unmodified before it is announced:
it may have been closed before the directory was watched, and then no close will come."""

IDLE = 0.2
"""Longest wait for an event, so that a stop is seen soon."""

BATCH = 1000
"""Most events handled before pending files and the stop are looked at again."""

CREATED_LIMIT = 100_000
"""Most files remembered as created and not closed yet (the oldest are forgotten first)."""

_WATCHED = [
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]


_SCHEDULE_TAKES = frozenset(inspect.signature(BaseObserver.schedule).parameters)
"""What this watchdog's schedule() accepts: event_filter came in 4.0, follow_symlink in 7.0
(Debian 12 has 2.2, Debian 13 6.0)."""


class _Forward(FileSystemEventHandler):
    """Hands the events of the kinds watched from watchdog's thread to the loop's."""

    def __init__(self) -> None:
        self.kinds: tuple[type[FileSystemEvent], ...] = ()
        """The kinds of events handed on: set before watching."""
        self.events: queue.SimpleQueue[FileSystemEvent] = queue.SimpleQueue()

    def dispatch(self, event: FileSystemEvent) -> None:
        if isinstance(event, self.kinds):  # watchdog before 4.0 cannot filter them itself
            self.events.put(event)

    def watch(self, observer: BaseObserver, root: str, follow: bool) -> None:
        """Have `observer` hand this the events below `root`."""
        options: dict[str, object] = {}
        if "event_filter" in _SCHEDULE_TAKES:
            options["event_filter"] = list(self.kinds)
        if "follow_symlink" in _SCHEDULE_TAKES:
            options["follow_symlink"] = follow
        observer.schedule(self, root, recursive=True, **options)


class WatchSource(LocalFiles):
    """sr_watch's gather stage: the files of the watched trees as they become complete (and,
    with post_on_start, those there at start), removals, directories made or removed. Its
    bookkeeping is that of every origin of local files (LocalFiles), and the files posted and
    not confirmed yet."""

    def __init__(self, config: Config, announcer: Announcer, plugins: Plugins | None) -> None:
        super().__init__(announcer, file_log, logger)
        self.roots = [os.path.abspath(p) for p in config.path]
        for root in self.roots:
            if not os.path.isdir(root):
                raise ConfigError(None, f"{config.name}: {root} is not a directory to watch")
        self.config = config
        self.faults = Faults(logger)
        self.wanted = frozenset(config.events.split("|"))
        self.inflight = Inflight(config.inflight)
        self.age = _seconds(config.inflight)
        self.period = max(config.sleep, 0.1)
        self.polling = config.force_polling
        self.forward = _Forward()
        self.observer: BaseObserver | None = None
        self.created: dict[str, None] = {}  # closes of these will be creations
        self.pending: dict[str, float] = {}  # path -> seconds it must stay unmodified
        self.due: list[tuple[float, str]] = []  # heap of (when to look, path)
        self.ready = threading.Event()
        """Set once the trees are watched and the files there at start posted."""
        self.plugins = plugins
        self.confirm_wait = 10.0
        self.rules: Rules | None = None
        self.in_flight: Counter[str] = Counter()
        """Files posted whose notices the broker has not confirmed yet (forgotten then)."""
        self._jobs: list[Job] = []  # those of the batch being gathered

    # --- the Source

    def start(self) -> None:
        self.observer = self._observe()
        if self.config.post_on_start:
            for root in self.roots:
                self._existing(root)

    def gather(self, timeout: float) -> list[Job] | None:
        """The jobs of the events queued (waiting at most `timeout`, less when a pending file
        is due) and of the pending files now complete."""
        if self._jobs:  # the files there at start: the first batch
            jobs, self._jobs = self._jobs, []
            return jobs
        self.ready.set()
        self._handle_events(min(timeout, self._timeout()))
        self._settle()
        if self.plugins is not None:
            self.plugins.event("on_watch")
        jobs, self._jobs = self._jobs, []
        return jobs

    def posting(self, job: Job, messages: Sequence[Message]) -> None:
        self.in_flight[job.local.path] += 1
        super().posting(job, messages)

    def settled(self, job: Job) -> None:
        """Its notices confirmed (or it went no further): the file is forgotten."""
        self._forget(job.local.path)

    def refused(self, job: Job, why: str) -> None:
        self._forget(job.local.path)
        super().refused(job, why)

    def _forget(self, path: str) -> None:
        in_flight = self.in_flight
        if in_flight[path] > 1:
            in_flight[path] -= 1
        else:
            in_flight.pop(path, None)

    def note(self) -> str:
        return (f"{len(self.pending)} files waiting to be complete, {len(self.in_flight)} posted"
                " and not confirmed yet")  # fmt: skip

    def passive(self) -> str:
        return ""

    def close(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(10)

    # --- watching

    def _observe(self) -> BaseObserver:
        follow = self.config.follow_symlinks
        if follow and "follow_symlink" not in _SCHEDULE_TAKES:
            logger.warning("follow_symlinks: this watchdog (%s) does not follow symlinked "
                           "directories (7.0 does); files below them are not announced",
                           WATCHDOG_VERSION)  # fmt: skip
        if not self.polling:
            observer: BaseObserver = InotifyObserver(generate_full_events=True)
            self.forward.kinds = (*_WATCHED, FileClosedEvent)
            try:
                for root in self.roots:
                    self.forward.watch(observer, root, follow)
                observer.start()
                logger.info("watching %s with inotify", " ".join(self.roots))
                return observer
            except OSError as err:
                with contextlib.suppress(Exception):
                    observer.stop()
                logger.warning("inotify cannot watch here (%s): polling every %g s instead",
                               err.strerror or err, self.period)  # fmt: skip
                self.polling = True
        observer = PollingObserver(timeout=self.period)
        self.forward.kinds = (*_WATCHED, FileModifiedEvent)
        for root in self.roots:
            self.forward.watch(observer, root, follow)
        observer.start()
        logger.info("watching %s, polling every %g s", " ".join(self.roots), self.period)
        return observer

    def _timeout(self) -> float:
        if not self.due:
            return IDLE
        return min(IDLE, max(0.0, self.due[0][0] - time.time()))

    def _handle_events(self, timeout: float) -> None:
        """Handle the next event (waiting at most `timeout`) and all those queued behind it."""
        events = self.forward.events
        try:
            event = events.get(timeout=timeout)
        except queue.Empty:
            return
        for _ in range(BATCH):
            try:
                self._handle(event)
            except Exception as err:  # a defect: the watch goes on
                self.faults.log(err, "event not handled: %s", event)
            try:
                event = events.get_nowait()
            except queue.Empty:
                return

    # --- events

    def _handle(self, event: FileSystemEvent) -> None:
        # Before 4.0, only moves have a dest_path, and a move in or out has None at one end.
        src = os.fsdecode(event.src_path or "")
        dest = os.fsdecode(getattr(event, "dest_path", None) or "")
        match event:
            case FileClosedEvent():
                self._closed(src)
            case FileCreatedEvent() if event.is_synthetic:
                self._arrived(src)  # inside a directory moved in: complete
            case FileCreatedEvent():
                self._created(src)
            case FileModifiedEvent():  # polling only
                self._complete(src, "modify")
            case FileDeletedEvent():
                self._deleted(src)
            case FileMovedEvent():
                self._moved(src, dest)
            case DirCreatedEvent():
                self._directory_made(src, look_inside=not event.is_synthetic)
            case DirDeletedEvent():
                self._directory_gone(src)
            case DirMovedEvent() if not dest:
                self._directory_gone(src)
            # a directory moved in or within the tree: each file inside comes as its own event

    def _closed(self, path: str) -> None:
        kind = "create" if path in self.created else "modify"
        self.created.pop(path, None)
        self._complete(path, kind)

    def _created(self, path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            self._complete(path, "link")
        elif not stat.S_ISREG(st.st_mode):
            return
        elif self.polling or st.st_nlink > 1:  # a hard link names a file already complete
            self._complete(path, "create")
        else:
            self.created[path] = None
            if len(self.created) > CREATED_LIMIT:
                del self.created[next(iter(self.created))]

    def _deleted(self, path: str) -> None:
        self.created.pop(path, None)
        self.pending.pop(path, None)
        if "delete" in self.wanted and not self._hidden(path):
            self._jobs.append(self.event_job(self.announcer.remove(path), path))

    def _moved(self, src: str, dest: str) -> None:
        if not dest:  # moved out of the tree
            self._deleted(src)
            return
        if not src:  # moved into the tree
            self._arrived(dest)
            return
        if src in self.created:  # still being written: its close will announce it
            del self.created[src]
            self.created[dest] = None
            return
        announced = self.pending.pop(src, None) is None and not self._hidden(src)
        if self._hidden(dest):
            self._deleted(src)
        elif not announced:
            self._arrived(dest)
        elif "move" in self.wanted:
            self._post(dest, renamed_from=src)
        else:
            self._deleted(src)
            self._arrived(dest)

    def _arrived(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._complete(path, "link" if os.path.islink(path) else "create")

    def _directory_made(self, path: str, look_inside: bool) -> None:
        if "mkdir" in self.wanted and not self._hidden(path):
            self._jobs.append(self.event_job(self.announcer.directory(path), path))
        if self.polling or not look_inside or "create" not in self.wanted:
            return
        # files written before the directory was watched send no close: look at them
        try:
            with os.scandir(path) as entries:
                files = [e.path for e in entries if e.is_file(follow_symlinks=False)]
        except OSError:
            return
        for found in files:
            if not self._hidden(found):
                self._defer(found, max(self.age, QUIET))

    def _directory_gone(self, path: str) -> None:
        if "rmdir" in self.wanted and not self._hidden(path):
            notice = self.announcer.directory(path, removed=True)
            self._jobs.append(self.event_job(notice, path))

    def _existing(self, top: str) -> None:
        """Announce the files below `top` as they are now (post_on_start)."""
        try:
            for path, st in walk(top, self.config.follow_symlinks):
                if not self._hidden(path):
                    self._complete(path, "link" if stat.S_ISLNK(st.st_mode) else "create", st)
        except OSError as err:
            logger.warning("cannot list %s: %s", top, err.strerror or err)

    # --- announcing complete files

    def _complete(self, path: str, kind: str, st: os.stat_result | None = None) -> None:
        """A file is complete as far as events tell: announce it now, or once old enough."""
        if kind not in self.wanted or self._hidden(path):
            return
        wait = max(self.age, self.period) if self.polling else self.age
        if wait > 0 and kind != "link":
            self._defer(path, wait)
            return
        self.pending.pop(path, None)
        self._post(path, st)

    def _defer(self, path: str, wait: float) -> None:
        if path not in self.pending:
            heapq.heappush(self.due, (time.time(), path))
        self.pending[path] = wait

    def _settle(self) -> None:
        """Announce the pending files unmodified for long enough; look again later at the
        others."""
        now = time.time()
        while self.due and self.due[0][0] <= now:
            _, path = heapq.heappop(self.due)
            wait = self.pending.get(path)
            if wait is None:
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                del self.pending[path]
                continue
            ready = st.st_mtime + wait
            if ready > now:
                heapq.heappush(self.due, (ready, path))
                continue
            del self.pending[path]
            self.created.pop(path, None)
            self._post(path, st)

    def _post(
        self, path: str, st: os.stat_result | None = None, renamed_from: str | None = None
    ) -> None:
        if st is None:
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                return
        if stat.S_ISLNK(st.st_mode) and "link" not in self.wanted:
            return
        self._jobs.append(self.job(path, st, renamed_from))

    def _hidden(self, path: str) -> bool:
        """Whether a path is an inflight name of some writer: a name starting with `.` (or in
        such a directory below the watched root), ending with `.tmp`, or the inflight rule's."""
        name = os.path.basename(path)
        if name.startswith(".") or name.endswith(".tmp") or self.inflight.is_temporary(name):
            return True
        for root in self.roots:
            if path.startswith(root + "/"):
                return any(part.startswith(".") for part in path[len(root) + 1 :].split("/"))
        return False


def _seconds(inflight: str | None) -> float:
    """The age a file must reach with `inflight N`; 0 for the other inflight rules."""
    try:
        return max(0.0, float(inflight or ""))
    except ValueError:
        return 0.0


class Watch:
    """One sr_watch instance: the loop over a WatchSource; `run()` returns when `stop` is set."""

    def __init__(self, config: Config, number: int, stop: threading.Event) -> None:
        if number > 1:
            raise ConfigError(None, f"{config.name}: sr_watch runs one instance: set instances 1")
        if not config.path:
            raise ConfigError(None, f"{config.name}: no path to watch (add path lines)")
        try:
            announcer = Announcer(config)
        except ValueError as err:
            raise ConfigError(None, f"{config.name}: {err}") from None
        plugins = Plugins.load(config, number, stop) or None
        self.source = WatchSource(config, announcer, plugins)
        self.ready = self.source.ready
        """Set once the trees are watched and the files there at start posted."""
        self.started = time.monotonic()
        self.loop = ConsumerLoop(config, number, stop, plugins, self.source)

    def run(self) -> None:
        """Watch until stopped, then wait (bounded) for the confirms of what was posted."""
        try:
            self.loop.run()
        finally:
            source = self.source
            failed = source.errors + len(source.not_confirmed)
            failed += sum(self.loop.counts[what] for what in FAILURES)
            seconds = time.monotonic() - self.started
            refused = source.not_confirmed
            said = summary("posted", source.files, source.bytes, failed, seconds)
            if refused:
                said += f"; {len(refused)} not confirmed by the broker"
            logger.info("%s", said)


def run(config: Config, number: int, stop: threading.Event) -> None:
    """The Runner of sr_watch."""
    Watch(config, number, stop).run()
