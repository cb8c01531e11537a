"""Plugins: found on the search path, loaded in both established forms, run at their entry
points.

Search path: ~/.config/sarra/plugins, then the plugins shipped in the package (sarra.plugins);
`.py` may be left out of the name. A plugin file is executed with `self` bound to the `parent`
object (sarra.compat.plugin_parent) and registers itself in one of two ways:

- entry point form: `x = Cls(self)` then `self.on_message = x.on_message`, named in the config
  by `on_message <file>` (every entry point the file assigns is registered);
- class form: `self.plugin = 'ClassName'`, named by `plugin <file>`: the class is made with
  `ClassName(parent)` and each of its methods named like an entry point is registered.

sr3 flow callbacks (`callback`, `flowcb`, `flowCallback`, `callback_prepend` lines: classes
made with `Class(options)`, sarra.compat.sr3) register their entry points in the same table, at
the points of the same purpose (after_accept at on_message, after_work, post at on_post,
after_post, on_housekeeping at on_heartbeat, ...: sarra.compat.sr3.adapters), and run there in
config order with the v2 plugins (prepended callbacks first). `Plugins` is what the loop calls
(sarra.flow.hooks).

Several plugins of one entry point run in config order; the first to return False stops the
notice (or file). A plugin that raises has its traceback logged once (then one line each time)
and the caller gets PluginFailed: a notice goes to the retry queue, the component goes on.
A plugin that cannot be found or loaded, and an option no plugin declares, stop the component
at its start with `file:line: reason`.

Protocol plugins (do_download, do_get, do_send, do_put, do_poll) apply to the URL schemes their
`registered_as()` returns and answer True (done), False (failed) or None (let the built-in
transfer do it). Without registered_as(), as in v2, do_download, do_get, do_send and do_put
serve only the schemes that have no built-in transfer (a do_poll, every scheme).

A plugin file runs with the names v2 gave it without an import (v2_scope: `sarra`, `os`,
`time`, `nowflt`, ...), and the modules v2 plugins import are here under their historic names
(sarra.sr_util, sarra.sr_credentials, sarra.sr_file, sarra.plugins.msg_pclean).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sarra.compat.plugin_parent import Msg, Parent
from sarra.config import paths
from sarra.config.errors import ConfigError, ConfigErrors, Where
from sarra.config.loader import Config
from sarra.config.options import FLOW, PLUGIN_ENTRY_POINTS
from sarra.config.options import closest as closest_option
from sarra.flow.faults import Faults
from sarra.flow.hooks import PluginFailed, RetryLater
from sarra.flow.placement import Onward
from sarra.message.notice import Notice

if TYPE_CHECKING:
    from sarra.compat.sr3.adapters import Flow

logger = logging.getLogger("sarra.plugins")

PROTOCOL_ENTRY_POINTS = frozenset({"do_download", "do_get", "do_send", "do_put", "do_poll"})
UNKNOWN_SCHEMES_ONLY = frozenset({"do_download", "do_get", "do_send", "do_put"})
"""Protocol entry points whose plugins without registered_as() leave built-in schemes alone."""


@functools.cache
def v2_scope() -> dict[str, Any]:
    """The names a v2 plugin file found in scope without importing them (made when a plugin
    file is first loaded: they import half the standard library)."""
    import calendar
    import datetime
    import glob
    import inspect
    import io
    import json
    import os
    import random
    import re
    import shutil
    import signal
    import socket
    import ssl
    import stat
    import subprocess
    import sys
    import time
    import urllib.parse
    import urllib.request
    from hashlib import md5, sha512
    from logging import handlers

    import sarra
    from sarra import sr_credentials, sr_util

    modules = (calendar, datetime, glob, inspect, io, json, logging, os, random, re, shutil,
               signal, socket, ssl, stat, subprocess, sys, time, urllib, sarra)  # fmt: skip
    scope: dict[str, Any] = {m.__name__.partition(".")[0]: m for m in modules}
    scope |= {"md5": md5, "sha512": sha512, "handlers": handlers}
    scope |= {name: getattr(sr_util, name) for name in sr_util.__all__}
    scope |= {name: getattr(sr_credentials, name) for name in sr_credentials.__all__}
    return scope


RESTART = threading.Event()
"""Set when a plugin asked for its instance to start afresh (hb_memory); see components.run."""


__all__ = ["RESTART", "Hook", "PluginFailed", "Plugins", "RetryLater", "available", "find",
           "search_path", "shipped_dir"]  # fmt: skip

SR3_LINES = frozenset({"flowcb", "flowcb_prepend"})
"""The option lines that name sr3 flow callbacks (and their aliases: callback, flowCallback,
callback_prepend, ...)."""


def shipped_dir() -> Path:
    """The plugins shipped with the package."""
    return Path(str(resources.files("sarra.plugins")))


def search_path() -> list[Path]:
    """Where plugins are looked for, in order."""
    return [paths.plugins_dir(), shipped_dir()]


def available() -> Iterator[tuple[Path, list[str]]]:
    """Each directory of the search path with the names of the plugins in it."""
    for directory in search_path():
        names = sorted(p.stem for p in directory.glob("*.py") if p.name != "__init__.py")
        yield directory, names


def find(name: str, where: Where | None = None) -> Path:
    """The file of a plugin named in a config: a path, or a name on the search path."""
    given = Path(name).expanduser()
    if "/" in name and given.is_file():
        return given
    for directory in search_path():
        for candidate in (directory / name, directory / f"{name}.py"):
            if candidate.is_file() and candidate.name != "__init__.py":
                return candidate
    where_looked = ", ".join(str(d) for d in search_path())
    raise ConfigError(where, f"plugin {name}: not found (looked in {where_looked})")


@dataclass
class Hook:
    """One registered entry point of one plugin."""

    name: str  # e.g. msg_log.on_message
    function: Callable[..., Any]  # called with the parent, then the entry's arguments
    schemes: frozenset[str] | None = None  # protocol plugins: from registered_as(); None = all
    all_schemes: bool = False  # an sr3 download, send or poll: every scheme, built-in or not


class Plugins:
    """The plugins of one config, loaded; `run`, `transfer` and `event` call them."""

    def __init__(self, parent: Parent, hooks: dict[str, list[Hook]], onward: Onward) -> None:
        self.parent = parent
        self.hooks = hooks
        self._topic_prefix = parent.post_topic_prefix or parent.topic_prefix
        self.faults = Faults(logger)  # a failing plugin's traceback once per kind
        self._defaults = _default_headers(parent)
        self._onward = onward  # how a placed file is announced onward

    @classmethod
    def load(cls, config: Config, number: int = 0, stop: threading.Event | None = None) -> Plugins:
        """Load the plugins a config names, in config order, and check its plugin options.
        Raises ConfigErrors naming every file:line at fault."""
        parent = Parent(config, number)

        def restart() -> None:
            logger.warning("plugin asked for a restart of this instance")
            RESTART.set()
            if stop is not None:
                stop.set()

        def stop_instance() -> None:
            logger.info("plugin asked for this instance to stop")
            if stop is not None:
                stop.set()

        parent.restart_instance = restart
        parent.stop_instance = stop_instance
        parent.RetryLater = RetryLater
        errors: list[ConfigError] = []
        sources: list[str] = []
        sr3_sources: list[str] = []
        prepended: list[list[tuple[str, Hook]]] = []
        in_order: list[list[tuple[str, Hook]]] = []
        options = flow = None
        for entry, ref, where in config.plugin_lines:
            try:
                if entry == "set":
                    continue
                if entry in SR3_LINES:
                    # sr3's shims are imported only by a config that names an sr3 callback
                    from sarra.compat.sr3 import loader as sr3
                    from sarra.compat.sr3.options import Options

                    if options is None or flow is None:
                        settings = sr3.settings_of(config.set, config.origin.get("set"))
                        options = Options(config, parent, settings)
                        flow = _flow_of(config)
                    loaded = sr3.load(ref, where, options, flow)
                    registered = [(r.entry, Hook(r.name, r.function, None, r.all_schemes))
                                  for r in loaded.hooks]  # fmt: skip
                    sr3_sources.append(loaded.source)
                    if entry == "flowcb_prepend":
                        prepended.insert(0, registered)  # as sr3: each before those read so far
                    else:
                        in_order.append(registered)
                    continue
                path = find(ref, where)
                in_order.append(_load_file(parent, path, entry, where))
                sources.append(path.read_text(errors="replace"))
            except ConfigError as err:
                errors.append(err)
        hooks: dict[str, list[Hook]] = {}
        for registered in (*prepended, *in_order):
            for name, hook in registered:
                hooks.setdefault(name, []).append(hook)
        declared = parent.declared
        for name in config.plugin_options:
            if name not in declared and not _read_by(name, sources, sr3_sources):
                import difflib  # only for a mistake: not at every start

                close = difflib.get_close_matches(name, declared, n=1, cutoff=0.6)
                hint = close[0] if close else closest_option(name)
                reason = f"unknown option {name!r}"
                reason += f"; did you mean {hint!r}?" if hint else " (no plugin declares it)"
                errors.append(ConfigError(config.origin.get(name), reason))
        if config.component == FLOW and "gather" not in hooks:
            errors.append(ConfigError(None, nothing_gathered(config, "do_poll" in hooks)))
        if config.component == "poll" and unlisted(config) and "do_poll" not in hooks:
            errors.append(ConfigError(None, nothing_to_poll(config)))
        if errors:
            errors.sort(key=lambda e: (e.where.file, e.where.line) if e.where else ("", 0))
            raise ConfigErrors(errors)
        for name, entry_hooks in hooks.items():
            logger.debug("%s: %s", name, ", ".join(h.name for h in entry_hooks))
        return cls(parent, hooks, Onward.of(config))

    def __bool__(self) -> bool:
        return bool(self.hooks)

    def has(self, entry: str) -> bool:
        """Whether any plugin is registered at an entry point."""
        return entry in self.hooks

    def message(
        self,
        notice: Notice,
        *,
        new_dir: str | None = None,
        new_file: str | None = None,
        is_retry: bool = False,
        follows: Msg | None = None,
    ) -> Msg:
        """The `parent.msg` of a notice (`follows`: its parent.msg at an earlier point, whose
        new_dir, new_file, what plugins set of the onward notice and sr3 callbacks' fields
        carry over)."""
        if follows is not None:
            new_dir, new_file = follows.new_dir, follows.new_file
        msg = Msg(notice, topic_prefix=self._topic_prefix, new_dir=new_dir,
                  new_file=new_file, is_retry=is_retry, defaults=self._defaults,
                  onward=self._onward, post_base_dir=self.parent.post_base_dir)  # fmt: skip
        if follows is not None:
            msg.sr3_fields = dict(follows.sr3_fields)
            msg.post_base_dir = follows.post_base_dir
            msg.new_relpath, msg.new_baseurl = follows.onward_set()
        return msg

    def run(self, entry: str, msg: Msg | None = None, *args: Any) -> bool:
        """Run the plugins of an entry point with `msg` as parent.msg (and `args`), in order;
        False as soon as one returns False. Raises PluginFailed when one raises."""
        hooks = self.hooks.get(entry)
        if not hooks:
            return True
        parent = self.parent
        if msg is None:
            go_on = all(self._call(hook, *args) is not False for hook in hooks)
        else:
            parent.msg = msg
            go_on = all(self._call_on(msg, hook, *args) is not False for hook in hooks)
        if msg is not None and msg.retry_asked:
            raise PluginFailed(f"{entry}: a plugin asked to see it again later", later=True)
        return go_on

    def transfer(self, entry: str, scheme: str, msg: Msg | None) -> bool | None:
        """Run the protocol plugins of an entry point that take `scheme`: True (done) or
        False (failed) from the first that answers, None when all leave it to the built-in
        transfer. Raises PluginFailed when one raises."""
        hooks = self.hooks.get(entry)
        if not hooks:
            return None
        if msg is not None:
            self.parent.msg = msg
        for hook in hooks:
            if hook.all_schemes:
                applies = True
            elif hook.schemes is not None:
                applies = scheme in hook.schemes
            else:
                from sarra.transfer.registry import transfer_schemes  # the transfers: on use

                applies = entry not in UNKNOWN_SCHEMES_ONLY or scheme not in transfer_schemes()
            if applies:
                result = self._call(hook) if msg is None else self._call_on(msg, hook)
                if result is not None:
                    return bool(result)
        return None

    def transform(self, data: bytes) -> bytes:
        """on_data: each plugin's `on_data(parent, chunk)` in turn gets the chunk as the one
        before left it, and returns it transformed. Raises PluginFailed when one raises."""
        for hook in self.hooks.get("on_data", ()):
            data = self._call(hook, data)
        return data

    def gather(self, count: int) -> tuple[bool, list[Notice]]:
        """The notices gather plugins bring (sr3 gather), each asked for what the ones before
        left of `count`; and whether the component's own gathering goes on this pass (False
        once one said so: the plugins after it are not asked). A failure is logged and
        passed over."""
        notices: list[Notice] = []
        for hook in self.hooks.get("gather", ()):
            try:
                keep_going, found = self._call(hook, max(count - len(notices), 0))
            except PluginFailed:
                continue
            notices.extend(found)
            if not keep_going:
                return False, notices
        return True, notices

    def event(self, entry: str) -> None:
        """Run the plugins of an entry point that concerns no notice (on_start, on_stop,
        on_heartbeat, on_watch): failures are logged and the component goes on."""
        if entry in self.hooks:
            with contextlib.suppress(PluginFailed):
                self.run(entry)

    def metrics(self) -> dict[str, Any]:
        """What each plugin's metricsReport returns (sr3), by plugin; failures are logged."""
        found: dict[str, Any] = {}
        for hook in self.hooks.get("metricsReport", ()):
            with contextlib.suppress(PluginFailed):
                found[hook.name.rsplit(".", 1)[0]] = self._call(hook)
        return found

    def attach(self, **state: Any) -> None:
        """Show the component's state to the plugins, as attributes of parent (counts, retry,
        nodupe: what v2's hb_* plugins read)."""
        for name, value in state.items():
            setattr(self.parent, name, value)

    def _call_on(self, msg: Msg, hook: Hook, *args: Any) -> Any:
        """Call a hook on a notice; then, as v2 did after each plugin, new_relpath follows a
        file it moved, below the post_base_dir it set (Msg.placed_by_plugin)."""
        before, base_dir = msg.placement(), self.parent.post_base_dir
        try:
            return self._call(hook, *args)
        finally:
            after = self.parent.post_base_dir
            msg.placed_by_plugin(before, after if after != base_dir else msg.post_base_dir)

    def _call(self, hook: Hook, *args: Any) -> Any:
        try:
            return hook.function(self.parent, *args)
        except PluginFailed:
            raise  # an sr3 callback's adapter saying why the notice cannot go on
        except RetryLater as err:
            raise PluginFailed(f"{hook.name}: {err}", later=True) from err
        except Exception as err:
            self.faults.log(err, "plugin %s failed", hook.name)
            raise PluginFailed(f"plugin {hook.name} failed: {type(err).__name__}: {err}") from err


def nothing_gathered(config: Config, polls: bool) -> str:
    """Why a flow without flowMain cannot run: no callback gathers (`polls`: one has a poll
    entry point, which sr3, as sarra, runs only in a poll)."""
    why = f"{config.name}: a flow without flowMain needs a callback that gathers (callback"
    why += " scheduled, gather.file...)"
    if polls:
        why += "; a callback's poll runs only in a poll (flowMain poll)"
    return why


def unlisted(config: Config) -> bool:
    """Whether a poll names no directory to list: one of sr3's tree without a path line (sr3
    lists nothing then: a callback's poll must)."""
    return config.dialect == "sr3" and not config.path


def nothing_to_poll(config: Config) -> str:
    """Why a poll without a directory to list cannot run."""
    return (f"{config.name}: nothing to poll: no path line (an sr3 poll lists the directories"
            " its path lines name)")  # fmt: skip


def _default_headers(parent: Parent) -> dict[str, str]:
    """The headers v2 gave a notice without them: source (the source option, else the broker
    user), from_cluster (cluster, else the broker's host) and to_clusters (to, else the post
    broker's host)."""
    broker, post_broker = parent.broker, parent.post_broker
    to = ",".join(parent.to) or (post_broker.netloc.rpartition("@")[2] if post_broker else "")
    found = {
        "source": parent.source or (broker.username if broker else None),
        "from_cluster": parent.cluster or (broker.netloc.rpartition("@")[2] if broker else None),
        "to_clusters": to,
    }
    return {name: value for name, value in found.items() if value}


def _read_by(name: str, sources: list[str], sr3_sources: list[str]) -> bool:
    """Whether a plugin's code reads an option it never declared (v2 took those too; sr3
    callbacks read them on self.o, or options)."""
    quoted = rf"['\"]{re.escape(name)}['\"]"
    pattern = re.compile(rf"\bparent\.{re.escape(name)}\b|{quoted}")
    sr3_pattern = re.compile(rf"\b(?:o|options)\.{re.escape(name)}\b|{quoted}")
    return any(pattern.search(text) for text in sources) or any(
        sr3_pattern.search(text) for text in sr3_sources
    )


def _flow_of(config: Config) -> Flow:
    """What sr3 callbacks' adapters need to know of a config."""
    from sarra.compat.sr3.adapters import Flow

    moves_files = config.component in ("subscribe", "sarra", "sender") and not config.notify_only
    return Flow(moves_files, config.post_base_url, config.post_base_dir)


def _load_file(
    parent: Parent, path: Path, entry: str, where: Where | None
) -> list[tuple[str, Hook]]:
    """Execute a plugin file and return the entry points it registers."""
    try:
        code = compile(path.read_bytes(), str(path), "exec")
    except SyntaxError as err:
        raise ConfigError(where, f"plugin {path}:{err.lineno}: {err.msg}") from None
    except OSError as err:
        raise ConfigError(where, f"plugin {path}: {err.strerror or err}") from None
    namespace: dict[str, Any] = {**v2_scope(), "__name__": f"sarra_plugin_{path.stem}",
                                 "__file__": str(path), "self": parent,
                                 "logger": parent.logger}  # fmt: skip
    registered: dict[str, Any] = {}
    parent.registering = registered
    try:
        exec(code, namespace)
    except Exception as err:
        reason = f"plugin {path} cannot load: {type(err).__name__}: {err}"
        raise ConfigError(where, reason) from None
    finally:
        parent.registering = None
    functions = {name: value for name, value in registered.items() if name in PLUGIN_ENTRY_POINTS}
    instance = None
    class_name = registered.get("plugin")
    if class_name:
        plugin_class = namespace.get(str(class_name))
        if not isinstance(plugin_class, type):
            raise ConfigError(where, f"plugin {path}: self.plugin names {class_name!r}, which the"
                                     " file does not define as a class")  # fmt: skip
        try:
            instance = plugin_class(parent)
        except Exception as err:
            raise ConfigError(where, f"plugin {path}: {class_name}(parent) failed: "
                                     f"{type(err).__name__}: {err}") from None  # fmt: skip
        for name in PLUGIN_ENTRY_POINTS:
            method = getattr(instance, name, None)
            if callable(method):
                functions.setdefault(name, method)
    if entry != "plugin" and entry not in functions:
        raise ConfigError(
            where,
            f"plugin {path} registers no {entry} (it must set"
            f" self.{entry}, or self.plugin to a class with {entry})",
        )
    if not functions:
        raise ConfigError(
            where,
            f"plugin {path} registers no entry point (it must set"
            " self.plugin to a class, or self.on_<entry>)",
        )
    hooks = []
    for name, function in functions.items():
        if not callable(function):
            raise ConfigError(where, f"plugin {path}: self.{name} is not a function")
        schemes = None
        if name in PROTOCOL_ENTRY_POINTS:
            schemes = _schemes(registered, function, instance, path, where)
        if name == "destfn_script":
            function = _destfn_script(function)
        hooks.append((name, Hook(f"{path.stem}.{name}", function, schemes)))
    return hooks


def _destfn_script(function: Callable[[Parent], Any]) -> Callable[[Parent], Any]:
    """A v2 destfn_script: it renames the file by setting parent.new_file."""

    def call(parent: Parent) -> Any:
        msg = parent.msg
        if msg is not None and msg.new_file is not None:
            parent.new_file = msg.new_file
        result = function(parent)
        if msg is not None:
            msg.new_file = parent.new_file
        return result

    return call


def _schemes(registered: dict[str, Any], function: Any,
             instance: Any, path: Path, where: Where | None) -> frozenset[str] | None:  # fmt: skip
    """The URL schemes a protocol plugin takes, from its registered_as(); None = every one."""
    candidates = (
        getattr(getattr(function, "__self__", None), "registered_as", None),
        getattr(instance, "registered_as", None),
        registered.get("registered_as"),
    )
    for registered_as in candidates:
        if callable(registered_as):
            try:
                return frozenset(str(s) for s in registered_as())
            except Exception as err:
                raise ConfigError(where, f"plugin {path}: registered_as() failed: {err}") from None
    return None
