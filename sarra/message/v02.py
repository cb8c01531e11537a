"""The v02 codec: a one-line text body and AMQP headers of strings.

Body: `<pubtime> <baseurl> <relpath>`, and for reports ` <code> <host> <user> <elapsed>` with
the text in a `message` header. The relpath is escaped (see sarra.message.topic).

Mapping to the model (v03 names):
- `sum` d/s/n/0/a/z,X <-> identity md5/sha512/md5name/random/arbitrary/cod (hex <-> base64);
  a notice without identity is written `n,<md5 hex of rel_path>`, as v2 did.
- event sums: `L` symlink and `l` hard link (target in the `link` header), `R` remove, `m`/`r`
  mkdir/rmdir <-> fileOp link/hlink/remove/directory(+remove). Their value (SHA-512 hex of the
  link target or the basename) is recomputed on encode; an identity next to a remove, directory or
  hard link has no place in v02 and is dropped. A `link` header next to a data sum keeps both.
- `oldname` <-> fileOp rename; `retrievePath` (or `retPath`) <-> retrieve_path.
- `parts` `1,<size>,1,0,0` <-> size; `i`/`p` parts <-> blocks, with size = the length of the
  block (as v2 writes it). sr3 writes the length of the block where v2 writes the file's
  remainder (`i,<bs>,<count>,<length>,<n>`): a remainder equal to the block size, which v2 never
  writes, is read so: for the last block the file is a multiple of the block size, for another
  block the remainder is unknown. sr3's sum of a block is not the block's checksum (see
  Blocks.unchecked): blocks read in sr3's form, or from sr3's v03 manifest, are written in it.
- a `/` is added to the base URL when neither it nor the path has one, since v2 peers join
  them by plain concatenation (Notice.url is the same before and after).
- content is not written (v02 has no inline content). Other headers are kept in `extra`;
  non-string extra values are written as JSON.
"""

from __future__ import annotations

import json
import operator
import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from sarra.integrity.checksum import checksum_bytes, identity_to_sum, sum_to_identity
from sarra.integrity.parts import INPLACE, PARTITIONED, WHOLE, Parts, whole_file
from sarra.message import v03, validate
from sarra.message.errors import HeaderTooLong, MalformedNotice, NotEncodable, excerpt
from sarra.message.notice import (
    Blocks,
    Identity,
    Notice,
    Report,
    time_to_epoch,
    time_v02_to_v03,
    time_v03_to_v02,
)
from sarra.message.topic import RoutingKey, escape, report_prefix, routing_key, unescape

CONTENT_TYPE = "text/plain"

HEADER_LIMIT = 252
"""Longest header value, in bytes of UTF-8, that v2 peers pass on intact (v2 truncates values of
253 bytes or more)."""

HEADERS = frozenset(
    {
        "sum",
        "parts",
        "link",
        "oldname",
        "source",
        "from_cluster",
        "to_clusters",
        "mtime",
        "atime",
        "mode",
        "rename",
        "retrievePath",
        "retPath",
    }
)
"""Headers this codec reads into Notice fields (`message` too, in reports)."""

RESERVED = HEADERS | v03.RESERVED
"""Names an extra field may not be written as: v02 or v03 readers would take them for fields."""

_STRING_HEADERS = {
    "source": "source",
    "from_cluster": "from_cluster",
    "to_clusters": "to_clusters",
    "mode": "mode",
    "rename": "rename",
    "retrievePath": "retrieve_path",
}
_TIMES = ("mtime", "atime")
_string_values = operator.attrgetter(*_STRING_HEADERS.values())
_time_values = operator.attrgetter(*_TIMES)
"""The Notice fields of those headers, in their order, in one call."""
# The headers that become fields of the notice (the others are kept as they are, in `extra`).
_TEXT_HEADERS = frozenset(("sum", "link", "oldname", "parts", *_TIMES, "retPath", *_STRING_HEADERS))
_EVENT_OPS: dict[str, dict[str, str]] = {
    "R": {"remove": ""},
    "m": {"directory": ""},
    "r": {"directory": "", "remove": ""},
}
_POST_FIELDS, _REPORT_FIELDS = 3, 7
_DIGITS = len(str(validate.MAX_SIZE))


def encode(
    notice: Notice, topic_prefix: str = "v02.post"
) -> tuple[RoutingKey, str, dict[str, str]]:
    """The routing key, body and headers of a notice (reports go under `.report`).

    NotEncodable if a field cannot be written in v02 (HeaderTooLong for a header value over
    HEADER_LIMIT bytes). A routing key cut to fit AMQP has `truncated` set.
    """
    if not notice.rel_path:
        raise NotEncodable("rel_path is empty")
    try:
        pubtime = time_v03_to_v02(notice.pubtime)
    except ValueError as error:
        raise NotEncodable(f"pubtime: {error}") from None
    base_url = notice.base_url
    if not base_url.endswith("/") and not notice.rel_path.startswith("/"):
        base_url += "/"  # v2 peers join base and path by plain concatenation
    words = [pubtime, _word("base_url", base_url), escape(notice.rel_path)]
    if notice.report is not None:
        words += _report_words(notice.pubtime, notice.report)
    headers = _extra_headers(notice.extra)
    headers.update(_known_headers(notice))
    for name, value in headers.items():
        size = len(value) if value.isascii() else len(value.encode())
        if size > HEADER_LIMIT:
            raise HeaderTooLong(name, size, HEADER_LIMIT)
    prefix = report_prefix(topic_prefix) if notice.report is not None else topic_prefix
    return routing_key(notice.rel_path, prefix), " ".join(words), headers


def _word(name: str, value: str) -> str:
    if not value or " " in value:
        raise NotEncodable(f"{name} {value!r} cannot be a word of a v02 body")
    return value


def _report_words(pubtime: str, report: Report) -> list[str]:
    """Code, host, user and elapsed seconds; a missing host or user is written `-`."""
    return [
        str(report.code),
        _word("report host", report.host or "-"),
        _word("report user", report.user or "-"),
        _word("report elapsed", _elapsed(pubtime, report)),
    ]


def _elapsed(pubtime: str, report: Report) -> str:
    """Seconds from publication to the report: as given, else from time_completed, else 0."""
    if report.elapsed is not None:
        return str(report.elapsed)
    if report.time_completed is None:
        return "0"
    try:
        return f"{time_to_epoch(report.time_completed) - time_to_epoch(pubtime):f}"
    except ValueError:
        return "0"


def _extra_headers(extra: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: value if isinstance(value, str) else _json(value)
        for name, value in extra.items()
        if name not in RESERVED
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _known_headers(notice: Notice) -> dict[str, str]:
    headers = _sum_headers(notice)
    if notice.blocks is not None:
        headers["parts"] = _parts_header(notice.blocks)
    elif notice.size is not None:
        headers["parts"] = whole_file(notice.size)
    for name, value in zip(_STRING_HEADERS, _string_values(notice), strict=True):
        if value is not None:
            headers[name] = value
    for name, value in zip(_TIMES, _time_values(notice), strict=True):
        if value is not None:
            headers[name] = _lenient(time_v03_to_v02, value)
    if notice.report is not None and notice.report.message is not None:
        headers["message"] = notice.report.message
    return headers


def _parts_header(blocks: Blocks) -> str:
    parts = blocks.to_parts()
    if blocks.unchecked:  # as sr3 writes it: this block's length in the remainder's place
        return (
            f"{parts.method},{parts.block_size},{parts.block_count},{parts.length},{parts.number}"
        )
    return str(parts)


def _sum_headers(notice: Notice) -> dict[str, str]:
    """`sum`, and `link` / `oldname` when the notice has such a file operation."""
    op = notice.file_op or {}
    headers: dict[str, str] = {}
    if "hlink" in op:
        headers["link"] = _op_text(op, "hlink")
        headers["sum"] = _event_sum("l", headers["link"])
    elif "directory" in op:
        headers["sum"] = _event_sum("r" if "remove" in op else "m", _basename(notice))
    elif "remove" in op:
        headers["sum"] = _event_sum("R", _basename(notice))
    elif "link" in op:
        headers["link"] = _op_text(op, "link")
        headers["sum"] = _identity_sum(notice.identity) or _event_sum("L", headers["link"])
    else:
        # v2 announced a file without checksum by the MD5 of its relative path
        headers["sum"] = _identity_sum(notice.identity) or "n," + checksum_bytes(
            notice.rel_path.encode(), "d"
        )
    if "rename" in op:
        headers["oldname"] = _op_text(op, "rename")
    return headers


def _basename(notice: Notice) -> str:
    return posixpath.basename(notice.rel_path.rstrip("/"))


def _event_sum(flag: str, text: str) -> str:
    """An event sum: the flag and the SHA-512 hex of the link target or basename."""
    return f"{flag},{checksum_bytes(text.encode(), 's')}"


def _op_text(op: Mapping[str, Any], key: str) -> str:
    value = op[key]
    if not isinstance(value, str):
        raise NotEncodable(f"fileOp {key} must be a string path, not {type(value).__name__}")
    return value


def _identity_sum(identity: Identity | None) -> str | None:
    if identity is None:
        return None
    try:
        return identity_to_sum(identity.method, identity.value)
    except ValueError as error:
        raise NotEncodable(f"identity: {error}") from None


def decode(routing_key: str, body: str | bytes, headers: Mapping[str, Any] | None = None) -> Notice:
    """The notice in a v02 message; MalformedNotice says why when it is not one (see
    sarra.message.validate for what every notice must be)."""
    notice = quick_decode(routing_key, body, headers)
    return notice if notice is not None else _decode_checked(routing_key, body, headers)


_QUICK_NAMES = frozenset(("source", "from_cluster", "to_clusters"))


def quick_decode(
    routing_key: str, body: str | bytes, headers: Mapping[str, Any] | None = None
) -> Notice | None:
    """The notice in a v02 message of the plain form nearly every one takes (a post, ASCII
    text, a data sum, whole-file parts, values well within the limits), decoded and checked in
    one pass; None when the message is not of that form, and only `decode` can tell (it may be
    fine too). What this returns, `decode` returns too."""
    if type(body) is bytes:
        if not body.isascii():
            return None
        text = body.decode("ascii")
    elif type(body) is str and body.isascii():
        text = body
    else:
        return None
    words = text.split(" ")
    if len(words) != _POST_FIELDS:
        return None
    pubtime, base_url, rel_path = words
    pubtime = validate.quick_time(pubtime)
    if pubtime is None or not base_url or validate.url_problem(base_url) is not None:
        return None
    if "%" in rel_path:
        rel_path = unescape(rel_path)
    if not validate.quick_path(rel_path):
        return None
    identity = size = mtime = atime = mode = None
    source = from_cluster = to_clusters = rename = retrieve_path = None
    extra: dict[str, Any] = {}
    for name, value in (headers or {}).items():
        if type(value) is not str or not value.isascii():
            return None
        if name == "sum":
            try:  # an event flag is a ValueError too: the full decode reads those
                identity = Identity(*sum_to_identity(value))
            except ValueError:
                return None
        elif name == "parts":
            if value[:2] != "1," or value[-6:] != ",1,0,0":
                return None
            digits = value[2:-6]
            if not digits.isdigit() or len(digits) > _DIGITS:
                return None
            size = int(digits)
            if size > validate.MAX_SIZE:
                return None
        elif name in _QUICK_NAMES:
            if not validate.quick_name(value):
                return None
            if name == "source":
                source = value
            elif name == "from_cluster":
                from_cluster = value
            else:
                to_clusters = value
        elif name == "rename" or name == "retrievePath":
            if not validate.quick_path(value):
                return None
            if name == "rename":
                rename = value
            else:
                retrieve_path = value
        elif name == "mtime" or name == "atime":
            moment = validate.quick_time(value)
            if moment is None:
                return None
            if name == "mtime":
                mtime = moment
            else:
                atime = moment
        elif name == "mode":
            if not validate.MODE.fullmatch(value):
                return None
            mode = value
        elif name in _TEXT_HEADERS or type(name) is not str or not name.isascii():
            return None  # link, oldname, retPath; a key the check must look at
        else:
            extra[name] = value
    # Every field by position, in Notice's order: half the cost of naming them, on the path
    # nearly every notice takes (tests/unit/test_quick_decode.py holds the order to the names).
    return Notice(
        pubtime, base_url, rel_path, identity, size,
        None, None,  # blocks, file_op
        mtime, atime, mode, rename, retrieve_path, source, from_cluster, to_clusters,
        None, None,  # content, report
        extra, routing_key,
    )  # fmt: skip


def _decode_checked(
    routing_key: str, body: str | bytes, headers: Mapping[str, Any] | None
) -> Notice:
    """The whole decode, each field checked (see sarra.message.validate)."""
    text = _utf8(body, "body")
    words = text.split(" ")
    if len(words) not in (_POST_FIELDS, _REPORT_FIELDS):
        raise MalformedNotice(
            f"body has {len(words)} space-separated fields, expected {_POST_FIELDS} "
            f"(or {_REPORT_FIELDS} for a report): {excerpt(text)}"
        )
    pubtime, base_url, rel_path = words[0], words[1], unescape(words[2])
    try:
        pubtime = time_v02_to_v03(pubtime)
    except ValueError:
        raise MalformedNotice(f"pubtime is not YYYYMMDDHHMMSS.fff: {excerpt(pubtime)}") from None
    if not base_url:
        raise MalformedNotice("empty base URL")
    if not rel_path:
        raise MalformedNotice("empty relative path")
    fields = dict(headers) if headers else {}
    for name, value in fields.items():
        if isinstance(value, bytes):
            fields[name] = _utf8(value, f"header {name}")
    texts = {name: fields.pop(name) for name in _TEXT_HEADERS.intersection(fields)}
    for name, value in texts.items():
        if not isinstance(value, str):
            raise MalformedNotice(f"header {name} must be text, not {type(value).__name__}")
    text = texts.get
    identity, file_op = _decode_sum(text("sum"), text("link"), text("oldname"))
    size, blocks = _decode_parts(text("parts"))
    report = _decode_report(words[3:], fields) if len(words) == _REPORT_FIELDS else None
    times = {name: _lenient(time_v02_to_v03, texts[name]) for name in _TIMES if name in texts}
    strings = {attr: text(name) for name, attr in _STRING_HEADERS.items()}
    if strings["retrieve_path"] is None:
        strings["retrieve_path"] = text("retPath")
    notice = Notice(
        pubtime=pubtime,
        base_url=base_url,
        rel_path=rel_path,
        identity=identity,
        size=size,
        blocks=blocks,
        file_op=file_op,
        report=report,
        **times,
        **strings,
        extra=fields,
        topic=routing_key,
    )
    validate.check(notice)
    return notice


def _utf8(value: str | bytes, what: str) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise MalformedNotice(f"{what} is not UTF-8: {excerpt(value)}") from None


def _pop_text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.pop(name, None)
    if value is not None and not isinstance(value, str):
        raise MalformedNotice(f"header {name} must be text, not {type(value).__name__}")
    return value


def _decode_sum(
    sum_value: str | None, link: str | None, oldname: str | None
) -> tuple[Identity | None, dict[str, Any] | None]:
    """Identity and fileOp from the `sum`, `link` and `oldname` headers."""
    identity, op = None, {}
    flag = (sum_value or "").partition(",")[0]
    if flag in ("L", "l"):
        if link is None:
            raise MalformedNotice(f"sum {flag} without a link header")
        op["link" if flag == "L" else "hlink"] = link
    elif flag in _EVENT_OPS:
        op.update(_EVENT_OPS[flag])
    elif sum_value is not None:
        try:
            identity = Identity(*sum_to_identity(sum_value))
        except ValueError as error:
            raise MalformedNotice(f"bad sum header: {error}") from None
    if link is not None and "hlink" not in op:
        op["link"] = link
    if oldname is not None:
        op["rename"] = oldname
    return identity, op or None


def _decode_parts(parts: str | None) -> tuple[int | None, Blocks | None]:
    if parts is None:
        return None, None
    if parts[:2] == "1," and parts[-6:] == ",1,0,0":  # a whole file, by far the most common
        size = parts[2:-6]
        if size.isascii() and size.isdigit() and len(size) <= _DIGITS:
            return int(size), None
    try:
        parsed = Parts.parse(parts)
    except ValueError as error:
        block = _sr3_block(parts)
        if block is None:
            raise MalformedNotice(f"bad parts header: {error}") from None
        return block.length, block
    if parsed.method == WHOLE:
        return parsed.block_size, None
    return parsed.length, Blocks.from_parts(parsed)


def _sr3_block(parts: str) -> Blocks | None:
    """The block of sr3's parts form, with the block's length as its fourth field (equal to the
    block size: v2's form would have a remainder below it); None when it is not that form."""
    fields = parts.split(",")
    if len(fields) != 5 or fields[0] not in (INPLACE, PARTITIONED):
        return None
    if not all(f.isascii() and f.isdigit() and len(f) <= _DIGITS for f in fields[1:]):
        return None
    size, count, length, number = (int(field) for field in fields[1:])
    if length != size or not 0 <= number < count:
        return None
    remainder = 0 if number == count - 1 else None
    method = "inplace" if fields[0] == INPLACE else "partitioned"
    try:
        return Blocks(method, size, count, remainder, number, unchecked=True)
    except ValueError:
        return None


def _decode_report(words: list[str], fields: dict[str, Any]) -> Report:
    code, host, user, elapsed = words
    if not (code.isascii() and code.isdigit() and len(code) <= _DIGITS):
        raise MalformedNotice(f"report code is not a number: {excerpt(code)}")
    return Report(
        int(code), message=_pop_text(fields, "message"), host=host, user=user, elapsed=elapsed
    )


def _lenient(convert: Callable[[str], str], value: str) -> str:
    """A time converted to the other form, or kept as given when it is not a time."""
    try:
        return convert(value)
    except ValueError:
        return value
