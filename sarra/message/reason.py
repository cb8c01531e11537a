"""What a validator finds: one readable reason per problem, an error or a warning."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["error", "warning"]


@dataclass(frozen=True)
class Reason:
    """One problem found: `kind` error (the message breaks the specification) or warning
    (tolerated), `code` a short stable name for counting and rate-limiting logs, `text` one
    readable line naming the field."""

    kind: Kind
    code: str
    text: str

    def __str__(self) -> str:
        return self.text


def error(code: str, text: str) -> Reason:
    """An error: the message breaks the specification."""
    return Reason("error", code, text)


def warning(code: str, text: str) -> Reason:
    """A warning: something wrong that is tolerated."""
    return Reason("warning", code, text)


def errors(reasons: Iterable[Reason]) -> list[Reason]:
    """The errors among reasons."""
    return [reason for reason in reasons if reason.kind == "error"]


def warnings(reasons: Iterable[Reason]) -> list[Reason]:
    """The warnings among reasons."""
    return [reason for reason in reasons if reason.kind == "warning"]


def joined(reasons: Iterable[Reason]) -> str:
    """Reasons as one line: `text; text; ...`."""
    return "; ".join(reason.text for reason in reasons)
