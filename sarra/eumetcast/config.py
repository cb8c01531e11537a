"""The INI configs of move_it_server, move_it_client and move_it_mirror, read and checked.

Each section is one independent chain. Mistakes are ConfigErrors naming `file:line: reason`;
the option names and defaults are those of trollmoves, so its configs read unchanged. Options
that trollmoves reads but does not use (publisher_port, scheme, ...) are accepted and ignored;
an unknown option in a server section is logged (`file:line`) and ignored, as trollmoves does.
"""

from __future__ import annotations

import configparser
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarra.config.errors import ConfigError, ConfigErrors, Where
from sarra.eumetcast.patterns import Pattern

log = logging.getLogger(__name__)

COMPRESSIONS_SERVER = ("xrit", "bzip")
COMPRESSIONS_CLIENT = ("xrit", "bzip", "tar")
DESTINATION_SCHEMES = ("file", "ftp", "scp", "sftp")
_TRUE = ("1", "yes", "true", "on")
_FALSE = ("0", "no", "false", "off")
_LEGACY_CONNECTION = (
    "ssh_key_filename",
    "ssh_private_key_file",
    "ssh_connection_timeout",
    "connection_uptime",
)

SERVER_KEYS = {
    "origin", "topic", "request_port", "request_address", "info", "station", "compression",
    "prog", "working_directory", "delete", "remove_delay", "watchdog_timeout",
    # read by trollmoves but unused, or used only by its standalone and listen modes
    "publisher_port", "origin_inotify_base_dir_skip_levels", "req_timeout",
    "transfer_req_timeout", "scheme", "unpack", "delay",
}  # fmt: skip
CLIENT_KEYS = {
    "providers", "destination", "login", "topic", "publish_port", "nameservers", "heartbeat",
    "heartbeat_alarm_scale", "req_timeout", "transfer_req_timeout", "compression",
    "xritdecompressor", "delete", "block_size", "processing_delay", "backup_targets",
    "create_target_directory", "ftp_root", "working_directory", "memory_ttl",
    "post_broker", "post_exchange", "post_base_url", "post_base_dir", "post_topic_prefix",
    "scheme",
}  # fmt: skip
MIRROR_KEYS = SERVER_KEYS | CLIENT_KEYS | {"client_topic", "delay"}


@dataclass
class Section:
    """One INI section with the line of each option, and typed, checked reading."""

    name: str
    values: dict[str, str]
    lines: dict[str, int]
    file: str
    header_line: int = 0
    errors: list[ConfigError] = field(default_factory=list)

    def where(self, key: str | None = None) -> Where:
        return Where(self.file, self.lines.get(key, self.header_line) if key else self.header_line)

    def fail(self, key: str | None, reason: str) -> None:
        self.errors.append(ConfigError(self.where(key), f"[{self.name}] {reason}"))

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.values.get(key)
        return default if value is None or value.strip() == "" else value.strip()

    def required(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            self.fail(None, f"{key} is required")
            return ""
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.text(key)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.fail(key, f"{key} = {value}: not a boolean (true/false)")
        return default

    def number(self, key: str, default: float, minimum: float = 0) -> float:
        value = self.text(key)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            self.fail(key, f"{key} = {value}: not a number")
            return default
        if number < minimum:
            self.fail(key, f"{key} = {value}: must be at least {minimum:g}")
            return default
        return number

    def port(self, key: str, default: int | None) -> int | None:
        value = self.text(key)
        if value is None:
            return default
        if not value.isdigit() or int(value) > 65535:
            self.fail(key, f"{key} = {value}: not a port number (0 to 65535)")
            return default
        return int(value)

    def choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        value = self.text(key)
        if value is None or value.lower() in _FALSE:
            return None
        if value not in choices:
            self.fail(key, f"{key} = {value}: must be one of {', '.join(choices)}")
            return None
        return value

    def pattern(self, key: str) -> Pattern | None:
        value = self.required(key)
        if not value:
            return None
        try:
            pattern = Pattern(value)
        except ValueError as err:
            self.fail(key, str(err))
            return None
        if not pattern.directory.startswith("/"):
            self.fail(key, f"{key} = {value}: must be an absolute path")
        return pattern

    def unknown(self, known: set[str]) -> list[str]:
        """The options not in `known` (connection parameters, legacy names included, are)."""
        return [
            k
            for k in self.values
            if k not in known and k not in _LEGACY_CONNECTION and not k.startswith("connection_")
        ]


@dataclass(frozen=True)
class Provider:
    """A server or mirror to listen to: its PUB address and, optionally, its own topic."""

    address: str
    topic: str | None = None


@dataclass
class ServerChain:
    """The server half of a section: what to watch, announce and serve."""

    name: str
    origin: Pattern
    topic: str
    request_port: int | None
    request_address: str | None
    info: dict[str, Any]
    station: str = "unknown"
    compression: str | None = None
    prog: str | None = None
    working_directory: str | None = None
    delete: bool = False
    remove_delay: float = 30.0
    watchdog_timeout: float = 1.0
    connection_parameters: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class ClientChain:
    """The client half of a section: whom to listen to, where files go, what to re-announce."""

    name: str
    providers: list[Provider]
    destination: str
    topic: str | None
    login: str | None = None
    publish_port: int = 0
    heartbeat: bool = True
    heartbeat_alarm_scale: float = 0.0
    req_timeout: float = 1.0
    transfer_req_timeout: float = 10.0
    compression: str | None = None
    xritdecompressor: str | None = None
    delete: bool = False
    block_size: int = 1024
    processing_delay: float = 0.0
    create_target_directory: bool = True
    ftp_root: str = "/"
    memory_ttl: float = 86400.0
    rewrites: dict[str, str] = field(default_factory=dict)
    post_broker: str | None = None
    post_exchange: str | None = None
    post_base_url: str | None = None
    post_base_dir: str | None = None
    post_topic_prefix: str | None = None
    connection_parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class MirrorChain:
    """A gateway section: a client toward the providers and a server toward its own clients."""

    name: str
    client: ClientChain
    server: ServerChain


def read_sections(path: str | Path) -> list[Section]:
    """The sections of an INI file with the line of each option; ConfigError if unreadable."""
    file = str(path)
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError(Where(file), f"cannot read: {err.strerror or err}") from None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=file)
    except configparser.Error as err:
        line = getattr(err, "lineno", 0) or 0
        reason = str(err).splitlines()[0]
        raise ConfigError(Where(file, line), reason) from None
    lines: dict[str, dict[str, int]] = {}
    headers: dict[str, int] = {}
    current = "DEFAULT"
    for number, raw in enumerate(text.splitlines(), start=1):
        if match := re.match(r"\[([^\]]+)\]", raw):
            current = match.group(1)
            headers[current] = number
        elif match := re.match(r"([^\s#;=:][^=:]*?)\s*[=:]", raw):
            lines.setdefault(current, {})[parser.optionxform(match.group(1).strip())] = number
    sections = []
    for name in parser.sections():
        merged = {**lines.get("DEFAULT", {}), **lines.get(name, {})}
        sections.append(Section(name, dict(parser.items(name)), merged, file, headers.get(name, 0)))
    if not sections:
        raise ConfigError(Where(file), "no [section] in the file")
    return sections


def parse_info(text: str | None) -> dict[str, Any]:
    """`k=v;k=v` items; a value with commas becomes a list."""
    info: dict[str, Any] = {}
    for item in (text or "").split(";"):
        if "=" not in item:
            continue
        key, _, value = item.partition("=")
        value = value.strip()
        info[key.strip()] = [v.strip() for v in value.split(",")] if "," in value else value
    return info


def parse_provider(text: str) -> Provider:
    """`host:port[/topic]` (tcp:// optional) as a Provider."""
    address = text if "://" in text else "tcp://" + text
    scheme, _, rest = address.partition("://")
    hostport, slash, topic = rest.partition("/")
    if ":" not in hostport or not hostport.rsplit(":", 1)[1].isdigit():
        raise ValueError(f"provider {text}: not host:port")
    return Provider(f"{scheme}://{hostport}", "/" + topic if slash and topic else None)


def parse_rewrite(text: str) -> dict[str, str] | str:
    """`a:b|c:d` as a map, or a literal value."""
    if ":" not in text:
        return text
    mapping = {}
    for pair in text.split("|"):
        old, _, new = pair.partition(":")
        mapping[old.strip()] = new.strip()
    return mapping


def connection_parameters(section: Section) -> dict[str, Any]:
    """`connection_parameters__a__b = v` options (and legacy top-level names) as a nested dict."""
    result: dict[str, Any] = {}
    items = [(k, v) for k, v in section.values.items() if k.startswith("connection_parameters__")]
    items += [
        ("connection_parameters__" + k, section.values[k])
        for k in _LEGACY_CONNECTION
        if k in section.values
    ]
    for key, value in items:
        parts = key.split("__")[1:]
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        low = value.strip().lower()
        target[parts[-1]] = True if low in _TRUE else False if low in _FALSE else value.strip()
    return result


def _server(section: Section, topic_key: str = "topic") -> ServerChain | None:
    origin = section.pattern("origin")
    topic = section.required(topic_key)
    compression = section.choice("compression", COMPRESSIONS_SERVER)
    chain = ServerChain(
        name=section.name,
        origin=origin,  # type: ignore[arg-type]
        topic=topic,
        request_port=section.port("request_port", None),
        request_address=section.text("request_address"),
        info=parse_info(section.text("info")),
        station=section.text("station", "unknown") or "unknown",
        compression=compression,
        prog=section.text("prog"),
        working_directory=section.text("working_directory"),
        delete=section.boolean("delete", False),
        remove_delay=section.number("remove_delay", 30.0),
        watchdog_timeout=section.number("watchdog_timeout", 1.0, 0.01),
        connection_parameters=connection_parameters(section),
        delay=section.number("delay", 0.0),
    )
    if compression == "xrit" and not chain.prog:
        section.fail("compression", "compression = xrit needs prog (the xRITDecompress path)")
    return chain if origin is not None else None


def _client(section: Section, known: set[str], topic_key: str = "topic") -> ClientChain:
    providers: list[Provider] = []
    for text in (section.required("providers") or "").split():
        try:
            providers.append(parse_provider(text))
        except ValueError as err:
            section.fail("providers", str(err))
    destination = section.required("destination")
    scheme = destination.partition("://")[0] if "://" in destination else "file"
    if destination and scheme not in DESTINATION_SCHEMES:
        schemes = ", ".join(DESTINATION_SCHEMES)
        section.fail("destination", f"destination {destination}: scheme must be one of {schemes}")
    rewrites = {}
    for key in section.unknown(known):
        rewrites[key] = section.values[key]
    compression = section.choice("compression", COMPRESSIONS_CLIENT)
    chain = ClientChain(
        name=section.name,
        providers=providers,
        destination=destination,
        topic=section.text(topic_key),
        login=section.text("login"),
        publish_port=section.port("publish_port", 0) or 0,
        heartbeat=section.boolean("heartbeat", True),
        heartbeat_alarm_scale=section.number("heartbeat_alarm_scale", 0.0),
        req_timeout=section.number("req_timeout", 1.0, 0.01),
        transfer_req_timeout=section.number("transfer_req_timeout", 10.0, 0.01),
        compression=compression,
        xritdecompressor=section.text("xritdecompressor"),
        delete=section.boolean("delete", False),
        block_size=int(section.number("block_size", 1024, 1)),
        processing_delay=section.number("processing_delay", 0.0),
        create_target_directory=section.boolean("create_target_directory", True),
        ftp_root=section.text("ftp_root", "/") or "/",
        memory_ttl=section.number("memory_ttl", 86400.0, 1),
        rewrites=rewrites,
        post_broker=section.text("post_broker"),
        post_exchange=section.text("post_exchange"),
        post_base_url=section.text("post_base_url"),
        post_base_dir=section.text("post_base_dir"),
        post_topic_prefix=section.text("post_topic_prefix"),
        connection_parameters=connection_parameters(section),
    )
    if compression == "xrit" and not chain.xritdecompressor:
        section.fail("compression", "compression = xrit needs xritdecompressor")
    if chain.post_broker and not chain.post_base_url:
        section.fail("post_broker", "post_broker needs post_base_url (the URL files are at)")
    return chain


def _finish(sections: list[Section], chains: list[Any]) -> list[Any]:
    errors = [err for section in sections for err in section.errors]
    if errors:
        raise ConfigErrors(errors) if len(errors) > 1 else errors[0]
    return chains


def read_server(path: str | Path) -> list[ServerChain]:
    """The chains of a move_it_server config."""
    sections = read_sections(path)
    chains = [_server(s) for s in sections]
    for section in sections:
        for key in section.unknown(SERVER_KEYS):
            log.warning(
                "%s: [%s] unknown option %s: ignored", section.where(key), section.name, key
            )
        if section.text("listen"):
            section.fail("listen", "listen (relaying posttroll messages) is not supported")
    _check_ports(sections, [c.request_port if c else None for c in chains])
    return _finish(sections, chains)


def read_client(path: str | Path) -> list[ClientChain]:
    """The chains of a move_it_client config."""
    sections = read_sections(path)
    return _finish(sections, [_client(s, CLIENT_KEYS) for s in sections])


def read_mirror(path: str | Path) -> list[MirrorChain]:
    """The chains of a move_it_mirror config (a server and a client part per section)."""
    sections = read_sections(path)
    chains = []
    for section in sections:
        server = _server(section)
        client = _client(section, MIRROR_KEYS, topic_key="client_topic")
        if client.topic is None:
            client.topic = section.text("topic")
        if server is not None and server.request_port is None:
            section.fail(None, "request_port is required")
        chains.append(MirrorChain(section.name, client, server))  # type: ignore[arg-type]
    _check_ports(sections, [c.server.request_port if c.server else None for c in chains])
    return _finish(sections, chains)


def _check_ports(sections: list[Section], ports: list[int | None]) -> None:
    seen: dict[int, str] = {}
    for section, port in zip(sections, ports, strict=True):
        if port is None or port == 0:
            continue
        if port in seen:
            section.fail("request_port", f"request_port {port} is also [{seen[port]}]'s")
        seen[port] = section.name
