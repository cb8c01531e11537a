"""accept/reject rules: each captures the placement options in force where it was read."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sarra.config.errors import Where

SUNDEW_WORDS = frozenset({"WHATFN", "HEADFN", "SENDER", "NONE", "NONESENDER", "TIME"})
SUNDEW_VALUED = ("DESTFN=", "SATNET=")
"""Sundew file-name keywords (`filename` and the word after an accept's pattern), joined by
`:`: WHATFN (the name up to its first ':'), HEADFN (its first two '_' fields), SENDER (the
SENDER= field), NONE and NONESENDER (the name without its Sundew fields), TIME (':' and the
publication time appended), DESTFN=name, SATNET=x (':SATNET=x' appended)."""


def check_filename_keyword(text: str) -> str:
    """The keyword as written; ValueError naming the part no one understands."""
    for spec in text.split(":"):
        if spec in SUNDEW_WORDS or (spec.startswith(SUNDEW_VALUED) and "=" in spec):
            continue
        if spec.startswith("DESTFNSCRIPT="):
            raise ValueError(f"{spec}: a script per accept line is not built; name it for "
                             "every file with destfn_script <script>")  # fmt: skip
        known = ", ".join([*sorted(SUNDEW_WORDS), "DESTFN=<name>", "SATNET=<x>"])
        raise ValueError(f"file-name keyword {spec!r} is not one of {known} (joined by ':')")
    return text


@dataclass(frozen=True)
class Mask:
    """One accept or reject line, with the directory, mirror, strip, flatten and filename
    that were in force when it was read."""

    pattern: str
    regex: re.Pattern[str]
    accept: bool
    directory: str
    mirror: bool
    strip: str
    flatten: str
    filename: str | None
    where: Where

    def describe(self) -> str:
        """One line for `show`: the rule and what it captured."""
        verb = "accept" if self.accept else "reject"
        if not self.accept:
            return f"{verb} {self.pattern}"
        captured = (
            f"directory={self.directory} mirror={self.mirror} strip={self.strip} "
            f"flatten={self.flatten}"
        )
        if self.filename:
            captured += f" filename={self.filename}"
        return f"{verb} {self.pattern}  ->  {captured}"
