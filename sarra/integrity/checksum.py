"""Checksum methods: v02 flag letters, v03 identity names, and streaming computation.

A v02 `sum` header is `<flag>,<value>`; a v03 `identity` is `{"method": <name>, "value": ...}`.
Digests are lowercase hex in v02 and base64 in v03. `random` and `arbitrary` values are the same
in both; a `cod` (checksum on download) value names the algorithm to use: a letter in v02 (`z,s`),
a method name in v03 (`sha512`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import random
from typing import Protocol

DATA_FLAGS: dict[str, str] = {
    "d": "md5",
    "s": "sha512",
    "n": "md5name",
    "0": "random",
    "a": "arbitrary",
    "z": "cod",
}
"""v02 flags that describe the data (or name) of a file, with their v03 identity method names."""

EVENT_FLAGS: dict[str, str] = {
    "L": "link",
    "l": "hlink",
    "R": "remove",
    "m": "mkdir",
    "r": "rmdir",
}
"""v02 flags that announce an event rather than data. Their value is the SHA-512 hex of the link
target (`L` symlink, `l` hard link) or of the basename (`R` removal, `m`/`r` mkdir/rmdir)."""

FLAGS: dict[str, str] = DATA_FLAGS | EVENT_FLAGS
"""Every v02 sum flag and its name."""

METHODS: dict[str, str] = {name: flag for flag, name in FLAGS.items()}
"""The reverse of FLAGS: name -> flag letter."""

COD_FLAGS = frozenset("dsn0")
"""Flags a `cod` (checksum on download) value may name: the ones that can be computed."""

DIGEST_SIZES: dict[str, int] = {
    "md5": 16,
    "sha256": 32,
    "sha384": 48,
    "sha512": 64,
    "sha3-256": 32,
    "sha3-384": 48,
    "sha3-512": 64,
}
"""Identity methods that are a digest of the data, by their hashlib names (`hashlib.new(name)`
takes each), with the digest's size in bytes. v02 has flags for md5 and sha512 only."""

WIS2_METHODS: tuple[str, ...] = ("sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512")
"""The `integrity` methods of WIS2 notification messages."""

_DIGEST_BYTES = {"md5": 16, "sha512": 64, "md5name": 16}


def flag_to_method(flag: str) -> str:
    """The v03 name of a v02 sum flag (`d` -> `md5`); ValueError for an unknown flag."""
    try:
        return FLAGS[flag]
    except KeyError:
        raise ValueError(_unknown("checksum flag", flag, FLAGS)) from None


def method_to_flag(name: str) -> str:
    """The v02 flag of a v03 method name (`sha512` -> `s`); ValueError for an unknown name."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(_unknown("checksum method", name, METHODS)) from None


def _unknown(what: str, value: str, valid: dict[str, str]) -> str:
    return f"unknown {what} {value!r}; valid: {', '.join(valid)}"


class Checksum(Protocol):
    """A checksum being computed: feed it with update(), read it with value() (v02 form)."""

    flag: str

    def update(self, data: bytes) -> None: ...

    def value(self) -> str: ...


class DigestChecksum:
    """A digest of the data, as lowercase hex: MD5 (`d`), SHA-512 (`s`), or any method of
    DIGEST_SIZES by its name (`sha256`, `sha3-512`...: the WIS2 integrity methods)."""

    __slots__ = ("_hash", "flag", "method")

    def __init__(self, flag: str) -> None:
        self.flag = flag
        self.method = DATA_FLAGS.get(flag, flag)
        """Its v03 identity method (`md5`, `sha512`...)."""
        constructor = _CONSTRUCTORS.get(self.method)
        self._hash = constructor() if constructor else hashlib.new(self.method)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def value(self) -> str:
        return self._hash.hexdigest()

    def identity(self) -> tuple[str, str]:
        """The v03 identity (method, base64 value) of the data so far."""
        return self.method, binascii.b2a_base64(self._hash.digest(), newline=False).decode()


_CONSTRUCTORS = {
    name: getattr(hashlib, name.replace("-", "_"))
    for name in DIGEST_SIZES
    if hasattr(hashlib, name.replace("-", "_"))
}
"""hashlib's own constructor of each digest (much cheaper than hashlib.new on a small file)."""


class NameChecksum:
    """`n`: MD5 hex of the file's basename; the data is ignored."""

    flag = "n"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._value = hashlib.md5(os.path.basename(os.fspath(path)).encode()).hexdigest()

    def update(self, data: bytes) -> None:
        """Ignored: the value depends only on the name."""

    def value(self) -> str:
        return self._value


class RandomChecksum:
    """`0`: no checksum; the value is a random 4-digit string (used to spread load)."""

    flag = "0"

    def __init__(self) -> None:
        self._value = f"{random.randrange(10000):04d}"

    def update(self, data: bytes) -> None:
        """Ignored: the value is random."""

    def value(self) -> str:
        return self._value


class CodChecksum:
    """`z,X`: checksum on download; the posted value is the letter X of the algorithm to use."""

    flag = "z"

    def __init__(self, algorithm: str) -> None:
        if algorithm not in COD_FLAGS:
            raise ValueError(
                f"checksum on download needs a computable algorithm, not {algorithm!r}; "
                f"valid: {', '.join(sorted(COD_FLAGS))}"
            )
        self._value = algorithm

    def update(self, data: bytes) -> None:
        """Ignored: the receiver computes the real checksum."""

    def value(self) -> str:
        return self._value


def new_checksum(flag: str, path: str | os.PathLike[str] | None = None) -> Checksum:
    """A fresh checksum for a v02 flag (`d`, `s`, `n`, `0`, or `z,X` for checksum on download),
    or for the name of a digest method of DIGEST_SIZES (`sha256`, `sha3-384`...).

    `path` is needed by `n` (its value is the MD5 of the basename). `a` (arbitrary) is supplied
    by the application and cannot be computed; event flags are not data checksums. Both raise
    ValueError, as does an unknown flag.
    """
    letter, _, argument = flag.partition(",")
    if letter in ("d", "s") or letter in DIGEST_SIZES:
        return DigestChecksum(letter)
    if letter == "n":
        if path is None:
            raise ValueError("checksum 'n' is the MD5 of the file name: a path is needed")
        return NameChecksum(path)
    if letter == "0":
        return RandomChecksum()
    if letter == "z":
        if not argument:
            raise ValueError("checksum on download needs its algorithm, e.g. 'z,d'")
        return CodChecksum(argument)
    if letter == "a":
        raise ValueError("checksum 'a' (arbitrary) is supplied by the application, not computed")
    if letter in EVENT_FLAGS:
        raise ValueError(f"{letter!r} is an event flag ({EVENT_FLAGS[letter]}), not a checksum")
    raise ValueError(_unknown("checksum flag", letter, DATA_FLAGS))


def checksum_file(
    path: str | os.PathLike[str],
    flag: str,
    offset: int = 0,
    length: int | None = None,
    bufsize: int = 1 << 20,
) -> str:
    """The v02 checksum value of `length` bytes of a file from `offset` (to the end if None).

    The file is read in chunks of `bufsize`. ValueError if the file ends before the range does.
    """
    checksum = new_checksum(flag, path)
    if not isinstance(checksum, DigestChecksum):
        return checksum.value()
    fd = os.open(path, os.O_RDONLY)  # no file object: most files posted are small
    try:
        return _digest_range(checksum, fd, offset, length, bufsize, os.fspath(path))
    finally:
        os.close(fd)


def file_identity(
    path: str | os.PathLike[str], flag: str, offset: int = 0, length: int | None = None
) -> tuple[str, str]:
    """The v03 identity (method, value) of `length` bytes of a file from `offset`, for a sum
    flag as checksum_file takes it: a digest's value comes from its bytes (no hex between)."""
    checksum = new_checksum(flag, path)
    if not isinstance(checksum, DigestChecksum):
        return sum_to_identity(f"{checksum.flag},{checksum.value()}")
    fd = os.open(path, os.O_RDONLY)
    try:
        _feed_range(checksum, fd, offset, length, 1 << 20, os.fspath(path))
    finally:
        os.close(fd)
    return checksum.identity()


def checksum_fd(
    fd: int, flag: str, offset: int = 0, length: int | None = None, bufsize: int = 1 << 20
) -> str:
    """As checksum_file, of a file already open (`fd`), for the checksums of data only (md5,
    sha512...: ValueError for the others)."""
    checksum = new_checksum(flag)
    if not isinstance(checksum, DigestChecksum):
        raise ValueError(f"checksum {flag} is not computed from the data")
    return _digest_range(checksum, fd, offset, length, bufsize, f"descriptor {fd}")


def _digest_range(
    checksum: DigestChecksum, fd: int, offset: int, length: int | None, bufsize: int, shown: str
) -> str:
    _feed_range(checksum, fd, offset, length, bufsize, shown)
    return checksum.value()


def _feed_range(
    checksum: DigestChecksum, fd: int, offset: int, length: int | None, bufsize: int, shown: str
) -> None:
    if offset < 0 or (length is not None and length < 0) or bufsize < 1:
        raise ValueError("offset and length must not be negative, bufsize must be positive")
    remaining = length
    position = offset
    while remaining is None or remaining > 0:
        chunk = os.pread(fd, bufsize if remaining is None else min(bufsize, remaining), position)
        if not chunk:
            break
        checksum.update(chunk)
        position += len(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    if remaining:
        raise ValueError(
            f"{shown}: {length} bytes wanted at offset {offset}, "
            f"the file ends {remaining} bytes short"
        )


def checksum_bytes(data: bytes, flag: str, name: str | None = None) -> str:
    """The v02 checksum value of `data`; `name` is the file name that `n` needs."""
    checksum = new_checksum(flag, name)
    checksum.update(data)
    return checksum.value()


def hex_to_b64(value: str) -> str:
    """A hex digest (v02) as base64 (v03); ValueError if it is not hex (a2b_hex, unlike
    bytes.fromhex, refuses whitespace, an odd length and anything not ASCII hex)."""
    try:
        digest = binascii.a2b_hex(value)
    except (binascii.Error, ValueError):
        raise ValueError(f"not a hex digest: {value!r}") from None
    return binascii.b2a_base64(digest, newline=False).decode("ascii")


def b64_to_hex(value: str) -> str:
    """A base64 digest (v03) as lowercase hex (v02); ValueError if it is not base64.

    Whitespace is ignored: v2 wrapped long base64 values with a newline.
    """
    try:
        return binascii.a2b_base64(value, strict_mode=True).hex()  # the usual, unwrapped form
    except binascii.Error:
        pass
    try:
        return base64.b64decode("".join(value.split()), validate=True).hex()
    except (binascii.Error, ValueError):
        raise ValueError(f"not a base64 digest: {value!r}") from None


def sum_to_identity(sum_value: str) -> tuple[str, str]:
    """A v02 data `sum` header (`d,<hex>`) as a v03 identity (method, value).

    ValueError for an unknown or event flag, a missing comma, or a value of the wrong form.
    """
    flag, comma, value = sum_value.partition(",")
    if not comma:
        raise ValueError(f"sum {sum_value!r} is not '<flag>,<value>'")
    method = DATA_FLAGS.get(flag)
    if method is None:
        raise ValueError(_unknown("data checksum flag", flag, DATA_FLAGS))
    size = _DIGEST_BYTES.get(method)
    if size is not None:  # read once per v02 notice: no call more than needed
        digest = hex_to_b64(value)
        if len(value) != 2 * size:  # hex_to_b64 took it: an even length
            _check_digest_length(method, len(value) // 2, value)
        return method, digest
    if method == "cod":
        if value not in COD_FLAGS:
            raise ValueError(f"checksum on download names no computable algorithm: {value!r}")
        return method, DATA_FLAGS[value]
    return method, value


def identity_to_sum(method: str, value: str) -> str:
    """A v03 identity (method, value) as a v02 `sum` header value; ValueError if impossible."""
    if method not in METHODS or method in EVENT_FLAGS.values():
        raise ValueError(f"identity method {method!r} has no v02 checksum flag")
    flag = METHODS[method]
    if method in _DIGEST_BYTES:
        digest = b64_to_hex(value)
        _check_digest_length(method, len(digest) // 2, value)
        return f"{flag},{digest}"
    if method == "cod":
        if METHODS.get(value) not in COD_FLAGS:
            raise ValueError(f"checksum on download names no computable algorithm: {value!r}")
        return f"{flag},{METHODS[value]}"
    return f"{flag},{value}"


def _check_digest_length(method: str, size: int, value: str) -> None:
    if size != _DIGEST_BYTES[method]:
        raise ValueError(f"{method} digest must be {_DIGEST_BYTES[method]} bytes: {value!r}")
