"""`self.o`: a config's options as sr3 flow callbacks read them, under sr3's names.

A name is looked up, in order: among the settings of the callback's class (`set
<module.Class>.<name> <value>` lines) and what callbacks set or declared (`add_option`); among
the few values whose shape sr3 gives differently (broker, logLevel, topicPrefix, ...); in the
option table, by the name or any alias it knows, else by the same name in snake case
(post_baseDir -> post_base_dir, bufSize -> bufsize, logLevel -> loglevel); then among the
lines the config holds for plugins (a list of the values written). Unknown: AttributeError, so
`hasattr(self.o, name)` is False as in sr3.

`add_option(name, kind, default)` declares an option (the config may then set it) and makes
its value of the kind asked: count, octal, duration, flag, float, list, set, size or str.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

from sarra.broker import plan
from sarra.compat.plugin_parent import Parent
from sarra.compat.sr3 import api
from sarra.config import paths, types
from sarra.config.loader import Config
from sarra.config.masks import Mask
from sarra.config.options import Option, find
from sarra.config.variables import UnknownVariable, expand
from sarra.integrity.checksum import DATA_FLAGS

LOG_EVENTS = ("after_accept", "after_work", "after_post", "on_housekeeping")
"""The points `callback log` logs at unless logEvents says otherwise."""

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def table_option(name: str) -> Option | None:
    """The option of the table an sr3 name stands for: the name or an alias, else the same
    name in snake case, with or without its underscores."""
    snake = _CAMEL.sub(r"_\1", name).lower()
    for candidate in (name, snake, snake.replace("_", "")):
        option = find(candidate)
        if option is not None:
            return option
    return None


def _url(value: str | None) -> SimpleNamespace | None:
    """A broker as sr3 holds it: an object whose `url` is the parsed URL."""
    return SimpleNamespace(url=urlparse(value)) if value else None


def _words(value: str | None) -> list[str]:
    return value.split("/" if "/" in value else ".") if value else []


def _mask(mask: Mask) -> tuple[Any, ...]:
    """An accept/reject line as sr3 holds it: pattern, directory, filename, regex, accept,
    mirror, strip (count), strip (pattern), flatten, arguments."""
    count = int(mask.strip) if str(mask.strip).isdigit() else 0
    pattern = None if str(mask.strip).isdigit() else mask.strip
    return (mask.pattern, mask.directory, mask.filename, mask.regex, mask.accept, mask.mirror,
            count, pattern, mask.flatten, {})  # fmt: skip


def _seconds(value: float) -> float | int:
    """A duration as sr3 holds it: whole seconds as an int (callbacks format them with :d)."""
    return int(value) if float(value).is_integer() else value


def _publishers(config: Config) -> list[dict[str, Any]]:
    """sr3's list of where notices are posted: the post broker and its exchanges."""
    url = plan.post_broker(config)
    if url is None:
        return []
    return [{"broker": _url(url), "exchange": plan.post_exchanges(config)}]


def _identity_method(sum_flag: str | None) -> str:
    """sr3's name of the checksum method a `sum` flag stands for (`z,s` -> `cod,sha512`)."""
    flag, _, argument = str(sum_flag or "s").partition(",")
    method = DATA_FLAGS.get(flag, "sha512")
    return f"cod,{DATA_FLAGS.get(argument, argument)}" if method == "cod" else method


def _log_level(config: Config) -> str:
    level = "debug" if config.debug else str(config.loglevel)
    return "critical" if level == "none" else level


_SHAPED: dict[str, Callable[[Config, Parent], Any]] = {
    "component": lambda c, p: c.component,
    "config": lambda c, p: c.name,
    "no": lambda c, p: p.no,
    "program_name": lambda c, p: c.program,
    "logLevel": lambda c, p: _log_level(c),
    "broker": lambda c, p: _url(c.broker),
    "post_broker": lambda c, p: _url(c.post_broker),
    "topicPrefix": lambda c, p: _words(c.topic_prefix),
    "post_topicPrefix": lambda c, p: _words(c.post_topic_prefix or c.topic_prefix),
    "housekeeping": lambda c, p: c.heartbeat,
    "nodupe_ttl": lambda c, p: _seconds(c.suppress_duplicates),
    "fixed_headers": lambda c, p: dict(c.header),
    "hostname": lambda c, p: socket.gethostname(),
    "statehost": lambda c, p: c.statehost != "false",
    "hostdir": lambda c, p: (
        socket.getfqdn() if c.statehost == "fqdn" else socket.gethostname().partition(".")[0]
    ),
    "currentDir": lambda c, p: c.directory,
    "cfg_run_dir": lambda c, p: str(paths.state_dir(c.home, c.name)),
    "credentials": lambda c, p: p.credentials,
    "download": lambda c, p: c.component != "sender" and not c.notify_only,
    "pid_filename": lambda c, p: str(paths.pid_file(c.home, c.name, p.no)),
    "masks": lambda c, p: [_mask(m) for m in c.masks],
    "identity_method": lambda c, p: _identity_method(c.values["sum"]),
    "v2plugins": lambda c, p: {},
    "declared_users": lambda c, p: {
        user: role
        for role, user in c.declare
        if role in ("source", "subscriber", "feeder", "admin")
    },
    "publishers": lambda c, p: _publishers(c),
    "logEvents": lambda c, p: _set_of(c.values["logEvents"], LOG_EVENTS, None),
    "postpath": lambda c, p: list(c.path or []),
}
"""sr3 names whose value sr3 gives in another shape than the table's option (or that the table
does not hold)."""


CONFIG_KEY = "_sarra_config"
"""Where dictify puts the config itself (for sarracenia.moth's connections)."""

DICT_NAMES = ("exchange", "post_exchange", "post_format", "batch", "timeout", "queueName",
              "subtopic", "messageAgeMax", "tlsRigour", "report_exchange", "post_baseUrl",
              "post_baseDir", "baseDir", "logEvents", "logFormat")  # fmt: skip
"""sr3 names of the table's options that dictify gives, beside those of _SHAPED."""


class Options:
    """sr3's options object for the flow callbacks of one config (see the module's doc)."""

    def __init__(
        self,
        config: Config,
        parent: Parent,
        settings: dict[str, dict[str, str]] | None = None,
        own: dict[str, Any] | None = None,
    ) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_parent", parent)
        object.__setattr__(self, "_own", own if own is not None else {})
        object.__setattr__(self, "settings", settings if settings is not None else {})

    def for_class(self, names: Iterable[str]) -> Options:
        """The options a callback class gets: these very options, or a copy of them with the
        settings of the class (`set <name>.<option> value`, under any of its names)."""
        found: dict[str, str] = {}
        for name in names:
            found.update(self.settings.get(name, {}))
        if not found:
            return self
        return Options(self._config, self._parent, self.settings, {**self._own, **found})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        own = self._own
        if name in own:
            return own[name]
        config = self._config
        shaped = _SHAPED.get(name)
        if shaped is not None:
            return shaped(config, self._parent)
        option = table_option(name)
        if option is not None:
            return config.values[option.name]
        if name in config.plugin_options:
            return config.plugin_options[name]
        raise AttributeError(f"no option {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._own[name] = value

    def __delattr__(self, name: str) -> None:
        self._own.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and hasattr(self, name)

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def __delitem__(self, name: str) -> None:
        self._own.pop(name, None)

    def dictify(self) -> dict[str, Any]:
        """The options as a dict under sr3's names (those of sarracenia.moth among them), with
        the config itself under sarracenia.moth's CONFIG_KEY."""
        found: dict[str, Any] = {}
        for name in (*_SHAPED, *DICT_NAMES, *self._own):
            try:
                found[name] = getattr(self, name)
            except AttributeError:
                continue
        found[CONFIG_KEY] = self._config
        return found

    def __deepcopy__(self, memo: dict[int, Any]) -> Options:
        return Options(self._config, self._parent, self.settings, dict(self._own))

    def declare_option(self, name: str) -> None:
        """Make an option known (a config may set it) without giving it a kind."""
        self._parent.declare_option(name)

    def restart_instance(self) -> None:
        """Stop this instance so that it starts afresh (sarra's built-in callbacks)."""
        self._parent.restart_instance()

    def apply(self, name: str, value: Any) -> None:
        """Set one of sarra's own options (sarra's built-in callbacks: the duplicate cache
        they stand for), unless the config set it."""
        option = find(name)
        if option is not None and option.name not in self._config.origin:
            self._config.values[option.name] = value

    def add_option(
        self,
        option: str,
        kind: Any = "list",
        default_value: Any = None,
        all_values: Iterable[str] | None = None,
    ) -> None:
        """Declare an option that the config may set, and give it the value of its kind (as
        written, else `default_value`). ValueError when the written value is not of its
        kind."""
        self._parent.declare_option(option)
        kind = {bool: "flag", float: "float", list: "list", set: "set", str: "str",
                int: "count"}.get(kind, kind)  # fmt: skip
        if option in self._own:
            written: Any = self._own[option]
        else:
            try:
                written = getattr(self, option)
            except AttributeError:
                written = None
        try:
            value = _of_kind(str(kind), written, default_value, all_values)
        except ValueError as err:
            raise ValueError(f"option {option}: {err}") from None
        self._own[option] = value

    def variableExpansion(self, text: str, message: Any = None) -> str:
        """`${NAME}` in text replaced: dates, the notice's SOURCE, the options, the
        environment; a name nobody knows is left as written."""
        fields = message if isinstance(message, dict) else {}

        def lookup(name: str) -> str | None:
            if name == "SOURCE" and fields.get("source"):
                return str(fields["source"])
            if name in ("HOSTNAME", "PROGRAM", "CONFIG"):
                return {"HOSTNAME": socket.gethostname(), "PROGRAM": self._config.program,
                        "CONFIG": self._config.name}[name]  # fmt: skip
            if name in os.environ:
                return os.environ[name]
            option = table_option(name)
            if option is not None and self._config.values.get(option.name) is not None:
                return str(self._config.values[option.name])
            return None

        try:
            return expand(str(text), lookup)
        except UnknownVariable:
            return str(text)


def _last(written: Any) -> Any:
    return written[-1] if isinstance(written, list) and written else written


def _of_kind(kind: str, written: Any, default: Any, all_values: Iterable[str] | None) -> Any:
    """A written value (a list of lines' values, a string, or a value of the table already
    typed), or the default when nothing is written, as a value of `kind`."""
    if kind == "set":
        return _set_of(written, default, all_values)
    if kind == "list":
        if written is None:
            return list(default) if isinstance(default, list | tuple | set) else default
        return list(written) if isinstance(written, list | tuple | set) else [written]
    value = _last(written)
    if value is None or value == []:
        value = default
    if value is None or not isinstance(value, str):
        return value
    match kind:
        case "count":
            return types.parse_count(value)
        case "octal":
            return types.parse_octal(value)
        case "duration":
            return api.durationToSeconds(value, default)
        case "flag":
            return True if value == "" else types.parse_bool(value)
        case "float":
            return types.parse_float(value)
        case "size":
            return types.parse_size(value)
    return value


def _set_of(written: Any, default: Any, all_values: Iterable[str] | None) -> set[str]:
    """sr3's set options: `a,b` (or `a|b`) sets, `+a` adds, `-a` removes, `None` empties."""
    value: set[str] = set(default or ())
    lines = written if isinstance(written, list) else [] if written is None else [written]
    for line in lines:
        if isinstance(line, set | frozenset | tuple):
            value = set(line)
            continue
        text = str(line).replace("|", ",").strip()
        if text == "None":
            value = set()
            continue
        sign = ""
        while text[:1] in ("+", "-"):
            sign, text = text[0], text[1:]
        words = {w.strip() for w in text.split(",") if w.strip()}
        value = value | words if sign == "+" else value - words if sign == "-" else words
    allowed = set(all_values or ())
    if allowed and not value <= allowed:
        unknown = ", ".join(sorted(value - allowed))
        raise ValueError(f"{unknown} not among {', '.join(sorted(allowed))}")
    return value
