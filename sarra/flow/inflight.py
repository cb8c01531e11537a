"""Writing a file so that it is never seen half-written under its final name: it is written
under an inflight name (suffix, '.' prefix, a sub-directory or the tempdir), synced, then
renamed into place. `inflight NONE` writes the final name directly, as the operator asked."""

from __future__ import annotations

import errno
import os
from pathlib import Path


class Inflight:
    """The naming rule of files being written."""

    def __init__(self, inflight: str | None, tempdir: str | None = None) -> None:
        self.rule = (inflight or "NONE").strip()
        self.tempdir = Path(tempdir) if tempdir else None

    def temporary(self, final: Path) -> Path:
        """The name a file is written under until complete."""
        if self.tempdir is not None:
            return self.tempdir / final.name
        rule = self.rule
        if rule.upper() == "NONE" or rule == "umask" or _is_number(rule):
            return final
        if rule == ".":
            return final.with_name("." + final.name)
        if rule.endswith("/"):
            return final.parent / rule / final.name
        return final.with_name(final.name + rule)

    def is_temporary(self, name: str) -> bool:
        """Whether a file name is one of this rule's inflight names (to leave alone)."""
        rule = self.rule
        if rule == ".":
            return name.startswith(".")
        if rule.startswith(".") and len(rule) > 1:
            return name.endswith(rule)
        return False


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def publish_file(temporary: Path, final: Path) -> None:
    """Make a completely written file visible under its final name (atomic on one file
    system; across file systems it is copied beside the final name first)."""
    if temporary == final:
        return
    try:
        os.replace(temporary, final)
    except OSError as err:
        if err.errno != errno.EXDEV:  # not a tempdir on another file system
            raise
        beside = final.with_name(f".{final.name}.sarra-copy")
        with open(temporary, "rb") as source, open(beside, "wb") as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
            target.flush()
            os.fsync(target.fileno())
        os.replace(beside, final)
        temporary.unlink()
