"""A validator of WIS2 Notification Messages (WNM 1.x), written from the specification's text
(WMO-No. 1060 Vol. II Appendix E; base URI http://wis.wmo.int/spec/wnm/1).

`check` returns readable reasons, errors and warnings:
- errors: what the specification requires of every message (its schema or a SHALL of its text
  that the message alone shows), e.g. a missing `id`, both `conformsTo` and `version`, two
  canonical links, inline content over 4096 bytes, a message over 8192 bytes;
- warnings: what is wrong but tolerated from others, because the specification's schema lets it
  through (so real traffic carries it) and it spoils an optional field only: an integrity value
  in hex or not decodable, inline content that does not decode to its `size`, a geometry out of
  range or a ring not closed, a canonical link without `length`, the deprecated `version`. The
  codec ignores a field it cannot use (the file is then downloaded, or not checked).
With `strict` (the messages we write), the faults of the fields we write ourselves (integrity
and inline content) are errors; the others stay warnings, since a relay passes them on as they
came (and a relayed message may not know its length).
"""

from __future__ import annotations

import binascii
import functools
import json
import math
import re
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sarra.integrity.checksum import DIGEST_SIZES, WIS2_METHODS
from sarra.message import wis2_topics
from sarra.message.reason import Reason, error, warning

MAX_MESSAGE_BYTES = 8192
"""Largest message, in bytes of UTF-8 JSON."""

MAX_INLINE_BYTES = 4096
"""Largest inline content, in bytes of its encoded value."""

MAX_INFLATED_BYTES = 64 << 10
"""Most bytes a gzip content is inflated to (a few kB of gzip can inflate to megabytes)."""

CONFORMANCE_CORE = "http://wis.wmo.int/spec/wnm/1/conf/core"
DEPRECATED_VERSION = "v04"
LINK_SCHEMES = frozenset({"http", "https", "ftp", "sftp"})
MAIN_RELATIONS = ("canonical", "update", "deletion")
"""The link relations of which a message has exactly one: new data, an update, a deletion."""
CONTENT_ENCODINGS = ("utf-8", "base64", "gzip")

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]+")


class Rfc3339(NamedTuple):
    """A time read from RFC 3339 text: the whole second in UTC, the fraction's digits as
    written, and whether the text was in UTC already."""

    moment: datetime
    fraction: str
    utc: bool


@functools.lru_cache(maxsize=1024)
def parse_rfc3339(text: str) -> Rfc3339 | None:
    """The time an RFC 3339 date-time stands for; None when the text is not one (kept: the
    validator and the codec read the same times, and data times repeat)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    offset = match[8].upper()
    moment = _utc_second(text[:10], text[11:19], offset)
    if moment is None:
        return None
    return Rfc3339(moment, match[7] or "", offset in _UTC_OFFSETS)


_UTC_OFFSETS = frozenset({"Z", "+00:00", "-00:00"})


@functools.lru_cache(maxsize=256)
def _utc_second(day: str, clock: str, offset: str) -> datetime | None:
    """The second in UTC of `YYYY-MM-DD`, `HH:MM:SS` and an offset (`Z` or `+HH:MM`); None
    when it is not a real one (kept: the messages of a second share it, their fractions
    differ)."""
    try:
        moment = datetime(
            int(day[0:4]),
            int(day[5:7]),
            int(day[8:10]),
            int(clock[0:2]),
            int(clock[3:5]),
            int(clock[6:8]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    if offset == "Z":
        return moment
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if hours > 23 or minutes > 59:
        return None
    sign = -1 if offset[0] == "-" else 1
    try:
        return moment - sign * timedelta(hours=hours, minutes=minutes)
    except OverflowError:  # before year 1 or after 9999 in UTC
        return None


def decode_digest(method: str, value: str) -> tuple[bytes | None, str]:
    """The digest in an integrity value and how it was written: `base64`, `hex` (the right
    length for the method, a common mistake), or `bad` (then the digest is None)."""
    size = DIGEST_SIZES.get(method)
    if size is None:
        return None, "bad"
    try:
        digest = binascii.a2b_base64(value, strict_mode=True)
    except binascii.Error:
        digest = b""
    if len(digest) == size:
        return digest, "base64"
    if len(value) == 2 * size and _HEX.fullmatch(value):
        return bytes.fromhex(value), "hex"
    return None, "bad"


def decode_content(encoding: str, value: str) -> bytes | None:
    """The bytes of an inline content (`utf-8`, `base64`, or `gzip`: gzip then base64); None
    when they cannot be read, or would inflate beyond MAX_INFLATED_BYTES."""
    encoding = encoding.lower()
    try:
        if encoding == "utf-8":
            return value.encode("utf-8")
        raw = binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, UnicodeError):
        return None
    if encoding == "base64":
        return raw
    if encoding != "gzip":
        return None
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, MAX_INFLATED_BYTES)
    except zlib.error:
        return None
    if not inflater.eof or inflater.unconsumed_tail:
        return None
    return data


def main_links(links: Any) -> list[dict[str, Any]]:
    """The links whose relation is canonical, update or deletion (a valid message has one)."""
    if not isinstance(links, list):
        return []
    return [link for link in links if isinstance(link, dict) and link.get("rel") in MAIN_RELATIONS]


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def parse(body: bytes | str) -> tuple[Any, Reason | None]:
    """The JSON value of a body, or the reason it is not JSON (strict UTF-8, no NaN)."""
    try:
        text = body.decode() if isinstance(body, bytes) else body
        return _DECODER.decode(text), None
    except UnicodeDecodeError:
        return None, error("json", "the message is not UTF-8")
    except (ValueError, RecursionError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return None, error("json", f"the message is not JSON ({first})")


def check_body(
    body: bytes | str, *, topic: str | None = None, strict: bool = False
) -> tuple[Any, list[Reason]]:
    """The parsed message and what is wrong with it, its size included."""
    size = len(body.encode() if isinstance(body, str) else body)
    reasons = []
    if size > MAX_MESSAGE_BYTES:
        reasons.append(
            error("size", f"the message is {size} bytes, more than the {MAX_MESSAGE_BYTES} allowed")
        )
    message, not_json = parse(body)
    if not_json is not None:
        return None, [*reasons, not_json]
    if not reasons and all_clear(message, topic):
        return message, reasons
    return message, reasons + check(message, topic=topic, strict=strict)


def all_clear(message: Any, topic: str | None = None) -> bool:
    """Whether `check` would find nothing to say of a message (strict or not): the plain form
    nearly every message takes, recognised in one quick pass that builds no reason. False only
    says that `check` must look (it may find nothing either)."""
    if type(message) is not dict or "version" in message:
        return False
    identifier, conforms = message.get("id"), message.get("conformsTo")
    if type(identifier) is not str or not _UUID.fullmatch(identifier):
        return False
    if type(conforms) is not list or CONFORMANCE_CORE not in conforms:
        return False
    if message.get("type") != "Feature" or "geometry" not in message:
        return False
    properties = message.get("properties")
    if type(properties) is not dict or not _clear_time(properties.get("pubtime")):
        return False
    data_id = properties.get("data_id")
    if type(data_id) is not str or not data_id or not _clear_temporal(properties):
        return False
    for key in _TEXT_PROPERTIES:
        if key in properties and type(properties[key]) is not str:
            return False
    if "cache" in properties and type(properties["cache"]) is not bool:
        return False
    geometry = message["geometry"]
    if (
        geometry is not None
        and not _clear_point(geometry)
        and not _quiet(_Checker.geometry, geometry)
    ):
        return False
    if "integrity" in properties and not _clear_integrity(properties["integrity"]):
        return False
    if "content" in properties and not _quiet(_Checker.content, properties["content"]):
        return False
    return _clear_links(message.get("links"), properties, topic)


_TEXT_PROPERTIES = ("metadata_id", "producer", "global-cache")


def _quiet(part: Callable[[_Checker, Any], None], value: Any) -> bool:
    """Whether the checker finds nothing to say of a part (its rarer forms: a polygon, inline
    content)."""
    checker = _Checker(strict=False)
    part(checker, value)
    return not checker.reasons


def _clear_time(value: Any) -> bool:
    parsed = parse_rfc3339(value) if type(value) is str else None
    return parsed is not None and parsed.utc


def _clear_temporal(properties: dict[str, Any]) -> bool:
    if "datetime" in properties:
        if "start_datetime" in properties or "end_datetime" in properties:
            return False
        instant = properties["datetime"]
        return instant is None or _clear_time(instant)
    start, end = properties.get("start_datetime"), properties.get("end_datetime")
    if not _clear_time(start) or not _clear_time(end):
        return False
    return parse_rfc3339(start).moment <= parse_rfc3339(end).moment  # type: ignore[union-attr]


def _clear_point(geometry: Any) -> bool:
    """A Point in range (longitude, latitude and maybe a height)."""
    if type(geometry) is not dict or geometry.get("type") != "Point":
        return False
    position = geometry.get("coordinates")
    if type(position) is not list or not 2 <= len(position) <= 3:
        return False
    for number in position:
        kind = type(number)
        if kind is not int and (kind is not float or not math.isfinite(number)):
            return False
    return -180 <= position[0] <= 180 and -90 <= position[1] <= 90


def _clear_integrity(integrity: Any) -> bool:
    if type(integrity) is not dict:
        return False
    method, value = integrity.get("method"), integrity.get("value")
    if type(method) is not str or method not in WIS2_METHODS or type(value) is not str:
        return False
    return decode_digest(method, value)[1] == "base64"


def _clear_links(links: Any, properties: dict[str, Any], topic: str | None) -> bool:
    if type(links) is not list or not links:
        return False
    main = None
    for link in links:
        if type(link) is not dict:
            return False
        href, rel = link.get("href"), link.get("rel")
        if type(href) is not str or not href or type(rel) is not str or not rel:
            return False
        if "type" in link and type(link["type"]) is not str:
            return False
        if "length" in link and (type(link["length"]) is not int or link["length"] < 0):
            return False
        if rel in MAIN_RELATIONS:
            if main is not None:
                return False
            main = link
    if main is None or _scheme(main["href"]) not in LINK_SCHEMES:
        return False
    if main["rel"] != "deletion":
        return "length" in main
    return topic is None or not _is_metadata(topic) or bool(properties.get("metadata_id"))


def check(message: Any, *, topic: str | None = None, strict: bool = False) -> list[Reason]:
    """What is wrong with a parsed message (not its size: see check_body). `topic`, when
    given, tells metadata from data (a metadata deletion needs `metadata_id`)."""
    return _Checker(strict).message(message, topic)


class _Checker:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.reasons: list[Reason] = []

    def error(self, code: str, text: str) -> None:
        self.reasons.append(error(code, text))

    def warning(self, code: str, text: str) -> None:
        self.reasons.append(warning(code, text))

    def tolerated(self, code: str, text: str) -> None:
        """A fault tolerated from others (a warning), not in what we write (strict)."""
        self.reasons.append(error(code, text) if self.strict else warning(code, text))

    def message(self, message: Any, topic: str | None) -> list[Reason]:
        if not isinstance(message, dict):
            self.error("json", f"the message is a JSON {type(message).__name__}, not an object")
            return self.reasons
        self.identifier(message)
        self.conformance(message)
        if message.get("type") != "Feature":
            self.error("type", f"type must be 'Feature', not {_shown(message.get('type'))}")
        if "geometry" not in message:
            self.error("geometry", "geometry is missing (null when unknown)")
        else:
            self.geometry(message["geometry"])
        properties = message.get("properties")
        if not isinstance(properties, dict):
            self.error("properties", "properties is missing or not an object")
            properties = {}
        self.properties(properties)
        self.links(message.get("links"), properties, topic)
        return self.reasons

    def identifier(self, message: dict[str, Any]) -> None:
        value = message.get("id")
        if value is None:
            self.error("id", "id is missing")
        elif not isinstance(value, str) or not _UUID.fullmatch(value):
            self.error("id", f"id must be a UUID, not {_shown(value)}")

    def conformance(self, message: dict[str, Any]) -> None:
        has_conforms, has_version = "conformsTo" in message, "version" in message
        if has_conforms and has_version:
            self.error(
                "conformance",
                "conformsTo and the deprecated version are both given: "
                "a message has one of them only",
            )
        elif not has_conforms and not has_version:
            self.error("conformance", "conformsTo is missing")
        if has_conforms:
            conforms = message["conformsTo"]
            if not isinstance(conforms, list) or CONFORMANCE_CORE not in conforms:
                self.error(
                    "conformance",
                    f"conformsTo must be a list holding "
                    f"{CONFORMANCE_CORE!r}, not {_shown(conforms)}",
                )
        if has_version:
            if message["version"] != DEPRECATED_VERSION:
                self.error(
                    "conformance",
                    f"version must be {DEPRECATED_VERSION!r}, not {_shown(message['version'])}",
                )
            elif not has_conforms:
                self.warning(
                    "version-deprecated", "version v04 is deprecated: conformsTo replaces it"
                )

    def geometry(self, geometry: Any) -> None:
        if geometry is None:
            return
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if kind == "Point":
            self.position(coordinates, "geometry.coordinates")
        elif kind == "Polygon":
            if not isinstance(coordinates, list) or not coordinates:
                self.error("geometry", "a Polygon's coordinates must be a list of rings")
                return
            for number, ring in enumerate(coordinates):
                where = f"geometry.coordinates[{number}]"
                if not isinstance(ring, list) or len(ring) < 4:
                    self.error("geometry", f"{where}: a ring is a list of at least 4 positions")
                    continue
                for i, position in enumerate(ring):
                    self.position(position, f"{where}[{i}]")
                if ring[0] != ring[-1]:
                    self.warning("geometry-ring", f"{where}: a ring ends where it starts")
        else:
            self.error(
                "geometry", f"geometry must be a Point, a Polygon or null, not {_shown(geometry)}"
            )

    def position(self, position: Any, where: str) -> None:
        if (
            not isinstance(position, list)
            or len(position) < 2
            or not all(_is_number(x) for x in position)
        ):
            self.error(
                "geometry",
                f"{where} must be [longitude, latitude(, height)] numbers, not {_shown(position)}",
            )
            return
        if len(position) > 3:
            self.warning("geometry-position", f"{where} has more than 3 numbers")
        longitude, latitude = position[0], position[1]
        if not (-180 <= longitude <= 180 and -90 <= latitude <= 90):
            self.warning(
                "geometry-range",
                f"{where}: longitude {longitude} latitude {latitude} are not WGS 84 degrees",
            )

    def properties(self, properties: dict[str, Any]) -> None:
        self.time(properties, "pubtime", required=True)
        data_id = properties.get("data_id")
        if not isinstance(data_id, str) or not data_id:
            self.error(
                "data_id", f"properties.data_id must be a non-empty string, not {_shown(data_id)}"
            )
        self.temporal(properties)
        for key in ("metadata_id", "producer", "global-cache"):
            if key in properties and not isinstance(properties[key], str):
                self.error("property-type", f"properties.{key} must be a string")
        if "cache" in properties and not isinstance(properties["cache"], bool):
            self.error("property-type", "properties.cache must be true or false")
        if "integrity" in properties:
            self.integrity(properties["integrity"])
        if "content" in properties:
            self.content(properties["content"])

    def time(self, properties: dict[str, Any], key: str, *, required: bool = False) -> None:
        if key not in properties:
            if required:
                self.error(key, f"properties.{key} is missing")
            return
        value = properties[key]
        parsed = parse_rfc3339(value) if isinstance(value, str) else None
        if parsed is None:
            self.error(
                _time_code(key), f"properties.{key} is not an RFC 3339 date-time: {_shown(value)}"
            )
        elif not parsed.utc:
            self.error(_time_code(key), f"properties.{key} is not in UTC: {value!r}")

    def temporal(self, properties: dict[str, Any]) -> None:
        instant = "datetime" in properties
        start, end = "start_datetime" in properties, "end_datetime" in properties
        if instant and start and end:
            self.error(
                "temporal",
                "properties.datetime and start_datetime/end_datetime are both given: a message "
                "has one form only",
            )
        elif not instant and not (start and end):
            self.error(
                "temporal",
                "properties.datetime (null when unknown), or both start_datetime and "
                "end_datetime, are missing",
            )
        elif instant and (start or end):
            self.warning(
                "temporal-partial",
                "properties.datetime is given with only one of start_datetime and end_datetime",
            )
        if instant and properties["datetime"] is not None:
            self.time(properties, "datetime")
        for key in ("start_datetime", "end_datetime"):
            self.time(properties, key)
        if not (start and end):
            return
        first = parse_rfc3339(_text(properties.get("start_datetime")))
        last = parse_rfc3339(_text(properties.get("end_datetime")))
        if first and last and first.moment > last.moment:
            self.warning("temporal-order", "properties.start_datetime is after end_datetime")

    def integrity(self, integrity: Any) -> None:
        if not isinstance(integrity, dict):
            self.error("integrity", "properties.integrity must be an object {method, value}")
            return
        method, value = integrity.get("method"), integrity.get("value")
        if method not in WIS2_METHODS:
            self.error(
                "integrity",
                f"properties.integrity.method must be one of "
                f"{', '.join(WIS2_METHODS)}, not {_shown(method)}",
            )
        if not isinstance(value, str):
            self.error("integrity", "properties.integrity.value must be a string")
            return
        if method not in WIS2_METHODS:
            return
        _, form = decode_digest(method, value)
        if form == "hex":
            self.tolerated(
                "integrity-hex",
                f"properties.integrity.value is hex, not base64 (read as hex): {value[:16]}...",
            )
        elif form == "bad":
            self.tolerated(
                "integrity-value",
                f"properties.integrity.value is not the base64 "
                f"of a {method} digest (ignored): "
                f"{_shown(value)}",
            )

    def content(self, content: Any) -> None:
        if not isinstance(content, dict):
            self.error("content", "properties.content must be an object {encoding, value, size}")
            return
        encoding, value, size = content.get("encoding"), content.get("value"), content.get("size")
        problems = []
        if encoding not in CONTENT_ENCODINGS:
            problems.append(
                f"encoding must be one of {', '.join(CONTENT_ENCODINGS)}, not {_shown(encoding)}"
            )
        if not isinstance(value, str):
            problems.append("value must be a string")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            problems.append(f"size must be a number of bytes, not {_shown(size)}")
        if problems:
            self.error("content", "properties.content: " + "; ".join(problems))
            return
        encoded = len(value.encode("utf-8", "surrogatepass"))
        if encoded > MAX_INLINE_BYTES:
            self.error(
                "content-too-large",
                f"properties.content.value is {encoded} bytes: "
                f"content over {MAX_INLINE_BYTES} bytes once encoded "
                f"is not inline",
            )
            return
        if size > MAX_INLINE_BYTES:
            self.tolerated(
                "content-size",
                f"properties.content.size {size} is over "
                f"{MAX_INLINE_BYTES}, which the schema refuses",
            )
        data = decode_content(encoding, value)
        if data is None:
            self.tolerated(
                "content-value", f"properties.content.value cannot be read as {encoding} (ignored)"
            )
        elif len(data) != size:
            self.tolerated(
                "content-value",
                f"properties.content is {len(data)} bytes, not its size {size} (ignored)",
            )

    def links(self, links: Any, properties: dict[str, Any], topic: str | None) -> None:
        if not isinstance(links, list) or not links:
            self.error("links", "links is missing or empty")
            return
        for number, link in enumerate(links):
            self.link(link, f"links[{number}]")
        main = main_links(links)
        if len(main) != 1:
            relations = "/".join(MAIN_RELATIONS)
            found = ", ".join(str(link.get("rel")) for link in main) or "none"
            self.error(
                "link-relation",
                f"links must hold exactly one link with rel {relations}: found {found}",
            )
        for link in main:
            href = link.get("href")
            scheme = _scheme(href) if isinstance(href, str) else ""
            if isinstance(href, str) and scheme not in LINK_SCHEMES:
                self.error(
                    "link-scheme",
                    f"the {link['rel']} link is not HTTP, HTTPS, FTP or SFTP: {_shown(href)}",
                )
            if link["rel"] != "deletion" and "length" not in link:
                self.warning("link-length", f"the {link['rel']} link has no length")
            if (
                link["rel"] == "deletion"
                and topic is not None
                and _is_metadata(topic)
                and not properties.get("metadata_id")
            ):
                self.error("metadata-deletion", "a metadata deletion needs properties.metadata_id")

    def link(self, link: Any, where: str) -> None:
        if not isinstance(link, dict):
            self.error("links", f"{where} is not an object")
            return
        for key in ("href", "rel"):
            if not isinstance(link.get(key), str) or not link[key]:
                self.error("links", f"{where}.{key} is missing or not a string")
        if "type" in link and not isinstance(link["type"], str):
            self.error("links", f"{where}.type must be a media type string")
        length = link.get("length")
        if "length" in link and (
            not isinstance(length, int) or isinstance(length, bool) or length < 0
        ):
            self.error("links", f"{where}.length must be a number of bytes, not {_shown(length)}")


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _scheme(href: str) -> str:
    """The scheme of a URL, lowercase (urlsplit's, for the schemes of LINK_SCHEMES)."""
    scheme, colon, _ = href.partition(":")
    return scheme.lower() if colon else ""


def _is_metadata(topic: str) -> bool:
    words = wis2_topics.levels(topic)
    return len(words) >= 5 and words[4] == "metadata"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _time_code(key: str) -> str:
    return "pubtime" if key == "pubtime" else "temporal"


def _shown(value: Any, limit: int = 60) -> str:
    """A short rendering of a received value for a reason."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, Mapping) else "{...}"
    return text if len(text) <= limit else text[:limit] + "..."
