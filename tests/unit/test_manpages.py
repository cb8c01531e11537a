"""The man pages and docs/commands.md: generated from the command table and the option table,
complete (every console script, every option), and rendered by man without a warning."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from sarra.cli import commandref, commands, manpages, roff
from sarra.config.options import COMPONENTS, OPTIONS
from sarra.config.show import format_value

ROOT = Path(__file__).resolve().parents[2]
COMMANDS_DOC = ROOT / "docs" / "commands.md"


def console_scripts() -> set[str]:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    entries = setup["options.entry_points"]["console_scripts"].strip().splitlines()
    return {entry.split("=")[0].strip() for entry in entries}


def test_every_console_script_has_an_entry_in_the_command_table() -> None:
    names = {command.name for command in commands.COMMANDS}
    assert console_scripts() - names == set(), "add them to COMMANDS in sarra/cli/commands.py"
    assert names - console_scripts() == set()


def test_every_component_has_its_page() -> None:
    assert {c.component for c in commands.COMMANDS if c.component} == set(COMPONENTS)


def test_docs_command_reference_is_up_to_date() -> None:
    assert COMMANDS_DOC.read_text() == commandref.render(), (
        "docs/commands.md is stale: run python -m sarra.cli.commandref > docs/commands.md"
    )


def test_pages_one_per_command_plus_config_and_options() -> None:
    names = [page.file_name for page in manpages.pages()]
    assert names == [f"{c.name}.1" for c in commands.COMMANDS] + ["sr_config.5", "sarra-options.7"]


def test_component_page_lists_every_option_with_this_components_default() -> None:
    page = manpages.command_page(commands.by_name("sr_winnow")).render()
    for option in OPTIONS.values():
        assert f"\\fB{roff.escape(option.name)}\\fR" in page, option.name
    default = format_value(OPTIONS["suppress_duplicates"], 1200.0)
    assert f"Default: {roff.escape(default)}." in page


def test_options_page_lists_every_option_and_the_config_page_comes_from_the_docs() -> None:
    options = manpages.options_page().render()
    missing = [n for n in OPTIONS if f"\\fB{roff.escape(n)}\\fR" not in options]
    assert missing == []
    config = manpages.config_page(manpages.DOCS).render()
    assert ".SH ACCEPT AND REJECT" in config
    assert "sarra\\-options(7)" in config  # the link to options.md names the man page


def test_write_makes_one_file_per_page(tmp_path: Path) -> None:
    written = manpages.write(tmp_path / "man")
    assert sorted(p.name for p in written) == sorted(p.file_name for p in manpages.pages())
    assert all(p.read_text(encoding="ascii").startswith(".TH ") for p in written)


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_every_page_renders_without_a_warning(tmp_path: Path) -> None:
    for path in manpages.write(tmp_path):
        result = subprocess.run(
            ["groff", "-man", "-ww", "-z", "-Tutf8", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (result.returncode, result.stderr) == (0, ""), path.name


def test_roff_escapes_what_roff_would_take_for_requests() -> None:
    assert roff.escape("a-b \\ c") == "a\\-b \\e c"
    assert roff.line(".hidden name") == "\\&.hidden name"
    assert roff.inline("use `--name` and *this*") == "use \\fB\\-\\-name\\fR and \\fIthis\\fR"
    assert roff.inline("[the options](options.md)") == "the options (sarra\\-options(7))"


def test_roff_converts_the_markdown_blocks_of_the_docs() -> None:
    text = (
        "# Title\n\nA paragraph\nthat goes on.\n\n## Files\n\n| file | what |\n|---|---|\n"
        "| `a` | the a |\n\n- one\n  more\n- two\n\n    .code line\n\n```conf\nbroker x\n```\n"
    )
    assert roff.convert(text) == [
        ".PP", "A paragraph", "that goes on.",
        ".SH FILES",
        ".TP", "\\fBa\\fR", "the a",
        ".IP \\(bu 4", "one", "more",
        ".IP \\(bu 4", "two",
        ".RS 4", ".nf", "\\&.code line", ".fi", ".RE",
        ".RS 4", ".nf", "broker x", ".fi", ".RE",
    ]  # fmt: skip


def test_the_sr_page_names_every_action_of_sr() -> None:
    from sarra.cli import sr

    synopsis = " ".join(commands.by_name("sr").synopsis)
    for action in (*sr.LIFECYCLE, "check", "--examples", "list"):
        assert action in synopsis, action
