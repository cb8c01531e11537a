"""`show`: the effective configuration, each option with its value and where it was set;
the bindings; the ordered accept/reject rules with what each captured. Secrets redacted."""

from __future__ import annotations

from typing import Any

from sarra.config.credentials import redact_text, redact_url
from sarra.config.loader import Config
from sarra.config.options import GROUPS, OPTIONS, Kind, Option
from sarra.config.types import format_duration, format_size


def format_value(option: Option, value: Any) -> str:
    """An option's value written as it would be in a config file."""
    if value is None:
        return "-"
    match option.kind:
        case Kind.FLAG:
            return "True" if value else "False"
        case Kind.DURATION | Kind.DURATION_OR_FLAG:
            return format_duration(value) if value else "0"
        case Kind.SIZE:
            return format_size(value)
        case Kind.OCTAL:
            return f"{value:o}" if value else "0"
        case Kind.URL:
            return redact_url(value)
        case Kind.LIST:
            return ",".join(value) if value else "-"
        case Kind.REPEAT | Kind.SUBTOPIC:
            return " ; ".join(value) if value else "-"
        case Kind.HEADER:
            return " ".join(f"{k}={v}" for k, v in value.items()) if value else "-"
        case Kind.DECLARE:
            return " ; ".join(f"{what} {rest}" for what, rest in value) if value else "-"
        case _:
            return str(value)


def render(config: Config) -> str:
    """The text of `show` for a config."""
    lines = [f"# {config.program} {config.name}: effective configuration"]
    lines += [f"# read: {path}" for path in config.files]
    lines.append("")
    shown = [
        option
        for group in GROUPS
        for option in OPTIONS.values()
        if option.group == group and option.kind not in (Kind.MASK, Kind.INCLUDE)
    ]
    lines.append(f"{'# option set':<28} {'value':<44} set by")
    for option in shown:
        if option.name in config.origin:
            value = format_value(option, config.values[option.name])
            lines.append(f"{option.name:<28} {value:<44} {config.origin[option.name]}")
    for name, values in config.plugin_options.items():
        lines.append(f"{name:<28} {' ; '.join(values):<44} (for plugins)")
    lines.append("")
    lines.append(f"{'# option by default':<28} value")
    for option in shown:
        if option.name not in config.origin and not option.deprecated:
            lines.append(f"{option.name:<28} {format_value(option, config.values[option.name])}")

    lines.append("")
    lines.append("# bindings: exchange, binding key")
    if config.bindings:
        for binding in config.bindings:
            key = f"{binding.topic_prefix}.{binding.subtopic}"
            lines.append(f"{binding.exchange or '-'}  {key}  {binding.where}")
    elif "subtopic" in config.origin:
        lines.append("(none: subtopic None)")
    else:
        exchange = config.values["exchange"] or "-"
        lines.append(f"{exchange}  {config.values['topic_prefix']}.#  default")

    lines.append("")
    unmatched = "accepted" if config.values["accept_unmatch"] else "rejected"
    lines.append(f"# accept/reject rules, first match wins; a URL matching none is {unmatched}")
    for number, mask in enumerate(config.masks, start=1):
        lines.append(f"{number:>3}  {mask.describe()}  {mask.where}")
    if not config.masks:
        lines.append("(none)")

    if config.warnings:
        lines.append("")
        lines.append("# warnings")
        lines.extend(config.warnings)
    return redact_text("\n".join(lines)) + "\n"
