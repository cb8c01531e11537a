"""credentials.conf: the passwords and connection details that go with URLs, and redaction.

Each line holds one URL with its password (URL-encoded), optionally followed by whitespace and
comma-separated options::

    sftp://alice@example.org/ ssh_keyfile=~/.ssh/id_ed25519
    ftp://bob:s%40cret@ftp.example.org/ active,ascii
    amqps://feeder:p%3Ass@broker.example.org/ tls

A URL is matched to the first entry written exactly like it, else to the first entry with the same
scheme, host and port (default ports filled in), the same user and password where the URL gives
them, and for amqp(s) the same vhost. An amqp(s) URL without a user means anonymous:anonymous.

Secrets never leave this module in a message: errors name the file and line, never the text, and
`redact_text` / `RedactingFilter` keep passwords out of log lines.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

from sarra.config import paths
from sarra.config.errors import ConfigError, ConfigErrors, Where

DEFAULT_PORTS: dict[str, int] = {
    "amqp": 5672,
    "amqps": 5671,
    "mqtt": 1883,
    "mqtts": 8883,
    "ws": 80,
    "wss": 443,
    "ftp": 21,
    "ftps": 21,
    "sftp": 22,
    "http": 80,
    "https": 443,
}

# Schemes whose URL is usable without a password (keys, tokens, anonymous access, local files).
_PASSWORD_OPTIONAL = frozenset({"http", "https", "sftp", "file"})
_AMQP = frozenset({"amqp", "amqps"})
_ANONYMOUS = "anonymous"

# Flag options: name -> (Credential field, value it sets).
_FLAGS: dict[str, tuple[str, bool]] = {
    "passive": ("passive", True),
    "active": ("passive", False),
    "binary": ("binary", True),
    "ascii": ("binary", False),
    "tls": ("tls", True),
    "ssl": ("tls", True),
    "prot_p": ("prot_p", True),
}
# Options with a value: name -> Credential field.
_VALUED: dict[str, str] = {
    "ssh_keyfile": "ssh_keyfile",
    "bearer_token": "bearer_token",
    "bt": "bearer_token",
}
# sr3's options for transfers sarra does not have (s3, azure, implicit FTPS, login methods):
# accepted, so that sr3's credentials.conf reads, and without effect.
_SR3_ONLY = frozenset(
    (
        "login_method",
        "implicit_ftps",
        "s3_session_token",
        "s3_endpoint",
        "azure_storage_credentials",
    )
)
_OPTION_NAMES = sorted([*_FLAGS, *_VALUED, *_SR3_ONLY])

_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# scheme://user:password@ -- the password runs to the last '@' of the whitespace-free run, so a
# password with a raw '@' or '/' is hidden whole (at worst, a little more is hidden).
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*):\S*@")
_TOKENS = re.compile(r"(?P<head>\b(?i:bearer_token|bt)=|\bBearer\s+)[^\s,]+")
_HIDDEN = "***"


@dataclass(frozen=True, repr=False)
class Credential:
    """One line of credentials.conf: the URL's pieces (password decoded) and its options.

    `port` is the explicit port or the scheme's default (None when the scheme has none);
    `path` is the URL's path as written (for amqp, see `vhost`).
    """

    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int | None
    path: str = ""
    ssh_keyfile: str | None = None
    passive: bool = True
    binary: bool = True
    tls: bool = False
    prot_p: bool = False
    bearer_token: str | None = None
    where: Where | None = None

    @property
    def vhost(self) -> str:
        """The AMQP virtual host named by the path ('' and '/' mean '/')."""
        return _vhost(self.path)

    def __repr__(self) -> str:
        def secret(value: str | None) -> str:
            return "None" if value is None else repr(_HIDDEN)

        return (
            f"Credential(scheme={self.scheme!r}, user={self.user!r}, "
            f"password={secret(self.password)}, host={self.host!r}, port={self.port!r}, "
            f"path={self.path!r}, ssh_keyfile={self.ssh_keyfile!r}, passive={self.passive}, "
            f"binary={self.binary}, tls={self.tls}, prot_p={self.prot_p}, "
            f"bearer_token={secret(self.bearer_token)}, where={self.where!r})"
        )


class Credentials:
    """The entries of a credentials.conf, in file order, looked up by URL."""

    def __init__(self, entries: list[tuple[str, Credential]] | None = None) -> None:
        """`entries` pairs each URL as written with its parsed Credential."""
        self._entries = list(entries or [])

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Credentials:
        """Read a credentials file; missing means empty, open to group or others means refused.
        The user's (paths.credentials_file()) is followed by sr3's (~/.config/sr3), if any:
        an sr3 user's passwords are found, and where both have a URL, sarra's wins."""
        path = Path(path).expanduser()
        found = cls._load_one(path)
        if path == paths.credentials_file():
            found._entries += cls._load_one(paths.sr3_credentials_file())._entries
        return found

    @classmethod
    def _load_one(cls, path: Path) -> Credentials:
        try:
            with path.open(encoding="utf-8") as f:
                _check_private(path, os.fstat(f.fileno()).st_mode)
                text = f.read()
        except FileNotFoundError:
            return cls()
        except UnicodeDecodeError:
            raise ConfigError(Where(str(path)), "not UTF-8 text") from None
        except OSError as e:
            raise ConfigError(Where(str(path)), f"cannot read: {e.strerror or e}") from None
        return cls.parse(text, str(path))

    @classmethod
    def parse(cls, text: str, file: str) -> Credentials:
        """Parse the text of a credentials file; all bad lines are reported together."""
        entries: list[tuple[str, Credential]] = []
        errors: list[ConfigError] = []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            url, *options = line.split(maxsplit=1)
            try:
                entries.append((url, _parse_entry(url, "".join(options), Where(file, number))))
            except ConfigErrors as e:
                errors.extend(e.errors)
        if errors:
            raise ConfigErrors(errors)
        return cls(entries)

    def lookup(self, url: str) -> Credential | None:
        """The entry for `url`: exact match first, else the first that fits (module docstring)."""
        for written, credential in self._entries:
            if written == url:
                return credential
        wanted = _split(url)
        if wanted is None:
            return None
        for _, credential in self._entries:
            if _fits(credential, wanted):
                return credential
        return None

    def resolve(self, url: str) -> tuple[str, Credential | None]:
        """`url` with the user and password it needs filled in, and the entry they came from."""
        credential = self.lookup(url)
        wanted = _split(url)
        if wanted is None:
            return url, credential
        user, password = wanted.user, wanted.password
        if credential is not None:
            user = user if user is not None else credential.user
            password = password if password is not None else credential.password
        if user is None or (user, password) == _userinfo(wanted.parts):
            return url, credential
        return _with_userinfo(wanted.parts, user, password), credential


class _Wanted(NamedTuple):
    """A looked-up URL reduced to what matching compares."""

    parts: SplitResult
    scheme: str
    host: str
    port: int | None
    user: str | None
    password: str | None
    vhost: str


def _split(url: str) -> _Wanted | None:
    """The matching key of a URL, or None when it does not parse."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    user, password = _userinfo(parts)
    if scheme in _AMQP and not user:
        user, password = _ANONYMOUS, _ANONYMOUS
    return _Wanted(
        parts=parts,
        scheme=scheme,
        host=parts.hostname or "",
        port=port if port is not None else DEFAULT_PORTS.get(scheme),
        user=user,
        password=password,
        vhost=_vhost(parts.path),
    )


def _userinfo(parts: SplitResult) -> tuple[str | None, str | None]:
    """The user and password as a URL gives them (decoded)."""
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return user, password


def _fits(credential: Credential, wanted: _Wanted) -> bool:
    """Same scheme, host and port; same user and password where the URL gives them; same vhost."""
    return (
        credential.scheme == wanted.scheme
        and credential.host == wanted.host
        and credential.port == wanted.port
        and wanted.user in (None, credential.user)
        and wanted.password in (None, credential.password)
        and (wanted.scheme not in _AMQP or credential.vhost == wanted.vhost)
    )


def _vhost(path: str) -> str:
    return unquote(path.removeprefix("/")) or "/"


def _with_userinfo(parts: SplitResult, user: str, password: str | None) -> str:
    """The URL with its user and password replaced (both URL-encoded)."""
    userinfo = quote(user, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    hostport = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{hostport}"))


def _check_private(path: Path, mode: int) -> None:
    """Refuse a file that group or others may read or write, saying how to fix it (as ssh does)."""
    if not mode & 0o077:
        return
    who = " and ".join(name for name, bits in (("group", 0o070), ("others", 0o007)) if mode & bits)
    can = " and ".join(
        word for word, bits in (("readable", 0o044), ("writable", 0o022)) if mode & bits
    )
    import shlex  # for this mistake only

    raise ConfigError(
        Where(str(path)),
        f"{can or 'accessible'} by {who} (mode {stat.S_IMODE(mode):04o}); "
        f"run: chmod 600 {shlex.quote(str(path))}",
    )


def _parse_entry(url: str, options: str, where: Where) -> Credential:
    """One line's URL and options; raises ConfigErrors naming every problem (never the secret)."""
    errors: list[ConfigError] = []
    credential = _parse_url(url, where, errors)
    settings: dict[str, object] = {}
    for option in filter(None, (o.strip() for o in options.split(","))):
        _parse_option(option, where, settings, errors)
    if credential is None or errors:
        raise ConfigErrors(errors)
    return replace(credential, **settings)


def _parse_url(url: str, where: Where, errors: list[ConfigError]) -> Credential | None:
    if not _URL_START.match(url):
        errors.append(ConfigError(where, "not a URL (expected scheme://user:password@host/)"))
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        errors.append(ConfigError(where, "the URL's port is not a number from 0 to 65535"))
        return None
    scheme = parts.scheme.lower()
    user, password = _userinfo(parts)
    if scheme in _AMQP and not user:
        user, password = _ANONYMOUS, _ANONYMOUS
    if not parts.hostname and scheme != "file":
        errors.append(ConfigError(where, "the URL has no host"))
        return None
    if password is None and scheme not in _PASSWORD_OPTIONAL:
        errors.append(ConfigError(where, f"a {scheme} URL needs a password (URL-encoded)"))
        return None
    return Credential(
        scheme=scheme,
        user=user,
        password=password,
        host=parts.hostname or "",
        port=port if port is not None else DEFAULT_PORTS.get(scheme),
        path=parts.path,
        where=where,
    )


def _parse_option(
    option: str, where: Where, settings: dict[str, object], errors: list[ConfigError]
) -> None:
    name, has_value, value = option.partition("=")
    name = name.strip().lower()
    value = value.strip()
    if name in _FLAGS:
        if has_value:
            errors.append(ConfigError(where, f"option {name!r} takes no value"))
            return
        field, setting = _FLAGS[name]
        settings[field] = setting
    elif name in _VALUED:
        if not value:
            errors.append(ConfigError(where, f"option {name!r} needs a value ({name}=...)"))
            return
        settings[_VALUED[name]] = value
    elif name not in _SR3_ONLY:
        import difflib  # 10 ms of imports: only for a mistake

        close = difflib.get_close_matches(name, _OPTION_NAMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(_OPTION_NAMES)
        errors.append(ConfigError(where, f"unknown option {name!r}{hint}; known: {known}"))


def redact_url(url: object) -> str:
    """The URL with any password replaced by '***' (the user is kept); never raises."""
    try:
        return redact_text(url if isinstance(url, str) else str(url))
    except Exception:
        return f"<unprintable {type(url).__name__}>"


def redact_text(text: str) -> str:
    """Text with every `scheme://user:password@` password and bearer token replaced by '***'."""
    # each pattern needs a character most lines lack: a log line per file pays no regex
    if "@" in text:
        text = _USERINFO.sub(lambda m: f"{m['head']}:{_HIDDEN}@", text)
    if "=" in text or "Bearer" in text:
        text = _TOKENS.sub(lambda m: f"{m['head']}{_HIDDEN}", text)
    return text


class RedactingFilter(logging.Filter):
    """Redacts passwords from a record's message, traceback and stack before any handler sees it.

    Attach it to handlers: a logger's own filters do not see records from its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed logging call: keep its pieces, redacted
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
