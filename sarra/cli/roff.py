"""The Markdown of the docs, in the small subset they use, written as man(7) roff.

Handled: `##`/`###` headings, paragraphs, `-` and `1.` lists (continuation lines indented),
indented and fenced code blocks, pipe tables (as tagged paragraphs: the first column is the
tag), and inline `code`, *emphasis*, **strong** and [links](target) (the text is kept).
"""

from __future__ import annotations

import re

_CHARACTERS = {
    "\\": "\\e",
    "-": "\\-",
    "—": "\\(em",
    "–": "\\(en",
    "…": "...",
    "×": "\\(mu",
    "→": "\\(->",
    "≤": "\\(<=",
    "≥": "\\(>=",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
}
_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\[([^\]]+)\]\(([^)]+)\)")
_BULLET = re.compile(r"^(\s*)(?:[-*]|(\d+)\.)\s+(.*)$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}")


def escape(text: str) -> str:
    """Plain text made safe for roff: backslashes, minus signs, a few typographic characters."""
    out = "".join(_CHARACTERS.get(ch, ch) for ch in text)
    return out.encode("ascii", "replace").decode("ascii")


MAN_PAGES = {"configuration.md": "sr_config(5)", "options.md": "sarra-options(7)"}
"""Docs that have a man page: a link to one names the page."""


def _link(text: str, target: str) -> str:
    page = MAN_PAGES.get(target.rpartition("/")[2].partition("#")[0])
    if page is None:
        return inline(text)
    if text.strip("`") == target:
        return escape(page)
    return f"{inline(text)} ({escape(page)})"


def inline(text: str) -> str:
    """One line of Markdown text as roff text, with its inline markup as fonts."""
    parts: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        parts.append(escape(text[position : match.start()]))
        code, strong, emphasis, link, target = match.groups()
        if code is not None:
            parts.append(f"\\fB{escape(code)}\\fR")
        elif strong is not None:
            parts.append(f"\\fB{escape(strong)}\\fR")
        elif emphasis is not None:
            parts.append(f"\\fI{escape(emphasis)}\\fR")
        else:
            parts.append(_link(link, target))
        position = match.end()
    parts.append(escape(text[position:]))
    return "".join(parts)


def line(text: str) -> str:
    """A text line that roff will not take for a request."""
    return "\\&" + text if text[:1] in (".", "'") else text


def _cells(row: str) -> list[str]:
    row = row.strip().removeprefix("|").removesuffix("|")
    cells = re.split(r"(?<!\\)\|", row)
    return [cell.strip().replace("\\|", "|") for cell in cells]


def _literal(lines: list[str]) -> list[str]:
    return [".RS 4", ".nf", *(line(escape(text)) for text in lines), ".fi", ".RE"]


def convert(markdown: str) -> list[str]:
    """The roff lines of a Markdown text (a level-1 heading is left out: it is the page's)."""
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.extend([".PP", *(line(inline(text)) for text in paragraph)])
            paragraph.clear()

    while i < len(lines):
        text = lines[i]
        stripped = text.strip()
        if not stripped:
            flush()
            i += 1
        elif stripped.startswith("```"):
            flush()
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith("```"):
                end += 1
            out.extend(_literal(lines[i + 1 : end]))
            i = end + 1
        elif text.startswith("    ") and not paragraph:
            block: list[str] = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out.extend(_literal(block))
        elif stripped.startswith("#"):
            flush()
            level, _, title = stripped.partition(" ")
            if level == "##":
                out.append(f".SH {escape(title.upper())}")
            elif level != "#":
                out.append(f".SS {escape(title)}")
            i += 1
        elif stripped.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(lines[i])
                i += 1
            for row in rows[1:]:
                if _TABLE_RULE.match(row.strip()):
                    continue
                tag, *rest = _cells(row)
                out.extend([".TP", line(inline(tag)), line(inline(" \u2014 ".join(rest)))])
        elif bullet := _BULLET.match(text):
            flush()
            number = bullet.group(2)
            item = [bullet.group(3)]
            i += 1
            while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
                if _BULLET.match(lines[i]):
                    break
                item.append(lines[i].strip())
                i += 1
            tag = f"{number}." if number else "\\(bu"
            out.extend([f".IP {tag} 4", *(line(inline(t)) for t in item)])
        else:
            paragraph.append(stripped)
            i += 1
    flush()
    return out
