"""The option reference of docs/options.md, generated from the option table so it cannot drift.

Regenerate with: python -m sarra.config.reference > docs/options.md
"""

from __future__ import annotations

from sarra.config.options import COMPONENTS, GROUPS, OPTIONS, Kind, Option
from sarra.config.show import format_value

KIND_HELP = {
    Kind.FLAG: "bare name = true; true/false, yes/no, on/off, 1/0",
    Kind.COUNT: "whole number",
    Kind.NUMBER: "number",
    Kind.DURATION: "a number with s, m, h, d or w (bare = seconds)",
    Kind.SIZE: "a number with b, k, m, g or t (powers of 2)",
    Kind.OCTAL: "octal mode, e.g. 644",
    Kind.TEXT: "text",
    Kind.URL: "URL (its password is never shown)",
    Kind.LIST: "comma-separated list",
    Kind.CHOICE: "one word of the listed ones",
    Kind.REPEAT: "each line adds one; `None` clears",
    Kind.DURATION_OR_FLAG: "duration, or a flag (bare = 300s, off = 0)",
    Kind.MASK: "regular expression [file-name keyword]",
    Kind.SUBTOPIC: "topic pattern; each line adds a binding",
    Kind.HEADER: "name=value",
    Kind.DECLARE: "what value",
    Kind.INCLUDE: "file name or glob",
}


def defaults(option: Option) -> str:
    """An option's default, followed by those of the components where it differs."""
    text = format_value(option, option.default)
    overrides = [
        f"{c}: {format_value(option, option.per_component[c])}"
        for c in COMPONENTS
        if c in option.per_component
    ]
    text += f" ({'; '.join(overrides)})" if overrides else ""
    sr3 = [
        f"{'' if key == '*' else key + ': '}{format_value(option, value)}"
        for key, value in option.sr3_default.items()
    ]
    return text + (f"; **in sr3's tree**: {'; '.join(sr3)}" if sr3 else "")


def notes(option: Option) -> str:
    """Whether an option is captured by accept lines (placement) and kept per notice."""
    marks = (("placement", option.order_dependent), ("per notice", option.per_notice))
    return ", ".join(name for name, on in marks if on)


def render() -> str:
    """docs/options.md: every option, grouped, with aliases, kind, defaults and help."""
    lines = [
        "# Option reference",
        "",
        "Generated from the option table (`sarra/config/options.py`) by",
        "`python -m sarra.config.reference`; do not edit by hand.",
        "",
        "Kinds of value:",
        "",
        *(f"- *{kind.value}*: {text}" for kind, text in KIND_HELP.items()),
        "",
        "Options marked *placement* are captured by each `accept` line that follows them.",
        "Options marked *per notice* keep date and notice variables until a file is placed.",
        "Options of *no effect in sarra* are accepted, so that established configs load, and",
        "warned about where a config sets them.",
        "The *sr3* column gives the names sr3 (Sarracenia 3) gives an option, its own first;",
        "any name of a row is read in any config. Configs in sr3's tree (~/.config/sr3) are",
        "read with sr3's defaults where they differ (*in sr3's tree*); see sr3-compat.md.",
    ]
    for group in GROUPS:
        lines += ["", f"## {group}", "", "| option | aliases | sr3 | kind | default | meaning |"]
        lines.append("|---|---|---|---|---|---|")
        for option in OPTIONS.values():
            if option.group != group:
                continue
            meaning = option.help.replace("|", "\\|")
            if option.choices:
                meaning += f" (one of: {', '.join(option.choices)})"
            if notes(option):
                meaning += f" *{notes(option)}*"
            if option.not_built:
                meaning += f" **No effect in sarra**: {option.not_built}."
            aliases = ", ".join(f"`{a}`" for a in option.aliases)
            sr3 = ", ".join(f"`{a}`" for a in option.sr3)
            default = defaults(option).replace("|", "\\|")
            lines.append(
                f"| `{option.name}` | {aliases} | {sr3} | {option.kind.value} | {default} "
                f"| {meaning} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
