"""Whether this host holds a vip: one of the given IP addresses is on one of its interfaces.

On Linux the addresses come from the kernel's tables, which hold every address, secondary
ones too (keepalived's vips, that the SIOCGIFADDR ioctl misses): IPv4 from /proc/net/fib_trie
(its `/32 host LOCAL` entries), IPv6 from /proc/net/if_inet6 (leaving out addresses still
tentative or whose duplicate-address detection failed: another host has them). Elsewhere an
address is held when a UDP socket can be bound to it; this is not the first choice because a
host with net.ipv4.ip_nonlocal_bind set binds any address.

Tests replace `held` (e.g. with pytest's monkeypatch) to gain or lose a vip without root:
every user of this module calls it as `vip.held(...)`, so that is the one seam.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterable
from pathlib import Path

from sarra.config.types import parse_address

CHECK_EVERY = 5.0
"""Seconds between two looks at whether the vip is (still) here."""

FIB_TRIE = Path("/proc/net/fib_trie")
IF_INET6 = Path("/proc/net/if_inet6")

_IFA_F_DADFAILED = 0x08
_IFA_F_TENTATIVE = 0x40


def held(addresses: Iterable[str]) -> bool:
    """Whether any of the addresses is on a local interface of this host."""
    wanted = [parse_address(a) for a in addresses]
    if not wanted:
        return False
    local = local_addresses()
    if local is not None:
        return any(address.packed in local for address in wanted)
    return any(_bindable(address) for address in wanted)


def local_addresses() -> set[bytes] | None:
    """The packed addresses of this host's interfaces; None when the kernel does not tell
    (not Linux, or /proc not mounted)."""
    try:
        trie = FIB_TRIE.read_text(encoding="ascii")
    except OSError:
        return None
    found = {a.packed for a in _fib_local(trie)}
    with contextlib.suppress(OSError):  # no such file: IPv6 is disabled
        found |= {a.packed for a in _inet6_usable(IF_INET6.read_text(encoding="ascii"))}
    return found


def _fib_local(trie: str) -> list[ipaddress.IPv4Address]:
    """The local addresses of /proc/net/fib_trie: a `|-- a.b.c.d` leaf followed by
    `/32 host LOCAL`."""
    found = []
    leaf = None
    for line in trie.splitlines():
        text = line.strip()
        if text.startswith("|-- "):
            leaf = text[4:]
        elif leaf is not None and text.split() == ["/32", "host", "LOCAL"]:
            found.append(ipaddress.IPv4Address(leaf))
    return found


def _inet6_usable(table: str) -> list[ipaddress.IPv6Address]:
    """The usable addresses of /proc/net/if_inet6: hex address, index, prefix length, scope,
    flags, interface."""
    found = []
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        if int(fields[4], 16) & (_IFA_F_TENTATIVE | _IFA_F_DADFAILED):
            continue
        found.append(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
    return found


def _bindable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:  # EADDRNOTAVAIL: not here; EAFNOSUPPORT: no IPv6 at all
            return False
    return True
