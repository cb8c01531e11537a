"""Partitioned files: the v02 `parts` string and the block arithmetic behind it.

`parts` is `<method>,<block size>,<block count>,<remainder>,<block number>`: method `1` is the
whole file (`1,<size>,1,0,0`), `i` a block read in place from one file, `p` a block that exists
as its own part file. The count includes a last, shorter block of `remainder` bytes (0 when the
size is a multiple of the block size); blocks are numbered from 0.
"""

from __future__ import annotations

from dataclasses import dataclass

WHOLE, INPLACE, PARTITIONED = "1", "i", "p"
METHODS = (WHOLE, INPLACE, PARTITIONED)

MiB = 1 << 20
AUTO_THRESHOLD = 50 * MiB
"""T in the automatic block size rule (see auto_blocksize)."""


@dataclass(frozen=True)
class Parts:
    """One block of a file (or the whole file), as announced by the v02 `parts` header."""

    method: str
    block_size: int
    block_count: int
    remainder: int
    number: int

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise ValueError(f"parts {self}: {problem}")

    def _problem(self) -> str | None:
        if self.method not in METHODS:
            return f"method must be one of {', '.join(METHODS)}"
        if min(self.block_size, self.block_count, self.remainder, self.number) < 0:
            return "numbers must not be negative"
        if self.method == WHOLE:
            if (self.block_count, self.remainder, self.number) != (1, 0, 0):
                return "a whole file is 1,<size>,1,0,0"
            return None
        if self.block_size == 0:
            return "block size must be positive"
        if self.block_count == 0:
            return "block count must be positive"
        if self.number >= self.block_count:
            return f"block {self.number} does not exist in {self.block_count} blocks (0-origin)"
        if self.remainder >= self.block_size:
            return "remainder must be smaller than the block size"
        return None

    @classmethod
    def parse(cls, text: str) -> Parts:
        """Parse a v02 parts string such as `i,1024,3,100,2`; ValueError says what is wrong."""
        fields = text.split(",")
        if len(fields) != 5:
            raise ValueError(
                f"parts {text!r}: expected 5 comma-separated fields, got {len(fields)}"
            )
        method, *numbers = fields
        if not all(n.isascii() and n.isdigit() for n in numbers):
            raise ValueError(f"parts {text!r}: sizes and counts must be non-negative integers")
        return cls(method, *(int(n) for n in numbers))

    @classmethod
    def whole(cls, size: int) -> Parts:
        """The whole file of `size` bytes as one block."""
        return cls(WHOLE, size, 1, 0, 0)

    def __str__(self) -> str:
        return f"{self.method},{self.block_size},{self.block_count},{self.remainder},{self.number}"

    @property
    def offset(self) -> int:
        """Where this block starts in the file."""
        return self.number * self.block_size

    @property
    def length(self) -> int:
        """How many bytes this block holds (the remainder for a short last block)."""
        if self.remainder and self.number == self.block_count - 1:
            return self.remainder
        return self.block_size

    @property
    def file_size(self) -> int:
        """The size of the whole file."""
        if self.remainder:
            return (self.block_count - 1) * self.block_size + self.remainder
        return self.block_count * self.block_size


def whole_file(size: int) -> str:
    """`str(Parts.whole(size))` made quickly (one per notice of a whole file)."""
    if size < 0:
        raise ValueError(f"parts {WHOLE},{size},1,0,0: numbers must not be negative")
    return f"{WHOLE},{size},1,0,0"


def auto_blocksize(size: int) -> int:
    """The block size chosen for a file of `size` bytes when the `blocksize` option is 0.

    With T = 50 MiB: above 100T, blocks of 10T; above 10T, a tenth of the file; above T, a third
    (all rounded up). Otherwise the file is sent whole and the result is `size` itself.
    """
    if size > 100 * AUTO_THRESHOLD:
        return 10 * AUTO_THRESHOLD
    if size > 10 * AUTO_THRESHOLD:
        return _ceil_div(size, 10)
    if size > AUTO_THRESHOLD:
        return _ceil_div(size, 3)
    return size


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def partition(size: int, blocksize_option: int, method: str = INPLACE) -> list[Parts]:
    """The blocks to announce for a file of `size` bytes.

    `blocksize_option` is the `blocksize` option: 0 chooses automatically (auto_blocksize), 1
    sends the whole file, N > 1 uses blocks of N bytes. A file that fits in one block, including
    an empty one, is announced whole (`1,<size>,1,0,0`); otherwise every block uses `method`
    (`i` or `p`).
    """
    if size < 0 or blocksize_option < 0:
        raise ValueError("size and blocksize must not be negative")
    if method not in (INPLACE, PARTITIONED):
        raise ValueError(f"partition method must be {INPLACE!r} or {PARTITIONED!r}, not {method!r}")
    if blocksize_option == 1:
        return [Parts.whole(size)]
    block_size = auto_blocksize(size) if blocksize_option == 0 else blocksize_option
    if size <= block_size:
        return [Parts.whole(size)]
    count, remainder = _ceil_div(size, block_size), size % block_size
    return [Parts(method, block_size, count, remainder, number) for number in range(count)]
