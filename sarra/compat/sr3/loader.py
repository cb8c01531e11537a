"""Finding and making the sr3 flow callbacks a config names.

`callback name`, `flowcb name` (and flowCallback, callback_prepend, ...) name a class as sr3
does: `log` -> module log, class Log; `accept.httptohttps` -> module accept.httptohttps, class
Httptohttps; `pkg.mod.Class` (the last part capitalised) -> that class; a path to a `.py` file
-> the class of that file named like it (or its only callback class). The class name is matched
without regard to case. The module is looked for:

1. in the user's plugin directories, ~/.config/sr3/plugins then ~/.config/sarra/plugins (they
   are put at the front of the import path, as sr3 does);
2. among sarra's built-in callbacks, under sr3's names (sarra.compat.sr3.builtins);
3. on Python's import path, then as `sarracenia.flowcb.<name>`: the real sr3's when it is
   installed, else the `sarracenia` shim (sarra.compat.sr3.shim), installed for this.

Each class is made with `Class(options)`, its options being the config's under sr3's names
with the settings of its `set <name>.<option> value` lines (sarra.compat.sr3.options).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from sarra.compat.sr3 import builtins, shim
from sarra.compat.sr3.adapters import Flow, Registered, hooks_of, ignored_of
from sarra.compat.sr3.flowcb import entry_points
from sarra.compat.sr3.options import Options
from sarra.config import paths
from sarra.config.errors import ConfigError, Where

logger = logging.getLogger("sarra.plugins")

PREFIX = "sarracenia.flowcb."


def sr3_plugins_dir() -> Path:
    """sr3's directory of the user's plugins: ~/.config/sr3/plugins."""
    return paths.sr3_config_dir() / "plugins"


def plugin_dirs() -> list[Path]:
    """Where the user's callback modules are looked for first, in order."""
    return [sr3_plugins_dir(), paths.plugins_dir()]


def prepare_imports() -> None:
    """Make callback modules importable: the user's plugin directories at the front of the
    import path (those that exist), the `sarracenia` shim last among the finders."""
    for directory in reversed(plugin_dirs()):
        text = str(directory)
        if directory.is_dir() and text not in sys.path:
            sys.path.insert(0, text)
    shim.install()


def split_name(ref: str) -> tuple[str, str]:
    """The module and class a callback name stands for, as sr3 reads it."""
    if "." not in ref:
        return ref, ref.capitalize()
    module, _, last = ref.rpartition(".")
    if last[:1].islower():
        return ref, last.capitalize()
    return module, last


def settings_of(lines: list[str], where: Where | None = None) -> dict[str, dict[str, str]]:
    """The `set <class path>.<option> <value>` lines, by class path."""
    settings: dict[str, dict[str, str]] = {}
    for line in lines:
        name, _, value = line.strip().partition(" ")
        owner, _, option = name.rpartition(".")
        if not owner or not option:
            raise ConfigError(where, f"set {line}: use set <module.Class>.<option> <value>")
        settings.setdefault(owner, {})[option] = value.strip()
    return settings


@dataclass
class Loaded:
    """One callback made: its hooks, and its module's text (to tell the options it reads)."""

    hooks: list[Registered]
    source: str


def load(ref: str, where: Where | None, options: Options, flow: Flow) -> Loaded:
    """Find, make and adapt the callback a config line names (ConfigError: why not)."""
    prepare_imports()
    cls, names = find_class(ref, where)
    made = options.for_class([ref, *names])
    try:
        callback = cls(made)
    except (Exception, SystemExit) as err:  # sr3's callbacks exit when a setting is missing
        raise ConfigError(where, f"flow callback {ref}: {cls.__name__}(options) failed: "
                                 f"{type(err).__name__}: {err}") from None  # fmt: skip
    label = names[0]
    ignored = ignored_of(callback)
    if ignored and cls not in builtins.BUILTINS.values():
        logger.info("flow callback %s: %s not run by sarra", ref, ", ".join(ignored))
    return Loaded(hooks_of(callback, label, flow), _source(cls))


def find_class(ref: str, where: Where | None) -> tuple[type, list[str]]:
    """The class a callback name stands for, and the names it goes by (for `set` lines)."""
    if ref.endswith(".py") or "/" in ref:
        return _from_file(Path(ref).expanduser(), ref, where)
    module_name, class_name = split_name(ref)
    short = module_name.removeprefix(PREFIX)
    top = module_name.partition(".")[0]
    if any(_is_module(d, top) for d in plugin_dirs()):
        _forget(top)  # read afresh: the file may have changed since (reload), or be another's
        module = _import(module_name, ref, where)
        if module is not None:
            return _class_of(module, class_name, ref, where), _names(module_name, class_name)
    builtin = builtins.find(short, class_name)
    if builtin is not None:
        return builtin, _names(short, builtin.__name__)
    candidates = [module_name] if module_name.startswith(PREFIX) else [module_name, PREFIX + short]
    for candidate in candidates:
        module = _import(candidate, ref, where)
        if module is not None:
            return _class_of(module, class_name, ref, where), _names(candidate, class_name)
    looked = ", ".join(str(d) for d in plugin_dirs())
    raise ConfigError(where, f"flow callback {ref}: not found (looked in {looked}, among the "
                             f"built-in callbacks ({', '.join(builtins.names())}) and on Python's"
                             " import path)")  # fmt: skip


def _names(module: str, class_name: str) -> list[str]:
    short = module.removeprefix(PREFIX)
    return list(dict.fromkeys([f"{short}.{class_name}", f"{PREFIX}{short}.{class_name}",
                               module]))  # fmt: skip


def _is_module(directory: Path, name: str) -> bool:
    return (directory / f"{name}.py").is_file() or (directory / name / "__init__.py").is_file()


def _forget(top: str) -> None:
    """Drop a module of the user's (and its submodules) from the modules imported."""
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def _import(name: str, ref: str, where: Where | None) -> ModuleType | None:
    """The module, or None when there is no module of that name; ConfigError when it is
    there but cannot load (a module it needs is missing, it raises...)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and (name == err.name or name.startswith(err.name + ".")):
            return None
        raise ConfigError(where, f"flow callback {ref} cannot load: {err}") from None
    except Exception as err:
        raise ConfigError(where, f"flow callback {ref} cannot load: {type(err).__name__}: "
                                 f"{err}") from None  # fmt: skip


def _class_of(module: ModuleType, class_name: str, ref: str, where: Where | None) -> type:
    found = getattr(module, class_name, None)
    if not isinstance(found, type):
        wanted = class_name.lower()
        matches = [
            v for k, v in vars(module).items() if isinstance(v, type) and k.lower() == wanted
        ]
        found = matches[0] if matches else None
    if found is None:
        raise ConfigError(where, f"flow callback {ref}: {module.__name__} has no class "
                                 f"{class_name}")  # fmt: skip
    return found


def _from_file(path: Path, ref: str, where: Where | None) -> tuple[type, list[str]]:
    """The callback class of a .py file named in the config."""
    if not path.is_file():
        raise ConfigError(where, f"flow callback {ref}: no such file")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    name = f"sarra_flowcb_{path.parent.name}_{path.stem}_{digest}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as err:
            del sys.modules[name]
            raise ConfigError(where, f"flow callback {ref} cannot load: {type(err).__name__}: "
                                     f"{err}") from None  # fmt: skip
    stem = path.parent.name if path.stem == "__init__" else path.stem  # a package's
    wanted = stem.replace("_", "").lower()
    classes = [v for v in vars(module).values()
               if isinstance(v, type) and v.__module__ == name]  # fmt: skip
    named = [c for c in classes if c.__name__.replace("_", "").lower() == wanted]
    callbacks = [c for c in classes if any(callable(getattr(c, e, None)) for e in entry_points)]
    chosen = named or (callbacks if len(callbacks) == 1 else [])
    if not chosen:
        raise ConfigError(where, f"flow callback {ref}: no class named like the file, and "
                                 f"{len(callbacks)} callback classes in it")  # fmt: skip
    return chosen[0], [f"{path.parent.name}.{stem}", stem, str(path)]


def _source(cls: type) -> str:
    """The text of the module of a class ("" when it cannot be read)."""
    try:
        return inspect.getsource(sys.modules[cls.__module__])
    except (OSError, TypeError, KeyError):
        return ""
