"""Reading a configuration: the files in order, line by line, into one typed Config.

Read order: default.conf, admin.conf, <component>.conf, then the config itself (each from
~/.config/sarra; for a config in sr3's tree, ~/.config/sr3, from there, with sr3's defaults).
Options given on the command line override what the files set, except the placement options
(directory, mirror, strip, flatten, filename) and accept/reject, which are applied before the
config's own lines so that its accept lines capture them.
"""

from __future__ import annotations

import os
import random
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from sarra.config import paths, types
from sarra.config.errors import ConfigError, ConfigErrors, Where
from sarra.config.masks import Mask, check_filename_keyword
from sarra.config.options import (
    COMPONENTS,
    CONFIG_COMPONENTS,
    FLOW,
    OPTIONS,
    PLUGINS,
    SR3_FORMS_UNDER_ANY_NAME,
    Kind,
    Option,
)
from sarra.config.options import closest as closest_option
from sarra.config.options import find as find_option
from sarra.config.variables import UnknownVariable, expand
from sarra.integrity.checksum import COD_FLAGS, DATA_FLAGS

_EVENTS = frozenset({"create", "delete", "link", "modify", "move", "mkdir", "rmdir"})
_UNESCAPED_SPACE = re.compile(r"(?<!\\)\s+")
_MAX_INCLUDE_DEPTH = 20
_CENTRE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")

_CONSUMERS = frozenset({"subscribe", "sarra", "shovel", "winnow", "sender", "report"})

ALSO_BROKER_DUPLICATES = 900.0
"""suppress_duplicates of a config with also_broker, unless it sets its own: 15 minutes, as a
WIS2 Global Broker remembers the ids it has seen."""


class Binding(NamedTuple):
    """One subtopic line, with the exchange and topic_prefix in force where it was read."""

    exchange: str | None
    topic_prefix: str
    subtopic: str
    where: Where


@dataclass
class Config:
    """The effective configuration of one component's config.

    Options are attributes (`config.broker`, `config.expire`); `origin` says which file and
    line set each one (absent = default). Options no table entry knows are kept, as lists of
    their values, in `plugin_options` when the config names plugins that may declare them.
    `plugin_lines` holds the plugin lines in force, in config order: (entry point, plugin,
    where).
    """

    component: str
    name: str
    dialect: str = "v2"
    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, Where] = field(default_factory=dict)
    masks: list[Mask] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    plugin_options: dict[str, list[str]] = field(default_factory=dict)
    plugin_lines: list[tuple[str, str, Where]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    home: str = ""
    """The directory its config is in, whose name keys its logs, pid files and state: its
    component's, or flow for one of sr3's flow/ with flowMain."""

    def __post_init__(self) -> None:
        self.home = self.home or self.component

    @property
    def program(self) -> str:
        """The program name, e.g. sr_subscribe."""
        return f"sr_{self.component}"

    def __getattr__(self, name: str) -> Any:
        option = find_option(name)
        if option is not None:
            return self.values[option.name]
        if name in self.plugin_options:
            return self.plugin_options[name]
        raise AttributeError(f"no option {name!r}")

    def broker_user(self) -> str | None:
        """The user name of the broker URL, if one is set."""
        return _url_user(self.values.get("broker"))


def _username(url: str | None) -> str | None:
    """The user name written in a URL, if any."""
    try:
        return urlsplit(url).username if url else None
    except ValueError:
        return None


def _url_user(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).username or "anonymous"
    except ValueError:
        return None


def new_config(component: str, name: str, dialect: str = "v2") -> Config:
    """A Config holding the defaults of a component, in a dialect (v2, or sr3's defaults)."""
    if component not in CONFIG_COMPONENTS:
        raise ValueError(f"unknown component {component!r}; known: {', '.join(COMPONENTS)}")
    config = Config(component=component, name=name, dialect=dialect)
    for option in OPTIONS.values():
        default = option.default_for(component, dialect)
        if isinstance(default, list | dict):
            default = type(default)(default)
        config.values[option.name] = default
    return config


class _Reader:
    """Applies config lines to a Config, collecting every error instead of stopping at one."""

    def __init__(self, config: Config, env: Mapping[str, str]) -> None:
        self.config = config
        self.env = dict(env)
        self.errors: list[ConfigError] = []
        self.unknown: dict[str, list[tuple[str, Where]]] = {}
        self.stack: list[Path] = []
        self.randid = f"{random.randrange(16**4):04x}"
        self.placement_after_mask: tuple[str, Where] | None = None

    # --- files and lines

    def read_file(self, path: Path, included_from: Where | None = None) -> None:
        resolved = path.resolve()
        if resolved in self.stack:
            self.errors.append(ConfigError(included_from, f"include loop: {path} includes itself"))
            return
        if len(self.stack) >= _MAX_INCLUDE_DEPTH:
            self.errors.append(ConfigError(included_from, f"includes nested too deep at {path}"))
            return
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            reason = err.strerror or str(err)
            self.errors.append(ConfigError(included_from, f"cannot read {path}: {reason}"))
            return
        except UnicodeDecodeError as err:
            self.errors.append(ConfigError(Where(str(path)), f"not UTF-8 text: {err.reason}"))
            return
        self.config.files.append(path)
        self.stack.append(resolved)
        try:
            for number, line in enumerate(text.splitlines(), start=1):
                self.read_line(line, Where(str(path), number))
        finally:
            self.stack.pop()

    def read_line(self, line: str, where: Where) -> None:
        text = line.strip()
        if not text or text.startswith("#"):
            return
        parts = text.split(None, 1)
        self.apply(parts[0], parts[1].strip() if len(parts) > 1 else None, where)

    # --- one option

    def apply(self, name: str, value: str | None, where: Where) -> None:
        option = find_option(name)
        if option is None:
            self.unknown.setdefault(name, []).append((value or "", where))
            return
        if option.deprecated:
            self.config.warnings.append(f"{where}: {name} is deprecated: {option.deprecated}")
        elif option.not_built:
            self.config.warnings.append(
                f"{where}: {name} has no effect in sarra: {option.not_built}"
            )
        try:
            if value is not None:
                value = expand(value, self._lookup, keep_per_notice=option.per_notice,
                               keep=option.keeps)  # fmt: skip
            if option.sr3_value is not None and (
                name in option.sr3 or option.name in SR3_FORMS_UNDER_ANY_NAME
            ):
                value = option.sr3_value(value, self.config.values[option.name])
            self._set(option, value, where)
        except (ValueError, re.error) as err:
            self.errors.append(ConfigError(where, f"{name}: {err}"))
        except ConfigError as err:
            self.errors.append(err)

    def _set(self, option: Option, value: str | None, where: Where) -> None:
        config = self.config
        kind = option.kind
        if value is None and kind not in (Kind.FLAG, Kind.DURATION_OR_FLAG):
            raise ValueError("needs a value")
        match kind:
            case Kind.INCLUDE:
                self._include(str(value), where)
                return
            case Kind.MASK:
                config.masks.append(self._mask(option.name != "reject", str(value), where))
                self.placement_after_mask = None
                return
            case Kind.SUBTOPIC:
                self._subtopic(str(value), where)
            case Kind.HEADER:
                key, sep, header_value = str(value).partition("=")
                if not sep or not key.strip():
                    raise ValueError(f"{value!r} is not name=value")
                headers = config.values[option.name]
                headers[key.strip()] = None if header_value.strip() == "None" else header_value
            case Kind.DECLARE:
                config.values[option.name].append(self._declare(str(value)))
            case Kind.REPEAT:
                plugin = option.group == PLUGINS
                if str(value).lower() == "none":
                    config.values[option.name] = []
                    if plugin:
                        config.plugin_lines = [
                            p for p in config.plugin_lines if p[0] != option.name
                        ]
                else:
                    config.values[option.name].append(_validate_each(option.name, str(value)))
                    if plugin:
                        config.plugin_lines.append((option.name, str(value), where))
            case _:
                config.values[option.name] = _parse_scalar(option, value)
        if option.order_dependent:
            self.placement_after_mask = (option.name, where)
        if option.name in ("exchange", "topic_prefix") and config.bindings:
            config.warnings.append(
                f"{where}: {option.name} comes after subtopic lines, which keep the earlier"
                f" {option.name}; put it before the subtopics it is meant for"
            )
        config.origin[option.name] = where

    def _lookup(self, name: str) -> str | None:
        config = self.config
        fixed = {
            "HOSTNAME": socket.gethostname(),
            "PROGRAM": config.program,
            "CONFIG": config.name,
            "RANDID": self.randid,
        }
        if name in fixed:
            return fixed[name]
        if name in ("BROKER_USER", "POST_BROKER_USER"):
            url = config.values["broker" if name == "BROKER_USER" else "post_broker"]
            user = _url_user(url)
            if user is None:
                raise UnknownVariable(f"${{{name}}} used before a broker is set")
            return user
        if name in self.env:
            return self.env[name]
        option = find_option(name)
        if option is not None and option.kind not in (Kind.MASK, Kind.INCLUDE):
            value = config.values.get(option.name)
            return "" if value is None else str(value)
        return None

    def _include(self, value: str, where: Where) -> None:
        matches = self._include_candidates(value, Path(where.file).parent)
        if not matches:
            raise ConfigError(where, f"include: {value} not found")
        for path in matches:
            self.read_file(path, where)

    def _include_candidates(self, value: str, here: Path) -> list[Path]:
        dialect = self.config.dialect
        bases = [here, paths.component_dir(self.config.component, dialect),
                 paths.config_root(dialect)]  # fmt: skip
        name = os.path.expanduser(value)
        import glob  # include lines are few

        for base in bases:
            for suffix in ("", ".inc", ".conf"):
                pattern = str(base / (name + suffix))
                if glob.has_magic(name):
                    found = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_file())
                    if found:
                        return found
                elif Path(pattern).is_file():
                    return [Path(pattern)]
        return []

    def _sr3_poll_paths(self) -> None:
        """sr3's poll lists the directories of its `path` lines, each name read through every
        accept and reject line (and taken when none matches, with acceptUnmatched); a poll
        here lists the directories of its accept lines: each path gets every line."""
        config = self.config
        rules = [*config.masks]
        if config.values["accept_unmatch"]:
            rules.append(self._mask(True, ".*", config.origin["path"]))
        polled = config.values["path"]
        config.masks = [replace(m, directory=p) for p in polled for m in rules]
        config.values["directory"] = polled[0]

    def _mask(self, accept: bool, value: str, where: Where) -> Mask:
        words = _UNESCAPED_SPACE.split(value)
        if len(words) > 2:
            raise ValueError("takes a pattern and at most one file-name keyword")
        pattern = words[0]
        if len(words) > 1:
            check_filename_keyword(words[1])
        values = self.config.values
        return Mask(
            pattern=pattern,
            regex=re.compile(pattern),
            accept=accept,
            directory=values["directory"],
            mirror=values["mirror"],
            strip=values["strip"],
            flatten=values["flatten"],
            filename=words[1] if len(words) > 1 else values["filename"],
            where=where,
        )

    def _subtopic(self, value: str, where: Where) -> None:
        config = self.config
        if value.lower() == "none":
            config.bindings.clear()
            config.values["subtopic"] = []
            return
        config.bindings.append(
            Binding(config.values["exchange"], config.values["topic_prefix"], value, where)
        )
        config.values["subtopic"].append(value)

    def _declare(self, value: str) -> tuple[str, str]:
        what, _, rest = value.partition(" ")
        rest = rest.strip()
        if what not in ("env", "source", "subscriber", "exchange") or not rest:
            raise ValueError(
                f"{value!r}: use declare env K=V, declare source|subscriber <user>"
                " or declare exchange <name>"
            )
        if what == "env":
            key, sep, env_value = rest.partition("=")
            if not sep:
                raise ValueError(f"{rest!r} is not K=V")
            self.env[key.strip()] = env_value.strip()
        return what, rest

    # --- the end of reading

    def finish(self) -> None:
        config = self.config
        has_plugins = bool(config.plugin_lines)
        for name, uses in self.unknown.items():
            if has_plugins:
                config.plugin_options[name] = [value for value, _ in uses]
                config.origin[name] = uses[0][1]
                continue
            hint = closest_option(name)
            reason = f"unknown option {name!r}"
            if hint:
                reason += f"; did you mean {hint!r}?"
            for _, where in uses:
                self.errors.append(ConfigError(where, reason))
        if self.placement_after_mask and not config.values["accept_unmatch"]:
            name, where = self.placement_after_mask
            config.warnings.append(
                f"{where}: {name} is followed by no accept line, so it applies to nothing"
                " (accept_unmatch is False)"
            )
        if not config.masks and not config.values["accept_unmatch"]:
            config.warnings.append(
                f"{config.name}: no accept line and accept_unmatch is False: every notice is"
                " rejected"
            )
        if (
            config.component == "winnow"
            and config.values["instances"] > 1
            and not config.values["exchange_split"]
            and config.values["nodupe_driver"] == "disk"
        ):
            # Each instance keeps its own cache: copies of a product must reach the same one.
            config.values["exchange_split"] = True
            config.warnings.append(
                f"{config.name}: a winnow of {config.values['instances']} instances with its "
                "cache on disk splits its exchange (exchange_split): each instance binds "
                "<exchange>NN, fed by post_exchange_split upstream (or use nodupe_driver redis)"
            )
        if config.component not in _CONSUMERS and "${BUP" in (config.values["post_base_url"] or ""):
            self.errors.append(ConfigError(config.origin.get("post_base_url"), "post_base_url: "
                "${BUP} and ${BUPL} come from a received notice's base URL: sr_"
                f"{config.component} receives none"))  # fmt: skip
        for name, meant in (("also_broker", _CONSUMERS), ("wis2_global_cache", {"sarra"})):
            if config.values[name] and config.component not in meant:
                config.warnings.append(
                    f"{config.origin[name]}: {name} has no effect on sr_{config.component}"
                    f" (it is for sr_{', sr_'.join(sorted(meant))})"
                )
        if config.dialect == "sr3" and not (
            config.values["source"] or config.values["source_from_exchange"]
        ):
            # sr3 names as the source of what it posts or passes on the user it posts as
            # (else the one it consumes as)
            users = (_username(config.values[n]) for n in ("post_broker", "broker"))
            config.values["source"] = next((u for u in users if u), None)
        if config.dialect == "sr3" and config.component == "poll" and config.values["path"]:
            self._sr3_poll_paths()
        if config.values["also_broker"] and "suppress_duplicates" not in config.origin:
            # The same notices come from every broker: without a cache, each would be handled
            # once per broker.
            config.values["suppress_duplicates"] = ALSO_BROKER_DUPLICATES
        self.errors.sort(key=lambda e: (e.where.file, e.where.line) if e.where else ("", 0))
        if self.errors:
            raise ConfigErrors(self.errors)


def _parse_scalar(option: Option, value: str | None) -> Any:
    kind = option.kind
    if kind == Kind.FLAG:
        return True if value is None else types.parse_bool(value)
    if kind == Kind.DURATION_OR_FLAG:
        if value is None or value.lower() in types.TRUE_WORDS - {"1"}:
            return 300.0
        if value.lower() in types.FALSE_WORDS:
            return 0.0
        return types.parse_duration(value)
    assert value is not None
    parsed: Any
    match kind:
        case Kind.COUNT:
            parsed = types.parse_count(value)
        case Kind.NUMBER:
            parsed = types.parse_float(value)
        case Kind.DURATION:
            parsed = types.parse_duration(value)
        case Kind.SIZE:
            parsed = types.parse_size(value)
        case Kind.OCTAL:
            parsed = types.parse_octal(value)
        case Kind.LIST:
            parsed = types.parse_list(value)
        case Kind.CHOICE:
            parsed = value.lower()
            if parsed not in option.choices:
                raise ValueError(f"{value!r} is not one of {', '.join(option.choices)}")
        case Kind.URL:
            parsed = _check_url(value)
        case _:
            parsed = value
    return _validate(option.name, parsed)


def _check_url(value: str) -> str:
    try:
        hosts = types.split_hosts(value) if value.lower().startswith("amqp") else [value]
        for one in hosts:  # the nodes of a cluster: amqp://user@host1,host2:5702/
            parts = urlsplit(one)
            parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        raise ValueError(f"not a valid URL: {err}") from None
    if not parts.scheme or ("://" not in value and parts.scheme != "file"):
        raise ValueError("not a URL (expected scheme://[user@]host[:port]/...)")
    if not parts.hostname and parts.scheme not in ("file", "amqp", "amqps", "mqtt", "mqtts"):
        raise ValueError(f"{value!r} names no host")
    return value


def _validate_each(name: str, value: str) -> str:
    """Checks of each value of a repeatable option."""
    if name == "also_broker":
        return _check_url(value)
    if name in ("wis2_data_id", "wis2_metadata_id"):
        re.compile(value)
    return value


def _validate(name: str, value: Any) -> Any:
    """Checks of single options whose text has more shape than their kind says."""
    if name == "sum":
        flag, _, algorithm = value.partition(",")
        if flag not in DATA_FLAGS:
            raise ValueError(f"{value!r}: checksum method must be one of {' '.join(DATA_FLAGS)}")
        if flag == "z" and algorithm not in COD_FLAGS:
            raise ValueError(f"{value!r}: z needs the checksum to compute on download, e.g. z,d")
    elif name == "events":
        unknown = [e for e in value.split("|") if e not in _EVENTS]
        if unknown:
            raise ValueError(f"unknown event {unknown[0]!r}; known: {'|'.join(sorted(_EVENTS))}")
    elif name == "strip" and not value.isdigit():
        re.compile(value)
    elif name == "destination_timezone":
        import zoneinfo  # with sysconfig: 3 ms of imports, for this option alone

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r}: not a time zone (e.g. UTC, America/Montreal)") from None
    elif name == "vip":
        for address in value:
            types.parse_address(address)
    elif name == "filename" and value.upper() != "NONE":
        check_filename_keyword(value)
    elif name == "post_topic" and "${WIS2_DIR}" in value:
        raise ValueError("${WIS2_DIR} is the topic's own directory: post_topic cannot use it")
    elif name == "log_format":
        types.check_log_format(value)
    elif name == "wis2_bbox":
        types.parse_bbox(value)
    elif name == "wis2_time_window":
        types.parse_time_window(value)
    elif name == "wis2_global_cache" and not _CENTRE_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a centre-id (e.g. xx-name-global-cache)")
    elif name == "parts" and not re.fullmatch(r"0(,\d+)?|1|i,\d+|p", value):
        raise ValueError(f"{value!r}: use 0[,blocksize], 1, i,blocksize or p")
    return value


def resolve_config_path(component: str, ref: str) -> Path:
    """The file a config reference names: a path, or a name under ~/.config/sarra/<component>/,
    else under ~/.config/sr3/<component>/ (sarra's wins where both trees have the name)."""
    given = Path(os.path.expanduser(ref))
    if given.is_file():
        return given
    stem = ref[: -len(".conf")] if ref.endswith(".conf") else ref
    found = config_file(component, stem)
    if found is not None:
        return found
    if config_file(component, stem, disabled=True) is not None:
        raise ConfigError(
            None,
            f"{component} config {stem} is disabled; run: sr_{component} enable {stem}",
        )
    known = config_names(component)
    import difflib  # only for a mistake: not at every start

    hint = difflib.get_close_matches(stem, known, n=1)
    candidate = paths.component_dir(component) / f"{stem}.conf"
    reason = f"no config {ref!r}: not a file, and no {candidate}"
    if paths.sr3_config_dir().is_dir():
        reason += f" nor {paths.component_dir(component, 'sr3') / f'{stem}.conf'}"
    if hint:
        reason += f"; did you mean {hint[0]!r}?"
    raise ConfigError(None, reason)


def config_file(component: str, name: str, *, disabled: bool = False) -> Path | None:
    """The file of a config by name (with disabled: of the disabled one): in sarra's tree, or
    in sr3's when sarra's has no config of that name, enabled or not (see shadowed); None when
    there is none."""
    for dialect in paths.DIALECTS:
        directory = paths.component_dir(component, dialect)
        if (directory / f"{name}.conf").is_file() or (directory / f"{name}.conf.off").is_file():
            found = directory / f"{name}{'.conf.off' if disabled else '.conf'}"
            return found if found.is_file() else None
    return None


def _names_in(directory: Path, suffix: str) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.name[: -len(suffix)] for p in directory.iterdir() if p.name.endswith(suffix))


def config_names(component: str, *, disabled: bool = False) -> list[str]:
    """The names of a component's configs (with disabled: the disabled ones instead), from
    sarra's tree and sr3's; a name sarra's tree has, enabled or not, is sarra's (shadowed)."""
    suffix = ".conf.off" if disabled else ".conf"
    mine = paths.component_dir(component)
    names = set(_names_in(mine, suffix))
    names |= {
        n
        for n in _names_in(paths.component_dir(component, "sr3"), suffix)
        if not (mine / f"{n}.conf").is_file() and not (mine / f"{n}.conf.off").is_file()
    }
    return sorted(names)


def shadowed(component: str) -> list[Path]:
    """The configs of sr3's tree that are not run because sarra's tree has a config (enabled
    or not) of the same component and name."""
    mine, theirs = paths.component_dir(component), paths.component_dir(component, "sr3")
    return [
        theirs / f"{name}{suffix}"
        for suffix in (".conf", ".conf.off")
        for name in _names_in(theirs, suffix)
        if (mine / f"{name}.conf").is_file() or (mine / f"{name}.conf.off").is_file()
    ]


def config_name(path: Path) -> str:
    """The name of a config: its file name without .conf."""
    return path.name[: -len(".conf")] if path.name.endswith(".conf") else path.stem


def load(
    component: str,
    path: Path | None,
    *,
    overrides: Iterable[tuple[str, str | None]] = (),
    env: Mapping[str, str] | None = None,
    name: str | None = None,
    dialect: str | None = None,
) -> Config:
    """Read the configuration of a component: the common files, then the config at path.

    overrides are (option, value) pairs from the command line. The dialect (v2 or sr3) is that
    of the tree the config is in unless given: it picks the defaults and the common files.
    A config of sr3's flow/ with flowMain X is read as one of component X.
    Raises ConfigErrors naming every faulty file:line.
    """
    if dialect is None:
        dialect = paths.dialect_of(path) if path is not None else "v2"
    config = new_config(component, name or (config_name(path) if path else component), dialect)
    reader = _Reader(config, os.environ if env is None else env)
    root = paths.config_root(dialect)
    for common in ("default.conf", "admin.conf", f"{component}.conf"):
        if (root / common).is_file():
            reader.read_file(root / common)
    command_line = Where("command line")
    early = [(n, v) for n, v in overrides if _applies_before_file(n)]
    late = [(n, v) for n, v in overrides if not _applies_before_file(n)]
    for option_name, value in early:
        reader.apply(option_name, value, command_line)
    if path is not None:
        reader.read_file(path)
    for option_name, value in late:
        reader.apply(option_name, value, command_line)
    reader.finish()
    if component == FLOW and config.values["flow_main"] != FLOW:
        config = load(config.values["flow_main"], path, overrides=overrides, env=env,
                      name=config.name, dialect=dialect)  # fmt: skip
        config.home = FLOW
    return config


def _applies_before_file(name: str) -> bool:
    option = find_option(name)
    return option is not None and (option.order_dependent or option.kind == Kind.MASK)
