"""Queries in http(s) paths: `get.py?station=A` is the path `get.py` with the query `station=A`.

A notice's URL is its base URL followed by its relative path (or retrievePath), so the first `?`
of that path starts the URL's query when the scheme is http or https (as v2 asked for it, and a
poll's index link or a WIS2 href carries it); other schemes have no query, and `?` is part of a
file name there. The path is a file's path as it is (percent-encoded on the request line); the
query is sent as it was written (only what cannot go on a request line is percent-encoded).

The local file is named after the relative path with its query, as sr3 and v2 name it
(`get.py?station=A`); a `/` of the query is written `%2F`, so that a query never makes a
directory nor a `..` climbing out of one.
"""

from __future__ import annotations

from urllib.parse import quote

SCHEMES = frozenset({"http", "https"})
"""The schemes whose paths have a query."""

_QUERY_SAFE = "/?:@!$&'()*+,;=%~"
"""What a query keeps as written on the request line: RFC 3986's query characters and `%`."""


def split(path: str) -> tuple[str, str | None]:
    """(path, query) of a path of an http(s) URL; the query is None when there is no `?`."""
    path, mark, query = path.partition("?")
    return path, query if mark else None


def request_target(path: str) -> str:
    """The request line's target for a path with its query: the path percent-encoded, the
    query as written (but for spaces, controls and what is past ASCII)."""
    path, query = split(path)
    target = quote(path)
    if query is None:
        return target
    return f"{target}?{quote(query, safe=_QUERY_SAFE)}"


def local_path(rel_path: str) -> str:
    """The local relative path of an http(s) notice's relative path: its query kept in the
    file's name, with each `/` of the query written `%2F`."""
    path, query = split(rel_path)
    if query is None:
        return rel_path
    return f"{path}?{query.replace('/', '%2F')}"
