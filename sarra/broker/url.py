"""Broker URLs: `amqp[s]://user:password@host:port/vhost`, completed from credentials.conf.

No user means anonymous:anonymous, no host means localhost, no port the scheme's default (5672,
or 5671 for amqps), no path (or `/`, or `/%2f`) the vhost `/`. A password missing from the URL
is taken from credentials.conf; none there either is an error.

Several nodes of a RabbitMQ cluster are listed in the host part, separated by commas:
`amqp://user@host1:5701,host2:5702,host3/vhost`. Each host is a broker of its own, with the
user, vhost and scheme of the URL and its password looked up for that host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from sarra.broker.errors import BrokerUrlError
from sarra.config import paths, types
from sarra.config.credentials import DEFAULT_PORTS, Credentials, redact_url

SCHEMES = ("amqp", "amqps")


@dataclass(frozen=True)
class BrokerUrl:
    """A broker to connect to, with the password it needs; str() and repr() never show it."""

    scheme: str
    host: str
    port: int
    vhost: str
    user: str
    password: str = field(repr=False)

    @property
    def tls(self) -> bool:
        """Whether the connection is made over TLS (amqps)."""
        return self.scheme == "amqps"

    def __str__(self) -> str:
        path = "" if self.vhost == "/" else quote(self.vhost, safe="")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{quote(self.user, safe='')}@{host}:{self.port}/{path}"


def split_hosts(url: str) -> list[str]:
    """One single-host URL per host of `url` (itself if it names one host or none)."""
    try:
        return types.split_hosts(url)
    except ValueError as err:
        raise BrokerUrlError(f"{redact_url(url)}: {err}") from None


def parse_broker_urls(url: str, credentials: Credentials | None = None) -> list[BrokerUrl]:
    """Every broker `url` names (several for a cluster listed as host1,host2,...), each with
    its password; see parse_broker_url."""
    if credentials is None:
        credentials = Credentials.load(paths.credentials_file())
    return [parse_broker_url(one, credentials) for one in split_hosts(url)]


def parse_broker_url(url: str, credentials: Credentials | None = None) -> BrokerUrl:
    """The broker `url` names, its password taken from `credentials` when the URL has none.

    `credentials` defaults to the user's credentials.conf. Raises BrokerUrlError, whose text
    never holds the password.
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise BrokerUrlError(f"{shown}: not a valid URL: {err}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise BrokerUrlError(f"{shown}: a broker URL starts with amqp:// or amqps://")
    if not parts.hostname:
        userinfo, at, _ = parts.netloc.rpartition("@")
        hostport = "localhost" if port is None else f"localhost:{port}"
        parts = parts._replace(netloc=f"{userinfo}{at}{hostport}")
    if credentials is None:
        credentials = Credentials.load(paths.credentials_file())
    resolved = urlsplit(credentials.resolve(urlunsplit(parts))[0])
    password = resolved.password
    if password is None:
        raise BrokerUrlError(
            f"{shown}: no password, neither in the URL nor in {paths.credentials_file()}"
        )
    return BrokerUrl(
        scheme=scheme,
        host=resolved.hostname or "localhost",
        port=port if port is not None else DEFAULT_PORTS[scheme],
        vhost=unquote(resolved.path.removeprefix("/")) or "/",
        user=unquote(resolved.username or "anonymous"),
        password=unquote(password),
    )
