"""Request targets of http(s) paths: a file's path, or a notice's retrievePath as written.

A notice's relPath is a file's path, whatever its format (v02, v03, a WIS2 link's file name): a
`?` is part of the name there (a file saved as `get.py?station=A`), never the start of a query.
Its request target is the path percent-encoded, with `?`, `#` and `%` encoded and what RFC 3986
allows in a path (sub-delims, `:`, `@`) kept as it is; sr3 requests a relPath so (it quotes it),
and a server decodes either spelling to the same file.

A query comes only with a retrievePath (or a WIS2 link's href): a path of the URL as it is
written, percent-encoded, maybe with a query (`Products('a')/$value`, `get.py?station=A`), that
is relative to the base URL and sent as written, as sr3 sends it; only what cannot go on a
request line (spaces, controls, what is past ASCII, and `"<>\\^{|}#` and the backquote) is
percent-encoded. The caller says which a path is by giving a retrievePath's as a `Target`.
"""

from __future__ import annotations

from urllib.parse import quote

SCHEMES = frozenset({"http", "https"})
"""The schemes whose URLs have a query (and whose retrievePath is written as a URL's path)."""

PATH_SAFE = "/:@!$&'()*+,;=~"
"""What a file's path keeps as it is on a request line: RFC 3986's path characters but `%`."""

_WRITTEN_SAFE = "/?:@!$&'()*+,;=%~[]"
"""What a Target keeps as written: RFC 3986's path and query characters, and `%` (escapes)."""


class Target(str):
    """A path of an http(s) URL as written (percent-encoded, maybe with a query): a notice's
    retrievePath below its base URL's path. Sent as it is (see `request_target`)."""

    __slots__ = ()


def path_target(path: str) -> str:
    """The request target of a file's path: `?`, `#`, `%`, spaces and the like encoded."""
    return quote(path, safe=PATH_SAFE)


def request_target(path: str) -> str:
    """The request line's target for `path`: a Target as written (but for what cannot go on a
    request line), any other path as a file's path (`path_target`)."""
    if isinstance(path, Target):
        return quote(path, safe=_WRITTEN_SAFE)
    return path_target(path)


def link_name(name: str, link_query: str) -> str:
    """The local file name of a link to `name` with a query: `name?query`, each `/` of the
    query written `%2F`, so that a query never makes a directory nor a `..` climbing out."""
    return f"{name}?{link_query.replace('/', '%2F')}"
