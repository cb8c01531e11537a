"""`sarracenia.flowcb.poll.Poll`, the base sr3's polling callbacks subclass: each `poll()` lists
the directories of `path` on the server of `pollUrl` and returns a message for each file
(recursing with `recursive`, down to DEEPEST levels as sarra's own poll), through
sarracenia.transfer (sarra's backends).

A subclass overrides the step it needs: `poll`, `poll_directory(dir)`, `lsdir()`,
`on_line(entry)`, `on_html_page(text)`, or `handle_starttag`/`handle_data` (called while an
index page is read, as html.parser calls them: they fill `self.entries`, name ->
SFTPAttributes). Without such an override an index page is read by sarra's own reader
(sarra.transfer.listing), and a link with a query is posted as sarra's own poll posts it: the
link in `retrievePath`, the file's name in `relPath` (sarra.message.http_path).

As under sr3, a Poll without a usable pollUrl exits at its creation.
"""

from __future__ import annotations

import html.parser
import logging
import posixpath
import stat
import sys
from typing import Any

from sarra.compat.sr3.config import Config
from sarra.compat.sr3.flowcb import FlowCB
from sarra.compat.sr3.message import Message
from sarra.compat.sr3.transfer import Transfer, attributes
from sarra.message import http_path
from sarra.transfer import TransferError
from sarra.transfer.listing import DEEPEST, parse_index

logger = logging.getLogger("sarra.flowcb.poll")


def file_size_fix(text: str) -> int:
    """A size as listings write it (`5.2M`, `47K`, `123`), in bytes; -1 when it is none."""
    try:
        return int(_size(text))
    except ValueError:
        return -1


def _size(text: str) -> float:
    units = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    word = text.strip()
    factor = units.get(word[-1:].lower(), 1) if word else 1
    if word[-1:].isalpha():
        word = word[:-1]
    return float(word) * factor


class Poll(FlowCB):
    """The base of sr3's polls (see the module's doc)."""

    def __init__(self, options: Any, class_logger: logging.Logger | None = None) -> None:
        super().__init__(options, class_logger or logger)
        self.details = None
        poll_url = getattr(self.o, "pollUrl", None)
        if poll_url:
            _, self.details = Config.credentials.get(poll_url)
        if not poll_url or self.details is None:
            logger.error("pollUrl option incorrect or missing")
            sys.exit(1)
        url = self.details.url
        if not getattr(self.o, "post_baseUrl", None):
            base = url._replace(netloc=url.netloc.replace(f":{url.password}@", "@"))
            text = base.geturl() if base.scheme != "file" else "file:"
            self.o.post_baseUrl = text if text.endswith(("/", ":")) else text + "/"
        self.o.sendTo = poll_url
        self.dest = Transfer.factory(url.scheme, self.o)
        if self.dest is None:
            logger.critical("unsupported polling protocol %s", url.scheme)
        self.entries: dict[str, Any] = {}
        self.myfname: str | None = None
        self._links: dict[str, str] = {}  # entries' links with a query, by name
        self._top = ""  # the path being polled
        self._deep_logged = False
        self.metricsReset()

    def metricsReset(self) -> None:
        """Counts from zero."""
        self.metrics = {"transferRxBytes": 0}

    def metricsReport(self) -> dict[str, Any]:
        """The bytes of listings read."""
        return self.metrics

    # --- one pass

    def poll(self) -> list[Message]:
        """A message for each file of the directories of `path` (recursing with recursive)."""
        if self.dest is None:
            return []
        try:
            if not self.dest.connect():
                return []
        except TransferError as err:
            logger.error("cannot connect to %s: %s", self.o.pollUrl, err)
            return []
        messages: list[Message] = []
        for directory in getattr(self.o, "path", None) or []:
            self._top = self.o.variableExpansion(directory) or directory
            messages += self.poll_directory(self._top)
        self.dest.close()
        return messages

    def cd(self, path: str) -> bool:
        """Make `path` the server's current directory."""
        assert self.dest is not None
        self.dest.cd(path)
        return True

    def poll_directory(self, pdir: str) -> list[Message]:
        """The messages of one directory (and below, with recursive)."""
        if not self.cd(pdir):
            return []
        ok, files, directories = self.lsdir()
        if not ok:
            return []
        messages: list[Message] = []
        if getattr(self.o, "recursive", False):
            messages += self.poll_list_post(pdir, directories, list(directories))
        messages += self.poll_list_post(pdir, files, list(files))
        if getattr(self.o, "recursive", False) and not self._too_deep(pdir):
            for name in sorted(directories):
                if name not in (".", ".."):
                    messages += self.poll_directory(posixpath.join(pdir, name))
        return messages

    def _too_deep(self, pdir: str) -> bool:
        """Whether the directories below `pdir` are deeper than sarra's polls list (DEEPEST
        levels below the path polled): said once."""
        below = posixpath.relpath(posixpath.normpath(pdir), posixpath.normpath(self._top))
        if below == "." or below.count("/") + 1 < DEEPEST:
            return False
        if not self._deep_logged:
            self._deep_logged = True
            logger.warning("%s: its sub-directories are not listed, nor any deeper than %d"
                           " levels below %s (logged once)", pdir, DEEPEST, self._top)  # fmt: skip
        return True

    def lsdir(self) -> tuple[bool, dict[str, Any], dict[str, Any]]:
        """(listed, files, directories) of the current directory, name -> SFTPAttributes."""
        assert self.dest is not None
        try:
            listing = self.dest.ls()
        except TransferError as err:
            logger.warning("cannot list %s: %s", self.dest.getcwd(), err)
            return False, {}, {}
        if isinstance(listing, bytes):
            self.metrics["transferRxBytes"] += len(listing)
            listing = self.on_html_page(listing.decode("utf-8", "replace"))
        files: dict[str, Any] = {}
        directories: dict[str, Any] = {}
        for name, line in listing.items():
            entry = self.on_line(line)
            if entry is None:
                continue
            (directories if stat.S_ISDIR(entry.st_mode or 0) else files)[name] = entry
        return True, files, directories

    def on_line(self, line: Any) -> Any:
        """A listed entry to keep (SFTPAttributes), or None: those without the permissions of
        permDefault (chmod) are left out."""
        if line is None or isinstance(line, str):
            return None
        wanted = int(getattr(self.o, "permDefault", 0) or 0)
        return line if ((line.st_mode or 0) & wanted) == wanted else None

    # --- index pages

    def on_html_page(self, data: str) -> dict[str, Any]:
        """The entries of a directory's index page, name -> SFTPAttributes."""
        self.entries, self.myfname = {}, None
        cls = type(self)
        if cls.handle_data is Poll.handle_data and cls.handle_starttag is Poll.handle_starttag:
            assert self.dest is not None
            for entry in parse_index(data, self.dest.remote_path()):
                self.entries[entry.name + ("/" if entry.is_dir else "")] = attributes(entry)
                if entry.link is not None:
                    self._links[entry.name] = entry.link
            return self.entries
        parser = html.parser.HTMLParser()
        parser.handle_starttag = self.handle_starttag  # type: ignore[method-assign]
        parser.handle_data = self.handle_data  # type: ignore[method-assign]
        parser.feed(data)
        parser.close()
        return self.entries

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A tag of an index page: a link names the entry its text describes."""
        for name, value in attrs:
            if tag == "a" and name == "href" and value:
                self.myfname = value.strip()

    def handle_data(self, data: str) -> None:
        """Text of an index page: the file the last link named is an entry."""
        if self.myfname and self.myfname != data.strip():
            return
        if self.myfname:
            from paramiko import SFTPAttributes

            entry = SFTPAttributes()
            entry.st_mode = (stat.S_IFDIR if self.myfname.endswith("/") else 0) | 0o755
            entry.filename = self.myfname
            self.entries[self.myfname] = entry
            self.myfname = None

    # --- messages

    def poll_list_post(
        self, directory: str, described: dict[str, Any], names: list[str]
    ) -> list[Message]:
        """The messages of the names listed in a directory."""
        messages: list[Message] = []
        for name in names:
            messages += self.poll_file_post(described[name], directory, name) or []
        return messages

    def poll_file_post(self, desc: Any, directory: str, name: str) -> list[Message] | None:
        """The message of one listed entry (None: none for it, by fileEvents)."""
        message = Message.fromFileInfo(posixpath.join(directory, name.rstrip("/")), self.o, desc)
        link = self._links.get(name)
        if link is not None:  # fetched from the link, named after the entry
            below = http_path.path_target(posixpath.dirname(message["relPath"]))
            message["retrievePath"] = posixpath.join(below, link)
        events = getattr(self.o, "fileEvents", None) or ("create", "modify")
        if stat.S_ISDIR(desc.st_mode or 0):
            if "mkdir" not in events:
                return None
            message["fileOp"] = {"directory": ""}
        method = str(getattr(self.o, "identity_method", "") or "")
        if "," in method:
            kind, value = method.split(",", 1)
            message["identity"] = {"method": kind, "value": value}
        if "fileOp" in message:
            message.pop("identity", None)
            message.pop("size", None)
        return [message]
