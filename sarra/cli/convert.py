"""`sr convert`: a config of sarra's tree (v2's names) written into sr3's tree with sr3's names,
or one of sr3's tree written back into sarra's (`--to v2`).

Line by line: comments, blank lines, accept/reject and every line the option table does not
know (plugin options) are kept as written; an option is renamed to the target's own name, and
the few whose values sr3 writes otherwise (sum/identity, notify_only/download, events/fileEvents,
kbytes_ps/byteRateMax) get the target's form. Where the two trees' defaults differ
(topic_prefix, accept_unmatch, ...), the value the config had is written at the top, so that it
behaves the same when read with the other tree's defaults. An existing file is never replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sarra.config import paths
from sarra.config.errors import ConfigError
from sarra.config.loader import Config, config_name, load
from sarra.config.options import OPTIONS, Kind, Option, find
from sarra.config.show import format_value

_TO_SR3_IDENTITY = {"d": "md5", "s": "sha512", "n": "md5name", "0": "random", "a": "arbitrary"}


def _sr3_form(option: Option, value: str) -> tuple[str, str]:
    """(name, value) of a sarra option's line as sr3 writes it."""
    name = option.sr3_name
    match option.name:
        case "sum":
            flag, _, algorithm = value.partition(",")
            if flag == "z":
                return name, f"cod,{_TO_SR3_IDENTITY.get(algorithm, algorithm)}"
            return name, _TO_SR3_IDENTITY.get(flag, value)
        case "notify_only":
            return name, "False" if value.lower() in ("", "true", "yes", "on", "1") else "True"
        case "events":
            return name, value.replace("|", ",")
        case "kbytes_ps":
            return name, str(int(value) * 1024)
    return name, value


def _written(option: Option, value: Any, dialect: str) -> str:
    """A value in config syntax (sizes as plain bytes for sr3, whose k is 1000)."""
    if option.kind == Kind.SIZE and dialect == "sr3":
        return str(value)
    return format_value(option, value)


def _line(name: str, rest: str, component: str, config: Config, dialect: str) -> str:
    """One option line in the target dialect (name and value)."""
    option = find(name)
    if option is None or option.kind in (Kind.MASK, Kind.INCLUDE):
        return f"{name} {rest}".rstrip()
    if dialect == "sr3":
        if name in option.sr3 or not option.sr3:
            return f"{name} {rest}".rstrip()
        new_name, value = _sr3_form(option, rest)
        if option.name == "destination" and component == "poll":
            new_name = "pollUrl"
        return f"{new_name} {value}".rstrip()
    if name not in option.sr3 or name == option.name:
        return f"{name} {rest}".rstrip()
    if option.sr3_value is not None:  # sr3's form (a set, an inverted flag...): its outcome
        rest = _written(option, config.values[option.name], "v2")
    return f"{option.name} {rest}".rstrip()


def _pinned(config: Config, source: Path, dialect: str) -> list[str]:
    """Lines giving the values the config had where the target tree's defaults differ."""
    lines = []
    for option in OPTIONS.values():
        where = config.origin.get(option.name)
        if where is not None and Path(where.file) == source:
            continue
        value = config.values[option.name]
        if value is None or option.default_for(config.component, dialect) == value:
            continue
        text = _written(option, value, dialect)
        if dialect == "sr3":
            name, text = _sr3_form(option, text)
        else:
            name = option.name
        lines.append(f"{name} {text}")
    return lines


def convert(component: str, source: Path, dialect: str) -> str:
    """The text of a config converted into a dialect (sr3 or v2); ConfigErrors if it does not
    read."""
    origin = "sr3" if dialect == "v2" else "v2"
    config = load(component, source, dialect=origin)
    out = [f"# converted by sr convert from {source}"]
    pinned = _pinned(config, source, dialect)
    if pinned:
        out += [f"# {origin}'s defaults where {dialect}'s differ:", *pinned, ""]
    for raw in source.read_text(encoding="utf-8").splitlines():
        text = raw.strip()
        if not text or text.startswith("#"):
            out.append(raw)
            continue
        parts = text.split(None, 1)
        out.append(_line(parts[0], parts[1] if len(parts) > 1 else "", component, config, dialect))
    return "\n".join(out) + "\n"


def convert_config(component: str, name: str, dialect: str) -> Path:
    """Convert the config `name` of the other tree into the tree of `dialect`; returns the file
    written. ConfigError when there is nothing to convert or the target exists."""
    origin = "sr3" if dialect == "v2" else "v2"
    source = paths.component_dir(component, origin) / f"{name.removesuffix('.conf')}.conf"
    if not source.is_file():
        raise ConfigError(None, f"no config {source} to convert")
    target = paths.component_dir(component, dialect) / f"{config_name(source)}.conf"
    for existing in (target, target.with_name(target.name + ".off")):
        if existing.exists():
            raise ConfigError(None, f"{existing} already exists: remove it first")
    text = convert(component, source, dialect)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
