"""An sr3 flow callback's entry points as hooks of the one plugin table (sarra.compat.plugins).

Each notice reaches a callback alone, in a worklist of one, at the point of the loop where v2
ran its plugin of the same purpose; what the callback does with the worklist decides the
notice's way:

    sr3 entry point    runs at (hooks)    the notice goes on when it is left in
    after_gather       after_gather       incoming (ok, rejected: it stops there, done;
                                          failed: the retry queue)
    after_accept       on_message         incoming (as after_gather)
    after_work         after_work         ok (the notice's Outcome put it there: done -> ok,
                                          skipped and permanent -> rejected, transient -> failed)
    post               on_post            ok (failed: the retry queue)
    after_post         after_post         (looked at only)
    destfn             destfn_script      returns the file's new name
    download, send     do_download,       True (or > 0) done, False (or 0) failed: retried;
                       do_send            < 0 failed for good; for every URL scheme
    poll               do_poll            the notices it returns are posted
    gather             gather             the notices it returns enter the flow
    on_housekeeping    on_heartbeat
    on_start, on_stop  on_start, on_stop  (please_stop first, at on_stop)
    metricsReport      metricsReport      its dict goes into the instance's metrics

A callback that adds messages to a worklist it was given one in is warned of once: only the
notice it was given goes on. What it changes in the message (relPath, baseUrl, new_dir,
new_file, any field) is read back into the notice (sarra.compat.sr3.message.View).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sarra.compat.plugin_parent import Msg, Parent
from sarra.compat.sr3.message import View, count_messages, locate, message_to_notice, worklist
from sarra.flow.hooks import PluginFailed, RetryLater
from sarra.message.errors import MalformedNotice
from sarra.message.notice import Notice

logger = logging.getLogger("sarra.plugins")

Function = Callable[..., Any]


@dataclass
class Flow:
    """What the adapters need to know of the config."""

    moves_files: bool  # the component places files (downloads, sends): new_dir/new_file count
    post_base_url: str | None = None
    post_base_dir: str | None = None
    warned: set[str] = field(default_factory=set)

    def warn_once(self, key: str, text: str, *args: Any) -> None:
        if key not in self.warned:
            self.warned.add(key)
            logger.warning(text, *args)


@dataclass(frozen=True)
class Registered:
    """One entry point of a callback, as a hook: where it runs, its name, its function
    (called with the parent, then the entry's arguments)."""

    entry: str
    name: str
    function: Function
    all_schemes: bool = False


IGNORED = ("ack", "on_cleanup", "on_declare", "on_features", "on_sanity", "report", "do_poll")
"""sr3 entry points that are not run here (the component does what they are for)."""


def hooks_of(callback: Any, name: str, flow: Flow) -> list[Registered]:
    """The hooks of a callback instance, for each of its entry points that runs here."""
    found: list[Registered] = []

    def method(entry: str) -> Function | None:
        value = getattr(callback, entry, None)
        return value if callable(value) else None

    for entry, point, make in _ADAPTERS:
        function = method(entry)
        if function is not None:
            found.append(
                Registered(point, f"{name}.{entry}", make(function, f"{name}.{entry}", flow),
                           all_schemes=point in ("do_download", "do_send", "do_poll"))
            )  # fmt: skip
    return found


def ignored_of(callback: Any) -> list[str]:
    """The entry points a callback has that are not run here."""
    return [e for e in IGNORED if callable(getattr(callback, e, None))]


# --- one notice through a worklist


def _view(parent: Parent, flow: Flow, onward: bool = False) -> tuple[Msg, View]:
    """The message of parent.msg (`onward`: showing the onward notice's relPath and baseUrl,
    when the file is announced at a place of its own)."""
    msg: Msg = parent.msg
    try:
        notice = msg.to_notice()
    except MalformedNotice as err:
        raise PluginFailed(f"made into no notice: {err}", permanent=True) from None
    view = View.of(notice, new_dir=msg.new_dir, new_file=msg.new_file, placed=flow.moves_files,
                   is_retry=msg.isRetry, post_base_url=flow.post_base_url,
                   post_base_dir=flow.post_base_dir, new_rel_path=msg.new_relpath,
                   new_base_url=msg.new_baseurl,
                   onward=onward and msg.new_baseurl is not None)  # fmt: skip
    view.restore(msg.sr3_fields)
    return msg, view


def _read_back(msg: Msg, view: View, message: Mapping[str, Any], name: str, flow: Flow) -> None:
    """What a callback changed in its message, into the notice and its placement."""
    try:
        notice = view.to_notice(message, follow_new=not flow.moves_files)
    except MalformedNotice as err:
        raise PluginFailed(
            f"{name} made the notice into no notice: {err}", permanent=True
        ) from None
    if notice is not view.notice:
        msg.rebase(notice)
    msg.sr3_fields = view.kept(message)
    new_dir, new_file = view.placement(message)
    if new_dir != view.paths["new_dir"]:
        msg.new_dir = str(new_dir)
    if new_file != view.paths["new_file"]:
        msg.new_file = str(new_file)
    if flow.moves_files:  # what the onward notice of the file says (else followed above)
        rel_path, base_url = view.onward_paths(message)
        if rel_path != view.paths["new_relPath"]:
            msg.new_relpath = str(rel_path)
        if base_url != view.paths["new_baseUrl"]:
            msg.new_baseurl = str(base_url)


def _settle(msg: Msg, view: View, work: Any, goes_on_in: str, name: str, flow: Flow) -> bool:
    """Where a callback left the notice: go on (True), stop (False), or the retry queue."""
    if count_messages(work) > 1:
        flow.warn_once(f"{name}:more", "%s added messages to its worklist: only the notice it was"
                       " given goes on", name)  # fmt: skip
    where, message = locate(work, view.message)
    if where == goes_on_in:
        _read_back(msg, view, message, name, flow)
        return True
    if where == "failed":
        raise RetryLater(f"{name} put it in worklist.failed")
    return False


def _incoming(function: Function, name: str, flow: Flow) -> Function:
    """after_gather, after_accept: the notice in worklist.incoming."""

    def hook(parent: Parent) -> bool:
        msg, view = _view(parent, flow)
        work = worklist(incoming=[view.message])
        function(work)
        return _settle(msg, view, work, "incoming", name, flow)

    return hook


_STATUS_LIST = {"done": "ok", "skipped": "rejected", "transient": "failed"}
"""The worklist an Outcome's status puts a notice in, for after_work (others: rejected)."""
_STATUS_REPORT = {"done": (201, "Done"), "skipped": (304, "Not modified"),
                  "transient": (499, "Failed, to be retried")}  # fmt: skip
"""The report sr3 sets on a message after its work, by its Outcome's status (others: 499)."""


def _after_work(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent, status: str = "done") -> bool:
        msg, view = _view(parent, flow, onward=status == "done")  # shown as sr3 will post it
        view.message.setReport(*_STATUS_REPORT.get(status, (499, "Failed")))
        work = worklist(**{_STATUS_LIST.get(status, "rejected"): [view.message]})
        function(work)
        if status != "done":
            return True
        return _settle(msg, view, work, "ok", name, flow)

    return hook


def _post(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent) -> bool:
        msg, view = _view(parent, flow)
        work = worklist(ok=[view.message])
        function(work)
        return _settle(msg, view, work, "ok", name, flow)

    return hook


def _after_post(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent) -> bool:
        _, view = _view(parent, flow)
        function(worklist(ok=[view.message]))
        return True

    return hook


def _destfn(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent) -> bool:
        msg, view = _view(parent, flow)
        new_name = function(view.message)
        if isinstance(new_name, str) and new_name:
            msg.new_file = new_name
        elif new_name is not None:
            flow.warn_once(f"{name}:type", "%s returned %r, not a file name: ignored", name,
                           new_name)  # fmt: skip
        return True

    return hook


def _download(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent) -> bool:
        _, view = _view(parent, flow)
        return bool(function(view.message))

    return hook


def _send(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent) -> bool:
        _, view = _view(parent, flow)
        result = function(view.message)
        if isinstance(result, int) and not isinstance(result, bool) and result < 0:
            raise PluginFailed(f"{name}: failed for good ({result})", permanent=True)
        return bool(result)

    return hook


def notices_of(messages: Any, name: str, flow: Flow) -> list[Notice]:
    """The notices of the messages a callback made (gather, poll); those that make no notice
    are logged once a kind and left out."""
    notices = []
    for message in messages or ():
        if not isinstance(message, Mapping):
            flow.warn_once(f"{name}:item", "%s gave %r, not a message: left out", name,
                           type(message).__name__)  # fmt: skip
            continue
        try:
            notices.append(message_to_notice(message))
        except MalformedNotice as err:
            flow.warn_once(f"{name}:bad:{err.reason[:40]}", "%s made a message that is no"
                           " notice (%s): left out", name, err.reason)  # fmt: skip
    return notices


def _gather(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent, count: int) -> tuple[bool, list[Notice]]:
        result = function(count)
        if isinstance(result, tuple) and len(result) == 2:
            keep_going, messages = result
        elif isinstance(result, list):
            keep_going, messages = True, result
        else:
            flow.warn_once(f"{name}:type", "%s returned %s, not (bool, list) or a list", name,
                           type(result).__name__)  # fmt: skip
            return True, []
        return bool(keep_going), notices_of(messages, name, flow)

    return hook


def _poll(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent) -> bool:
        poster = parent.poster
        for notice in notices_of(function(), name, flow):
            if poster is None or not poster(notice):
                logger.error("%s: not posted: %s", name, notice.url)
        return True

    return hook


def _event(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent) -> bool:
        function()
        return True

    return hook


def _report(function: Function, name: str, flow: Flow) -> Function:
    def hook(parent: Parent) -> Any:
        return function()

    return hook


_ADAPTERS: tuple[tuple[str, str, Callable[[Function, str, Flow], Function]], ...] = (
    ("gather", "gather", _gather),
    ("after_gather", "after_gather", _incoming),
    ("after_accept", "on_message", _incoming),
    ("destfn", "destfn_script", _destfn),
    ("download", "do_download", _download),
    ("send", "do_send", _send),
    ("poll", "do_poll", _poll),
    ("after_work", "after_work", _after_work),
    ("post", "on_post", _post),
    ("after_post", "after_post", _after_post),
    ("on_start", "on_start", _event),
    ("please_stop", "on_stop", _event),
    ("on_stop", "on_stop", _event),
    ("on_housekeeping", "on_heartbeat", _event),
    ("metricsReport", "metricsReport", _report),
)
"""sr3 entry point -> the hooks' entry it runs at -> its adapter."""
