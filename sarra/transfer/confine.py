"""Confinement: a notice's path, or a link target, never leads out of its destination directory.

Notices are untrusted input. `confine` turns a notice's path into a local path below a root,
refusing '..' that climbs out, NUL bytes, and symlinks already on disk that point outside the root;
`confine_link_target` does the same for the target of a symlink to be made.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

StrPath = str | os.PathLike[str]


class PathRefused(ValueError):
    """A path refused because it would leave its root; the message is one log line."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"refused {_show(path)}: {reason}")


def confine(root: StrPath, rel_path: str) -> Path:
    """The local path of `rel_path` below `root`, or PathRefused.

    A leading '/' is relative to root; empty and '.' segments are dropped and '..' pops one, but
    never above root. Existing components that are symlinks must resolve inside root. The result
    is below root's real path (root itself may be a symlink) and holds no '.' or '..'.
    """
    shown_root = _show(os.fspath(root))
    names = _names(rel_path, shown_root)
    real_root = Path(os.path.realpath(root))
    current = real_root
    for depth, name in enumerate(names, start=1):
        current = current / name
        try:
            is_link = stat.S_ISLNK(os.lstat(current).st_mode)
        except OSError:
            # Missing, or not examinable: then nothing can be written through it either.
            break
        if is_link:
            target = os.path.realpath(current)
            if not _inside(target, real_root):
                link = "/".join(names[:depth])
                reason = f"{_show(link)} is a symlink to {_show(target)}, outside {shown_root}"
                raise PathRefused(rel_path, reason)
    return real_root.joinpath(*names)


def confine_remote(root: str, rel_path: str) -> PurePosixPath:
    """The path of `rel_path` below a remote directory `root`, or PathRefused: the same rules
    as `confine`, judged on the names alone (the remote file system cannot be examined)."""
    return PurePosixPath(root).joinpath(*_names(rel_path, _show(root)))


def _names(rel_path: str, shown_root: str) -> list[str]:
    """The names of `rel_path` with '.' and '..' resolved, or PathRefused if it climbs out."""
    _check_name(rel_path)
    names: list[str] = []
    for segment in rel_path.split("/"):
        if segment in ("", "."):
            continue
        if segment != "..":
            names.append(segment)
        elif names:
            names.pop()
        else:
            raise PathRefused(rel_path, f"climbs out of {shown_root}")
    if not names:
        raise PathRefused(rel_path, f"names {shown_root} itself, not a file in it")
    return names


def confine_link_target(root: StrPath, link_dir: StrPath, target: str) -> str:
    """The target to give a symlink made in `link_dir`, or PathRefused if it leads out of root.

    `link_dir` is the directory the link goes in (absolute, or relative to root). A relative target
    is kept as it is; an absolute one is taken relative to root and returned as a local path.
    Either must resolve, from where the link really is, inside root.
    """
    _check_name(target)
    if not target:
        raise PathRefused(target, "empty link target")
    shown_root = _show(os.fspath(root))
    real_root = Path(os.path.realpath(root))
    real_dir = os.path.realpath(os.path.join(real_root, link_dir))
    if not _inside(real_dir, real_root):
        raise PathRefused(os.fspath(link_dir), f"link directory is outside {shown_root}")
    local = os.path.join(real_root, target.lstrip("/")) if target.startswith("/") else target
    resolved = os.path.realpath(os.path.join(real_dir, local))
    if not _inside(resolved, real_root):
        raise PathRefused(
            target, f"link target resolves to {_show(resolved)}, outside {shown_root}"
        )
    return local


def _check_name(path: str) -> None:
    """Refuse what cannot be a file name at all."""
    if "\0" in path:
        raise PathRefused(path, "contains a NUL byte")
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        raise PathRefused(path, "not encodable as a local file name") from None


def _inside(path: StrPath, real_root: Path) -> bool:
    return Path(path).is_relative_to(real_root)


def _show(path: str) -> str:
    """A path as it can go on one log line."""
    return path if path.isprintable() else repr(path)
