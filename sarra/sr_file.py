"""`sarra.sr_file` under its historic name, for plugins written against v2: `file_reassemble`,
which part_file_assemble (on_part) calls as the part files of a file arrive.

The parts of `name` are files `name.<block size>.<count>.<remainder>.<n>.<sum flag>.Part`
beside it. Each call appends the consecutive parts that are here, in order, to a work file
`.name.assembling` (removing each part file appended); once every part is in, the work file is
cut to the file's size and renamed to `name`, so `name` is never seen half-assembled, and the
notice in hand becomes the whole file's (parts `1,<size>,1,0,0`, sum of the whole).
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from sarra.integrity.checksum import checksum_file
from sarra.integrity.parts import Parts, whole_file

__all__ = ["file_reassemble"]


def file_reassemble(parent: Any) -> bool:
    """Append the part files of `parent.msg.target_file` that are here; True when the file is
    whole (and in place), False while parts are missing."""
    msg = parent.msg
    target_name = getattr(msg, "target_file", None)
    if not target_name or not msg.partstr:
        return False
    parts = Parts.parse(msg.partstr)
    directory = Path(msg.new_dir)
    work = directory / f".{target_name}.assembling"
    cut = f"{parts.block_size}.{parts.block_count}.{parts.remainder}"
    flag = msg.sumflg or "d"
    size = work.stat().st_size if work.exists() else 0
    number = size // parts.block_size if parts.block_size else 0
    with open(work, "ab") as out:
        while number < parts.block_count:
            part = directory / f"{target_name}.{cut}.{number}.{flag}.Part"
            if not part.is_file():
                break
            out.write(part.read_bytes())
            part.unlink()
            parent.logger.info("file_reassemble: %s: block %d of %d appended", target_name,
                               number + 1, parts.block_count)  # fmt: skip
            number += 1
    if number < parts.block_count:
        return False
    total = parts.file_size
    os.truncate(work, total)
    target = directory / target_name
    os.replace(work, target)
    msg.new_file = target_name
    msg.headers["parts"] = whole_file(total)
    msg.headers["sum"] = f"{flag},{checksum_file(target, flag)}"
    relpath = getattr(msg, "target_relpath", None)
    msg.relpath = relpath or posixpath.join(posixpath.dirname(msg.relpath), target_name)
    parent.logger.info("file_reassemble: %s complete (%d bytes)", target, total)
    return True
