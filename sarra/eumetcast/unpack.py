"""Unpacking received files: xrit (by EUMETSAT's external xRITDecompress), bzip and tar.

xrit: the decompressor runs on the file in the output directory and writes the same name with
its last two characters (`C_`) turned into `__`. bzip: `name.bz2` becomes `name`. tar: the
members are extracted beside the archive.
"""

from __future__ import annotations

import bz2
import contextlib
import logging
import os
import shutil
import subprocess
import tarfile

log = logging.getLogger(__name__)

TAR_ENDINGS = (".tar", ".tar.gz", ".tgz", ".tar.bz2")


class UnpackError(Exception):
    """A file could not be unpacked; the text says why."""


def xrit(path: str, program: str, output_dir: str) -> str:
    """Decompress an xrit segment with `program`; the unpacked path."""
    if not path.endswith("C_"):
        return path
    os.makedirs(output_dir, exist_ok=True)
    unpacked = os.path.join(output_dir, os.path.basename(path)[:-2] + "__")
    try:
        done = subprocess.run(
            [program, os.path.abspath(path)], cwd=output_dir, capture_output=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise UnpackError(f"{program}: {err}") from None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise UnpackError(f"{program} failed ({done.returncode}) on {path}: {tail[0]}")
    if not os.path.exists(unpacked):
        raise UnpackError(f"{program} did not write {unpacked}")
    return unpacked


def bzip(path: str, output_dir: str, block_size: int = 1 << 20) -> str:
    """Decompress `name.bz2` into output_dir/name (an existing one is reused)."""
    if not path.endswith(".bz2"):
        return path
    os.makedirs(output_dir, exist_ok=True)
    unpacked = os.path.join(output_dir, os.path.basename(path)[:-4])
    if os.path.exists(unpacked):
        return unpacked
    partial = unpacked + ".part"
    try:
        with bz2.open(path, "rb") as source, open(partial, "wb") as target:
            shutil.copyfileobj(source, target, max(block_size, 1024))
        os.replace(partial, unpacked)
    except (OSError, EOFError, ValueError) as err:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise UnpackError(f"bunzip2 {path}: {err}") from None
    return unpacked


def tar(path: str, output_dir: str) -> list[str]:
    """Extract an archive's regular files beside it; their paths."""
    if not path.endswith(TAR_ENDINGS):
        return [path]
    try:
        with tarfile.open(path) as archive:
            members = [m for m in archive.getmembers() if m.isfile()]
            archive.extractall(output_dir, members=members, filter="data")
    except (OSError, tarfile.TarError) as err:
        raise UnpackError(f"untar {path}: {err}") from None
    return [os.path.join(output_dir, m.name) for m in members]


def unpack(
    kind: str | None,
    path: str,
    output_dir: str,
    program: str | None = None,
    block_size: int = 1 << 20,
) -> list[str]:
    """Unpack one file by `kind` (xrit, bzip, tar or None); the resulting paths."""
    if kind == "xrit":
        return [xrit(path, program or "./xRITDecompress", output_dir)]
    if kind == "bzip":
        return [bzip(path, output_dir, block_size)]
    if kind == "tar":
        return tar(path, output_dir)
    return [path]
