"""Origin patterns: paths with named fields and widths, through trollsift.

`/data/H-000-{series:_<6s}-{nominal_time:%Y%m%d%H%M}-{compressed:_<2s}`: a field with a width
fills and splits fixed columns, a datetime field takes strftime codes. `parse` gives the fields of
a name, `compose` writes a name from fields, `glob` gives the shell pattern of all names.
"""

from __future__ import annotations

import fnmatch
import os
from typing import Any

import trollsift


class Pattern:
    """One pattern; ValueError at construction when it is not a valid one."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self.glob = trollsift.globify(text)
            trollsift.Parser(text)
        except (ValueError, KeyError, IndexError) as err:
            raise ValueError(f"bad pattern {text!r}: {err}") from None
        self.directory = os.path.dirname(self.glob)
        self.name_glob = os.path.basename(self.glob)

    def parse(self, path: str) -> dict[str, Any]:
        """The fields of a path; ValueError when it does not match."""
        try:
            return trollsift.parse(self.text, path)
        except (ValueError, KeyError, IndexError) as err:
            raise ValueError(f"{path} does not match {self.text}: {err}") from None

    def matches(self, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.glob)

    def name_matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(os.path.basename(name), self.name_glob)


def compose(text: str, fields: dict[str, Any]) -> str:
    """Fill a template with fields; ValueError naming a missing field or a bad value."""
    try:
        return trollsift.compose(text, fields)
    except KeyError as err:
        raise ValueError(f"{text}: no field {err} in the message") from None
    except (ValueError, TypeError, IndexError) as err:
        raise ValueError(f"{text}: {err}") from None
