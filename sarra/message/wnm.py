"""The WIS2 Notification Message codec (WNM 1.x, a GeoJSON Feature), written from the
specification (see sarra.message.wnm_validate, which both directions use).

Import (decode): the one canonical, update or deletion link gives the notice's URL: `base_url`
is its scheme and host, `retrieve_path` its path (with the query, if any); `rel_path` is the
topic without channel and version followed by the link's file name (sarra.message.wis2_topics),
or the link's path when the message came on no WIS2 topic. `pubtime` (RFC 3339) becomes our
time form, `integrity` the identity (a hex value is read as hex), `length` the size, `content`
the inline content (gzip is inflated; content that does not match its size is dropped, so the
file is downloaded). A deletion is the file operation `remove`. Everything else is kept in
`Notice.extra` under its WNM name so that a relay writes it back unchanged: `id`, `data_id`,
`metadata_id`, `datetime` or `start_datetime`/`end_datetime`, `producer`, `global-cache`,
`cache`, `geometry`, unknown properties, plus `contentType` (the link's type), `rel` (`update`),
`link` (other members of the link), `links` (the other links), `conformsTo` (when it holds more
than the core class) and `wnm_feature` (unknown members of the Feature).

Export (encode) writes the same back; a notice that has none of them gets a deterministic `id`
(a UUID from its pubtime, link and data_id, so that a notice written twice is one message),
`data_id` = the topic without channel and version followed by the file name, `datetime` null,
integrity from a WIS2 identity method (other methods are left out), inline content only when
its encoded value is at most 4096 bytes (else left out: the link stays), and the message is
refused (NotEncodable, with the validator's reasons) when it breaks the specification, is over
8192 bytes or goes to a topic outside the WIS2 topic hierarchy.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from sarra.integrity.checksum import DIGEST_SIZES, WIS2_METHODS
from sarra.message import validate, wis2_topics
from sarra.message.errors import MalformedNotice, NotEncodable
from sarra.message.http_path import SCHEMES, Target, path_target, request_target
from sarra.message.notice import Identity, Notice, time_v02_to_v03
from sarra.message.reason import Reason, errors, joined
from sarra.message.wnm_validate import (
    CONFORMANCE_CORE,
    MAX_INLINE_BYTES,
    MAX_MESSAGE_BYTES,
    check_body,
    decode_content,
    decode_digest,
    main_links,
    parse_rfc3339,
)

CONTENT_TYPE = "application/geo+json"
"""The media type of a GeoJSON Feature (RFC 7946)."""

VALIDATION_MODES = ("reject", "warn", "tag")
"""On import: refuse a message that breaks the specification, or take it anyway and log the
reasons (warn), or take it and add them to `properties._comment.validationErrors` (tag)."""

FEATURE_KEYS = frozenset({"id", "conformsTo", "version", "type", "geometry", "properties", "links"})
LINK_KEYS = frozenset({"href", "rel", "type", "length"})

EXTRA_LINK = "link"
EXTRA_LINKS = "links"
EXTRA_FEATURE = "wnm_feature"
EXTRA_PROPERTIES = "wnm_properties"
EXTRA_TYPE = "contentType"
EXTRA_REL = "rel"
NOT_PROPERTIES = frozenset(
    {"id", "conformsTo", "geometry", EXTRA_LINK, EXTRA_LINKS, EXTRA_FEATURE, EXTRA_PROPERTIES}
    | {EXTRA_TYPE, EXTRA_REL}
)
"""Keys of Notice.extra that are not properties of the message (a property of one of these
names is kept in `wnm_properties`)."""
NOTICE_PROPERTIES = frozenset({"pubtime", "integrity", "content"})
"""Properties the notice's own fields hold (pubtime, identity, content), not kept in extra."""

_PLAIN_HREF = re.compile(
    r"(https?|s?ftp)://([A-Za-z0-9.-]+)(/[A-Za-z0-9._~!$&'()*+,;=:@-][A-Za-z0-9._~!$&'()*+,;=:@/-]*)"
)
"""An href as urlsplit splits it, with nothing for it to strip and nothing quote() escapes:
a lowercase scheme, a host without port or user, one `/` then a path without `%`, `?` or `#`."""

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "http://wis.wmo.int/spec/wnm/1")

_MEDIA_TYPES = {
    "bufr": "application/bufr",
    "bufr4": "application/bufr",
    "bin": "application/octet-stream",
    "grib": "application/grib",
    "grib2": "application/grib",
    "grb": "application/grib",
    "grb2": "application/grib",
    "nc": "application/x-netcdf",
    "h5": "application/x-hdf5",
    "hdf5": "application/x-hdf5",
    "json": "application/json",
    "geojson": "application/geo+json",
    "xml": "application/xml",
    "txt": "text/plain",
    "csv": "text/csv",
    "html": "text/html",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "zip": "application/zip",
    "gz": "application/gzip",
    "tar": "application/x-tar",
}
"""Media types of the usual file name extensions, for a link without a known type."""


@dataclass
class Decoded:
    """A decoded message and what the validator found in it (in reject mode, warnings
    only: a message with errors is refused)."""

    notice: Notice
    reasons: list[Reason]


# --- import


def decode(topic: str | None, body: bytes | str, validation: str = "reject") -> Notice:
    """The notice of a WNM; MalformedNotice says why when there is none (see decode_checked)."""
    return decode_checked(topic, body, validation).notice


def decode_checked(topic: str | None, body: bytes | str, validation: str = "reject") -> Decoded:
    """The notice of a WNM received on `topic`, with the validator's reasons (the topic is
    checked against the WIS2 topic hierarchy when it is a WIS2 one). MalformedNotice when the
    message breaks the specification (in reject mode) or gives no notice at all (no JSON
    object, no pubtime, no usable canonical/update/deletion link)."""
    if validation not in VALIDATION_MODES:
        raise ValueError(f"validation must be one of {', '.join(VALIDATION_MODES)}")
    message, reasons = check_body(body, topic=topic)
    if topic:
        reasons.extend(wis2_topics.received_on(topic))
    if message is None or not isinstance(message, dict):
        raise MalformedNotice(joined(reasons))
    faults = errors(reasons)
    if faults and validation == "reject":
        raise MalformedNotice(f"not a valid WIS2 notification message: {joined(faults)}")
    notice = _notice(topic, message)
    if faults and validation == "tag":
        _tag(notice, faults)
    return Decoded(notice, reasons)


def _notice(topic: str | None, message: dict[str, Any]) -> Notice:
    properties = message.get("properties")
    if not isinstance(properties, dict):
        properties = {}
    pubtime = _pubtime(properties.get("pubtime"))
    links = message.get("links") if isinstance(message.get("links"), list) else []
    main = main_links(links)
    if not main:
        raise MalformedNotice("no canonical, update or deletion link")
    link = main[0]
    href = link.get("href")
    if not isinstance(href, str):
        raise MalformedNotice(f"the {link['rel']} link has no href")
    plain = _PLAIN_HREF.fullmatch(href)
    if plain is not None:  # as urlsplit splits it, with nothing escaped
        base_url, path, query = f"{plain[1]}://{plain[2]}/", plain[3], ""
    else:
        base_url, path, query = _split_href(href)
    name = _file_name(path, properties.get("data_id"))
    directory = wis2_topics.rel_dir(topic) if topic else None
    rel_path = f"{directory}/{name}" if directory else unquote(path).lstrip("/")
    remote = _retrieve_path(base_url, path, query)
    size = link.get("length")
    size = size if type(size) is int and size >= 0 else None
    content, content_size = _inline(properties.get("content"), size)
    notice = Notice(
        pubtime=pubtime,
        base_url=base_url,
        rel_path=rel_path,
        retrieve_path=remote if unquote(remote) != rel_path else None,
        identity=_identity(properties.get("integrity")),
        size=size if size is not None else content_size,
        content=content,
        file_op={"remove": ""} if link["rel"] == "deletion" else None,
        extra=_extra(message, properties, links, link),
        topic=topic,
    )
    if plain is None and _href(notice) != href:
        # written otherwise (escapes): a relay writes it back as it was
        notice.extra[EXTRA_LINK] = {**notice.extra.get(EXTRA_LINK, {}), "href": href}
    validate.check(notice)  # what every notice must be, whatever its format
    return notice


def _pubtime(value: Any) -> str:
    parsed = parse_rfc3339(value) if isinstance(value, str) else None
    if parsed is None:
        raise MalformedNotice(f"pubtime is not an RFC 3339 date-time: {value!r}")
    if value[-1] in "Zz":  # the digits are the time in UTC, where the format puts them
        text = f"{value[0:4]}{value[5:7]}{value[8:10]}T{value[11:13]}{value[14:16]}{value[17:19]}"
    else:
        moment = parsed.moment
        text = (
            f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
            f"T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}"
        )
    return f"{text}.{parsed.fraction}" if parsed.fraction else text


def _split_href(href: str) -> tuple[str, str, str]:
    """(base URL `scheme://host/`, path as written, query) of a link's href."""
    try:
        parts = urlsplit(href)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        raise MalformedNotice(f"href is not a URL ({err}): {href[:80]!r}") from None
    if not parts.scheme or not parts.netloc:
        raise MalformedNotice(f"href is not an absolute URL: {href[:80]!r}")
    return f"{parts.scheme}://{parts.netloc}/", parts.path, parts.query


def _retrieve_path(base_url: str, path: str, query: str) -> str:
    """Where a link leads below its base URL: over http(s) its path and query as written (sent
    so: sarra.message.http_path), else the path as it is, then the query."""
    if urlsplit(base_url).scheme.lower() not in SCHEMES:
        path = unquote(path)
    return path.lstrip("/") + (f"?{query}" if query else "")


def _file_name(path: str, data_id: Any) -> str:
    """The file name of the link's path; the last name of data_id when the path has none."""
    for candidate in (unquote(path.rpartition("/")[2]), _last_name(data_id)):
        if candidate not in ("", ".", "..") and "/" not in candidate and "\0" not in candidate:
            return candidate
    raise MalformedNotice("neither the link nor data_id gives a file name")


def _last_name(data_id: Any) -> str:
    return data_id.rstrip("/").rpartition("/")[2] if isinstance(data_id, str) else ""


def _identity(integrity: Any) -> Identity | None:
    """The identity of a usable integrity (hex read as hex); None otherwise."""
    if not isinstance(integrity, dict):
        return None
    method, value = integrity.get("method"), integrity.get("value")
    if not isinstance(method, str) or not isinstance(value, str):
        return None
    digest, _ = decode_digest(method, value)
    if digest is None:
        return None
    return Identity(method, base64.b64encode(digest).decode("ascii"))


def _inline(content: Any, size: int | None) -> tuple[dict[str, str] | None, int | None]:
    """(the v03 content, its size) of a usable WNM content; (None, None) when it cannot be read,
    does not match its own size, or contradicts the link's length."""
    if not isinstance(content, dict):
        return None, None
    encoding, value, declared = content.get("encoding"), content.get("value"), content.get("size")
    if not isinstance(encoding, str) or not isinstance(value, str):
        return None, None
    data = decode_content(encoding, value)
    if data is None or len(data) != declared or (size is not None and size != len(data)):
        return None, None
    if encoding.lower() == "utf-8":
        return {"encoding": "utf-8", "value": value}, len(data)
    return {"encoding": "base64", "value": base64.b64encode(data).decode("ascii")}, len(data)


def _extra(
    message: dict[str, Any], properties: dict[str, Any], links: list[Any], link: dict[str, Any]
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if isinstance(message.get("id"), str):
        extra["id"] = message["id"]
    conforms = message.get("conformsTo")
    if isinstance(conforms, list) and conforms != [CONFORMANCE_CORE]:
        extra["conformsTo"] = conforms
    if message.get("geometry") is not None:
        extra["geometry"] = message["geometry"]
    clashing: dict[str, Any] = {}
    for key, value in properties.items():
        if key in NOT_PROPERTIES:
            clashing[key] = value
        elif key not in NOTICE_PROPERTIES:
            extra[key] = value
    if clashing:
        extra[EXTRA_PROPERTIES] = clashing
    extra[EXTRA_TYPE] = link["type"] if isinstance(link.get("type"), str) else None
    if link["rel"] == "update":
        extra[EXTRA_REL] = "update"
    if not link.keys() <= LINK_KEYS:
        extra[EXTRA_LINK] = {k: v for k, v in link.items() if k not in LINK_KEYS}
    if len(links) > 1:
        extra[EXTRA_LINKS] = [other for other in links if other is not link]
    if not message.keys() <= FEATURE_KEYS:
        extra[EXTRA_FEATURE] = {k: v for k, v in message.items() if k not in FEATURE_KEYS}
    return extra


def _tag(notice: Notice, faults: list[Reason]) -> None:
    """Add the reasons to `_comment.validationErrors` (the specification's own example of an
    additional property), keeping what is there."""
    comment = notice.extra.get("_comment")
    comment = dict(comment) if isinstance(comment, dict) else {}
    found = comment.get("validationErrors")
    found = list(found) if isinstance(found, list) else []
    comment["validationErrors"] = found + [f.text for f in faults if f.text not in found]
    notice.extra["_comment"] = comment


# --- export


def encode(notice: Notice, topic_prefix: str, *, topic: str | None = None) -> tuple[str, bytes]:
    """The topic (`/`-separated) and body of the WNM announcing a notice: on `topic`, or on
    `topic_prefix` followed by the directories of its relative path. NotEncodable (with the
    reasons) when the notice has no WNM form or the message would not be valid."""
    relation = _relation(notice)
    topic = topic or wis2_topics.topic_for(notice.rel_path, topic_prefix)
    faults = errors(wis2_topics.check(topic))
    if faults:
        raise NotEncodable(f"topic {topic!r}: {joined(faults)}")
    message = _message(notice, relation, topic)
    body = _dumps(message)
    if len(body) > MAX_MESSAGE_BYTES and "content" in message["properties"]:
        del message["properties"]["content"]  # the link stays: the file is downloaded
        body = _dumps(message)
    _, reasons = check_body(body, topic=topic, strict=True)
    faults = errors(reasons)
    if faults:
        raise NotEncodable(f"not a valid WIS2 notification message: {joined(faults)}")
    return topic, body


def _relation(notice: Notice) -> str:
    if notice.report is not None:
        raise NotEncodable("a report has no WIS2 notification message form")
    if notice.blocks is not None and notice.blocks.count > 1:
        raise NotEncodable("a part of a file has no WIS2 notification message form")
    operation = notice.file_op or {}
    if "directory" in operation or "link" in operation or "hlink" in operation:
        raise NotEncodable(
            f"file operation {sorted(operation)} has no WIS2 notification message form"
        )
    if "remove" in operation:
        return "deletion"
    return "update" if notice.extra.get(EXTRA_REL) == "update" else "canonical"


def _message(notice: Notice, relation: str, topic: str) -> dict[str, Any]:
    extra = notice.extra
    href = _href(notice)
    try:
        pubtime = _rfc3339(time_v02_to_v03(notice.pubtime))
    except ValueError as err:
        raise NotEncodable(f"pubtime: {err}") from None
    data_id = extra.get("data_id") or _data_id(notice, topic)
    properties: dict[str, Any] = {"data_id": data_id, "pubtime": pubtime}
    if "start_datetime" not in extra and "end_datetime" not in extra:
        properties["datetime"] = extra.get("datetime")
    properties.update((k, v) for k, v in extra.items() if k not in NOT_PROPERTIES)
    clashing = extra.get(EXTRA_PROPERTIES)
    properties.update(clashing if isinstance(clashing, dict) else {})
    properties["data_id"], properties["pubtime"] = data_id, pubtime
    inline = _content(notice) if relation != "deletion" else None
    for key, value in (("integrity", _integrity(notice)), ("content", inline)):
        properties.pop(key, None)
        if value is not None:
            properties[key] = value
    written = extra.get(EXTRA_LINK) if isinstance(extra.get(EXTRA_LINK), dict) else {}
    if isinstance(written.get("href"), str) and _same_target(written["href"], href):
        href = written["href"]
    link: dict[str, Any] = {"href": href, "rel": relation}
    media_type = extra[EXTRA_TYPE] if EXTRA_TYPE in extra else _media_type(notice.rel_path)
    if media_type is not None:
        link["type"] = media_type
    if notice.size is not None and relation != "deletion":
        link["length"] = notice.size
    link.update((k, v) for k, v in written.items() if k not in LINK_KEYS)
    others = extra.get(EXTRA_LINKS)
    message: dict[str, Any] = {
        "id": extra.get("id") or _new_id(pubtime, href, relation, data_id),
        "conformsTo": extra.get("conformsTo") or [CONFORMANCE_CORE],
        "type": "Feature",
        "geometry": extra.get("geometry"),
        "properties": properties,
        "links": [link, *(others if isinstance(others, list) else [])],
    }
    feature = extra.get(EXTRA_FEATURE)
    if isinstance(feature, dict):
        message.update((k, v) for k, v in feature.items() if k not in FEATURE_KEYS)
    return message


def _href(notice: Notice) -> str:
    """The link to the file: base URL and the retrievePath (over http(s): as written, its query
    kept) or the file's path, percent-encoded (sarra.message.http_path)."""
    base = notice.base_url.rstrip("/")
    retrieve = (notice.retrieve_path or "").lstrip("/")
    if retrieve and urlsplit(base).scheme.lower() in SCHEMES:
        return f"{base}/{request_target(Target(retrieve))}"
    path, _, query = retrieve.partition("?") if retrieve else (notice.rel_path, "", "")
    return f"{base}/{path_target(path.lstrip('/'))}" + (f"?{query}" if query else "")


def _same_target(written: str, href: str) -> bool:
    """Whether two hrefs name the same file (they differ in escapes only)."""
    try:
        one, two = urlsplit(written), urlsplit(href)
    except ValueError:
        return False
    return (
        one.scheme.lower() == two.scheme.lower()
        and one.netloc == two.netloc
        and unquote(one.path).lstrip("/") == unquote(two.path).lstrip("/")
        and one.query == two.query
    )


def _rfc3339(v03_time: str) -> str:
    whole, _, fraction = v03_time.partition(".")
    day, _, clock = whole.partition("T")
    text = f"{day[0:4]}-{day[4:6]}-{day[6:8]}T{clock[0:2]}:{clock[2:4]}:{clock[4:6]}"
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def _data_id(notice: Notice, topic: str) -> str:
    name = posixpath.basename(notice.rel_path.rstrip("/"))
    directory = wis2_topics.rel_dir(topic)
    return f"{directory}/{name}" if directory else notice.rel_path.lstrip("/")


def _new_id(pubtime: str, href: str, relation: str, data_id: Any) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{pubtime}\n{href}\n{relation}\n{data_id}"))


def _integrity(notice: Notice) -> dict[str, str] | None:
    """The integrity of a WIS2 identity method (base64); None for other methods."""
    identity = notice.identity
    if identity is None or identity.method not in WIS2_METHODS:
        return None
    digest, form = decode_digest(identity.method, identity.value)
    if digest is None or form != "base64":
        raise NotEncodable(
            f"identity {identity.method} value is not the base64 of a "
            f"{DIGEST_SIZES[identity.method]}-byte digest"
        )
    return {"method": identity.method, "value": identity.value}


def _content(notice: Notice) -> dict[str, Any] | None:
    """The inline content, when the file is at most MAX_INLINE_BYTES and its encoded value
    too: as text when it was text, else base64, or gzip when that alone fits."""
    content = notice.content
    if not isinstance(content, dict) or not isinstance(content.get("value"), str):
        return None
    encoding = str(content.get("encoding", "utf-8")).lower()
    data = decode_content(encoding, content["value"])
    if data is None or len(data) > MAX_INLINE_BYTES:
        return None
    if notice.size is not None and notice.size != len(data):
        return None
    forms: list[tuple[str, Callable[[], str]]] = [
        ("base64", lambda: base64.b64encode(data).decode("ascii")),
        ("gzip", lambda: base64.b64encode(_gzip(data)).decode("ascii")),
    ]
    if encoding == "utf-8":
        forms.insert(0, ("utf-8", lambda: content["value"]))
    for name, make in forms:
        value = make()
        if len(value.encode("utf-8")) <= MAX_INLINE_BYTES:
            return {"encoding": name, "value": value, "size": len(data)}
    return None


def _media_type(rel_path: str) -> str:
    extension = posixpath.splitext(rel_path)[1].lstrip(".").lower()
    return _MEDIA_TYPES.get(extension, "application/octet-stream")


def _dumps(message: dict[str, Any]) -> bytes:
    try:
        return json.dumps(
            message, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()
    except (TypeError, ValueError, UnicodeError) as err:
        raise NotEncodable(f"not JSON-serialisable: {err}") from None


def looks_like(body: bytes | str) -> bool | None:
    """Whether a JSON body is a WNM rather than a v03 notice, by its keys: True with `links`
    and no `baseUrl`, False with `baseUrl` and no `links`, None when it cannot tell."""
    if isinstance(body, bytes):
        links, base = b'"links"' in body, b'"baseUrl"' in body
    else:
        links, base = '"links"' in body, '"baseUrl"' in body
    return None if links == base else links


def _gzip(data: bytes) -> bytes:
    import gzip  # content this large is rare: not imported at every start

    return gzip.compress(data, mtime=0)
