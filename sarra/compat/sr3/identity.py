"""`sarracenia.identity` as sr3 flow callbacks use it: a checksum computed by method name.

    checksum = Identity.factory("sha512")   # None for a method nobody knows
    checksum.set_path(path)                 # start afresh for a file
    checksum.update(chunk)                  # bytes (text is taken as UTF-8)
    checksum.value                          # the v03 identity value (base64 for a digest)

The methods are sarra's own (sarra.integrity.checksum): sha512, md5, md5name (the MD5 of the
file's name), random, and arbitrary (a value the application sets).
"""

from __future__ import annotations

import functools
from typing import ClassVar

from sarra.integrity.checksum import Checksum, DigestChecksum, new_checksum, sum_to_identity


class Identity:
    """A checksum being computed under sr3's name of its method (see the module's doc)."""

    flag: ClassVar[str] = "s"
    """sarra's checksum flag of the method (sarra.integrity.checksum)."""

    def __init__(self) -> None:
        self._checksum: Checksum | None = None

    @staticmethod
    def factory(method: str = "sha512") -> Identity | None:
        """A fresh checksum of the method named (its class name in lower case); None when no
        class has that name."""
        for cls in Identity.__subclasses__():
            if cls.__name__.lower() == method:
                return cls()
        return None

    @classmethod
    def registered_as(cls) -> str:
        """The method's v02 flag letter."""
        return cls.flag

    def get_method(self) -> str:
        """The method's v03 name."""
        return type(self).__name__.lower()

    def set_path(self, path: str) -> None:
        """Start afresh, for the file at `path` (md5name reads its name)."""
        self._checksum = new_checksum(self.flag, path)

    def update(self, chunk: bytes | str) -> None:
        """Feed the next bytes of the file."""
        if self._checksum is None:
            self.set_path("")
        assert self._checksum is not None
        self._checksum.update(chunk.encode() if isinstance(chunk, str) else chunk)

    def update_file(self, path: str) -> None:
        """Start afresh and read the whole file at `path`."""
        self.set_path(path)
        with open(path, "rb") as file:
            for data in iter(functools.partial(file.read, 1 << 20), b""):
                self.update(data)

    @property
    def value(self) -> str:
        """The value so far, in v03 form."""
        if self._checksum is None:
            self.set_path("")
        checksum = self._checksum
        assert checksum is not None
        if isinstance(checksum, DigestChecksum):
            return checksum.identity()[1]
        return sum_to_identity(f"{checksum.flag},{checksum.value()}")[1]


class Sha512(Identity):
    """SHA-512 of the data."""

    flag = "s"


class Md5(Identity):
    """MD5 of the data."""

    flag = "d"


class Md5name(Identity):
    """MD5 of the file's name; the data is not read."""

    flag = "n"


class Random(Identity):
    """No checksum: a random value (to spread load)."""

    flag = "0"


class Arbitrary(Identity):
    """A value the application sets (`checksum.value = ...`); `None` until it does."""

    flag = "a"

    def __init__(self) -> None:
        super().__init__()
        self._value = "None"

    def set_path(self, path: str) -> None:
        """Nothing to start: the value is given."""

    def update(self, chunk: bytes | str) -> None:
        """Ignored: the value is given."""

    @property
    def value(self) -> str:
        return self._value

    @value.setter
    def value(self, value: str) -> None:
        self._value = value


known_methods: list[str] = [cls.__name__.lower() for cls in Identity.__subclasses__()]
"""The methods `Identity.factory` knows."""

binary_methods: list[str] = ["sha512", "md5"]
"""The methods whose value says something of the data's size (sr3 checks sizes for those)."""
