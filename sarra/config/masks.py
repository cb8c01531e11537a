"""accept/reject rules: each captures the placement options in force where it was read."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sarra.config.errors import Where


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


def first_match(masks: Sequence[Mask], url: str) -> Mask | None:
    """The first rule whose pattern matches the URL at its start (as re.match does)."""
    for mask in masks:
        if mask.regex.match(url):
            return mask
    return None


def is_accepted(masks: Sequence[Mask], url: str, accept_unmatch: bool) -> tuple[bool, Mask | None]:
    """Whether a URL passes the rules, and the rule that decided (None: accept_unmatch did)."""
    mask = first_match(masks, url)
    if mask is None:
        return accept_unmatch, None
    return mask.accept, mask
