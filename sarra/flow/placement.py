"""Where a notice's file goes: the directory, mirror, strip, flatten and filename captured by
the accept rule that took it, the notice's rename, and confinement below the directory."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sarra.config.masks import Mask
from sarra.config.variables import expand, notice_lookup
from sarra.message.notice import Notice
from sarra.transfer.confine import PathRefused, confine


@dataclass(frozen=True)
class Placement:
    """The directory a file is confined to, and the file's final path below it."""

    root: Path
    path: Path


def _strip(rel_path: str, strip: str) -> str:
    parts = [p for p in rel_path.split("/") if p]
    if strip.isdigit():
        count = int(strip)
        kept = parts[count:] if count < len(parts) else parts[-1:]
        return "/".join(kept)
    stripped = re.sub(strip, "", "/".join(parts), count=1).strip("/")
    return stripped or parts[-1]


def _file_name(name: str, keyword: str | None) -> str:
    """Apply a Sundew file-name keyword: WHATFN keeps the part before the first ':',
    DESTFN=x names the file x; NONE and the others keep the name as it is."""
    if not keyword:
        return name
    if keyword == "WHATFN":
        return name.split(":", 1)[0]
    if keyword.startswith("DESTFN="):
        return keyword.removeprefix("DESTFN=")
    return name


def place(
    notice: Notice,
    mask: Mask | None,
    default: Mask,
    *,
    url_match: re.Match[str] | None = None,
    values: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Placement:
    """The local path of a notice's file. `default` holds the placement in force at the end of
    the config (used when accept_unmatch took the notice). Raises PathRefused when the result
    would leave the directory."""
    directory, relative = placed(notice, mask, default, url_match=url_match, values=values, now=now)
    return Placement(Path(directory), confine(directory, relative))


def placed(
    notice: Notice,
    mask: Mask | None,
    default: Mask,
    *,
    url_match: re.Match[str] | None = None,
    values: dict[str, str] | None = None,
    now: datetime | None = None,
) -> tuple[str, str]:
    """The directory (expanded) and the path below it of a notice's file, not yet confined."""
    rule = mask or default
    known = {"SOURCE": notice.source or ""}
    if url_match is not None:
        known |= {str(i): group or "" for i, group in enumerate(url_match.groups(), start=1)}
        known["0"] = url_match.group(0)
    known |= values or {}
    directory = expand(rule.directory, notice_lookup(known, now))
    relative = _strip(notice.rel_path, rule.strip)
    if rule.flatten != "/":
        relative = relative.replace("/", rule.flatten)
    elif not rule.mirror:
        relative = posixpath.basename(relative)
    head, name = posixpath.split(relative)
    relative = posixpath.join(head, _file_name(name, rule.filename))
    if notice.rename:
        relative = _renamed(notice.rename, relative)
    if not relative or relative.endswith("/"):
        raise PathRefused(notice.rel_path, "names no file")
    return directory, relative


def _renamed(rename: str, relative: str) -> str:
    """The notice's rename: a directory when it ends with '/', else the new relative path."""
    if rename.endswith("/"):
        return posixpath.join(rename, posixpath.basename(relative))
    return rename
