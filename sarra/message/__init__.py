"""Notices: the one model, its v02 and v03 codecs, and the topic <-> path mapping. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sarra.message import v02, v03
from sarra.message.errors import HeaderTooLong, MalformedNotice, NotEncodable
from sarra.message.notice import Blocks, Identity, Notice, Report

__all__ = [
    "Blocks",
    "HeaderTooLong",
    "Identity",
    "MalformedNotice",
    "NotEncodable",
    "Notice",
    "Report",
    "decode_any",
]


def decode_any(
    routing_key: str,
    body: bytes | str,
    headers: Mapping[str, Any] | None = None,
    content_type: str | None = None,
) -> Notice:
    """Decode a received message: v03 when the content type is JSON or the body starts with `{`
    (as v2 does), v02 otherwise. MalformedNotice says why when it is neither."""
    start = body.lstrip()[:1]
    if (content_type and "json" in content_type.lower()) or start in ("{", b"{"):
        return v03.decode(routing_key, body)
    return v02.decode(routing_key, body, headers)
