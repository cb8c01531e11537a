"""The accept/reject decision, once for every component: the loop's filter stage, on a notice's
URL (sr_post's and sr_watch's too: a local file's is `file:/...` with the default base), and
sr_poll, on a listed name below a polled directory. The first rule whose pattern matches the
start of the text decides; a text no rule matches is taken when accept_unmatch is set, placed by
the options in force at the end of the config (`default`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sarra.config.errors import Where
from sarra.config.loader import Config
from sarra.config.masks import Mask


class Rules:
    """A config's accept/reject lines, each with the placement options it captured."""

    __slots__ = ("accept_unmatch", "default", "masks")

    def __init__(
        self, masks: Sequence[Mask], accept_unmatch: bool, default: Mask | None = None
    ) -> None:
        self.masks = tuple(masks)
        self.accept_unmatch = accept_unmatch
        self.default = default
        """The placement of what accept_unmatch takes (the options at the config's end)."""

    @classmethod
    def of(cls, config: Config, masks: Sequence[Mask] | None = None) -> Rules:
        """The rules of a config (or only `masks` of them), with its accept_unmatch."""
        default = Mask(
            pattern="", regex=re.compile(""), accept=True, directory=config.directory,
            mirror=config.mirror, strip=config.strip, flatten=config.flatten,
            filename=config.filename, where=Where("accept_unmatch"),
        )  # fmt: skip
        chosen = config.masks if masks is None else masks
        return cls(chosen, config.values["accept_unmatch"], default)

    def verdict(self, text: str) -> tuple[bool, Mask | None]:
        """Whether the rules take `text`, and the rule that decided (None: accept_unmatch)."""
        for mask in self.masks:
            if mask.regex.match(text):
                return mask.accept, mask
        return self.accept_unmatch, None

    def accepts(self, text: str) -> bool:
        """Whether the rules take `text`."""
        return self.verdict(text)[0]


def why_rejected(mask: Mask | None) -> str:
    """Why a rejected text was: the reject line that matched, or no accept line matching."""
    return f"matches reject {mask.pattern} ({mask.where})" if mask else "no accept"


def accepted_by(mask: Mask | None) -> str:
    """The rule that took an accepted text: an accept line, or accept_unmatch."""
    return f"accept {mask.pattern} ({mask.where})" if mask else "accept_unmatch"
