"""Where a notice's file goes: the directory, mirror, strip, flatten and filename captured by
the accept rule that took it, the notice's rename, and confinement below the directory."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sarra.config.loader import Config
from sarra.config.masks import Mask
from sarra.config.variables import PER_NOTICE_NAMES, base_url_values, expand, notice_lookup
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


def _file_name(name: str, keyword: str | None, notice: Notice) -> str:
    """The file name a Sundew keyword makes of a name (sarra.config.masks.SUNDEW_WORDS); the
    name as it is without one."""
    if not keyword:
        return name
    extension = notice.extra.get("sundew_extension")
    parts = name.split(":")
    if isinstance(extension, str) and extension:
        parts = [parts[0], *extension.split(":")]
        name = ":".join(parts)
    first, result, suffix = parts[0], name, ""
    for spec in keyword.split(":"):
        if spec == "WHATFN":
            result = first
        elif spec == "HEADFN":
            result = "_".join(first.split("_")[:2])
        elif spec == "SENDER" and "SENDER=" in name:
            result = name[name.index("SENDER=") + 7 :].split(":")[0]
        elif spec in ("NONE", "NONESENDER"):
            result = _without_fields(name, parts, keep_sender=spec == "NONESENDER")
        elif spec.startswith("SATNET="):
            suffix += f":{spec}"
        elif spec.startswith("DESTFN="):
            result = spec.removeprefix("DESTFN=")
        elif spec == "TIME":
            last = parts[-1]
            stamp = last if len(last) == 14 and last.isdigit() else _whole_seconds(notice)
            suffix += f":{stamp}"
    return result + suffix


def _without_fields(name: str, parts: list[str], keep_sender: bool) -> str:
    """A Sundew name cut after its routing fields: up to SENDER= (kept with NONESENDER), else
    its first six ':' fields (five when the fifth is not one letter)."""
    if "SENDER=" in name:
        start = name.index("SENDER=")
        end = name.find(":", start)
        kept = (name if end < 0 else name[:end]) if keep_sender else name[:start]
    elif len(parts) >= 6:
        kept = ":".join(parts[:6] if len(parts[4]) == 1 else parts[:5])
    else:
        kept = name
    return kept.rstrip(":") or name


def _whole_seconds(notice: Notice) -> str:
    return notice.pubtime.replace("T", "").split(".")[0]


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


def below_dir(path: str, base_dir: str) -> str | None:
    """The part of `path` below the directory `base_dir`, without its leading `/`, cut at whole
    directories: `/data/out` holds `/data/out/x` but not `/data/outgoing/x` (None then, and for
    `base_dir` itself)."""
    base = posixpath.normpath(base_dir).rstrip("/")
    if not path.startswith(base + "/"):
        return None
    return path[len(base) + 1 :]


def onward_base_dir(post_base_dir: str | None, received: Notice) -> str | None:
    """post_base_dir for the onward notice of `received`: its per-notice variables (the dates,
    ${SOURCE}, sr3's ${BUP} and ${BUPL}) filled in as `directory`'s are; one that only a
    placement knows (a group of the accept pattern) is left as written."""
    if not post_base_dir or "${" not in post_base_dir:
        return post_base_dir
    known = {"SOURCE": received.source or ""} | base_url_values(received.base_url)
    unknown = PER_NOTICE_NAMES - known.keys()
    return expand(post_base_dir, notice_lookup(known), keep=unknown)


def onward_base_url(base_url: str, received: Notice) -> str:
    """The first of post_base_url's URLs, for the onward notice of `received`: sr3's ${BUP}
    and ${BUPL} filled in from its base URL (every other variable was, on read)."""
    first = base_url.split(",")[0]
    if "${BUP" not in first:
        return first
    return expand(first, notice_lookup(base_url_values(received.base_url)))


def onward_rel_path(path: str, post_base_dir: str | None, dialect: str) -> str:
    """The relPath announcing a local file onward: its path below post_base_dir (below_dir),
    else as it is. A config of sr3's tree writes it without a leading `/`, as sr3 does; v2's
    keeps it (v2's readers join a base URL and a path as they are) unless post_base_dir ends
    with `/`."""
    relative = path
    if post_base_dir:
        below = below_dir(path, post_base_dir)
        if below is not None:
            relative = below if post_base_dir.endswith("/") else "/" + below
    return relative.lstrip("/") if dialect == "sr3" else relative


@dataclass(frozen=True)
class Onward:
    """How a component announces onward the files it places (sr_subscribe, sr_sarra: the local
    file; sr_sender: the file sent): under post_base_url (a sender's default: its destination),
    at the file's path below post_base_dir. Plugins may say otherwise for a notice (its
    new_baseurl, new_relpath, or the post_base_dir they leave): sarra.flow.hooks.NoticeView."""

    base_url: str | None
    base_dir: str | None
    dialect: str

    @classmethod
    def of(cls, config: Config) -> Onward:
        """The onward announcement of a config."""
        base_url = config.post_base_url
        if not base_url and config.component == "sender":
            base_url = config.destination
        return cls(base_url or None, config.post_base_dir, config.dialect)

    def url(self, received: Notice) -> str | None:
        """The base URL of the onward notice of `received` (None: it is posted as received)."""
        return onward_base_url(self.base_url, received) if self.base_url else None

    def rel_path(self, path: str, received: Notice, base_dir: str | None) -> str:
        """The relPath announcing the file at `path` onward, for the notice `received`: below
        `base_dir` (post_base_dir, or the one plugins left)."""
        return onward_rel_path(path, onward_base_dir(base_dir, received), self.dialect)


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
    if "${BUP" in rule.directory:
        known |= base_url_values(notice.base_url)
    if url_match is not None:
        known |= {str(i): group or "" for i, group in enumerate(url_match.groups(), start=1)}
        known["0"] = url_match.group(0)
    known |= values or {}
    lookup = notice_lookup(known, now)
    directory = _confined_directory(rule.directory, known, lookup)
    relative = _strip(notice.rel_path, rule.strip)
    if rule.flatten != "/":
        relative = relative.replace("/", rule.flatten)
    elif not rule.mirror:
        relative = posixpath.basename(relative)
    head, name = posixpath.split(relative)
    relative = posixpath.join(head, _file_name(name, rule.filename, notice))
    if notice.rename:
        relative = _renamed(notice.rename, relative)
    if not relative or relative.endswith("/"):
        raise PathRefused(notice.rel_path, "names no file")
    return directory, relative


def _confined_directory(
    template: str, known: dict[str, str], lookup: Callable[[str], str | None]
) -> str:
    """The directory `template` expanded, or PathRefused when the values a notice gave (its
    source, base URL path, the captures of the accept rule) lead it out of the template's fixed
    head (the text before the first of them): no '..' climbing above it, no absolute path in
    place of a relative directory. What the operator wrote is trusted; what a notice says is
    not."""
    expanded = expand(template, lookup)
    starts = [i for name in known if (i := template.find("${" + name + "}")) >= 0]
    if not starts:
        return expanded
    head = expand(template[: min(starts)], lookup)
    head = head[: head.rfind("/") + 1]  # whole names: a value may end the name the head begins
    rest = expanded[len(head) :]
    if not head and rest.startswith("/"):
        raise PathRefused(expanded, f"a notice's values make {template} an absolute directory")
    depth = 0
    for name in rest.split("/"):
        if name == "..":
            depth -= 1
            if depth < 0:
                raise PathRefused(expanded, f"a notice's values lead {template} out of {head!r}")
        elif name not in ("", "."):
            depth += 1
    return expanded


def _renamed(rename: str, relative: str) -> str:
    """The notice's rename: a directory when it ends with '/', else the new relative path."""
    if rename.endswith("/"):
        return posixpath.join(rename, posixpath.basename(relative))
    return rename
