"""sr_poll: every `sleep` seconds, list remote directories and announce new or changed files.

    list -> select -> compare with what was announced -> filter -> post -> (confirmed) remember

sr_poll runs on the one loop of every component (sarra.flow.loop): PollSource is its gather
stage (sarra.flow.sources), which gives the loop, at each pass, a job for each file new or
changed; the loop filters them (on_message plugins; the accept/reject lines already chose the
names, directory by directory), posts them and settles each once the broker confirmed it, which
is when the source remembers it.

A pass opens one transfer to `destination` and lists, through it, each directory the config
names: the `directory` in force at each accept line (and the last one, with accept_unmatch; an
sr3 config: each of its `path` lines, and none without one). With `recursive` (on, as in v2 and
sr3), the directories below each are listed too, down to DEEPEST levels; symbolic links are not
followed. A file is announced when its path below its directory passes the
accept/reject lines read under that directory, it is not older than file_time_limit, its mode
(when the listing gives one) has the `chmod` bits, and its size or mtime differ from those last
announced. What was announced is remembered on disk (sarra.flow.poll_state) only for notices the
broker confirmed: a crash announces a file again, it never loses one.

With a `vip` and poll_without_vip (the default), a poll on a host without the vip is passive:
its passes list and remember as usual but announce nothing, so that on taking over (looked at
before each pass) it announces only what appeared since. With poll_without_vip False, a
passive poll does not run at all (sarra.components.run).
"""

from __future__ import annotations

import dataclasses
import logging
import posixpath
import stat
import threading
import time
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import humanize

from sarra.broker import Message, plan
from sarra.compat.plugins import PluginFailed, Plugins, nothing_to_poll, unlisted
from sarra.components import terminal
from sarra.components.progress import Counts, Progress, plural, summary
from sarra.config import paths
from sarra.config.credentials import Credentials, redact_url
from sarra.config.errors import ConfigError
from sarra.config.loader import Config
from sarra.config.variables import UnknownVariable, expand, notice_lookup
from sarra.flow import vip
from sarra.flow.faults import Faults
from sarra.flow.job import Job
from sarra.flow.loop import ConsumerLoop
from sarra.flow.placement import onward_rel_path
from sarra.flow.poll_state import SeenFiles, Signature, load_seen, save_seen, state_file
from sarra.flow.rules import Rules
from sarra.integrity.checksum import new_checksum, sum_to_identity
from sarra.message import http_path
from sarra.message.notice import Identity, Notice, epoch_to_time
from sarra.transfer import Entry, Transfer, TransferError, TransientError, open_transfer
from sarra.transfer.listing import DEEPEST, parse_ls_line

logger = logging.getLogger(__name__)
file_log = logging.getLogger(terminal.PER_FILE)

ERROR_REPEAT = 3600.0
"""Seconds before a persisting permanent failure to list a directory is logged again."""


@dataclass
class PolledDirectory:
    """One remote directory of the config: its rules, what was announced from it, and how
    listing it fares."""

    configured: str  # as written in the config: may hold date variables
    rules: Rules  # the accept/reject lines read under it
    state_path: Path
    seen: SeenFiles
    failing_since: float | None = None  # wall time of the first failure of the current outage
    error_logged: float | None = None  # monotonic time of the last permanent-failure log line
    too_deep_logged: bool = False  # a sub-directory deeper than DEEPEST was met (and logged)

    def expanded(self) -> str:
        """The directory with its date variables (${YYYYMMDD}, ...) as of now."""
        return expand(self.configured, notice_lookup({}))


@dataclass
class PassFigures:
    """What a pass has done so far: directories and files listed, files announced (and their
    bytes, as listed), files that could not be announced."""

    started: float = field(default_factory=time.monotonic)
    directories: int = 0
    listed: int = 0
    announced: int = 0
    bytes: int = 0
    failed: int = 0
    to_announce: int = 0  # files found new or changed, and their bytes
    to_announce_bytes: int = 0
    all_listed: bool = False  # every directory listed: to_announce is the pass's total

    def due(self, entries: list[Entry], last: bool) -> None:
        """Files of a directory about to be announced (`last`: of the last directory)."""
        self.to_announce += len(entries)
        self.to_announce_bytes += sum(entry.size or 0 for entry in entries)
        self.all_listed = last

    def counts(self) -> Counts:
        """For the progress line (any thread)."""
        listed = plural(self.listed, "file")
        note = f"listed {listed} in {plural(self.directories, 'directory', 'directories')}"
        if not self.all_listed:
            return Counts(self.announced, self.bytes, self.failed, note=note)
        return Counts(self.announced, self.bytes, self.failed, self.to_announce,
                      self.to_announce_bytes, note)  # fmt: skip


@dataclass
class PassState:
    """A pass under way: what each directory listed will be remembered as, the files announced
    from each (by name) and those of them the loop settled, and the jobs not settled yet."""

    figures: PassFigures
    progress: Progress
    listing: bool = True  # False: a do_poll plugin's pass
    pending: list[tuple[PolledDirectory, str, dict[str, Signature]]] = field(default_factory=list)
    announced: list[set[str]] = field(default_factory=list)
    settled: list[set[str]] = field(default_factory=list)
    outstanding: int = 0
    listed: int = 0
    complete: bool = True  # every directory visited (not cut short by `stop`)


@dataclass(frozen=True, slots=True)
class Listed:
    """What a poll knows of one of its jobs: its pass, the directory (index in the pass's
    `pending`, -1 for a notice a plugin gave) and the file's name."""

    state: PassState
    index: int
    name: str
    size: int | None


class PollSource:
    """sr_poll's gather stage: at each pass (every `sleep` seconds), a job for each file new or
    changed in the listings. `passes` counts complete passes (listed, announced, confirmed,
    remembered)."""

    def __init__(
        self,
        config: Config,
        stop: threading.Event,
        plugins: Plugins | None,
        credentials: Credentials,
    ) -> None:
        if not config.destination:
            raise ConfigError(None, f"{config.name}: no destination to poll (add a destination)")
        if not plan.post_broker(config):
            raise ConfigError(None, f"{config.name}: no broker to post to (add a broker line)")
        self.config = config
        self.stop = stop
        self.faults = Faults(logger)
        self.credentials = credentials
        self.plugins = plugins
        self.rules = Rules((), accept_unmatch=True)
        """The filter stage takes every job: the accept/reject lines chose the names listed."""
        self.confirm_wait = 10.0
        try:  # a backend is made without connecting: this checks the scheme and port only
            self._open().close()
        except TransferError as err:
            raise ConfigError(config.origin.get("destination"), f"destination: {err}") from None
        self.destination_path = unquote(urlsplit(config.destination).path)
        zone = config.destination_timezone
        self.zone = None if zone.upper() in ("UTC", "GMT") else zoneinfo.ZoneInfo(zone)
        """The zone of the times that listings write as times of day (ls lines, index pages)."""
        if config.post_base_url:  # the relative path is the directory as written, below it
            self.base_url = _without_password(config.post_base_url.split(",")[0])
        else:  # the server's root, and the whole path listed as the relative path
            parts = urlsplit(_without_password(config.destination))
            self.base_url = f"{parts.scheme}://{parts.netloc}/"
        self.sum = _poll_sum(config)
        self.directories = self._directories()
        self.passes = 0
        self.waited = 0  # passes a gather plugin skipped (scheduled.poll: not the time yet)
        self.active = True  # False while a vip is set and not on this host: nothing announced
        self.figures = PassFigures()  # of the pass under way, or the last one
        self._pass: PassState | None = None
        self._jobs: list[Job] = []  # of the pass being made
        self._next = 0.0  # monotonic time of the next pass

    def _directories(self) -> list[PolledDirectory]:
        config = self.config
        if unlisted(config):  # Plugins.load refuses it without a callback's poll
            if self.plugins is not None and self.plugins.has("do_poll"):
                return []  # a callback's poll lists what it will
            raise ConfigError(None, nothing_to_poll(config))
        names = [mask.directory for mask in config.masks if mask.accept]
        if config.accept_unmatch:
            names.append(config.directory)
        state = paths.state_dir(config.home, config.name)
        polled = []
        for name in dict.fromkeys(names):
            masks = [mask for mask in config.masks if mask.directory == name]
            path = state_file(state, name)
            directory = PolledDirectory(name, Rules.of(config, masks), path, load_seen(path))
            try:
                directory.expanded()
            except UnknownVariable as err:
                where = masks[0].where if masks else config.origin.get("directory")
                raise ConfigError(where, f"directory {name}: {err}") from None
            polled.append(directory)
        if not polled:
            raise ConfigError(None, f"{config.name}: nothing to poll: no accept line")
        for mask in config.masks:
            if not mask.accept and mask.directory not in names:
                logger.warning("%s: reject %s is read under directory %s, which no accept line"
                               " polls: it has no effect", mask.where, mask.pattern,
                               mask.directory)  # fmt: skip
        return polled

    def _open(self) -> Transfer:
        config = self.config
        transfer = open_transfer(
            config.destination,
            self.credentials,
            timeout=config.timeout,
            tls_rigour=config.tls_rigour,
        )
        html_plugins = self.plugins is not None and self.plugins.has("on_html_page")
        if html_plugins and hasattr(transfer, "index_parser"):  # http(s): index pages
            transfer.index_parser = self._on_html_page
        return transfer

    def _on_html_page(self, page: str, directory: str) -> list[Entry]:
        """on_html_page plugins read an index page (parent.inline) and fill parent.entries:
        file name -> `ls -l` style line, as the established html_page plugin does."""
        plugins = self.plugins
        assert plugins is not None
        parent = plugins.parent
        parent.inline, parent.entries = page, {}
        try:
            plugins.run("on_html_page")
        except PluginFailed as err:
            raise TransientError("ls", directory, str(err)) from err
        entries = []
        for name, line in dict(parent.entries).items():
            entry = parse_ls_line(str(line))
            if entry is None:
                logger.warning("on_html_page: not an ls -l line for %s: %r", name, line)
                continue
            entries.append(dataclasses.replace(entry, name=str(name)))
        return entries

    # --- the Source

    def start(self) -> None:
        logger.info(
            "polling %s every %s: %s",
            redact_url(self.config.destination),
            humanize.precisedelta(self.config.sleep, minimum_unit="milliseconds"),
            ", ".join(d.configured for d in self.directories),
        )
        if self.plugins is not None:
            self.plugins.parent.poster = self._post_from_plugin

    def gather(self, timeout: float) -> list[Job] | None:
        """The jobs of a pass when one is due (after the last one's are all settled)."""
        state = self._pass
        if state is not None:
            if state.outstanding:
                self.stop.wait(min(timeout, 0.01))  # the broker's confirms: the loop settles
                return []
            self._end_pass(state)
        left = self._next - time.monotonic()
        if left > 0:
            self.stop.wait(min(timeout, left))
            return []
        self._next = time.monotonic() + self.config.sleep
        self._look_at_vip()
        if not self._plugin_gather():
            self.waited += 1
        elif not self._plugin_poll():
            self._list_pass()
        jobs, self._jobs = self._jobs, []
        return jobs

    def posting(self, job: Job, messages: Sequence[Message]) -> None:
        listed: Listed | None = job.local
        if listed is None:
            return
        figures = listed.state.figures
        figures.announced += 1
        figures.bytes += listed.size or 0
        notice = job.notice
        size = "size unknown" if listed.size is None else f"{listed.size} bytes"
        when = "" if notice.mtime is None else f", mtime {notice.mtime}"
        file_log.info("announced %s (%s%s)", redact_url(notice.url), size, when)

    def log_posted(self) -> None:
        """Nothing to write: each line is written by `posting`."""

    def settled(self, job: Job) -> None:
        listed: Listed | None = job.local
        if listed is None:
            return
        listed.state.outstanding -= 1
        if listed.index >= 0:
            listed.state.settled[listed.index].add(listed.name)

    def refused(self, job: Job, why: str) -> None:
        listed: Listed | None = job.local
        file_log.error("not confirmed by the broker: %s: %s; announced again next pass",
                       redact_url(job.notice.url), why)  # fmt: skip
        if listed is not None:
            listed.state.outstanding -= 1
            listed.state.figures.failed += 1

    def work(self, job: Job) -> list[Notice]:
        return [job.notice]  # a poll does not read the files it announces

    def note(self) -> str:
        return f"{self.passes} passes"

    def passive(self) -> str:
        """Why nothing is announced now (a vip not on this host), or nothing."""
        return "" if self.active else f"passive: vip {','.join(self.config.vip)} not on this host"

    def close(self) -> None:
        if self._pass is not None:  # stopped: what was settled is remembered
            self._pass.complete = False
            self._end_pass(self._pass)

    def _look_at_vip(self) -> None:
        """Whether this pass announces: with a vip, only if this host holds it."""
        if not self.config.vip:
            return
        active = vip.held(self.config.vip)
        if active != self.active:
            addresses = ",".join(self.config.vip)
            if active:
                logger.info("active: vip %s is on this host, announcing", addresses)
            else:
                logger.info("passive: vip %s not on this host, listing without announcing"
                            " (poll_without_vip)", addresses)  # fmt: skip
        self.active = active

    def _plugin_gather(self) -> bool:
        """gather plugins (sr3): their notices are announced; False when one says the poll
        lists nothing this pass (scheduled.poll, until its next appointment)."""
        if self.plugins is None or not self.plugins.has("gather"):
            return True
        keep_going, notices = self.plugins.gather(self.config.batch)
        for notice in notices:
            self._post_from_plugin(notice)
        return keep_going

    def _plugin_poll(self) -> bool:
        """A do_poll plugin of the destination's scheme, instead of listing: True when one
        did the pass (its notices go through parent.post)."""
        if self.plugins is None or not self.plugins.has("do_poll"):
            return False
        scheme = urlsplit(self.config.destination).scheme
        state = self._begin_pass(listing=False)
        try:
            done = self.plugins.transfer("do_poll", scheme, None)
        except PluginFailed:
            done = True  # logged; the next pass tries again
        if done is None:
            self._pass = None
            state.progress.close()
            return False
        state.outstanding += len(self._jobs)
        self._jobs = [dataclasses.replace(job, local=Listed(state, -1, "", None), gathered=False)
                      for job in self._jobs]  # fmt: skip
        return True

    def _post_from_plugin(self, notice: Notice) -> bool:
        """parent.post: a notice a plugin gives goes through the loop as the others."""
        if not self.active:
            file_log.debug("passive: not announcing %s", redact_url(notice.url))
            return False
        self._jobs.append(Job(notice, None, None, origin=self))
        return True

    def _begin_pass(self, listing: bool = True) -> PassState:
        self.figures = figures = PassFigures()
        progress = Progress(terminal.current(), "announced", figures.counts).start()
        self._pass = PassState(figures, progress, listing)
        return self._pass

    def _end_pass(self, state: PassState) -> None:
        """Remember what the broker confirmed, say what the pass did; it counts in `passes`
        when it ran to its end: every directory visited and every notice settled."""
        self._pass = None
        state.progress.close()
        figures = state.figures
        if not state.listing:
            self.passes += state.complete
            return
        count = sum(
            self._remember(polled, directory, signatures, state.announced[i], state.settled[i])
            for i, (polled, directory, signatures) in enumerate(state.pending)
        )
        level = logging.INFO if count or figures.failed else logging.DEBUG
        done = "pass done" if self.active else "passive pass done"
        seconds = time.monotonic() - figures.started
        logger.log(level, "%s: %s; %s files accepted in %d of %d directories", done,
                   summary("announced", count, figures.bytes, figures.failed, seconds),
                   f"{state.listed:,}", len(state.pending), len(self.directories))  # fmt: skip
        self.passes += state.complete and not self.stop.is_set()

    def _list_pass(self) -> None:
        """List each directory: a job for each file new or changed (none while passive)."""
        state = self._begin_pass()
        with self._open() as remote:
            for polled in self.directories:
                if self.stop.is_set():
                    state.complete = False
                    break
                directory = polled.expanded()
                tree = self._list_tree(remote, polled, directory)
                if tree is None:
                    continue
                entries, unlisted = tree
                current = {e.name: e for e in entries if self._announceable(polled, e)}
                state.listed += len(current)
                seen = polled.seen.files if polled.seen.directory == directory else {}
                changed = [e for name, e in current.items() if seen.get(name) != _signature(e)]
                if not self.active:
                    changed = []
                self.figures.due(changed, polled is self.directories[-1])
                index = len(state.pending)
                state.outstanding += len(changed)
                for entry in changed:
                    listed = Listed(state, index, entry.name, entry.size)
                    notice = self._notice(directory, entry)
                    job = Job(notice, None, None, origin=self, local=listed, gathered=False)
                    self._jobs.append(job)
                signatures = {name: _signature(entry) for name, entry in current.items()}
                if unlisted:  # files below a sub-directory not listed now are kept as they were
                    kept = tuple(unlisted)
                    signatures |= {n: sig for n, sig in seen.items() if n.startswith(kept)}
                state.pending.append((polled, directory, signatures))
                state.announced.append({entry.name for entry in changed})
                state.settled.append(set())

    # --- list and filter

    def _list(
        self, remote: Transfer, polled: PolledDirectory, directory: str
    ) -> list[Entry] | None:
        """The entries of a directory; None (logged as the failure deserves) if it fails."""
        path = listing_path(self.destination_path, directory)
        url = remote.url(path)
        try:
            entries = remote.ls(path)
        except TransientError as err:
            if polled.failing_since is None:
                polled.failing_since = time.time()
                every = humanize.precisedelta(self.config.sleep)
                logger.warning("cannot list %s: %s; trying again every %s (logged once)",
                               url, err.reason, every)  # fmt: skip
            else:
                logger.debug("still cannot list %s: %s", url, err.reason)
            return None
        except Exception as err:  # permanent, or unforeseen: the poll must go on all the same
            polled.failing_since = polled.failing_since or time.time()
            now = time.monotonic()
            if polled.error_logged is None or now - polled.error_logged >= ERROR_REPEAT:
                polled.error_logged = now
                again = "logged again in an hour if it persists"
                if isinstance(err, TransferError):
                    logger.error("cannot list %s: %s (%s)", url, err.reason, again)
                else:
                    self.faults.log(err, "cannot list %s (%s)", url, again)
            return None
        self.figures.directories += 1
        self.figures.listed += sum(1 for entry in entries if not entry.is_dir)
        if polled.failing_since is not None:
            since = humanize.naturaldelta(time.time() - polled.failing_since)
            logger.info("listing %s works again, after failing for %s", url, since)
            polled.failing_since = polled.error_logged = None
        if self.zone is not None:
            entries = [in_zone(e, self.zone) if e.wall_clock else e for e in entries]
        return entries

    def _list_tree(
        self, remote: Transfer, polled: PolledDirectory, directory: str, depth: int = 0
    ) -> tuple[list[Entry], list[str]] | None:
        """The entries of a directory and, with `recursive`, named `sub/name`, those of the
        directories below it down to DEEPEST levels (symbolic links are not followed), with the
        sub-directories (`sub/`) not listed this time; None if the directory itself cannot be
        listed."""
        entries = self._list(remote, polled, directory)
        if entries is None:
            return None
        found: list[Entry] = []
        unlisted: list[str] = []
        for entry in entries:
            if not entry.is_dir or entry.is_link:
                found.append(entry)
                continue
            if not self.config.recursive:
                continue
            prefix = entry.name + "/"
            below = None
            path = posixpath.join(directory, entry.name)
            if depth == DEEPEST:
                self._too_deep(polled, path)
            elif not self.stop.is_set():
                below = self._list_tree(remote, polled, path, depth + 1)
            if below is None:
                unlisted.append(prefix)
                continue
            found += [_below(prefix, e) for e in below[0]]
            unlisted += [prefix + name for name in below[1]]
        return found, unlisted

    def _too_deep(self, polled: PolledDirectory, path: str) -> None:
        if not polled.too_deep_logged:
            polled.too_deep_logged = True
            logger.warning("%s: not listed, nor any directory deeper than %d levels below %s"
                           " (logged once)", path, DEEPEST, polled.configured)  # fmt: skip

    def _announceable(self, polled: PolledDirectory, entry: Entry) -> bool:
        """Whether a listed entry is a file this directory's rules let through (the rules see
        its path below the directory: `name`, or `sub/name` for a file found below)."""
        config = self.config
        if entry.is_dir or entry.is_link:
            return False
        if not polled.rules.accepts(entry.name):
            return False
        limit = config.file_time_limit
        if limit and entry.mtime is not None and entry.mtime < time.time() - limit:
            return False
        if entry.mode is not None and (entry.mode & config.chmod) != config.chmod:
            return False
        return self.plugins is None or self._on_line(entry)

    def _on_line(self, entry: Entry) -> bool:
        """on_line plugins see each entry as an `ls -l` line in parent.line (and the entry in
        parent.entry); False leaves the file out."""
        plugins = self.plugins
        if plugins is None or not plugins.has("on_line"):
            return True
        plugins.parent.line = ls_line(entry)
        plugins.parent.entry = entry
        try:
            return plugins.run("on_line")
        except PluginFailed:
            return False

    # --- announce and remember

    def _relative_dir(self, directory: str) -> str:
        """The directory part of announced paths (base URL + relative path = the file)."""
        if self.config.post_base_url:
            return posixpath.normpath(directory)
        return listing_path(self.destination_path, directory)

    def _notice(self, directory: str, entry: Entry) -> Notice:
        config = self.config
        letter = self.sum.partition(",")[0]
        value = new_checksum(self.sum, entry.name).value()
        mtime = entry.mtime if config.preserve_time else None
        mode = entry.mode if config.preserve_mode else None
        relative_dir = self._relative_dir(directory)
        link = None  # a link with a query is fetched from where it leads (retrievePath)
        if entry.link is not None:
            link = posixpath.join(http_path.path_target(relative_dir), entry.link)
        return Notice(
            pubtime=epoch_to_time(time.time()),
            base_url=self.base_url,
            rel_path=onward_rel_path(
                posixpath.join(relative_dir, entry.name), None, config.dialect
            ),
            retrieve_path=None if link is None else onward_rel_path(link, None, config.dialect),
            identity=Identity(*sum_to_identity(f"{letter},{value}")),
            size=entry.size,
            mtime=None if mtime is None else epoch_to_time(mtime),
            mode=None if mode is None else f"{mode:o}",
            source=config.source,
        )

    def _remember(
        self,
        polled: PolledDirectory,
        directory: str,
        signatures: dict[str, Signature],
        announced: set[str],
        settled: set[str],
    ) -> int:
        """Keep the listing as what was announced, except files whose notice the broker has
        not confirmed: for them the old signature (or none) stays, so they come again.
        Returns how many were settled."""
        old = polled.seen.files if polled.seen.directory == directory else {}
        files = dict(signatures)
        for name in announced - settled:
            if name in old:
                files[name] = old[name]
            else:
                files.pop(name, None)
        seen = SeenFiles(directory, files)
        if seen != polled.seen:
            polled.seen = seen
            try:
                save_seen(polled.state_path, seen)
            except OSError as err:
                logger.error("cannot keep the state of %s in %s: %s; a restart will announce"
                             " its files again", directory, polled.state_path, err)  # fmt: skip
        return len(announced & settled)


def in_zone(entry: Entry, zone: zoneinfo.ZoneInfo) -> Entry:
    """An entry whose time of day, read as UTC, was written in `zone`, with its true mtime."""
    assert entry.mtime is not None
    written = datetime.fromtimestamp(entry.mtime, UTC).replace(tzinfo=zone)
    return dataclasses.replace(entry, mtime=written.timestamp(), wall_clock=False)


def _below(prefix: str, entry: Entry) -> Entry:
    """An entry of the sub-directory `prefix` (`sub/`), named (and linked) from above it."""
    link = None if entry.link is None else http_path.path_target(prefix) + entry.link
    return dataclasses.replace(entry, name=prefix + entry.name, link=link)


def listing_path(destination_path: str, directory: str) -> str:
    """The server path of a polled directory: below the destination URL's path, or absolute."""
    if directory.startswith("/") or not destination_path:
        return posixpath.normpath("/" + directory.lstrip("/"))
    return posixpath.normpath(posixpath.join(destination_path, directory))


def ls_line(entry: Entry) -> str:
    """An entry as a line of `ls -l`: mode, links, owner, group, size, date, name."""
    mode = stat.filemode(stat.S_IFREG | (entry.mode or 0))
    when = time.strftime("%b %d %H:%M", time.gmtime(entry.mtime or 0))
    return f"{mode} 1 - - {entry.size or 0} {when} {entry.name}"


def _signature(entry: Entry) -> Signature:
    return entry.size, entry.mtime


def _without_password(url: str) -> str:
    """The URL without a password, which must never travel in a notice."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))


def _poll_sum(config: Config) -> str:
    """The `sum` a poll can announce: it never reads the files, so md5 or sha512 become
    checksum on download (z,d or z,s); `a` (arbitrary) cannot be given at all."""
    letter = config.sum.partition(",")[0]
    if letter == "a":
        raise ConfigError(config.origin.get("sum"), "sum a: a poll has no value to announce")
    if letter in ("d", "s"):
        logger.warning("sum %s: a poll does not read the files it announces; announcing z,%s"
                       " (checksum on download) instead", config.sum, letter)  # fmt: skip
        return f"z,{letter}"
    return config.sum


class Poll:
    """One poll instance: the loop over a PollSource; `run()` returns when `stop` is set."""

    def __init__(self, config: Config, number: int, stop: threading.Event) -> None:
        credentials = Credentials.load(paths.credentials_file())
        plugins = Plugins.load(config, number, stop) or None
        self.source = PollSource(config, stop, plugins, credentials)
        self.loop = ConsumerLoop(config, number, stop, plugins, self.source, credentials)

    @property
    def passes(self) -> int:
        """Complete passes so far."""
        return self.source.passes

    @property
    def waited(self) -> int:
        """Passes a gather plugin skipped."""
        return self.source.waited

    @property
    def active(self) -> bool:
        """Whether it announces (with a vip: whether this host holds it)."""
        return self.source.active

    def run(self) -> None:
        """Poll until stopped."""
        self.loop.run()


def run(config: Config, number: int, stop: threading.Event) -> None:
    """The Runner of sr_poll."""
    Poll(config, number, stop).run()
