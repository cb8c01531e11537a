"""Where a client's files go: its destination template filled with an announcement's fields,
kept below the template's fixed directory, and that directory on this host opened safely.

Announcements are untrusted: whoever can publish on a provider's port can send one. A field
filled into the destination must not lead out of the directory the template fixes before its
first field (`ftp:///geo_in/{platform_name}/` stays below `/geo_in/`), and a file's uid must be
one plain name. On this host the directory is opened through sarra.transfer.safe_fs from that
fixed directory, never through a symlink that leads out of it. Before a peer writes a file
there, a symlink at its name or its partial name (or anything but a file of its own at the
partial name) is removed, logged; after, only a regular file is taken as received.
"""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

from sarra.eumetcast.patterns import compose
from sarra.eumetcast.transfers import partial_name
from sarra.transfer.confine import PathRefused, confine_remote
from sarra.transfer.safe_fs import Folder, open_folder


@dataclass(frozen=True)
class Target:
    """Where the files of one announcement go."""

    url: str
    """The destination a push names: filled, normalized, with the login put in."""
    below: str
    """Its directory below the template's fixed directory ('' for that directory itself)."""
    local_root: str | None
    """The fixed directory on this host; None when the destination is not on this host."""

    @property
    def local_dir(self) -> str | None:
        """The destination directory on this host, None if it is not on this host."""
        if self.local_root is None:
            return None
        return os.path.join(self.local_root, self.below) if self.below else self.local_root

    def open(self, *, create: bool) -> Folder:
        """The destination directory on this host, opened from the fixed directory (made when
        missing, if `create`: FileNotFoundError otherwise; PathRefused if it leads out)."""
        if self.local_root is None:
            raise FileNotFoundError(f"{self.url}: not on this host")
        return open_folder(self.local_root, self.below or ".", create=create)


def resolve(template: str, data: dict[str, Any], login: str | None, ftp_root: str | None) -> Target:
    """The destination of a file: the template filled with its fields, the login put in and
    an empty host made this host's name. `ftp_root` is where ftp, scp and sftp paths are on
    this host (None: not on this host). ValueError names a missing field or a bad value;
    PathRefused a field that leads out of the fixed directory."""
    parts = _split(compose(template, data))
    if parts.query or parts.fragment:
        shown = urlunsplit(("", "", parts.path, parts.query, parts.fragment))
        raise PathRefused(shown, "a field makes a query or a fragment of it ('?', '#')")
    fixed = fixed_directory(template)
    path = parts.path
    if not path.startswith(fixed):
        raise PathRefused(path, f"not below {fixed}, the destination's fixed directory")
    rest = path[len(fixed) :]
    below = ""
    if rest.strip("/"):
        try:
            below = "/".join(confine_remote(fixed, rest).relative_to(fixed).parts)
        except PathRefused as err:
            raise PathRefused(path, err.reason) from None
        path = fixed.rstrip("/") + "/" + below + ("/" if path.endswith("/") else "")
    host = parts.netloc.rpartition("@")[2] or socket.gethostname()
    if login and parts.scheme != "file":
        user, colon, password = login.partition(":")
        secret = ":" + quote(password, safe="") if colon else ""
        host = f"{quote(user, safe='')}{secret}@{host}"
    url = urlunsplit((parts.scheme, host, path, "", ""))
    return Target(url, below, local_root_of(template, ftp_root))


def local_root_of(template: str, ftp_root: str | None) -> str | None:
    """The template's fixed directory on this host: itself for a file URL, below `ftp_root`
    for the others (None: they are not on this host)."""
    fixed = fixed_directory(template)
    if _split(template.partition("{")[0]).scheme == "file":
        return fixed
    return None if ftp_root is None else os.path.join(ftp_root, fixed.lstrip("/"))


def fixed_directory(template: str) -> str:
    """The directory a destination template fixes before its first field (a URL path)."""
    head, field, _ = template.partition("{")
    path = _split(head).path
    if field:
        path = path[: path.rfind("/") + 1]
    return path or "/"


def plain_name(uid: str) -> str:
    """`uid` if it is one plain file name; PathRefused otherwise."""
    if not uid or uid in (".", "..") or "/" in uid:
        raise PathRefused(uid, "not one plain file name")
    if not uid.isprintable():
        raise PathRefused(uid, "holds a control character")
    try:
        os.fsencode(uid)
    except UnicodeEncodeError:
        raise PathRefused(uid, "not encodable as a local file name") from None
    return uid


def make_way(folder: Folder, name: str) -> None:
    """Before a peer writes `name` into the folder (under its partial name first): remove a
    symlink at either name, or anything but a file of its own at the partial name (logged as
    safe_fs does; PathRefused for a directory at the partial name)."""
    for at, strict in ((partial_name(name), True), (name, False)):
        st = folder.lstat(at)
        if st is None:
            continue
        odd = not stat.S_ISREG(st.st_mode) or st.st_nlink > 1
        if stat.S_ISLNK(st.st_mode) or (strict and odd):
            folder.clear(at)


def check_arrived(folder: Folder, name: str) -> None:
    """What a peer wrote at `name`: nothing yet, or a regular file; PathRefused otherwise (a
    symlink is removed)."""
    st = folder.lstat(name)
    if st is None or stat.S_ISREG(st.st_mode):
        return
    shown = str(folder.path_of(name))
    if stat.S_ISLNK(st.st_mode):
        target = folder.readlink(name)
        folder.remove(name)
        raise PathRefused(shown, f"a symlink to {target} stood there once pushed: removed")
    raise PathRefused(shown, "not a regular file once pushed")


def _split(url: str) -> SplitResult:
    return urlsplit(url if "://" in url else "file://" + url)
