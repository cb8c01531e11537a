"""Which instances of a config are running, from their pid files."""

from __future__ import annotations

import os

from sarra.config import paths


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_pids(component: str, config: str) -> list[int]:
    """The pids of the config's instances whose process exists."""
    directory = paths.state_dir(component, config)
    if not directory.is_dir():
        return []
    pids = []
    for pid_path in sorted(directory.glob(f"sr_{component}_{config}_*.pid")):
        try:
            pid = int(pid_path.read_text().strip())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            pids.append(pid)
    return pids
