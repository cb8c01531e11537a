"""Notices: the one model, its codecs (v02, v03, WIS2 notification messages), and the topic <->
path mapping. Pure, no I/O."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from sarra.message import v02, v03
from sarra.message.errors import HeaderTooLong, MalformedNotice, NotEncodable
from sarra.message.notice import Blocks, Identity, Notice, Report
from sarra.message.topic import WIS2_CHANNELS, levels

if TYPE_CHECKING:
    from sarra.message.reason import Reason

__all__ = [
    "FORMATS",
    "Blocks",
    "Encoded",
    "HeaderTooLong",
    "Identity",
    "MalformedNotice",
    "NotEncodable",
    "Notice",
    "Report",
    "decode_any",
    "encode_any",
    "format_for",
    "prefix_for",
]

FORMATS = ("v02", "v03", "wis")
"""Formats notices are written in (`post_format`; `wis` is sr3's name for WNM)."""


def decode_any(
    routing_key: str,
    body: bytes | str,
    headers: Mapping[str, Any] | None = None,
    content_type: str | None = None,
    *,
    wis2_validation: str = "reject",
    on_wis2_reasons: Callable[[Notice, list[Reason]], None] | None = None,
) -> Notice:
    """Decode a received message: a WIS2 notification message (WNM) when it is one, else v03
    when the content type is JSON or the body starts with `{` (as v2 does), v02 otherwise.
    MalformedNotice says why when it is none of them.

    A JSON body is a WNM when its content type is GeoJSON, or by its keys (`links` and no
    `baseUrl`), or, when the keys do not tell, when it came on a WIS2 topic. `wis2_validation`
    (reject, warn, tag) says what becomes of a WNM that breaks the specification, and
    `on_wis2_reasons` is given what the validator found in a WNM that was accepted.
    """
    start = body[:1]
    if start.isspace():
        start = body.lstrip()[:1]  # a copy of the body: only when it starts with a space
    json_type = content_type is not None and "json" in content_type.lower()
    if json_type or start in ("{", b"{"):
        wnm, wis2_topics = _wis2()
        if _is_wnm(wnm, wis2_topics, routing_key, body, content_type):
            decoded = wnm.decode_checked(routing_key, body, wis2_validation)
            if decoded.reasons and on_wis2_reasons is not None:
                on_wis2_reasons(decoded.notice, decoded.reasons)
            return decoded.notice
        return v03.decode(routing_key, body)
    return v02.decode(routing_key, body, headers)


@functools.cache
def _wis2() -> tuple[ModuleType, ModuleType]:
    """The WIS2 codec (wnm) and topic hierarchy, imported where a message may be one: a
    component that never meets one (a poster of v02 or v03) does not load them at every start."""
    from sarra.message import wis2_topics, wnm

    return wnm, wis2_topics


def _is_wnm(
    wnm: ModuleType,
    wis2_topics: ModuleType,
    routing_key: str,
    body: bytes | str,
    content_type: str | None,
) -> bool:
    if content_type is not None and "geo+json" in content_type.lower():
        return True
    by_keys = wnm.looks_like(body)
    return wis2_topics.is_wis2(routing_key) if by_keys is None else by_keys


def format_for(post_format: str | None, topic_prefix: str) -> str:
    """The format notices are written in: `post_format` when it names one, else the one the
    topic prefix implies: `v03...` v03, a WIS2 channel (`origin/...`, `cache/...`) wis, v02
    otherwise."""
    if post_format in FORMATS:
        return post_format  # type: ignore[return-value]
    if topic_prefix.startswith("v03"):
        return "v03"
    if levels(topic_prefix)[0] in WIS2_CHANNELS:
        return "wis"
    return "v02"


def prefix_for(post_format: str, topic_prefix: str) -> str:
    """The topic prefix notices of `post_format` are published under: v02 notices under a v03
    prefix (sr3's default, with `post_format v02`) go under `v02.post`, as sr3 writes them, so
    that v02 subscribers, who bind to v02.post, get them; otherwise `topic_prefix`."""
    if post_format == "v02" and topic_prefix.split(".")[0] == "v03":
        return "v02.post"
    return topic_prefix


class Encoded(NamedTuple):
    """A notice written in one format: its topic, body, headers and content type."""

    topic: str
    body: bytes
    headers: dict[str, Any] | None
    content_type: str


def encode_any(
    notice: Notice, post_format: str, topic_prefix: str, *, topic: str | None = None
) -> Encoded:
    """A notice written in a format of FORMATS, on `topic` when given (else its topic prefix
    followed by the directories of its path); NotEncodable when it cannot be."""
    if post_format == "wis":
        wnm = _wis2()[0]
        topic, body = wnm.encode(notice, topic_prefix, topic=topic)
        return Encoded(topic, body, None, wnm.CONTENT_TYPE)
    if post_format == "v03":
        key, data = v03.encode(notice, topic_prefix)
        return Encoded(topic or key, data, None, v03.CONTENT_TYPE)
    key, text, headers = v02.encode(notice, topic_prefix)
    return Encoded(topic or key, text.encode(), headers, v02.CONTENT_TYPE)
