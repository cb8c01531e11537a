"""The man pages, written from the sources of the docs so they cannot drift from them.

- one page in section 1 for each command of sarra.cli.commands (with, for sr_<component>,
  its actions and every option with this component's default, from the option table);
- sr_config(5): the configuration language, from docs/configuration.md;
- sarra-options(7): every option, from the option table (as docs/options.md).

Write them with: python -m sarra.cli.manpages OUTDIR [DOCS_DIR]
(DOCS_DIR defaults to the docs/ of the source tree; the Debian package does this at build time).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from sarra import __version__
from sarra.cli import commands, roff
from sarra.cli.args import ACTIONS
from sarra.cli.commands import Command
from sarra.config import reference
from sarra.config.options import GROUPS, OPTIONS, Option
from sarra.config.show import format_value

DOCS = Path(__file__).resolve().parents[2] / "docs"


@dataclass(frozen=True)
class Page:
    """One man page: its name, section, NAME line and the roff of the sections after NAME."""

    name: str
    section: int
    summary: str
    body: tuple[str, ...]

    @property
    def file_name(self) -> str:
        """The page's file name, e.g. sr_subscribe.1."""
        return f"{self.name}.{self.section}"

    def render(self) -> str:
        """The whole page in roff."""
        head = [
            f'.TH {self.name.upper()} {self.section} "" "sarra {__version__}" "sarra manual"',
            ".nh",  # no hyphenation: option and file names stay whole
            ".SH NAME",
            f"{roff.escape(self.name)} \\- {roff.escape(self.summary)}",
        ]
        return "\n".join([*head, *self.body]) + "\n"


def _section(title: str, markdown: str) -> list[str]:
    return [f".SH {title}", *roff.convert(markdown)]


def _option_entry(option: Option, default: str) -> list[str]:
    tag = f"\\fB{roff.escape(option.name)}\\fR \\fI{roff.escape(option.kind.value)}\\fR"
    if option.aliases:
        tag += " (also " + ", ".join(f"\\fB{roff.escape(a)}\\fR" for a in option.aliases) + ")"
    text = option.help
    if option.choices:
        text += f" (one of: {', '.join(option.choices)})"
    default = "none" if default == "-" else default
    return [".TP", tag, roff.line(roff.escape(text)), ".br", f"Default: {roff.escape(default)}."]


def _options(default_of: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for group in GROUPS:
        lines.append(f".SS {roff.escape(group)}")
        for option in OPTIONS.values():
            if option.group == group:
                lines += _option_entry(option, default_of[option.name])
    return lines


def _see_also(names: list[str]) -> list[str]:
    refs = [name.partition("(") for name in names]
    text = ",\n".join(f"\\fB{roff.escape(page)}\\fR({section}" for page, _, section in refs)
    return [".SH SEE ALSO", text]


def command_page(command: Command) -> Page:
    """The section 1 page of a command."""
    body = [".SH SYNOPSIS"]
    for number, form in enumerate(command.synopsis):
        body += [".br"] * bool(number) + [f"\\fB{roff.escape(form)}\\fR"]
    body += _section("DESCRIPTION", command.description)
    for title, text in command.sections:
        body += _section(title.upper(), text)
    if command.component is not None:
        component = command.component
        body += roff.convert(commands.COMMON)
        body.append(".SH ACTIONS")
        for action, text in ACTIONS.items():
            body += [".TP", f"\\fB{action}\\fR", roff.line(roff.inline(text))]
        body.append(".SH OPTIONS")
        body += roff.convert(
            f"In a config file `name value`; on the command line `--name value`. The defaults\n"
            f"shown are those of `sr_{component}`; `sr_{component} help <option>` says the same.\n"
            "Kinds of value and the defaults of every component: sarra-options(7)."
        )
        body += _options(
            {o.name: format_value(o, o.default_for(component)) for o in OPTIONS.values()}
        )
        body += _section("FILES", commands.FILES)
        body += _section("ENVIRONMENT", commands.ENVIRONMENT)
        body += _section("EXIT STATUS", commands.EXIT_STATUS)
    if command.arguments is not None:
        body.append(".SH OPTIONS")
        for tag, text in commands.arguments(command.arguments()):
            body += [".TP", f"\\fB{roff.escape(tag)}\\fR", roff.line(roff.escape(text))]
    if command.examples:
        body += _section("EXAMPLES", command.examples)
    others = list(command.see_also)
    if command.arguments is None:  # the sr commands, whose options are the table's
        others += ["sr_config(5)", "sarra-options(7)"]
    return Page(command.name, 1, command.summary, tuple(body + _see_also(others)))


def config_page(docs: Path) -> Page:
    """sr_config(5): the configuration language, from docs/configuration.md."""
    text = (docs / "configuration.md").read_text(encoding="utf-8")
    body = [".SH DESCRIPTION", *roff.convert(text)]
    names = [f"{c.name}(1)" for c in commands.COMMANDS]
    return Page(
        "sr_config",
        5,
        "configuration files of the sarra components",
        tuple(body + _see_also([*names, "sarra-options(7)"])),
    )


def options_page() -> Page:
    """sarra-options(7): every option of the table, with its defaults for every component."""
    kinds = "\n".join(f"- *{kind.value}*: {text}" for kind, text in reference.KIND_HELP.items())
    body = _section(
        "DESCRIPTION",
        "Every option of the sarra components, from the option table. In a config file an\n"
        "option is written `name value`, on the command line `--name value`; aliases are\n"
        "accepted everywhere. A default followed by `(component: value)` differs for those\n"
        "components.\n\n"
        f"Kinds of value:\n\n{kinds}\n\n"
        "Options marked *placement* are captured by each `accept` line that follows them;\n"
        "those marked *per notice* keep date and notice variables until a file is placed.",
    )
    body.append(".SH OPTIONS")
    for group in GROUPS:
        body.append(f".SS {roff.escape(group)}")
        for option in OPTIONS.values():
            if option.group == group:
                entry = _option_entry(option, reference.defaults(option))
                notes = reference.notes(option)
                if notes:
                    entry[2] += roff.escape(f" [{notes}]")
                body += entry
    return Page(
        "sarra-options",
        7,
        "every option of the sarra components",
        tuple(body + _see_also(["sr_config(5)", *(f"{c.name}(1)" for c in commands.COMMANDS)])),
    )


def pages(docs: Path = DOCS) -> list[Page]:
    """Every man page."""
    return [*(command_page(c) for c in commands.COMMANDS), config_page(docs), options_page()]


def write(out_dir: Path, docs: Path = DOCS) -> list[Path]:
    """Write every page into out_dir; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for page in pages(docs):
        path = out_dir / page.file_name
        path.write_text(page.render(), encoding="ascii")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    """python -m sarra.cli.manpages OUTDIR [DOCS_DIR]"""
    if len(argv) not in (1, 2):
        print("usage: python -m sarra.cli.manpages OUTDIR [DOCS_DIR]", file=sys.stderr)
        return 2
    docs = Path(argv[1]) if len(argv) == 2 else DOCS
    for path in write(Path(argv[0]), docs):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
