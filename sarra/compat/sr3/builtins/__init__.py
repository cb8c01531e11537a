"""sarra's built-in flow callbacks, under the names sr3 gives its own (`callback log`,
`flowcb sarracenia.flowcb.nodupe.redis.Redis`, ...): our code, doing here what sr3's do there.

BUILTINS maps sr3's module name (below sarracenia.flowcb) to our class. A name is matched with
the class named in the config without regard to case (`callback accept.httptohttps` names
HttpToHttps).
"""

from __future__ import annotations

from typing import Any

from sarra.compat.sr3.builtins import (
    accept,
    bases,
    filter,
    housekeeping,
    log,
    markers,
    nodupe,
    poll,
    scheduled,
)  # fmt: skip

BUILTINS: dict[str, type] = {
    "log": log.Log,
    "nodupe.disk": nodupe.Disk,
    "nodupe.redis": nodupe.Redis,
    "nodupe.name": nodupe.Name,
    "nodupe.data_only": nodupe.Data_only,
    "retry": markers.Retry,
    "gather.message": markers.GatherMessage,
    "gather.file": markers.GatherFile,
    "post.message": markers.PostMessage,
    "housekeeping.resources": housekeeping.Resources,
    "scheduled": scheduled.Scheduled,
    "scheduled.poll": scheduled.Poll,
    "filter.fdelay": filter.Fdelay,
    "accept.httptohttps": accept.HttpToHttps,
    "accept.toclusters": accept.ToClusters,
    "accept.hourtree": accept.HourTree,
    "accept.posthourtree": accept.Posthourtree,
    "accept.printlag": accept.PrintLag,
    "accept.trim_legacy_fields": accept.Trim_legacy_fields,
    "accept.renamewhatfn": accept.RenameWhatFn,
    "accept.tolocalfile": accept.ToLocalFile,
}

BASES: dict[str, dict[str, type]] = {
    "nodupe": {"NoDupe": nodupe.NoDupe},
    "scheduled": {"Scheduled": scheduled.Scheduled},
    "poll": {"Poll": poll.Poll, "file_size_fix": poll.file_size_fix},
    "authenticate": {"BearerToken": bases.BearerToken},
    "pclean": {"PClean": bases.PClean},
    "work.check": {"Check": bases.Check},
}
"""The base classes sr3 callbacks subclass, by package."""


def sr3_name(module: str) -> str:
    """The class name sr3 reads in a bare module name (`post.message` -> Message)."""
    return module.rpartition(".")[2].capitalize()


def find(module: str, class_name: str) -> type | None:
    """Our class for sr3's module `module` (below sarracenia.flowcb) and the class named."""
    found = BUILTINS.get(module)
    if found is None or class_name.lower() not in (
        found.__name__.lower(),
        sr3_name(module).lower(),
    ):
        return None
    return found


def module_contents(module: str) -> dict[str, Any] | None:
    """What `sarracenia.flowcb.<module>` holds here: a built-in's class, the bases of a
    package; None when no built-in lives there or below."""
    contents: dict[str, Any] = dict(BASES.get(module, {}))
    found = BUILTINS.get(module)
    if found is not None:
        contents[found.__name__] = contents[sr3_name(module)] = found
    if contents or any(name.startswith(module + ".") for name in [*BUILTINS, *BASES]):
        return contents
    return None


def names() -> list[str]:
    """The built-ins' names, as a config names them."""
    return sorted(BUILTINS)
