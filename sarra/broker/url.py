"""Broker URLs, completed from credentials.conf, and the kind of broker each scheme names.

AMQP: `amqp[s]://user:password@host:port/vhost`. No user means anonymous:anonymous, no port the
scheme's default (5672, or 5671 for amqps), no path (or `/`, or `/%2f`) the vhost `/`.
Several nodes of a RabbitMQ cluster are listed in the host part, separated by commas:
`amqp://user@host1:5701,host2:5702,host3/vhost`. Each host is a broker of its own, with the
user, vhost and scheme of the URL and its password looked up for that host.

MQTT: `mqtt://` (1883), `mqtts://` (8883, TLS), and over websockets `ws://host:80/path` and
`wss://host:443/path` (the path defaults to /mqtt). No user means no user name at all (brokers
that allow anonymous clients); the URL's path means nothing over plain MQTT. One host per URL.

No host means localhost. A password missing from the URL of a user is taken from
credentials.conf; none there either is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from sarra.broker.errors import BrokerUrlError
from sarra.config import paths, types
from sarra.config.credentials import DEFAULT_PORTS, Credentials, redact_url

KINDS: dict[str, str] = {
    "amqp": "amqp",
    "amqps": "amqp",
    "mqtt": "mqtt",
    "mqtts": "mqtt",
    "ws": "mqtt",
    "wss": "mqtt",
}
"""The kind of broker (the protocol) each URL scheme names."""

SCHEMES = tuple(KINDS)

TLS_SCHEMES = frozenset({"amqps", "mqtts", "wss"})
WEBSOCKET_SCHEMES = frozenset({"ws", "wss"})
WEBSOCKET_PATH = "/mqtt"
"""The path of an MQTT websocket URL that gives none (the usual one of brokers)."""


def kind_of(url: str) -> str:
    """The kind of broker a URL names (`amqp` or `mqtt`); BrokerUrlError for another scheme."""
    scheme = url.partition("://")[0].lower()
    if scheme not in KINDS:
        raise _not_a_broker(redact_url(url))
    return KINDS[scheme]


def _not_a_broker(shown: str) -> BrokerUrlError:
    schemes = ", ".join(f"{name}://" for name in SCHEMES[:-1])
    return BrokerUrlError(f"{shown}: a broker URL starts with {schemes} or {SCHEMES[-1]}://")


@dataclass(frozen=True)
class BrokerUrl:
    """A broker to connect to, with the password it needs; str() and repr() never show it.

    `vhost` is AMQP's virtual host (`/` for MQTT); `path` the websocket path of an MQTT
    websocket URL (empty otherwise); `user` is empty for an MQTT client without a user name.
    """

    scheme: str
    host: str
    port: int
    vhost: str
    user: str
    password: str = field(repr=False)
    path: str = ""

    @property
    def kind(self) -> str:
        """The kind of broker: amqp or mqtt."""
        return KINDS[self.scheme]

    @property
    def tls(self) -> bool:
        """Whether the connection is made over TLS (amqps, mqtts, wss)."""
        return self.scheme in TLS_SCHEMES

    @property
    def websocket(self) -> bool:
        """Whether MQTT is carried over websockets (ws, wss)."""
        return self.scheme in WEBSOCKET_SCHEMES

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{quote(self.user, safe='')}@" if self.user else ""
        if self.kind == "mqtt":
            return f"{self.scheme}://{user}{host}:{self.port}{self.path}"
        path = "" if self.vhost == "/" else quote(self.vhost, safe="")
        return f"{self.scheme}://{user}{host}:{self.port}/{path}"


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
    if scheme not in KINDS:
        raise _not_a_broker(shown)
    kind = KINDS[scheme]
    if not parts.hostname:
        userinfo, at, _ = parts.netloc.rpartition("@")
        hostport = "localhost" if port is None else f"localhost:{port}"
        parts = parts._replace(netloc=f"{userinfo}{at}{hostport}")
    if credentials is None:
        credentials = Credentials.load(paths.credentials_file())
    resolved = urlsplit(credentials.resolve(urlunsplit(parts))[0])
    password = resolved.password
    anonymous_mqtt = kind == "mqtt" and not resolved.username
    if password is None and not anonymous_mqtt:
        raise BrokerUrlError(
            f"{shown}: no password, neither in the URL nor in {paths.credentials_file()}"
        )
    mqtt_path = ""
    if scheme in WEBSOCKET_SCHEMES:
        mqtt_path = resolved.path if resolved.path not in ("", "/") else WEBSOCKET_PATH
    return BrokerUrl(
        scheme=scheme,
        host=resolved.hostname or "localhost",
        port=port if port is not None else DEFAULT_PORTS[scheme],
        vhost="/" if kind == "mqtt" else unquote(resolved.path.removeprefix("/")) or "/",
        user=unquote(resolved.username or ("" if kind == "mqtt" else "anonymous")),
        password=unquote(password or ""),
        path=mqtt_path,
    )
