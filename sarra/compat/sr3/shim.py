"""The `sarracenia` package as sr3 flow callbacks import it, for when sr3 is not installed.

A callback written for sr3 starts `from sarracenia.flowcb import FlowCB` and may use
`sarracenia.Message`, `sarracenia.nowflt`, `sarracenia.timestr2flt` and the like. Those names
are served by a finder put last on `sys.meta_path` when a config names sr3 callbacks, in
sarra's own processes only: it is asked only after every other finder has found no
`sarracenia`, so a real sr3 installed beside sarra is always the one imported, and nothing of
sarra's shadows it. The modules it serves are made on import from sarra's own code:

    sarracenia                   Message, the time/duration/size helpers, __version__,
                                 known_report_codes, stat, features
    sarracenia.flowcb            FlowCB, entry_points
    sarracenia.featuredetection  features (which optional modules are there)
    sarracenia.filemetadata      FmdStat
    sarracenia.identity          Identity (checksums by method name)      (sr3.identity)
    sarracenia.moth              Moth, default_options (broker I/O)        (sr3.moth)
    sarracenia.config            Config.credentials, config_path...       (sr3.config)
    sarracenia.config.credentials  Credential, CredentialDB                (sr3.config)
    sarracenia.transfer          Transfer (a server's files, listings)     (sr3.transfer)
    sarracenia.flowcb.<name>     sarra's built-in callbacks under sr3's module names
                                 (sarracenia.flowcb.log.Log, ...nodupe.disk.Disk, ...) and the
                                 bases sr3's callbacks subclass (...poll.Poll, ...pclean.PClean)

A served module's submodule is imported when it is first read as an attribute
(`import sarracenia` then `sarracenia.moth.Moth`), as it is in an sr3 process that has
imported it already.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

ROOT = "sarracenia"
_lock = threading.Lock()


def _features() -> dict[str, dict[str, Any]]:
    """sr3's feature table: for each optional feature, whether its modules are there."""
    wanted = {
        "amqp": ["amqp"], "mqtt": ["paho.mqtt.client"], "redis": ["redis"],
        "retry": ["jsonpickle"], "process": ["psutil"], "watch": ["watchdog"],
        "humanize": ["humanize"],
        "appdirs": ["platformdirs"], "ftppoll": ["dateparser", "pytz"], "filetypes": ["magic"],
        "vip": ["netifaces"], "xattr": ["xattr"], "reassembly": ["flufl.lock"],
        "s3": ["boto3"], "sftp": ["paramiko"], "azurestorage": ["azure.storage.blob"],
    }  # fmt: skip
    table = Features()
    for name, modules in wanted.items():
        present = all(_importable(m) for m in modules)
        table[name] = {"modules_needed": modules, "present": present, "lack": "", "rejoice": ""}
    return table


class Features(dict[str, dict[str, Any]]):
    """sr3's feature table; a feature nobody declared is absent."""

    def __missing__(self, name: str) -> dict[str, Any]:
        return {"modules_needed": [], "present": False, "lack": "", "rejoice": ""}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


_MODULES = {
    f"{ROOT}.identity": "sarra.compat.sr3.identity",
    f"{ROOT}.moth": "sarra.compat.sr3.moth",
    f"{ROOT}.config": "sarra.compat.sr3.config",
    f"{ROOT}.transfer": "sarra.compat.sr3.transfer",
}
"""Served modules made of the public names of one of ours."""

_NAMES = {
    f"{ROOT}.config.credentials": ("sarra.compat.sr3.config", ("Credential", "CredentialDB")),
}
"""Served modules made of some names of one of ours."""


def _public(module: str, names: Sequence[str] | None = None) -> dict[str, Any]:
    found = vars(importlib.import_module(module))
    chosen = names or [n for n in found if not n.startswith("_")]
    return {name: found[name] for name in chosen}


def _contents(fullname: str) -> dict[str, Any] | None:
    """The names of a served module; None when it is not served."""
    from sarra.compat.sr3 import api, builtins, flowcb, message

    if fullname in _MODULES:
        return _public(_MODULES[fullname])
    if fullname in _NAMES:
        return _public(*_NAMES[fullname])

    if fullname == ROOT:
        names = {name: getattr(api, name) for name in api.__all__}
        return {**names, "__version__": api.__version__, "Message": message.Message,
                "features": features()}  # fmt: skip
    if fullname == f"{ROOT}.featuredetection":
        return {"features": features()}
    if fullname == f"{ROOT}.filemetadata":
        return {"FmdStat": api.FmdStat}
    if fullname == f"{ROOT}.flowcb":
        return {"FlowCB": flowcb.FlowCB, "entry_points": flowcb.entry_points}
    prefix = f"{ROOT}.flowcb."
    if fullname.startswith(prefix):
        return builtins.module_contents(fullname[len(prefix) :])
    return None


_FEATURES = Features()


def features() -> dict[str, dict[str, Any]]:
    """The one feature table of this process (callbacks add their own entries to it)."""
    with _lock:
        if not _FEATURES:
            _FEATURES.update(_features())
    return _FEATURES


class _Loader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__.update(_contents(module.__name__) or {})
        module.__dict__["__getattr__"] = _submodule_of(module.__name__)


def _submodule_of(fullname: str) -> Any:
    """A module's `__getattr__`: a served submodule, imported when first read."""

    def submodule(name: str) -> ModuleType:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"{fullname}.{name}")
        except ImportError:
            raise AttributeError(f"module {fullname!r} has no attribute {name!r}") from None

    return submodule


class ShimFinder(importlib.abc.MetaPathFinder):
    """Serves `sarracenia` and its modules above from sarra's code (see the module's doc)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ROOT and not fullname.startswith(ROOT + "."):
            return None
        parent = sys.modules.get(fullname.rpartition(".")[0]) if "." in fullname else None
        if parent is not None and not isinstance(parent.__spec__.loader, _Loader):
            return None  # a submodule of the real sr3: not ours to serve
        contents = _contents(fullname)
        if contents is None:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, _Loader(), is_package=True)
        spec.submodule_search_locations = []
        return spec


def install() -> None:
    """Put the finder last on sys.meta_path (once)."""
    with _lock:
        if not any(isinstance(f, ShimFinder) for f in sys.meta_path):
            sys.meta_path.append(ShimFinder())


def serving() -> bool:
    """Whether `sarracenia`, as this process imports it, is the shim (sr3 is not installed)."""
    module = sys.modules.get(ROOT)
    if module is None:
        spec = importlib.util.find_spec(ROOT)
        return spec is not None and isinstance(spec.loader, _Loader)
    return isinstance(getattr(module.__spec__, "loader", None), _Loader)
