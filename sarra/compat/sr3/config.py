"""`sarracenia.config` (and `sarracenia.config.credentials`) as sr3 flow callbacks use it: the
process's credentials, where configs, plugins and caches are, made from sarra's own
(sarra.config.paths, sarra.config.credentials through sarra.sr_credentials).

    ok, details = Config.credentials.get(url)    # details.url: parsed, password filled in
    Config.credentials.add(url, details=Credential(urlstr=url))
    ok, path = config_path("plugins", "name", mandatory=False, ctype="py")
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from sarra.compat.plugin_parent import Parent
from sarra.compat.sr3.options import Options
from sarra.config import paths
from sarra.config.loader import new_config
from sarra.sr_credentials import credential_details, sr_credentials

_lock = threading.Lock()
_shared: dict[Path, sr_credentials] = {}


def shared_credentials() -> sr_credentials:
    """The process's credentials (credentials.conf, sarra's then sr3's, and what callbacks
    add), read on first use."""
    path = paths.credentials_file()
    with _lock:
        found = _shared.get(path)
        if found is None:
            found = _shared[path] = sr_credentials()
            found.read(path)
        return found


class Credential(credential_details):
    """What is known of one URL: its parsed `url` (with the password), and its options
    (ssh_keyfile, passive, binary, tls, prot_p, bearer_token)."""

    def __init__(self, urlstr: str | None = None, **fields: Any) -> None:
        super().__init__(urlparse(urlstr) if urlstr else None)
        for name, value in fields.items():
            setattr(self, name, value)


CredentialDB = sr_credentials
"""The credentials a callback looks URLs up in (`get(url)` -> (ok, details), `add`, `has`)."""


class _ConfigType(type):
    @property
    def credentials(cls) -> sr_credentials:
        """The process's credentials (see shared_credentials)."""
        return shared_credentials()


class Config(metaclass=_ConfigType):
    """What callbacks read of sr3's Config class: its credentials, and the names of the
    entry points of v2 plugins."""

    v2entry_points: ClassVar[list[str]] = [
        "do_download", "do_get", "do_poll", "do_put", "do_send", "on_message", "on_file",
        "on_heartbeat", "on_housekeeping", "on_html_page", "on_part", "on_post", "on_report",
        "on_start", "on_stop", "on_watch", "plugin",
    ]  # fmt: skip
    components: ClassVar[list[str]] = [
        "poll", "post", "sarra", "sender", "shovel", "subscribe", "watch", "winnow",
    ]  # fmt: skip


def get_user_cache_dir(hostdir: str | None = None) -> str:
    """The cache directory (with statehost, the host's below it)."""
    root = paths.cache_dir()
    return str(root / hostdir if hostdir else root)


def get_user_config_dir() -> str:
    """The sr3 configuration directory (~/.config/sr3)."""
    return str(paths.sr3_config_dir())


def get_pid_filename(hostdir: str | None, component: str, configuration: str, no: int) -> str:
    """The pid file of an instance."""
    return str(paths.pid_file(component, configuration, no))


def config_path(
    subdir: str, config: str | None, mandatory: bool = True, ctype: str = "conf"
) -> tuple[bool, str | None]:
    """(True, path) of a config or plugin file found in the sr3 tree or sarra's (as written,
    then with `.ctype`); (False, the name) when there is none."""
    if config is None:
        return False, None
    name = config if config.endswith("." + ctype) else f"{config}.{ctype}"
    written = Path(os.path.expanduser(config))
    candidates = [written, written.with_name(name)] if written.is_absolute() else []
    for root in (paths.sr3_config_dir(), paths.config_dir()):
        candidates += [root / subdir / config, root / subdir / name]
    for candidate in candidates:
        if candidate.is_file():
            return True, str(candidate)
    return False, config


def default_config(component: str = "subscribe") -> Any:
    """Options with sr3's defaults, under sr3's names, as a callback gets them."""
    config = new_config(component, "default", "sr3")
    return Options(config, Parent(config))
