"""docs/commands.md: every command, from the same table as the man pages (sarra.cli.commands).

Regenerate with: python -m sarra.cli.commandref > docs/commands.md
"""

from __future__ import annotations

from sarra.cli import commands
from sarra.cli.args import ACTIONS
from sarra.cli.commands import Command
from sarra.config.options import OPTIONS
from sarra.config.show import format_value


def _own_defaults(component: str) -> list[str]:
    rows = [
        f"| `{o.name}` | {format_value(o, o.default_for(component))} | "
        f"{format_value(o, o.default)} |"
        for o in OPTIONS.values()
        if o.default_for(component) != o.default
    ]
    if not rows:
        return []
    return [
        f"Options whose default differs for `sr_{component}`:",
        "",
        "| option | default here | elsewhere |",
        "|---|---|---|",
        *rows,
        "",
    ]


def _command(command: Command) -> list[str]:
    lines = [f"## {command.name}", "", f"{command.name}: {command.summary}.", ""]
    lines += [f"    {form}" for form in command.synopsis] + [""]
    lines += [command.description.rstrip(), ""]
    for title, text in command.sections:
        lines += [f"{title}:", "", text.rstrip(), ""]
    if command.component is not None:
        lines += [
            "Actions: [those of every component](#actions-of-the-sr_component-commands); "
            f"options: [every option](options.md), or `sr_{command.component} help`.",
            "",
            *_own_defaults(command.component),
        ]
    if command.arguments is not None:
        lines += ["| argument | meaning |", "|---|---|"]
        lines += [f"| `{tag}` | {text} |" for tag, text in commands.arguments(command.arguments())]
        lines.append("")
    if command.examples:
        lines += ["Example:", "", command.examples.rstrip(), ""]
    others = [page.partition("(")[0] for page in command.see_also]
    lines.append(f"Manual page: `man {command.name}`.")
    if others:
        lines[-1] += " See also " + ", ".join(f"[{name}](#{name})" for name in others) + "."
    lines.append("")
    return lines


def render() -> str:
    """The text of docs/commands.md."""
    lines = [
        "# Command reference",
        "",
        "Generated from `sarra/cli/commands.py` (with the actions and the option table) by",
        "`python -m sarra.cli.commandref`, like the man pages; do not edit by hand.",
        "",
        "Contents: " + ", ".join(f"[{c.name}](#{c.name})" for c in commands.COMMANDS) + ".",
        "",
        "## Actions of the sr_component commands",
        "",
        commands.COMMON.rstrip(),
        "",
        "| action | what it does |",
        "|---|---|",
        *(f"| `{action}` | {text} |" for action, text in ACTIONS.items()),
        "",
    ]
    for command in commands.COMMANDS:
        lines += _command(command)
    for title, text in (
        ("Files", commands.FILES),
        ("Environment", commands.ENVIRONMENT),
        ("Exit status", commands.EXIT_STATUS),
    ):
        lines += [f"## {title}", "", text.rstrip(), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
