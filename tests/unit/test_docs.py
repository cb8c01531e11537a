"""The docs build: every config they show parses with the real loader, every relative link
resolves (to a file, and to a heading for #anchors).

Convention: a config is shown in a fenced block marked ```conf (```conf <component> when it is
not a subscriber's), a credentials file in one marked ```credentials. A block that looks like
a config (every line an option) but is not marked so fails, so that none escapes the test; a
fragment that cannot run (it names files that are not there) is marked ```text on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from sarra.cli import commands
from sarra.config.credentials import Credentials
from sarra.config.loader import load
from sarra.config.options import COMPONENTS
from sarra.config.options import find as find_option

ROOT = Path(__file__).resolve().parents[2]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]

_FENCE = re.compile(r"^```(.*)$")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


@dataclass
class Block:
    """A code block of a Markdown text: its info string (None when indented), its lines."""

    where: str
    info: str | None
    lines: list[str]


def blocks(text: str, where: str) -> list[Block]:
    """The fenced and indented code blocks of a Markdown text."""
    found: list[Block] = []
    lines = text.splitlines()
    i, previous_blank = 0, True
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence:
            end = i + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            found.append(Block(f"{where}:{i + 1}", fence.group(1).strip(), lines[i + 1 : end]))
            i, previous_blank = end + 1, False
            continue
        if lines[i].startswith("    ") and previous_blank:
            start = i
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                i += 1
            found.append(Block(f"{where}:{start + 1}", None, [t[4:] for t in lines[start:i]]))
            previous_blank = True
            continue
        previous_blank = not lines[i].strip()
        i += 1
    return found


def all_blocks() -> list[Block]:
    found = [b for doc in DOCS for b in blocks(doc.read_text(), doc.relative_to(ROOT).as_posix())]
    for command in commands.COMMANDS:
        found += blocks(command.examples, f"sarra/cli/commands.py ({command.name} examples)")
    return found


def _config_blocks() -> list[Block]:
    return [b for b in all_blocks() if b.info is not None and b.info.split()[:1] == ["conf"]]


def _looks_like_a_config(block: Block) -> bool:
    lines = [t.strip() for t in block.lines if t.strip() and not t.strip().startswith("#")]
    return len(lines) >= 2 and all(find_option(t.split()[0]) is not None for t in lines)


def test_the_docs_show_configs() -> None:
    assert len(_config_blocks()) >= 10


@pytest.mark.parametrize("block", _config_blocks(), ids=lambda b: b.where)
def test_every_config_in_the_docs_parses(block: Block, tmp_path: Path) -> None:
    words = block.info.split() if block.info else []
    component = words[1] if len(words) > 1 else "subscribe"
    assert component in COMPONENTS, f"{block.where}: ```conf {component}: no such component"
    path = tmp_path / "shown.conf"
    path.write_text("\n".join(block.lines) + "\n")
    config = load(component, path)  # raises ConfigErrors with file:line: reason
    assert config.warnings == [], block.where


def test_every_credentials_file_in_the_docs_parses() -> None:
    shown = [b for b in all_blocks() if b.info == "credentials"]
    assert shown
    for block in shown:
        assert len(Credentials.parse("\n".join(block.lines), block.where)) > 0


def test_no_config_is_shown_without_its_conf_mark() -> None:
    unmarked = [b.where for b in all_blocks() if not b.info and _looks_like_a_config(b)]
    assert unmarked == [], "mark these blocks ```conf so that the test parses them"


def _slug(heading: str) -> str:
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.*)$", text, flags=re.M)}


def test_every_relative_link_resolves() -> None:
    broken = []
    for doc in DOCS:
        text = re.sub(r"^```.*?^```", "", doc.read_text(), flags=re.S | re.M)
        for match in _LINK.finditer(re.sub(r"`[^`\n]*`", "", text)):
            target = match.group(1)
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            path = (doc.parent / file_part).resolve() if file_part else doc
            if not path.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
                continue
            if anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{doc.name}: {target} (no such heading)")
    assert broken == []


def test_anchors_are_github_heading_slugs() -> None:
    assert _slug("Priorities: separate queues") == "priorities-separate-queues"
    assert _slug("`credentials.conf`") == "credentialsconf"
    assert _slug("Redundant feeds with sr_winnow") == "redundant-feeds-with-sr_winnow"


def test_blocks_finds_fenced_and_indented_blocks() -> None:
    text = "text\n\n    sr start\n\n```conf sender\nbroker amqp://x/\n```\n"
    assert [(b.info, b.lines) for b in blocks(text, "t")] == [
        (None, ["sr start", ""]),
        ("conf sender", ["broker amqp://x/"]),
    ]
