"""What `--version` prints, for every command: `sarra <version>`."""

from __future__ import annotations

from sarra import __version__


def line() -> str:
    """`sarra <version>`: the version of the installed package, from its metadata (the
    source's own when it is run without being installed, as the man pages are built)."""
    from importlib import metadata  # 20 ms of imports: only for --version

    try:
        found = metadata.version("sarra")
    except metadata.PackageNotFoundError:
        found = __version__
    return f"sarra {found}"
