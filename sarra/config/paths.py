"""Where configs, plugins, logs and state live: ~/.config/sarra and ~/.cache/sarra by default,
following XDG_CONFIG_HOME / XDG_CACHE_HOME; SR_DEV_APPNAME replaces the name 'sarra'.

sr3's tree, ~/.config/sr3, is read too (its configs, default.conf, admin.conf, credentials.conf
and plugins/), with sr3's option names and defaults: a config's dialect is the tree it is in.
Logs and state of every config stay under ~/.cache/sarra."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def app_name() -> str:
    """The directory name under the XDG roots (SR_DEV_APPNAME for a development copy)."""
    return os.environ.get("SR_DEV_APPNAME") or "sarra"


def _user_dir(kind: str, app: str) -> Path:
    """The user's `kind` (config, cache) directory of an application. On Linux the XDG rule
    (XDG_<KIND>_HOME when an absolute path, else ~/.<kind>), as platformdirs has it, without
    importing platformdirs at every start (its imports were a tenth of a one-shot sr_post's
    CPU); elsewhere, platformdirs' conventions."""
    if sys.platform.startswith("linux"):
        base = os.environ.get(f"XDG_{kind.upper()}_HOME", "")
        return Path(base if os.path.isabs(base) else os.path.expanduser(f"~/.{kind}"), app)
    import platformdirs

    found = getattr(platformdirs, f"user_{kind}_dir")(app, appauthor=False)
    return Path(found)


def config_dir() -> Path:
    """~/.config/sarra: default.conf, admin.conf, credentials.conf, <component>/, plugins/."""
    return _user_dir("config", app_name())


def cache_dir() -> Path:
    """~/.cache/sarra: log/ and per-config state."""
    return _user_dir("cache", app_name())


DIALECTS = ("v2", "sr3")
"""The config trees: sarra's own (v2's names and defaults) and sr3's."""


def sr3_config_dir() -> Path:
    """~/.config/sr3: sr3's configs, read as they are (sr3's names and defaults)."""
    return _user_dir("config", "sr3")


def config_root(dialect: str = "v2") -> Path:
    """The config tree of a dialect: ~/.config/sarra (v2) or ~/.config/sr3 (sr3)."""
    return sr3_config_dir() if dialect == "sr3" else config_dir()


def dialect_of(path: Path) -> str:
    """sr3 for a file below ~/.config/sr3, else v2."""
    try:
        path.absolute().relative_to(sr3_config_dir().absolute())
    except ValueError:
        return "v2"
    return "sr3"


def component_dir(component: str, dialect: str = "v2") -> Path:
    """Where the configs of one component live (in sarra's tree, or in sr3's)."""
    return config_root(dialect) / component


def plugins_dir() -> Path:
    """The user's plugins, searched before the shipped ones."""
    return config_dir() / "plugins"


def log_dir() -> Path:
    """The log files of every instance."""
    return cache_dir() / "log"


def state_dir(component: str, config: str) -> Path:
    """Per-config state: pid files, queue name, retry queue, duplicate cache."""
    return cache_dir() / component / config


def credentials_file() -> Path:
    """The credentials of every URL, readable by its owner only (sr3's credentials.conf is
    read after it: see Credentials.load)."""
    return config_dir() / "credentials.conf"


def sr3_credentials_file() -> Path:
    """sr3's credentials.conf, whose entries come after those of sarra's."""
    return sr3_config_dir() / "credentials.conf"


def log_file(component: str, config: str, instance: int) -> Path:
    """The log of one instance: sr_<component>_<config>_NN.log (NN = 00 in the foreground)."""
    return log_dir() / f"sr_{component}_{config}_{instance:02d}.log"


def pid_file(component: str, config: str, instance: int) -> Path:
    """The pid file of one instance: sr_<component>_<config>_NN.pid in the config's state."""
    return state_dir(component, config) / f"sr_{component}_{config}_{instance:02d}.pid"
