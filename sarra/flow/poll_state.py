"""What a poll last announced from one remote directory: each file's size and mtime, on disk.

One JSON file per directory of the config, in the config's state directory, named as
established: `ls` + the directory as written in the config with `/` replaced by `_`
(`/data/${YYYYMMDD}` -> `ls_data_${YYYYMMDD}`). It also holds the directory as it was expanded,
so that files seen in yesterday's dated directory are not taken for today's. A file is replaced
whole (written beside, flushed, renamed): a crash leaves the old content or the new, never half.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

Signature = tuple[int | None, float | None]
"""(size, mtime) of a file as its listing gives them; None where the listing does not say."""


@dataclass
class SeenFiles:
    """The files announced (and confirmed) from one remote directory, by name."""

    directory: str = ""
    files: dict[str, Signature] = field(default_factory=dict)


def state_file(state_dir: Path, directory: str) -> Path:
    """The state file of a directory (as written in the config)."""
    return state_dir / ("ls" + directory.replace("/", "_"))


def load_seen(path: Path) -> SeenFiles:
    """The content of a state file; empty when there is none, or (with a warning) when it is
    unreadable: then every file is announced again, rather than any lost."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = {str(name): (size, mtime) for name, (size, mtime) in data["files"].items()}
        return SeenFiles(str(data["directory"]), files)
    except FileNotFoundError:
        return SeenFiles()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        logger.warning("state file %s unreadable (%s): its files will be announced again",
                       path, err)  # fmt: skip
        return SeenFiles()


def save_seen(path: Path, seen: SeenFiles) -> None:
    """Replace a state file atomically; OSError if it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(path.name + ".new")
    with open(fresh, "w", encoding="utf-8") as out:
        json.dump({"directory": seen.directory, "files": seen.files}, out, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(fresh, path)
