"""Unpacking received files: xrit (by EUMETSAT's external xRITDecompress), bzip and tar.

xrit: the decompressor turns a name ending in `C_` into the same name ending in `__`. bzip:
`name.bz2` becomes `name`. tar: the regular files of the archive are extracted below the output
directory, at their names in it.

Everything is written into the output directory, an open `safe_fs.Folder`, as sarra writes
downloads: under a hidden `.name.part`, made anew (a stale one, or a symlink planted there, is
removed, never opened through), then renamed into place; directories below it are walked
without following a symlink that leads out. A failed unpack leaves nothing under a final name.
The decompressor, a program of its own, runs in a private temporary directory; its output is
copied into place from there. A tar member that is not a regular file (a symlink, a hard link, a
device), or whose name is absolute or climbs out, is refused: one warning line per archive.
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import logging
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
from typing import BinaryIO

from sarra.eumetcast.transfers import partial_name
from sarra.transfer.confine import PathRefused, confine_remote
from sarra.transfer.safe_fs import Folder, Identity, identity, open_below, open_folder

log = logging.getLogger(__name__)

TAR_ENDINGS = (".tar", ".tar.gz", ".tgz", ".tar.bz2")
SHOWN_REFUSALS = 3
"""Refused tar members named on the archive's warning line (the others are counted)."""


class UnpackError(Exception):
    """A file could not be unpacked; the text says why."""


def xrit(path: str, program: str, output: Folder) -> str:
    """Decompress an xrit segment with `program`; the unpacked path."""
    if not path.endswith("C_"):
        return path
    name = os.path.basename(path)[:-2] + "__"
    with tempfile.TemporaryDirectory(prefix="sarra-xrit-") as private:
        try:
            done = subprocess.run(
                [program, os.path.abspath(path)], cwd=private, capture_output=True, timeout=300
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise UnpackError(f"{program}: {err}") from None
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise UnpackError(f"{program} failed ({done.returncode}) on {path}: {tail[0]}")
        with open_folder(private, ".", create=False) as made:
            try:
                fd = made.open_read(name)
            except OSError:
                raise UnpackError(f"{program} did not write {name}") from None
        with open(fd, "rb") as unpacked:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UnpackError(f"{program} wrote {name} as something else than a file")
            try:
                _write(output, name, unpacked)
            except OSError as err:
                raise UnpackError(f"placing {name}: {err}") from None
    return str(output.path_of(name))


def bzip(path: str, output: Folder, block_size: int = 1 << 20) -> str:
    """Decompress `name.bz2` into the output directory as `name` (an existing one is reused)."""
    if not path.endswith(".bz2"):
        return path
    name = os.path.basename(path)[:-4]
    if name in ("", ".", ".."):
        raise UnpackError(f"bunzip2 {path}: no name left once .bz2 is taken off")
    st = output.lstat(name)
    if st is not None and stat.S_ISREG(st.st_mode):
        return str(output.path_of(name))
    try:
        with bz2.open(path, "rb") as source:
            _write(output, name, source, block_size)
    except (OSError, EOFError, ValueError) as err:
        raise UnpackError(f"bunzip2 {path}: {err}") from None
    return str(output.path_of(name))


def _write(output: Folder, name: str, source: BinaryIO, block_size: int = 1 << 20) -> None:
    """Copy `source` to `name` in the output directory, under its partial name until whole."""
    staged = _stage(output, name, source, block_size=block_size)
    try:
        staged.place()
    except BaseException:
        staged.discard()
        raise


def tar(path: str, output: Folder) -> list[str]:
    """Extract an archive's regular files below the output directory; their paths. Refused
    members are named on one warning line; if any member cannot be written, none is placed."""
    if not path.endswith(TAR_ENDINGS):
        return [path]
    staged: list[_Staged] = []
    folders: dict[str, Folder] = {}
    try:
        with tarfile.open(path) as archive:
            for names, member in _members(archive, path, str(output.path)).items():
                directory = "/".join(names[:-1])
                folder = folders.get(directory)
                if folder is None:
                    folder = folders[directory] = (
                        open_below(output, directory) if directory else output
                    )
                source = archive.extractfile(member)
                if source is None:
                    raise tarfile.ExtractError(f"{member.name}: no data")
                staged.append(_stage(folder, names[-1], source, member=member))
        for item in staged:
            item.place()
    except (OSError, tarfile.TarError, PathRefused, EOFError) as err:
        for item in staged:
            item.discard()
        raise UnpackError(f"untar {path}: {err}") from None
    finally:
        for folder in folders.values():
            if folder is not output:
                folder.close()
    return [item.path for item in staged]


class _Staged:
    """A file written whole under its partial name (and closed: a watcher of the directory
    sees it closed there), to be renamed into place (a tar's members once all are written)."""

    def __init__(self, folder: Folder, name: str, written: Identity) -> None:
        self.folder = folder
        self.name = name
        self.written = written
        self.path = str(folder.path_of(name))
        self.placed = False

    def place(self) -> None:
        partial = partial_name(self.name)
        if not self.folder.holds(partial, self.written):
            raise FileNotFoundError(f"{self.folder.path_of(partial)}: replaced while unpacking")
        self.folder.rename(partial, self.folder, self.name)
        self.placed = True

    def discard(self) -> None:
        if not self.placed:
            with contextlib.suppress(OSError):
                self.folder.discard(partial_name(self.name), self.written)


def _stage(
    folder: Folder,
    name: str,
    source: BinaryIO,
    *,
    member: tarfile.TarInfo | None = None,
    block_size: int = 1 << 20,
) -> _Staged:
    """Write `source` under the partial name of `name` (made anew: never through what stood
    there). A tar member gets the mode and time tarfile's data filter gives it (no set-id bits,
    no write by group or others, read and write by the owner)."""
    st = folder.lstat(name)
    if st is not None and stat.S_ISDIR(st.st_mode):  # found now, not once others are placed
        raise IsADirectoryError(errno.EISDIR, "a directory stands there", str(folder.path_of(name)))
    fd = folder.create(partial_name(name))
    written = identity(fd)
    try:
        with open(fd, "wb", closefd=False) as target:
            shutil.copyfileobj(source, target, max(block_size, 1024))
        if member is not None:
            os.chmod(fd, (member.mode & 0o755) | 0o600)
            os.utime(fd, (member.mtime, member.mtime))
    except BaseException:
        folder.discard(partial_name(name), written)
        raise
    finally:
        os.close(fd)
    return _Staged(folder, name, written)


def _members(
    archive: tarfile.TarFile, path: str, output: str
) -> dict[tuple[str, ...], tarfile.TarInfo]:
    """The regular files to extract, by their names below the output directory (the last of
    the same name wins); the others refused, on one warning line."""
    chosen: dict[tuple[str, ...], tarfile.TarInfo] = {}
    refused: list[str] = []
    for member in archive.getmembers():
        if member.isdir():
            continue  # made as the files in it need it
        try:
            names = _member_names(member, output)
        except PathRefused as err:
            refused.append(str(err).removeprefix("refused "))
            continue
        chosen.pop(names, None)
        chosen[names] = member
    if refused:
        more = len(refused) - SHOWN_REFUSALS
        shown = "; ".join(refused[:SHOWN_REFUSALS]) + (f"; and {more} more" if more > 0 else "")
        log.warning("refused %d member(s) of %s: %s", len(refused), path, shown)
    return chosen


def _member_names(member: tarfile.TarInfo, output: str) -> tuple[str, ...]:
    """The names of a regular file member below the output directory, or PathRefused."""
    if not member.isreg():
        kind = "a symlink" if member.issym() else "a hard link" if member.islnk() else "special"
        target = f" to {member.linkname}" if member.issym() or member.islnk() else ""
        raise PathRefused(member.name, f"{kind}{target}, not a regular file")
    if member.name.startswith("/"):
        raise PathRefused(member.name, "an absolute name")
    return confine_remote(output, member.name).relative_to(output).parts


def unpack(
    kind: str | None,
    path: str,
    output: Folder,
    program: str | None = None,
    block_size: int = 1 << 20,
) -> list[str]:
    """Unpack one file by `kind` (xrit, bzip, tar or None) into the output directory; the
    resulting paths."""
    if kind == "xrit":
        return [xrit(path, program or "./xRITDecompress", output)]
    if kind == "bzip":
        return [bzip(path, output, block_size)]
    if kind == "tar":
        return tar(path, output)
    return [path]
