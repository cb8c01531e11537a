"""The v03 codec: the body is one JSON object, the topic travels as the routing key.

On decode the older names `integrity` (for `identity`) and `retPath` (for `retrievePath`) are
accepted, times in the v02 form are normalised, and `blocks` numbers written as strings (as v2
does) are read as integers. Unknown keys are kept in `Notice.extra` and written back.

`blocks` comes in two forms, both read and both written: v2's `count` and `remainder`, and
sr3's `manifest` (`{"<n>": {"size": <length>, "identity": <value>}, ...}`, one entry per block,
which sr3 needs to place a block). A manifest alone is sr3's writing, whose block identities are
not the blocks' checksums (Blocks.unchecked): such a block is written back as it came. sr3
also announces a file it reassembled with `blocks` but no `number`: that is the whole file,
read as such (without its identity, which is still that of the last block sr3 received).
"""

from __future__ import annotations

import json
from typing import Any

from sarra.integrity.checksum import identity_to_sum
from sarra.message import validate
from sarra.message.errors import MalformedNotice, NotEncodable, excerpt
from sarra.message.notice import Blocks, Identity, Notice, Report, time_v02_to_v03
from sarra.message.topic import RoutingKey, report_prefix, routing_key

CONTENT_TYPE = "application/json"

FIELDS = frozenset(
    {
        "pubTime",
        "baseUrl",
        "relPath",
        "identity",
        "size",
        "blocks",
        "fileOp",
        "mtime",
        "atime",
        "mode",
        "rename",
        "retrievePath",
        "source",
        "from_cluster",
        "to_clusters",
        "content",
        "report",
    }
)
"""The keys this codec reads into Notice fields."""

ALIASES = {"integrity": "identity", "retPath": "retrievePath"}
"""Older key names accepted on decode."""

RESERVED = FIELDS | frozenset(ALIASES) | {"parts"}
"""Keys an extra field may not be written as: they would be read as something else
(sr3 reads a `parts` key, left by old v2 versions, as size and blocks)."""

REPORT_FIELDS = frozenset(
    {"code", "resultCode", "message", "host", "user", "elapsedTime", "timeCompleted"}
)
"""Keys of `report` read into Report fields; an extra report key may not be written as one."""

_STRING_FIELDS = {
    "mode": "mode",
    "rename": "rename",
    "retrievePath": "retrieve_path",
    "source": "source",
    "from_cluster": "from_cluster",
    "to_clusters": "to_clusters",
}
_BLOCK_KEYS = ("method", "size", "count", "remainder", "number")
_BLOCK_FIELDS = frozenset((*_BLOCK_KEYS, "manifest"))
_SR3_BLOCK_KEYS = ("method", "size", "number")
_REPORT_KEYS = {"message": "message", "host": "host", "user": "user"}
_CHECKED_METHODS = {"md5", "sha512", "md5name", "cod"}
_DIGITS = len(str(validate.MAX_SIZE))


def encode(notice: Notice, topic_prefix: str = "v03") -> tuple[RoutingKey, bytes]:
    """The routing key and JSON body of a notice (reports go under `<prefix>.report`)."""
    prefix = report_prefix(topic_prefix) if notice.report is not None else topic_prefix
    try:
        pubtime = time_v02_to_v03(notice.pubtime)
    except ValueError as error:
        raise NotEncodable(f"pubtime: {error}") from None
    body: dict[str, Any] = {
        "pubTime": pubtime,
        "baseUrl": notice.base_url,
        "relPath": notice.rel_path,
    }
    optional: dict[str, Any] = {
        "identity": _identity_json(notice.identity),
        "size": notice.size,
        "blocks": _blocks_json(notice.blocks, notice.identity),
        "fileOp": notice.file_op,
        "mtime": notice.mtime,
        "atime": notice.atime,
        "content": notice.content,
        "report": _report_json(notice.report),
    }
    optional.update((key, getattr(notice, attr)) for key, attr in _STRING_FIELDS.items())
    body.update((key, value) for key, value in optional.items() if value is not None)
    body.update((key, value) for key, value in notice.extra.items() if key not in RESERVED)
    try:
        data = json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise NotEncodable(f"not JSON-serialisable: {error}") from None
    return routing_key(notice.rel_path, prefix), data


def _identity_json(identity: Identity | None) -> dict[str, str] | None:
    return None if identity is None else {"method": identity.method, "value": identity.value}


def _blocks_json(blocks: Blocks | None, identity: Identity | None) -> dict[str, Any] | None:
    """Both forms: count and remainder for v2 readers, the manifest for sr3's."""
    if blocks is None:
        return None
    try:
        lengths = blocks.lengths()
    except ValueError as error:
        raise NotEncodable(f"blocks: {error} (sr3's v02 parts of block {blocks.number})") from None
    keys = _SR3_BLOCK_KEYS if blocks.unchecked else _BLOCK_KEYS
    data: dict[str, Any] = {key: getattr(blocks, key) for key in keys}
    manifest = {str(number): {"size": length} for number, length in enumerate(lengths)}
    if blocks.identities is not None:
        for entry, value in zip(manifest.values(), blocks.identities, strict=True):
            entry["identity"] = value
    elif identity is not None:
        manifest[str(blocks.number)]["identity"] = identity.value
    data["manifest"] = manifest
    return data


def _report_json(report: Report | None) -> dict[str, Any] | None:
    if report is None:
        return None
    known = {
        "code": report.code,
        "message": report.message,
        "host": report.host,
        "user": report.user,
        "elapsedTime": report.elapsed,
        "timeCompleted": report.time_completed,
    }
    data = {key: value for key, value in known.items() if value is not None}
    data.update((k, v) for k, v in report.extra.items() if k not in REPORT_FIELDS)
    return data


def decode(routing_key: str, body: bytes | str) -> Notice:
    """The notice in a v03 body; MalformedNotice says why when it is not one (see
    sarra.message.validate for what every notice must be)."""
    try:
        # strict UTF-8: json.loads would let encoded surrogates through
        text = body.decode() if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise MalformedNotice(f"body is not UTF-8: {excerpt(body)}") from None
    try:
        parsed = _DECODER.decode(text)
    except (ValueError, RecursionError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MalformedNotice(f"body is not JSON ({reason}): {excerpt(body)}") from None
    if not isinstance(parsed, dict):
        raise MalformedNotice(f"body is a JSON {type(parsed).__name__}, not an object")
    notice = quick_notice(routing_key, parsed)
    return notice if notice is not None else _checked_notice(routing_key, parsed)


_QUICK_NAMES = {"source": "source", "from_cluster": "from_cluster", "to_clusters": "to_clusters"}
_QUICK_PATHS = {"rename": "rename", "retrievePath": "retrieve_path"}
_QUICK_TIMES = {"pubTime": "pubtime", "mtime": "mtime", "atime": "atime"}
_QUICK_REQUIRED = ("pubTime", "baseUrl", "relPath")


def quick_notice(routing_key: str, parsed: dict[str, Any]) -> Notice | None:
    """The notice in a parsed v03 body of the plain form nearly every one takes (ASCII text,
    an identity, an integer size, values well within the limits, plain extra fields), read and
    checked in one pass; None when it is not of that form, and only the full decode can tell
    (it may be fine too). What this returns, `decode` returns too."""
    fields: dict[str, Any] = {"extra": {}, "topic": routing_key}
    extra = fields["extra"]
    for key, value in parsed.items():
        if type(value) is str:
            if not value.isascii():
                return None
            if key in _QUICK_TIMES:
                value = validate.quick_time(value)
                if value is None:
                    return None
                fields[_QUICK_TIMES[key]] = value
            elif key == "baseUrl":
                if not value or validate.url_problem(value) is not None:
                    return None
                fields["base_url"] = value
            elif key == "relPath" or key in _QUICK_PATHS:
                if not validate.quick_path(value):
                    return None
                fields[_QUICK_PATHS.get(key, "rel_path")] = value
            elif key in _QUICK_NAMES:
                if not validate.quick_name(value):
                    return None
                fields[key] = value
            elif key == "mode":
                if not validate.MODE.fullmatch(value):
                    return None
                fields["mode"] = value
            elif key in RESERVED or not key.isascii():
                return None
            else:
                extra[key] = value
        elif key == "size":
            if type(value) is not int or not 0 <= value <= validate.MAX_SIZE:
                return None
            fields["size"] = value
        elif key == "identity":
            identity = _quick_identity(value)
            if identity is None:
                return None
            fields["identity"] = identity
        elif key in RESERVED or not key.isascii() or not validate.quick_value(value):
            return None
        else:
            extra[key] = value
    if any(key not in parsed for key in _QUICK_REQUIRED):
        return None
    return Notice(**fields)


def _quick_identity(value: Any) -> Identity | None:
    if type(value) is not dict:
        return None
    method, checksum = value.get("method"), value.get("value")
    if type(method) is not str or type(checksum) is not str:
        return None
    if not (method.isascii() and checksum.isascii()):
        return None
    if method in _CHECKED_METHODS:
        try:
            identity_to_sum(method, checksum)
        except ValueError:
            return None
    return Identity(method, checksum)


def _checked_notice(routing_key: str, parsed: dict[str, Any]) -> Notice:
    """The notice in a parsed body, each field read and checked (see sarra.message.validate)."""
    fields = dict(parsed)
    for old, new in ALIASES.items():
        if old in fields:
            fields.setdefault(new, fields.pop(old))
    pubtime = _required_text(fields, "pubTime")
    size = _count(fields.pop("size", None), "size")
    blocks, whole_size = _blocks(fields.pop("blocks", None))
    identity = _identity(fields.pop("identity", None))
    if whole_size is not None:
        identity = None  # sr3 leaves the identity of the block that completed the file
    try:
        pubtime = time_v02_to_v03(pubtime)
    except ValueError:
        raise MalformedNotice(f"pubTime is not YYYYMMDDTHHMMSS.fff: {excerpt(pubtime)}") from None
    strings = {attr: _text(fields.pop(key, None), key) for key, attr in _STRING_FIELDS.items()}
    notice = Notice(
        pubtime=pubtime,
        base_url=_required_text(fields, "baseUrl"),
        rel_path=_required_text(fields, "relPath"),
        identity=identity,
        size=whole_size if size is None else size,
        blocks=blocks,
        file_op=_object(fields.pop("fileOp", None), "fileOp"),
        mtime=_time(fields.pop("mtime", None), "mtime"),
        atime=_time(fields.pop("atime", None), "atime"),
        content=_object(fields.pop("content", None), "content"),
        report=_report(fields.pop("report", None)),
        **strings,
        extra=fields,
        topic=routing_key,
    )
    validate.check(notice)
    return notice


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
"""json.loads without NaN and Infinity, which no JSON peer can read back."""


def _required_text(fields: dict[str, Any], key: str) -> str:
    if key not in fields:
        raise MalformedNotice(f"missing {key}")
    value = _text(fields.pop(key), key)
    if not value:
        raise MalformedNotice(f"{key} is empty")
    return value


def _text(value: Any, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise MalformedNotice(f"{key} must be a string, not {type(value).__name__}")
    return value


def _time(value: Any, key: str) -> str | None:
    text = _text(value, key)
    try:
        return None if text is None else time_v02_to_v03(text)
    except ValueError:
        return text  # validate.check names the problem


def _count(value: Any, key: str) -> int | None:
    return None if value is None else _natural(value, key)


def _natural(value: Any, key: str) -> int:
    """A non-negative integer, also accepted as a string of digits (v2 writes strings)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= _DIGITS:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise MalformedNotice(f"{key} must be a non-negative integer, not {excerpt(repr(value))}")


def _object(value: Any, key: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise MalformedNotice(f"{key} must be an object, not {type(value).__name__}")
    return value


def _identity(value: Any) -> Identity | None:
    data = _object(value, "identity")
    if data is None:
        return None
    method, checksum = data.get("method"), data.get("value")
    if not isinstance(method, str) or not isinstance(checksum, str):
        raise MalformedNotice("identity needs a string method and a string value")
    if method in _CHECKED_METHODS:
        try:
            identity_to_sum(method, checksum)
        except ValueError as error:
            raise MalformedNotice(f"identity: {error}") from None
    return Identity(method, checksum)


def _blocks(value: Any) -> tuple[Blocks | None, int | None]:
    """The block a notice announces; for sr3's `blocks` without a number (a file it
    reassembled), no block and the size of the whole file."""
    data = _object(value, "blocks")
    if data is None:
        return None, None
    unknown = sorted(set(data) - _BLOCK_FIELDS)
    if unknown:
        raise MalformedNotice(f"unsupported blocks field(s): {', '.join(unknown)}")
    manifest = data.get("manifest")
    wanted = ("method", "size") if manifest is not None else _BLOCK_KEYS
    missing = [key for key in wanted if data.get(key) is None]
    if missing:
        raise MalformedNotice(f"blocks without {', '.join(missing)}")
    method = data["method"]
    if not isinstance(method, str):
        raise MalformedNotice("blocks.method must be a string")
    given = [key for key in _BLOCK_KEYS[1:] if data.get(key) is not None]
    numbers = {key: _natural(data[key], f"blocks.{key}") for key in given}
    identities, unchecked = None, False
    if manifest is not None:
        unchecked = "count" not in numbers and "remainder" not in numbers
        lengths, identities = _manifest(manifest)
        _check_manifest(numbers, lengths)
        numbers["count"] = len(lengths)
        numbers["remainder"] = lengths[-1] if lengths[-1] < numbers["size"] else 0
    if "number" not in numbers:  # sr3: a file reassembled from its blocks
        if method not in ("inplace", "partitioned"):
            raise MalformedNotice(f"blocks method must be inplace or partitioned, not {method!r}")
        count, size, remainder = numbers["count"], numbers["size"], numbers["remainder"]
        return None, (count - 1) * size + (remainder or size)
    try:
        block = Blocks(method, **numbers, identities=identities, unchecked=unchecked)
    except ValueError as error:
        raise MalformedNotice(f"blocks: {error}") from None
    return block, None


def _manifest(value: Any) -> tuple[list[int], tuple[str, ...] | None]:
    """The length of each block in sr3's manifest (keys 0 to n-1, as strings in JSON), and the
    identity of each when every one of two or more has one (else they say nothing that the
    notice's own identity does not)."""
    manifest = _object(value, "blocks.manifest")
    assert manifest is not None
    entries: dict[int, Any] = {}
    for key, entry in manifest.items():
        number = _natural(key, "blocks.manifest key")
        if not isinstance(entry, dict):
            raise MalformedNotice(f"blocks.manifest[{number}] must be an object")
        entries[number] = entry
    if sorted(entries) != list(range(len(entries))) or not entries:
        raise MalformedNotice("blocks.manifest must list blocks 0 to n-1")
    lengths, identities = [], []
    for number in range(len(entries)):
        entry = entries[number]
        lengths.append(_natural(entry.get("size"), f"blocks.manifest[{number}].size"))
        identity = entry.get("identity")
        if isinstance(identity, str):
            identities.append(identity)
    if len(lengths) < 2 or len(identities) < len(lengths):
        return lengths, None
    return lengths, tuple(identities)


def _check_manifest(numbers: dict[str, int], lengths: list[int]) -> None:
    """The manifest's lengths must be those of blocks of `size` bytes (and agree with count and
    remainder when they are given too)."""
    size = numbers["size"]
    if any(n != size for n in lengths[:-1]) or not 0 < lengths[-1] <= size:
        raise MalformedNotice(f"blocks.manifest lengths are not those of blocks of {size} bytes")
    count, remainder = numbers.get("count"), numbers.get("remainder")
    if count is not None and count != len(lengths):
        raise MalformedNotice(f"blocks.count {count} but the manifest lists {len(lengths)}")
    if remainder is not None and (remainder or size) != lengths[-1]:
        raise MalformedNotice(f"blocks.remainder {remainder} but the last block has {lengths[-1]}")


def _report(value: Any) -> Report | None:
    data = _object(value, "report")
    if data is None:
        return None
    fields = dict(data)
    code = fields.pop("code", None)
    result_code = fields.pop("resultCode", None)
    if code is None and result_code is None:
        raise MalformedNotice("report without a code")
    code = _natural(code if code is not None else result_code, "report.code")
    known = {
        attr: _text(fields.pop(key, None), f"report.{key}") for key, attr in _REPORT_KEYS.items()
    }
    elapsed = fields.pop("elapsedTime", None)
    if elapsed is not None and (
        isinstance(elapsed, bool) or not isinstance(elapsed, (str, int, float))
    ):
        raise MalformedNotice("report.elapsedTime must be a number or a string")
    time_completed = _text(fields.pop("timeCompleted", None), "report.timeCompleted")
    return Report(code, elapsed=elapsed, time_completed=time_completed, extra=fields, **known)
