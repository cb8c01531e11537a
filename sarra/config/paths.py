"""Where configs, plugins, logs and state live: ~/.config/sarra and ~/.cache/sarra by default,
following XDG_CONFIG_HOME / XDG_CACHE_HOME; SR_DEV_APPNAME replaces the name 'sarra'."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def app_name() -> str:
    """The directory name under the XDG roots (SR_DEV_APPNAME for a development copy)."""
    return os.environ.get("SR_DEV_APPNAME") or "sarra"


def config_dir() -> Path:
    """~/.config/sarra: default.conf, admin.conf, credentials.conf, <component>/, plugins/."""
    return Path(platformdirs.user_config_dir(app_name(), appauthor=False))


def cache_dir() -> Path:
    """~/.cache/sarra: log/ and per-config state."""
    return Path(platformdirs.user_cache_dir(app_name(), appauthor=False))


def component_dir(component: str) -> Path:
    """Where the configs of one component live."""
    return config_dir() / component


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
    """The credentials of every URL, readable by its owner only."""
    return config_dir() / "credentials.conf"


def log_file(component: str, config: str, instance: int) -> Path:
    """The log of one instance: sr_<component>_<config>_NN.log (NN = 00 in the foreground)."""
    return log_dir() / f"sr_{component}_{config}_{instance:02d}.log"


def pid_file(component: str, config: str, instance: int) -> Path:
    """The pid file of one instance: sr_<component>_<config>_NN.pid in the config's state."""
    return state_dir(component, config) / f"sr_{component}_{config}_{instance:02d}.pid"
