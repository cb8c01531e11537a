"""`sarra.sr_credentials` under its historic name, for plugins written against v2:
`parent.credentials.get(url)` answers `(ok, details)`, `details.url` being the URL parsed with
the user and password of credentials.conf filled in, beside its options (ssh_keyfile, passive,
binary, tls, prot_p, bearer_token). The lookup is sarra's own (sarra.config.credentials)."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import ParseResult, urlparse

from sarra.config.credentials import Credential, Credentials
from sarra.config.errors import ConfigError

__all__ = ["credential_details", "sr_credentials"]

_USABLE_WITHOUT_PASSWORD = frozenset({"http", "https", "sftp", "file"})


class credential_details:
    """What credentials.conf says about one URL."""

    def __init__(self, url: ParseResult | None = None, entry: Credential | None = None) -> None:
        self.url = url
        self.ssh_keyfile = entry.ssh_keyfile if entry else None
        self.passive = entry.passive if entry else True
        self.binary = entry.binary if entry else True
        self.tls = entry.tls if entry else False
        self.prot_p = entry.prot_p if entry else False
        self.bearer_token = entry.bearer_token if entry else None

    def __str__(self) -> str:
        url = self.url.geturl() if self.url else ""
        if self.url is not None and self.url.password:
            url = url.replace(f":{self.url.password}@", ":***@", 1)
        return (f"{url} {self.ssh_keyfile} {self.passive} {self.binary} {self.tls} "
                f"{self.prot_p} {'***' if self.bearer_token else None}")  # fmt: skip


class sr_credentials:
    """The credentials a plugin looks URLs up in: credentials.conf, and lines it adds."""

    def __init__(
        self, logger: logging.Logger | None = None, credentials: Credentials | None = None
    ) -> None:
        self.logger = logger or logging.getLogger("sarra.plugins")
        self._sources = [credentials or Credentials()]
        self._exact: dict[str, credential_details] = {}

    def read(self, path: str | Path) -> None:
        """Add the entries of a credentials file."""
        try:
            self._sources.insert(0, Credentials.load(path))
        except ConfigError as err:
            self.logger.error("credentials %s: %s", path, err)

    def parse(self, line: str) -> None:
        """Add one line written as in credentials.conf (URL, then options)."""
        try:
            self._sources.insert(0, Credentials.parse(line, "a plugin's credential"))
        except ConfigError as err:
            self.logger.error("bad credential: %s", err)

    def add(self, urlstr: str, details: credential_details | None = None) -> None:
        """Remember details for a URL written exactly so."""
        self._exact[urlstr] = details or credential_details(urlparse(urlstr))

    def has(self, urlstr: str) -> bool:
        """Whether details were added for a URL written exactly so."""
        return urlstr in self._exact

    def get(self, urlstr: str) -> tuple[bool, credential_details | None]:
        """(True, details) when credentials.conf has an entry for the URL; else (False,
        details of the URL alone) when it is usable without one, (False, None) when not."""
        if urlstr in self._exact:
            return True, self._exact[urlstr]
        for source in self._sources:
            resolved, entry = source.resolve(urlstr)
            if entry is not None:
                return True, credential_details(urlparse(resolved), entry)
        url = urlparse(urlstr)
        if url.scheme in _USABLE_WITHOUT_PASSWORD or (url.username and url.password):
            return False, credential_details(url)
        if url.scheme.startswith("amqp") and not url.username:
            anonymous = url._replace(netloc=f"anonymous:anonymous@{url.netloc}")
            return False, credential_details(anonymous)
        return False, None
