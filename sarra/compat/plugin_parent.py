"""What a plugin sees: the `parent` object and its `parent.msg`, as the established plugins
use them.

`parent` holds the config's options as attributes (`parent.directory`, `parent.broker`), the
options only plugins know as lists of the values written (`parent.msg_speedo_interval[0]`),
`parent.logger`, `parent.declare_option(name)`, the helpers `duration_from_str`, `isTrue`,
`chunksize_from_str`, and whatever the plugins set on it; and what else v2 offered plugins:
`credentials` (`get(url)` -> (ok, details)), `broker` and `post_broker` parsed, `currentDir`,
`reportback`, `instance`, `consumer` (`msg_to_retry()`, `raw_msg`), `message_count`,
`publish_count`, `user_config`, `run_command`. `parent.msg` is the notice in hand,
one per thread (downloads run in several threads).

`parent.msg` shows a notice in the v02 vocabulary: topic, notice (the v02 body), pubtime,
baseurl, relpath, headers (v02 header strings: sum, parts, mtime, ...), partstr, sumstr, url
(parsed), urlstr, filesize, new_dir, new_file, local_file, new_relpath, new_baseurl,
isRetry... A plugin may change baseurl, relpath, urlstr, url, pubtime, topic and headers
(set_notice, set_topic, set_parts, set_sum_str help) and report its outcome (report_publish);
`Msg.to_notice` turns the changes back into a Notice. new_dir/new_file (where the file goes)
and new_relpath/new_baseurl (what its onward notice says) are read by the loop
(sarra.flow.hooks.NoticeView); as in v2, parent.new_dir, parent.new_relpath and
parent.new_baseurl are the notice's too.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, urlparse

from sarra.config import paths, types
from sarra.config.credentials import Credentials
from sarra.config.loader import Config
from sarra.config.options import PLUGIN_ENTRY_POINTS
from sarra.flow.placement import Onward
from sarra.integrity.parts import Parts
from sarra.message import v02
from sarra.message.errors import MalformedNotice, NotEncodable
from sarra.message.notice import (
    Notice,
    epoch_to_time,
    time_to_epoch,
    time_v02_to_v03,
    time_v03_to_v02,
)
from sarra.message.topic import escape, path_to_topic
from sarra.sr_credentials import sr_credentials

logger = logging.getLogger("sarra.plugins")

REGISTERED_NAMES = frozenset({*PLUGIN_ENTRY_POINTS, "plugin", "registered_as"})
"""What a plugin file assigns on `self` to register itself."""


class Msg:
    """A notice as the established plugins know it (see the module's doc)."""

    def __init__(
        self,
        notice: Notice,
        *,
        topic_prefix: str = "v02.post",
        new_dir: str | None = None,
        new_file: str | None = None,
        is_retry: bool = False,
        defaults: Mapping[str, str] | None = None,
        onward: Onward | None = None,
        post_base_dir: str | None = None,
    ) -> None:
        self._topic_prefix = topic_prefix
        self._defaults = defaults or {}
        self.rebase(notice)
        self.new_dir = new_dir
        self.new_file = new_file
        self._local_file: str | None = None
        self._onward = onward
        self.post_base_dir = post_base_dir
        """post_base_dir as the plugins left it (parent.post_base_dir), for new_relpath."""
        self._new_baseurl: str | None = None  # as a plugin set them
        self._new_relpath: str | None = None
        self.isRetry = is_retry
        self.isPulse = False
        self.local_offset = 0
        self.in_partfile = False
        self.report_code: int | None = None
        self.report_message: str | None = None
        self.retry_asked = False
        """Set by parent.consumer.msg_to_retry(): see the notice again later (retry queue)."""
        self.tbegin = time.time()
        self.post_version = "v03" if topic_prefix.startswith("v03") else "v02"
        self.suffix = ""
        self.checksum: str | None = None
        self.onfly_checksum: str | None = None
        self.logger = logger
        self.sr3_fields: dict[str, Any] = {}
        """Fields sr3 flow callbacks put on this notice's message that it does not carry
        (those in _deleteOnPost): the callbacks at later entry points see them again."""

    def rebase(self, notice: Notice) -> None:
        """Show a notice in the v02 vocabulary (the fields a plugin may change); called again
        with the notice a flow callback made of this one, the plugins after it see that one,
        and to_notice gives it back as it is."""
        self._notice = notice
        try:
            topic, body, headers = v02.encode(notice, self._topic_prefix)
            self.pubtime, self.baseurl, _ = body.split(" ", 2)
        except NotEncodable:  # a v03 notice with more than v02 can carry: the bare fields
            topic = notice.topic or path_to_topic(notice.rel_path, self._topic_prefix)
            headers = {}
            self.pubtime = _v02_time(notice.pubtime)
            self.baseurl = notice.base_url
        self.topic: str = notice.topic or str(topic)
        self.exchange = notice.exchange
        self.relpath = notice.rel_path
        self.headers: dict[str, str] = headers
        self.set_hdrstr()
        for name, value in self._defaults.items():
            headers.setdefault(name, value)  # as v2 filled them in on receipt
        blocks = notice.blocks
        self.offset = blocks.number * blocks.size if blocks else 0
        self.length = notice.size or 0
        self._original = (self.topic, self.pubtime, self.baseurl, self.relpath, dict(headers))

    # --- the v02 view

    @property
    def notice(self) -> str:
        """The v02 body: `pubtime baseurl relpath`."""
        return f"{self.pubtime} {self.baseurl} {escape(self.relpath)}"

    @property
    def urlstr(self) -> str:
        """The URL of the file: baseurl + relpath. Setting it points the notice elsewhere: the
        path under the same base URL when it still starts with it, else under the new host."""
        if self.baseurl.endswith("/") or self.relpath.startswith("/"):
            return self.baseurl + self.relpath
        return f"{self.baseurl}/{self.relpath}"

    @urlstr.setter
    def urlstr(self, text: str) -> None:
        if text == self.urlstr:
            return
        if text.startswith(self.baseurl) and len(text) > len(self.baseurl):
            self.relpath = text[len(self.baseurl) :]
            return
        parsed = urlparse(text)
        if parsed.scheme == "file" or not parsed.netloc:
            self.baseurl, self.relpath = f"{parsed.scheme}:", parsed.path
        else:
            self.baseurl = f"{parsed.scheme}://{parsed.netloc}/"
            self.relpath = parsed.path.lstrip("/")

    @property
    def url(self) -> ParseResult:
        """The URL of the file, parsed (url.scheme, url.hostname, url.path ...); settable as
        urlstr is."""
        return urlparse(self.urlstr)

    @url.setter
    def url(self, parsed: ParseResult) -> None:
        self.urlstr = parsed.geturl()

    @property
    def filesize(self) -> int | None:
        """The size of the whole file (of every part), from the parts header."""
        try:
            return Parts.parse(self.partstr).file_size if self.partstr else None
        except ValueError:
            return None

    @property
    def to_clusters(self) -> str | None:
        """The to_clusters header."""
        return self.headers.get("to_clusters")

    @property
    def partstr(self) -> str | None:
        """The v02 parts header (1,size,1,0,0 for a whole file)."""
        return self.headers.get("parts")

    @property
    def sumstr(self) -> str | None:
        """The v02 sum header (d,<md5 hex> ...)."""
        return self.headers.get("sum")

    @property
    def sumflg(self) -> str | None:
        """The checksum letter of the sum header."""
        return self.sumstr.split(",", 1)[0] if self.sumstr else None

    @property
    def partflg(self) -> str | None:
        """The partition method letter of the parts header (1, i or p)."""
        return self.partstr.split(",", 1)[0] if self.partstr else None

    @property
    def hdrstr(self) -> str:
        """The headers as `name=value` words, as received (as v2 kept it; set_hdrstr()
        brings it up to date with the headers)."""
        return self._hdrstr

    @property
    def local_file(self) -> str | None:
        """The local file: as set (a sender's source file), else new_dir/new_file."""
        if self._local_file is not None:
            return self._local_file
        if self.new_file is None:
            return None
        return os.path.join(self.new_dir or "", self.new_file)

    @local_file.setter
    def local_file(self, path: str | None) -> None:
        self._local_file = path

    @property
    def new_relpath(self) -> str | None:
        """The relPath of the onward notice: as a plugin set it, else new_dir/new_file below
        post_base_dir (sarra.flow.placement.Onward); None when no file is placed."""
        if self._new_relpath is not None:
            return self._new_relpath
        if self.new_file is None or self._onward is None:
            return None
        path = os.path.join(self.new_dir or "", self.new_file)
        return self._onward.rel_path(path, self._notice, self.post_base_dir)

    @new_relpath.setter
    def new_relpath(self, value: str | None) -> None:
        self._new_relpath = value

    @property
    def new_baseurl(self) -> str | None:
        """The base URL of the onward notice: as a plugin set it, else post_base_url's."""
        if self._new_baseurl is not None or self._onward is None:
            return self._new_baseurl
        return self._onward.url(self._notice)

    @new_baseurl.setter
    def new_baseurl(self, value: str | None) -> None:
        self._new_baseurl = value

    def onward_set(self) -> tuple[str | None, str | None]:
        """new_relpath and new_baseurl as a plugin set them (None: not set)."""
        return self._new_relpath, self._new_baseurl

    def placement(self) -> tuple[str | None, str | None, str | None]:
        """new_dir, new_file and the new_relpath a plugin set: `placed_by_plugin` compares."""
        return self.new_dir, self.new_file, self._new_relpath

    def placed_by_plugin(self, before: tuple[str | None, str | None, str | None],
                         post_base_dir: str | None) -> None:  # fmt: skip
        """After a plugin ran, as v2 did after each: a plugin that moved new_dir/new_file
        without setting new_relpath has it follow the file again, below `post_base_dir` (the
        one it set on parent, else as before)."""
        self.post_base_dir = post_base_dir
        moved = before[:2] != (self.new_dir, self.new_file)
        if moved and self._new_relpath == before[2]:
            self._new_relpath = None

    def get_elapse(self) -> float:
        """Seconds since the notice was published."""
        try:
            return time.time() - time_to_epoch(self.pubtime)
        except ValueError:
            return 0.0

    get_elapse_pubtime = get_elapse

    def set_parts(
        self,
        partflg: str = "1",
        chunksize: int = 0,
        block_count: int = 1,
        remainder: int = 0,
        current_block: int = 0,
    ) -> None:
        """Set the parts header (v02: method, block size, count, remainder, number)."""
        parts = Parts(partflg, int(chunksize), int(block_count), int(remainder),
                      int(current_block))  # fmt: skip
        self.headers["parts"] = str(parts)
        self.offset, self.length = parts.offset, parts.length

    def set_sum_str(self, sumstr: str) -> None:
        """Set the sum header (`d,<md5 hex>` ...)."""
        self.headers["sum"] = sumstr

    def set_hdrstr(self) -> None:
        """Make hdrstr say the headers as they are now."""
        self._hdrstr = " ".join(f"{k}={v}" for k, v in sorted(self.headers.items()))

    def set_suffix(self) -> None:
        """The suffix of a part file (`.<parts>.<sum flag>.Part`); empty for a whole file."""
        parts, flag = self.partstr, self.sumflg
        if parts and flag and parts[0] in "ip":
            self.suffix = "." + ".".join([*parts.split(",")[1:], flag, "Part"])
        else:
            self.suffix = ""

    def report_publish(self, code: int, message: str) -> None:
        """Report on this notice (report_back): the code and text of its outcome."""
        self.report_code, self.report_message = int(code), message

    def set_notice(self, baseurl: str, relpath: str, pubtime: str | None = None) -> None:
        """Point the notice at another URL (and publication time, v02 form)."""
        self.baseurl = baseurl
        self.relpath = relpath
        if pubtime is not None:
            self.pubtime = pubtime

    def set_topic(self, topic_prefix: str, relpath: str) -> None:
        """The topic of a path below a prefix (the file name is not part of it)."""
        self.topic = path_to_topic(relpath, topic_prefix)

    # --- back to the model

    def changed(self) -> bool:
        """Whether a plugin changed what the notice says."""
        now = (self.topic, self.pubtime, self.baseurl, self.relpath, self.headers)
        return now != self._original

    def to_notice(self) -> Notice:
        """The notice with the plugins' changes (the original when nothing changed).
        MalformedNotice if the changes make no notice."""
        if not self.changed():
            return self._notice
        body = f"{self.pubtime} {self.baseurl} {escape(self.relpath)}"
        if self._notice.report is not None:  # keep the report words as they were
            _, original, _ = v02.encode(self._notice)
            body = " ".join([body, *original.split(" ")[3:]])
        notice = v02.decode(self.topic, body, {k: v for k, v in self.headers.items()})
        notice.exchange = self.exchange
        notice.content = self._notice.content
        return notice


def _v02_time(text: str) -> str:
    try:
        return time_v03_to_v02(text)
    except ValueError:
        return text


def _parsed(url: str | None) -> ParseResult | None:
    return urlparse(url) if url else None


class Consumer:
    """`parent.consumer`, what v2 plugins used of it: msg_to_retry() (see the notice in hand
    again later), raw_msg (its body and headers), retry.on_heartbeat and sleep figures."""

    def __init__(self, parent: Parent) -> None:
        self._parent = parent
        self.sleep_min = 0.01
        self.sleep_now = 0.01
        self.retry = _RetryHeartbeat()

    def msg_to_retry(self) -> None:
        """Keep the notice in hand for the retry queue (the plugin then returns False)."""
        msg = self._parent.msg
        if msg is not None:
            msg.retry_asked = True

    @property
    def raw_msg(self) -> _RawMessage | None:
        """The notice in hand as received: v02 body and headers."""
        msg = self._parent.msg
        if msg is None:
            return None
        properties = {"content_type": "text/plain", "application_headers": msg.headers,
                      "delivery_mode": 2}  # fmt: skip
        return _RawMessage(msg.notice.encode(), properties)


class _CacheView:
    """v2's parent.cache over the duplicate cache: count, save() (expire and rewrite),
    cache_dict (the entries; empty when the cache is shared in Redis)."""

    def __init__(self, nodupe: Any) -> None:
        self._nodupe = nodupe

    @property
    def cache_dict(self) -> dict[Any, float]:
        return dict(getattr(self._nodupe, "entries", {}))

    @property
    def count(self) -> int:
        return len(self.cache_dict)

    def save(self) -> int:
        return int(self._nodupe.compact())


class _RawMessage:
    def __init__(self, body: bytes, properties: dict[str, Any]) -> None:
        self.body = body
        self.properties = properties


class _RetryHeartbeat:
    @staticmethod
    def on_heartbeat(parent: Parent) -> bool:
        """The retry queue keeps itself (the loop does its housekeeping)."""
        return True


def v03_time(text: str) -> str:
    """A v02 (or v03) time as v03, for plugins that build notices."""
    try:
        return time_v02_to_v03(text)
    except ValueError as err:
        raise MalformedNotice(str(err)) from None


class Parent:
    """The `parent` object handed to every plugin (see the module's doc)."""

    def __init__(self, config: Config, number: int = 0) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_local", threading.local())
        object.__setattr__(self, "_declared", set())
        object.__setattr__(self, "registering", None)
        self.logger = logger
        self.no = number
        self.program_name = config.program
        self.config_name = config.name
        self.user_config_dir = str(paths.config_dir())
        self.user_cache_dir = str(paths.state_dir(config.home, config.name))
        self.restart_instance: Callable[[], None] = lambda: None
        """Set by the component: stop this instance so that it starts afresh."""
        self.stop_instance: Callable[[], None] = lambda: None
        """Set by the component: stop this instance (msg_total_count)."""
        self.poster: Callable[[Notice], bool] | None = None
        """Set by posting components: publish a notice (see post)."""
        self.consumer = Consumer(self)
        self.user_args: list[str] = []

    def __setattr__(self, name: str, value: Any) -> None:
        registering = self.registering
        if registering is not None and name in REGISTERED_NAMES:
            registering[name] = value  # `self.on_message = ...` in a plugin file being read
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "cache":  # cache: see the property
            raise AttributeError(name)
        return getattr(self._config, name)

    # --- what v2 offered plugins beside the options

    @property
    def credentials(self) -> sr_credentials:
        """credentials.conf, as v2's sr_credentials: `get(url)` -> (ok, details)."""
        found = self.__dict__.get("_credentials")
        if found is None:
            found = sr_credentials(self.logger, Credentials.load(paths.credentials_file()))
            object.__setattr__(self, "_credentials", found)
        return found

    @credentials.setter
    def credentials(self, value: sr_credentials) -> None:
        object.__setattr__(self, "_credentials", value)

    @property
    def broker(self) -> ParseResult | None:
        """The broker URL, parsed (as v2 kept it)."""
        return _parsed(self._config.broker)

    @property
    def post_broker(self) -> ParseResult | None:
        """The post broker URL, parsed (as v2 kept it)."""
        return _parsed(self._config.post_broker)

    @property
    def cache(self) -> _CacheView:
        """The duplicate cache, as v2 showed it (count, save(), cache_dict); absent (hasattr
        False) when suppress_duplicates is off."""
        nodupe = self.__dict__.get("nodupe")
        if nodupe is None:
            raise AttributeError("cache")
        return _CacheView(nodupe)

    @property
    def cache_stat(self) -> bool:
        """True with a duplicate cache (v2 set it so), else the cache_stat option."""
        return self.__dict__.get("nodupe") is not None or bool(self._config.cache_stat)

    @property
    def currentDir(self) -> str:
        """The directory option in force (the last one read)."""
        return str(self._config.directory)

    @property
    def reportback(self) -> bool:
        """Whether reports are published (report_back)."""
        return bool(self._config.report_back)

    @property
    def instance(self) -> int:
        """This instance's number (0 in the foreground)."""
        return self.no

    @property
    def new_dir(self) -> str | None:
        """The directory of the notice in hand (parent.msg.new_dir)."""
        msg = self.msg
        return msg.new_dir if msg is not None else None

    @new_dir.setter
    def new_dir(self, value: str | None) -> None:
        if self.msg is not None:
            self.msg.new_dir = value

    @property
    def new_relpath(self) -> str | None:
        """The onward relPath of the notice in hand (parent.msg.new_relpath)."""
        msg = self.msg
        return msg.new_relpath if msg is not None else None

    @new_relpath.setter
    def new_relpath(self, value: str | None) -> None:
        if self.msg is not None:
            self.msg.new_relpath = value

    @property
    def new_baseurl(self) -> str | None:
        """The onward base URL of the notice in hand (parent.msg.new_baseurl)."""
        msg = self.msg
        return msg.new_baseurl if msg is not None else None

    @new_baseurl.setter
    def new_baseurl(self, value: str | None) -> None:
        if self.msg is not None:
            self.msg.new_baseurl = value

    @property
    def message_count(self) -> int:
        """Notices received so far."""
        return int(self.__dict__.get("counts", {}).get("received", 0))

    @property
    def publish_count(self) -> int:
        """Notices published so far."""
        return int(self.__dict__.get("counts", {}).get("posted", 0))

    @property
    def user_config(self) -> str | None:
        """The config file of this instance."""
        files = self._config.files
        return str(files[-1]) if files else None

    def run_command(self, command: list[str]) -> bool:
        """Run a command (v2 plugins restart their component with `<program> ... restart`:
        that restarts this instance)."""
        if command and command[-1] == "restart" and self.program_name in str(command[0]):
            self.restart_instance()
            return True
        self.logger.info("running %s", command)
        return subprocess.run(command, check=False).returncode == 0

    @property
    def msg(self) -> Msg | None:
        """The notice in hand in this thread."""
        return getattr(self._local, "msg", None)

    @msg.setter
    def msg(self, msg: Msg | None) -> None:
        self._local.msg = msg

    @property
    def declared(self) -> frozenset[str]:
        """The option names plugins declared."""
        return frozenset(self._declared)

    def declare_option(self, name: str) -> None:
        """Make an option known: a config may set it without an 'unknown option' error."""
        self._declared.add(name)

    # --- the established helpers

    @staticmethod
    def duration_from_str(text: str, default_unit: str = "s") -> float:
        """Seconds of a duration such as 30, 5m, 1h."""
        text = str(text)
        return types.parse_duration(text if not text[-1:].isdigit() else text + default_unit)

    @staticmethod
    def chunksize_from_str(text: str) -> int:
        """Bytes of a size such as 10, 4k, 1m."""
        return types.parse_size(str(text))

    @staticmethod
    def isTrue(text: str | bool) -> bool:
        """Whether an option's text means true."""
        return text if isinstance(text, bool) else types.parse_bool(str(text))

    def post(self, baseurl: str, relpath: str, headers: dict[str, str] | None = None) -> bool:
        """Announce a file (do_poll plugins): its URL as base and relative path, and v02
        headers (sum, parts, mtime, ...); published now. False if this component cannot."""
        if self.poster is None:
            self.logger.error("parent.post: this component does not post")
            return False
        pubtime = time_v03_to_v02(epoch_to_time(time.time()))
        body = f"{pubtime} {baseurl} {escape(relpath)}"
        notice = v02.decode(path_to_topic(relpath, "v02.post"), body, dict(headers or {}))
        return self.poster(notice)

    def state_file(self, name: str) -> Path:
        """A file of this config's state directory, for plugins that keep state."""
        directory = Path(self.user_cache_dir)
        directory.mkdir(parents=True, exist_ok=True)
        return directory / name
