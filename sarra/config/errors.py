"""Errors of configuration: every one names the file and line it comes from."""

from __future__ import annotations

from typing import NamedTuple


class Where(NamedTuple):
    """A place in a configuration file (line is 1-based; 0 means the whole file)."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class ConfigError(Exception):
    """A user mistake in a configuration or credentials file, printed as `file:line: reason`."""

    def __init__(self, where: Where | None, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}" if where else reason)


class ConfigErrors(ConfigError):
    """Several configuration errors found in one read, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__(None, "\n".join(str(e) for e in errors))
