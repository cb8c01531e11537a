"""What an sr3 flow callback sees of a notice: sr3's dict-like message over a Notice, and the
worklist it moves messages between.

A Message is a dict with the v03 field names (pubTime, baseUrl, relPath, identity, size,
blocks, fileOp, mtime, atime, mode, rename, retrievePath, source, from_cluster, to_clusters,
content, report and any other field the notice carries), plus the fields sr3's flow adds for
its callbacks: `new_dir` and `new_file` (where the file goes), `new_relPath`, `new_baseUrl`
and `new_subtopic` (what the onward notice will say), `subtopic`, `exchange`, `_format`,
`_isRetry` and `_deleteOnPost` (the fields that are never posted).

A View is one such message made from a notice; `View.to_notice` reads it back: the original
Notice when a callback changed none of its fields, else a new Notice from the fields, held to
the same checks as a notice received (MalformedNotice says why when they make no notice).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import posixpath
import stat as stat_module
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

from sarra.compat.sr3 import api, identity
from sarra.flow.placement import onward_rel_path
from sarra.message import v03
from sarra.message.errors import MalformedNotice
from sarra.message.notice import Notice

PATH_KEYS = ("new_dir", "new_file", "new_relPath", "new_baseUrl", "new_subtopic")
VIEW_KEYS = frozenset({"_format", "_deleteOnPost", "_isRetry", "exchange", "topic", "subtopic",
                       "new_inflight_path", "local_offset", *PATH_KEYS})  # fmt: skip
"""Fields of the flow, not of the notice: never part of what is posted."""


class Message(dict[str, Any]):
    """A notice as sr3's flow callbacks know it (see the module's doc)."""

    def __init__(self) -> None:
        super().__init__()
        self["_format"] = "v03"
        self["_deleteOnPost"] = {"_format"}

    # --- what sr3 offers callbacks on a message

    def getIDStr(self) -> str:
        """The message's URL, to name it in a log line."""
        base = self.get("baseUrl", "baseUrl missing")
        path = self.get("relPath") or self.get("retrievePath") or "badMessage"
        joint = "" if path.startswith("/") or base.endswith("/") else "/"
        return f"{base}{joint}{path}"

    def setReport(self, code: int, text: str | None = None) -> None:
        """Say what became of the message (a report code, HTTP-like, and a text)."""
        text = text if text is not None else api.known_report_codes.get(code, "unknown")
        self["report"] = {"code": code, "timeCompleted": api.nowstr(), "message": text}
        self["_deleteOnPost"] |= {"report"}

    def isRetry(self) -> bool:
        """Whether the message comes from the retry queue."""
        return bool(self.get("_isRetry"))

    def retryCount(self) -> int:
        """How often it was retried (0: never)."""
        value = self.get("_isRetry", 0)
        return value if isinstance(value, int) and not isinstance(value, bool) else int(value)

    def copyDict(self, fields: Mapping[str, Any] | None) -> None:
        """Copy fields into the message."""
        if fields:
            self.update(fields)

    def dumps(self) -> str:
        """The message on one line, long fields cut, for a log line."""
        shown = {}
        for key in sorted(self):
            text = str(self[key])
            shown[key] = text if len(text) <= 255 else text[:251] + "..."
        return json.dumps(shown, ensure_ascii=False)

    def validate(self) -> bool:
        """Whether the message has what every notice needs (pubTime, baseUrl, relPath)."""
        return all(k in self for k in ("pubTime", "baseUrl", "relPath")) and api.timeValidate(
            str(self["pubTime"])
        )

    def setSize(self, path: str) -> None:
        """Set size from a local file."""
        if os.path.exists(path):
            self["size"] = os.path.getsize(path)

    def computeIdentity(
        self, path: str, o: Any = None, offset: int = 0, data: bytes | None = None
    ) -> None:
        """Set identity: the checksum of a local file, by the options' identity_method
        (sha512 by default; `cod,<method>` names the method to compute on download)."""
        method = str(getattr(o, "identity_method", None) or "sha512")
        if method.startswith("cod,"):
            self["identity"] = {"method": "cod", "value": method.partition(",")[2]}
            return
        checksum = identity.Identity.factory(method) or identity.Sha512()
        checksum.update_file(path)
        self["identity"] = {"method": checksum.get_method(), "value": checksum.value}

    def updatePaths(
        self, options: Any, new_dir: str | None = None, new_file: str | None = None
    ) -> None:
        """Set new_dir and new_file (those given, else as they are), and what follows from
        them: new_relPath (below post_baseDir), new_baseUrl, new_subtopic."""
        if new_dir:
            self["new_dir"] = new_dir
        if new_file is not None:
            self["new_file"] = new_file
        directory = str(self.get("new_dir") or "")
        name = str(self.get("new_file") or posixpath.basename(str(self.get("relPath", ""))))
        base_dir = getattr(options, "post_baseDir", None) if options is not None else None
        base_url = self.get("post_baseUrl") or (
            getattr(options, "post_baseUrl", None) if options is not None else None
        )
        self.update(_paths(directory, name, base_dir, base_url or self.get("baseUrl")))
        self["_deleteOnPost"] |= set(PATH_KEYS) | {"subtopic"}

    def getContent(self, options: Any = None) -> bytes:
        """The file's bytes (for small files): from the message's content, a local file
        (file: base URL, or below baseDir), else fetched from its URL (no credentials)."""
        content = self.get("content")
        if isinstance(content, Mapping):
            value = str(content.get("value", ""))
            if content.get("encoding") == "base64":
                return base64.b64decode(value)
            return value.encode()
        base = urlparse(str(self.get("baseUrl", "")))
        if base.scheme == "file":
            path = base.path + str(self["relPath"])
        else:
            base_dir = getattr(options, "baseDir", None) if options is not None else None
            path = f"{base_dir}/{self['relPath']}" if base_dir else ""
        if path and os.path.isfile(path):
            with open(path, "rb") as file:
                return file.read()
        retrieve = self.get("retrievePath") or self["relPath"]
        url = str(self["baseUrl"]).rstrip("/") + "/" + str(retrieve).lstrip("/")
        timeout = float(getattr(options, "timeout", 0) or 30)
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data: bytes = response.read()
        return data

    def putContentInline(self, options: Any = None) -> None:
        """Put the file's bytes in the message (content: utf-8 text, else base64) when it is
        smaller than inlineByteMax (4096 by default)."""
        if "content" in self:
            return
        data = self.getContent(options)
        self["size"] = len(data)
        if len(data) >= int(getattr(options, "inlineByteMax", 4096) or 4096):
            return
        try:
            self["content"] = {"encoding": "utf-8", "value": data.decode("utf-8")}
        except UnicodeDecodeError:
            self["content"] = {"encoding": "base64", "value": base64.b64encode(data).decode()}

    @staticmethod
    def fromFileInfo(path: str, o: Any, lstat: Any = None) -> Message:
        """A message announcing a local file: under post_baseUrl, its path less post_baseDir
        (or baseDir), its size, times and mode from `lstat`."""
        message = Message()
        message["pubTime"] = api.nowstr()
        base_url = str(getattr(o, "post_baseUrl", None) or "file:").split(",")[0]
        base_dir = getattr(o, "post_baseDir", None) or getattr(o, "baseDir", None) or ""
        message["baseUrl"] = base_url
        message["relPath"] = onward_rel_path(path, base_dir, "sr3") if base_dir else path
        message["subtopic"] = posixpath.dirname(message["relPath"]).strip("/").split("/")
        message["_deleteOnPost"] |= {"subtopic"}
        if lstat is not None:
            if lstat.st_size is not None and stat_module.S_ISREG(lstat.st_mode or 0):
                message["size"] = int(lstat.st_size)
            if lstat.st_mtime is not None:
                message["mtime"] = api.timeflt2str(lstat.st_mtime)
            if lstat.st_atime is not None:
                message["atime"] = api.timeflt2str(lstat.st_atime)
            if lstat.st_mode is not None:
                message["mode"] = f"{stat_module.S_IMODE(lstat.st_mode):o}"
        return message

    @staticmethod
    def fromFileData(path: str, o: Any, lstat: Any = None) -> Message:
        """fromFileInfo, with the file's checksum (identity) for a regular file."""
        message = Message.fromFileInfo(path, o, lstat)
        if lstat is not None and stat_module.S_ISREG(lstat.st_mode or 0):
            message.computeIdentity(path, o)
        return message


def worklist(**lists: list[Any]) -> SimpleNamespace:
    """A worklist: incoming, ok, rejected, failed, directories_ok (those given, others empty)."""
    names = ("incoming", "ok", "rejected", "failed", "directories_ok")
    return SimpleNamespace(**{name: list(lists.get(name, [])) for name in names})


def locate(work: SimpleNamespace, message: Message) -> tuple[str | None, Any]:
    """Which list of a worklist holds the message (and the message: a callback may have put a
    copy there instead); (None, None) when a callback took it out of every list."""
    names = ("incoming", "ok", "rejected", "failed")
    for name in names:
        if any(item is message for item in getattr(work, name, ())):
            return name, message
    for name in names:  # replaced by a copy
        for item in getattr(work, name, ()):
            if isinstance(item, Mapping):
                return name, item
    return None, None


def count_messages(work: SimpleNamespace) -> int:
    """How many messages a worklist holds."""
    names = ("incoming", "ok", "rejected", "failed")
    return sum(len(getattr(work, name, ())) for name in names)


def _paths(directory: str, name: str, base_dir: str | None, base_url: Any) -> dict[str, Any]:
    """new_dir, new_file and what follows from them, as sr3 derives it."""
    full = f"{directory}/{name}" if directory else name
    relative = onward_rel_path(full, base_dir, "sr3")
    return {
        "new_dir": directory,
        "new_file": name,
        "new_relPath": relative,
        "new_baseUrl": str(base_url or "").split(",")[0],
        "new_subtopic": relative.split("/")[:-1],
    }


def _body_of(message: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a message that a notice carries."""
    unposted = message.get("_deleteOnPost") or ()
    return {
        key: value
        for key, value in message.items()
        if not key.startswith("_") and key not in VIEW_KEYS and key not in unposted
    }


def message_to_notice(message: Mapping[str, Any]) -> Notice:
    """The notice of a message a callback made (gather, poll); MalformedNotice when its fields
    make no notice."""
    try:
        data = json.dumps(_body_of(message), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise MalformedNotice(f"a field is not JSON: {err}") from None
    notice = v03.decode("", data)
    exchange = message.get("exchange")
    notice.exchange = exchange if isinstance(exchange, str) else None
    return notice


@dataclass
class View:
    """An sr3 message made of a notice, and how to read it back."""

    message: Message
    notice: Notice
    body: dict[str, Any]  # the notice's fields (deep copy)
    paths: dict[str, Any]  # new_* as first shown
    onward: dict[str, Any] | None = None
    """relPath and baseUrl as shown in place of the notice's: the onward notice's (after_work)."""

    @classmethod
    def of(
        cls,
        notice: Notice,
        *,
        new_dir: str | None = None,
        new_file: str | None = None,
        placed: bool = True,
        is_retry: bool = False,
        post_base_url: str | None = None,
        post_base_dir: str | None = None,
        new_rel_path: str | None = None,
        new_base_url: str | None = None,
        onward: bool = False,
    ) -> View:
        """The message of a notice. A notice `placed` (its file goes to new_dir/new_file) has
        new_relPath and new_baseUrl as given (the flow's onward notice), else below
        post_base_dir and under post_base_url; one that is not (a shovel's) keeps its own
        path. `onward` (a file placed, its work done): relPath and baseUrl are new_relPath and
        new_baseUrl, as sr3 shows them to after_work."""
        _, data = v03.encode(notice)
        body: dict[str, Any] = json.loads(data)
        message = Message()
        message.update(body)
        rel_path = notice.rel_path
        message["subtopic"] = posixpath.dirname(rel_path).strip("/").split("/")
        if notice.exchange:
            message["exchange"] = notice.exchange
        if is_retry:
            message["_isRetry"] = True
        name = new_file if new_file is not None else posixpath.basename(rel_path)
        if placed:
            paths = _paths(new_dir or "", name, post_base_dir, post_base_url or notice.base_url)
            if new_rel_path is not None:
                relative = new_rel_path.lstrip("/")  # as sr3 writes it
                paths |= {"new_relPath": relative, "new_subtopic": relative.split("/")[:-1]}
            if new_base_url is not None:
                paths["new_baseUrl"] = new_base_url
        else:
            paths = {
                "new_dir": new_dir or "",
                "new_file": name,
                "new_relPath": rel_path,
                "new_baseUrl": str(post_base_url or notice.base_url).split(",")[0],
                "new_subtopic": rel_path.split("/")[:-1],
            }
        message.update(paths)
        message["_deleteOnPost"] |= set(VIEW_KEYS)
        shown = None
        if placed and onward:
            shown = {"relPath": paths["new_relPath"], "baseUrl": paths["new_baseUrl"]}
            message.update(shown)
        return cls(message, notice, copy.deepcopy(body), copy.deepcopy(paths), shown)

    def to_notice(
        self, message: Mapping[str, Any] | None = None, *, follow_new: bool = False
    ) -> Notice:
        """The notice as the message now says (`message`: the one a callback left in its
        worklist, by default the one shown). With follow_new, new_relPath and new_baseUrl (or
        new_file) that a callback changed become the notice's relPath and baseUrl, as sr3 does
        when nothing is transferred. MalformedNotice when the fields make no notice."""
        shown = self.message if message is None else message
        body = _body_of(shown)
        if self.onward is not None:  # the notice's own, whatever was shown in their place
            body |= {key: self.body[key] for key in self.onward if key in self.body}
        if follow_new:
            body.update(self._followed(shown))
        if body == self.body:
            return self.notice
        try:
            data = json.dumps(body, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise MalformedNotice(f"a field is not JSON: {err}") from None
        notice = v03.decode(self.notice.topic or "", data)
        notice.exchange = self.notice.exchange
        return notice

    def _followed(self, message: Mapping[str, Any]) -> dict[str, Any]:
        before = self.paths
        changes: dict[str, Any] = {}
        rel_path = message.get("new_relPath")
        new_file = message.get("new_file")
        if new_file != before["new_file"] and rel_path == before["new_relPath"] and new_file:
            head = posixpath.dirname(str(rel_path or ""))
            rel_path = f"{head}/{new_file}" if head else str(new_file)
        if rel_path and rel_path != before["new_relPath"]:
            changes["relPath"] = rel_path
        base_url = message.get("new_baseUrl")
        if base_url and base_url != before["new_baseUrl"]:
            changes["baseUrl"] = base_url
        return changes

    def onward_paths(self, message: Mapping[str, Any]) -> tuple[Any, Any]:
        """new_relPath and new_baseUrl as the message now says; shown `onward`, a relPath or
        baseUrl a callback changed says it (as sr3 posts them after after_work)."""
        rel_path, base_url = message.get("new_relPath"), message.get("new_baseUrl")
        if self.onward is not None:
            if message.get("relPath") != self.onward["relPath"]:
                rel_path = message.get("relPath")
            if message.get("baseUrl") != self.onward["baseUrl"]:
                base_url = message.get("baseUrl")
        return rel_path, base_url

    def kept(self, message: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The fields of the message that the notice does not carry and that a callback set:
        those it marked _deleteOnPost (and _deleteOnPost itself)."""
        shown = self.message if message is None else message
        unposted = set(shown.get("_deleteOnPost") or ()) - VIEW_KEYS
        kept = {k: v for k, v in shown.items() if k in unposted or (k.startswith("_") and
                k not in VIEW_KEYS)}  # fmt: skip
        if unposted:
            kept["_deleteOnPost"] = unposted
        return kept

    def restore(self, kept: Mapping[str, Any]) -> None:
        """Show again the fields `kept` from an earlier entry point."""
        if kept:
            self.message.update({k: v for k, v in kept.items() if k != "_deleteOnPost"})
            self.message["_deleteOnPost"] |= set(kept.get("_deleteOnPost", ()))

    def placement(self, message: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
        """new_dir and new_file as the message now says."""
        shown = self.message if message is None else message
        return shown.get("new_dir"), shown.get("new_file")
