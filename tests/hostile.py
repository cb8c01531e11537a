"""Hostile notices for the tests: good v02 and v03 notices mutated by a seeded generator.

`malformed(rng, count)` yields messages that every decoder must refuse (MalformedNotice): wrong
types, paths too deep or too long, lone surrogates, NUL bytes, bad URLs, bad blocks, bad fileOp,
bad identity, bad times, non-JSON, wrong content types... Each is one mutation of a good notice,
the mutations taken in turn so that every kind appears, their details drawn from `rng`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

PUBTIME = "20240101T120000.5"
MD5_B64 = "rL0Y20zC+Fzt72VPzMSk2A=="  # md5 of b"abc"
MD5_HEX = "900150983cd24fb0d6963f7d28e17f72"


@dataclass(frozen=True)
class Wire:
    """A message as it travels: routing key, body, headers, content type; `kind` says what was
    done to it."""

    kind: str
    routing_key: str
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    content_type: str | None = None


def good_v03(base_url: str, rel_path: str) -> dict[str, Any]:
    return {
        "pubTime": PUBTIME,
        "baseUrl": base_url,
        "relPath": rel_path,
        "size": 3,
        "identity": {"method": "md5", "value": MD5_B64},
        "mtime": "20240101T115959.9",
        "mode": "644",
    }


def good_v02_headers() -> dict[str, Any]:
    return {"sum": f"d,{MD5_HEX}", "parts": "1,3,1,0,0", "mtime": "20240101115959.9"}


def v03_wire(kind: str, fields: dict[str, Any], content_type: str = "application/json") -> Wire:
    body = json.dumps(fields).encode()  # ensure_ascii: a lone surrogate travels as \udcxx
    return Wire(kind, "v03.hostile", body, {}, content_type)


def v02_wire(kind: str, body: str | bytes, headers: dict[str, Any]) -> Wire:
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return Wire(kind, "v02.post.hostile", data, headers, "text/plain")


Mutation = Callable[[random.Random, str], Wire]
SURROGATES = ["\udc80", "\udcff", "\ud800", "\udfff"]
NOT_STRINGS: list[Any] = [0, 7, -1, 1.5, True, [], ["a"], {}, {"a": 1}]


def _deep(rng: random.Random) -> str:
    return "d/" * rng.randint(65, 3000) + "f.txt"


def _long_name(rng: random.Random) -> str:
    return "a/" + "x" * rng.randint(256, 5000)


def _long_path(rng: random.Random) -> str:
    return "/".join(["y" * 200] * rng.randint(21, 60))


def _surrogate(rng: random.Random) -> str:
    return f"a/{rng.choice(SURROGATES)}b.txt"


BAD_URLS = [
    "http://[::1/",
    "http://[zz]/",
    "http://host:99999/",
    "http://host:port/",
    "http://host:-1/",
    "://nothing",
    "no-scheme/at/all",
    "http:///no/host",
    "http://",
    "sftp:relative",
    "http://h\x00st/",
    "http://" + "h" * 5000 + "/",
]
BAD_BLOCKS: list[Any] = [
    {"method": "inplace", "size": 10, "count": 2, "remainder": 0, "number": 5},
    {"method": "inplace", "size": 0, "count": 2, "remainder": 0, "number": 0},
    {"method": "inplace", "size": 10, "count": 0, "remainder": 0, "number": 0},
    {"method": "inplace", "size": 10, "count": 2, "remainder": 10, "number": 0},
    {"method": "partitioned", "size": -1, "count": 2, "remainder": 0, "number": 0},
    {"method": "zigzag", "size": 10, "count": 2, "remainder": 0, "number": 0},
    {"method": 5, "size": 10, "count": 2, "remainder": 0, "number": 0},
    {"method": "inplace", "size": "ten", "count": 2, "remainder": 0, "number": 0},
    {"method": "inplace", "size": 1.5, "count": 2, "remainder": 0, "number": 0},
    {"method": "inplace", "size": 10**30, "count": 2, "remainder": 0, "number": 0},
    {"method": "inplace", "size": 2**62, "count": 4, "remainder": 0, "number": 0},
    {"method": "inplace", "size": "9" * 5000, "count": 2, "remainder": 0, "number": 0},
    {"method": "inplace", "size": 10, "count": 2, "remainder": 0},
    {"method": "inplace", "size": 10, "count": 2, "remainder": 0, "number": 0, "x": 1},
    {"method": "inplace", "size": 10, "number": 0, "manifest": {}},
    {
        "method": "inplace",
        "size": 10,
        "number": 0,
        "manifest": {"0": {"size": 10}, "2": {"size": 1}},
    },
    {
        "method": "inplace",
        "size": 10,
        "number": 0,
        "manifest": {"0": {"size": 9}, "1": {"size": 1}},
    },
    {
        "method": "inplace",
        "size": 10,
        "number": 0,
        "manifest": {"0": {"size": 10}, "1": {"size": 0}},
    },
    {"method": "inplace", "size": 10, "number": 0, "manifest": {"0": {}, "1": {"size": 1}}},
    {"method": "inplace", "size": 10, "number": 0, "manifest": {"x": {"size": 10}}},
    {"method": "inplace", "size": 10, "number": 0, "manifest": [{"size": 10}]},
    {"method": "inplace", "size": 10, "number": 0, "manifest": {"0": 10}},
    {
        "method": "inplace",
        "size": 10,
        "number": 2,
        "manifest": {"0": {"size": 10}, "1": {"size": 1}},
    },
    {
        "method": "inplace",
        "size": 10,
        "count": 3,
        "number": 0,
        "manifest": {"0": {"size": 10}, "1": {"size": 1}},
    },
    {"method": "separate", "size": 10, "manifest": {"0": {"size": 10}, "1": {"size": 1}}},
    "i,10,2,0,0",
    [1, 2, 3],
    7,
]
BAD_FILE_OPS: list[Any] = [
    {"link": 5},
    {"link": None},
    {"link": ""},
    {"link": ["a"]},
    {"link": {"to": "x"}},
    {"hlink": 3.5},
    {"rename": 5},
    {"rename": ""},
    {"rename": ["old"]},
    {"link": "t\x00x"},
    {"link": "a/\udcffb"},
    {"link": "d/" * 100 + "x"},
    {"rename": "z" * 300},
    {"remove": {"deep": 1}},
    {"directory": [1]},
    "remove",
    ["link", "x"],
    17,
]
BAD_IDENTITIES: list[Any] = [
    {"method": 5, "value": "x"},
    {"method": "md5"},
    {"value": "abc"},
    {"method": "md5", "value": "not base64!"},
    {"method": "md5", "value": 12},
    {"method": "sha512", "value": MD5_B64},
    {"method": "cod", "value": "nonsense"},
    {"method": "arbitrary", "value": "\udcff"},
    "md5",
    ["md5", "x"],
]
BAD_TIMES: list[Any] = [
    "garbage",
    "20241399T000000",
    "20240230T000000",
    "20240101T250000",
    "00000101T000000",
    "2024-01-01T00:00:00Z",
    "1439482799.5",
    1234,
    "",
    "2024010\udcff",
]
BAD_SIZES: list[Any] = [-1, "abc", 1.5, "1e3", True, [3], {"n": 3}, 10**30, "9" * 5000, 2**63]
BAD_MODES: list[Any] = ["zz", "99999999", "0o644", 644, "-1", "", "6\x004"]
BAD_NAMES: list[Any] = ["../../etc", "a/b", ".", "..", "x\x00y", "\udcff", 5, "n" * 300]
BAD_REPORTS: list[Any] = [
    {"code": "abc"},
    {"code": 10**20},
    {"code": -5},
    {"code": 5000},
    {},
    {"code": 201, "message": 5},
    {"code": 201, "elapsedTime": [1]},
    "201",
]
NOT_JSON = [
    b"{",
    b'{"pubTime": ',
    b"{" * 10,
    b"[" * 100_000,
    b"{}garbage",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b"{\xff\xfe}",
    b"{" + b"\xed\xb2\x80" + b"}",
]


def _v03(kind: str, change: Callable[[random.Random, dict[str, Any]], None]) -> Mutation:
    def mutate(rng: random.Random, base_url: str) -> Wire:
        fields = good_v03(base_url, f"hostile/{kind}/x.txt")
        change(rng, fields)
        return v03_wire(kind, fields)

    return mutate


def _set(key: str, values: Callable[[random.Random], Any]) -> Callable[..., None]:
    def change(rng: random.Random, fields: dict[str, Any]) -> None:
        fields[key] = values(rng)

    return change


def _pick(values: list[Any]) -> Callable[[random.Random], Any]:
    return lambda rng: rng.choice(values)


def _wrong_type(rng: random.Random, fields: dict[str, Any]) -> None:
    """A field of the wrong type: a string field given a number, a list..."""
    key = rng.choice(["pubTime", "baseUrl", "relPath", "mtime", "atime", "mode", "rename",
                      "retrievePath", "source", "from_cluster", "to_clusters"])  # fmt: skip
    fields[key] = rng.choice(NOT_STRINGS)


def _missing(rng: random.Random, fields: dict[str, Any]) -> None:
    key = rng.choice(["pubTime", "baseUrl", "relPath"])
    if rng.random() < 0.5:
        del fields[key]
    else:
        fields[key] = ""


def _surrogate_anywhere(rng: random.Random, fields: dict[str, Any]) -> None:
    text = f"x{rng.choice(SURROGATES)}y"
    where = rng.choice(["relPath", "baseUrl", "source", "retrievePath", "extra", "extra key",
                        "content", "report"])  # fmt: skip
    if where == "extra":
        fields["note"] = {"deep": [text]}
    elif where == "extra key":
        fields[text] = "value"
    elif where == "content":
        fields["content"] = {"encoding": "utf-8", "value": text}
    elif where == "report":
        fields["report"] = {"code": 201, "message": text}
    elif where == "baseUrl":
        fields[where] = f"http://h/{text}/"
    else:
        fields[where] = text


def _nested(rng: random.Random, fields: dict[str, Any]) -> None:
    value: Any = "bottom"
    for _ in range(rng.randint(33, 500)):
        value = [value]
    fields["nested"] = value


def _bad_content(rng: random.Random, fields: dict[str, Any]) -> None:
    fields["content"] = rng.choice([5, "text", {"value": 5}, {"encoding": 3, "value": "x"}, {}])


V03_MUTATIONS: list[Mutation] = [
    _v03("deep path", _set("relPath", _deep)),
    _v03("long name", _set("relPath", _long_name)),
    _v03("long path", _set("relPath", _long_path)),
    _v03("surrogate path", _set("relPath", _surrogate)),
    _v03("surrogate field", _surrogate_anywhere),
    _v03("nul path", _set("relPath", lambda rng: "a/b\x00c")),
    _v03("nul retrieve", _set("retrievePath", lambda rng: "\x00")),
    _v03("bad url", _set("baseUrl", _pick(BAD_URLS))),
    _v03("bad blocks", _set("blocks", _pick(BAD_BLOCKS))),
    _v03("bad fileOp", _set("fileOp", _pick(BAD_FILE_OPS))),
    _v03("bad identity", _set("identity", _pick(BAD_IDENTITIES))),
    _v03("bad pubTime", _set("pubTime", _pick(BAD_TIMES))),
    _v03("bad mtime", _set("mtime", _pick(BAD_TIMES))),
    _v03("bad atime", _set("atime", _pick(BAD_TIMES))),
    _v03("bad size", _set("size", _pick(BAD_SIZES))),
    _v03("bad mode", _set("mode", _pick(BAD_MODES))),
    _v03("bad source", _set("source", _pick(BAD_NAMES))),
    _v03("bad cluster", _set("to_clusters", _pick(BAD_NAMES))),
    _v03("bad report", _set("report", _pick(BAD_REPORTS))),
    _v03("bad content", _bad_content),
    _v03("wrong type", _wrong_type),
    _v03("missing field", _missing),
    _v03("nested", _nested),
    _v03("deep rename", _set("rename", _deep)),
]


def _not_json(rng: random.Random, base_url: str) -> Wire:
    return Wire("not json", "v03.hostile", rng.choice(NOT_JSON), {}, "application/json")


def _random_bytes(rng: random.Random, base_url: str) -> Wire:
    body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
    return Wire("random bytes", "v02.post.hostile", body, {}, rng.choice([None, "x/y"]))


def _v02_as_json(rng: random.Random, base_url: str) -> Wire:
    body = f"20240101120000.5 {base_url} hostile/ct/x.txt".encode()
    return Wire(
        "v02 body said json", "v02.post.hostile", body, good_v02_headers(), "application/json"
    )


def _v02_body(rng: random.Random, base_url: str) -> Wire:
    """A v02 body with the wrong words."""
    body = rng.choice([
        "",
        "one",
        f"20240101120000.5 {base_url}",
        f"20240101120000.5 {base_url} a b",
        f"garbage {base_url} hostile/x.txt",
        f"20241399000000 {base_url} hostile/x.txt",
        "20240101120000.5 http://[::1/ hostile/x.txt",
        f"20240101120000.5 {base_url} " + "d/" * 2000 + "f",
        f"20240101120000.5 {base_url} a/{'x' * 300}",
        f"20240101120000.5 {base_url} a/b\x00c",
        f"20240101120000.5 {base_url} hostile/x.txt 9999999999999999999999 h u 0",
    ])  # fmt: skip
    return v02_wire("bad v02 body", body, good_v02_headers())


def _v02_bytes(rng: random.Random, base_url: str) -> Wire:
    body = f"20240101120000.5 {base_url} hostile/".encode() + b"\xed\xb2\x80\xff.txt"
    return v02_wire("v02 body not utf-8", body, good_v02_headers())


BAD_HEADERS: list[dict[str, Any]] = [
    {"sum": "d,zz"},
    {"sum": "x,1"},
    {"sum": "L,abc"},
    {"sum": "d," + "g" * 32},
    {"sum": 5},
    {"parts": "1,abc,1,0,0"},
    {"parts": "i,0,1,0,0"},
    {"parts": "i,10,2,0,5"},
    {"parts": "1," + "9" * 5000 + ",1,0,0"},
    {"parts": "p,10,2,11,0"},
    {"parts": "i,0,2,0,1"},
    {"parts": "i,4611686018427387904,4,0,0"},
    {"parts": ["1,3,1,0,0"]},
    {"sum": "L,abc", "link": 5},
    {"sum": "L,abc", "link": ""},
    {"sum": "L,abc", "link": "d/" * 200},
    {"oldname": "\x00"},
    {"mtime": "garbage"},
    {"atime": "20240230000000"},
    {"mode": "zz"},
    {"source": "../../etc"},
    {"from_cluster": "a/b"},
    {"rename": "x" * 300},
    {"retrievePath": "\x00"},
    {"sum": b"d,\xff\xfe"},  # the consumer reads bytes as UTF-8, errors replaced
    {"extra": Decimal("1.5")},
    {"extra": datetime(2024, 1, 1)},
    {"extra": {"table": [1, {"deep": Decimal(1)}]}},
]
"""Each replaces or adds headers of a good v02 notice (pika cannot send a float: NaN headers are
tested without a broker)."""


def _v02_headers(rng: random.Random, base_url: str) -> Wire:
    headers = good_v02_headers()
    headers.update(rng.choice(BAD_HEADERS))
    return v02_wire("bad v02 header", f"20240101120000.5 {base_url} hostile/h/x.txt", headers)


MUTATIONS: list[Mutation] = [
    *V03_MUTATIONS,
    _not_json,
    _random_bytes,
    _v02_as_json,
    _v02_body,
    _v02_bytes,
    _v02_headers,
]


def malformed(
    rng: random.Random, count: int, base_url: str = "http://127.0.0.1/"
) -> Iterator[Wire]:
    """`count` messages no decoder may accept, every mutation in turn."""
    for number in range(count):
        yield MUTATIONS[number % len(MUTATIONS)](rng, base_url)
