"""vip: which addresses this host holds, read from the kernel's tables (or by binding), and the
config's check of the addresses."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sarra.compat import plugins
from sarra.components.run import run_with_vip, vip_guarded
from sarra.config.errors import ConfigErrors
from sarra.config.loader import Config, load
from sarra.flow import vip

ELSEWHERE = "198.51.100.1"  # a documentation address (RFC 5737): on no host's interface

# /proc/net/fib_trie of a host holding 10.1.0.5 and, added by keepalived, the vip 10.1.0.100
FIB_TRIE = """\
Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.1.0.0/24 2 0 2
        |-- 10.1.0.0
           /24 link UNICAST
        |-- 10.1.0.5
           /32 host LOCAL
        |-- 10.1.0.100
           /32 host LOCAL
        |-- 10.1.0.255
           /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        |-- 127.0.0.0
           /8 host LOCAL
        |-- 127.0.0.1
           /32 host LOCAL
"""

IF_INET6 = """\
00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 02 40 00 80     eth0
fd000000000000000000000000000003 02 40 00 c0     eth0
fd000000000000000000000000000004 02 40 00 88     eth0
"""


def test_loopback_is_held_and_a_documentation_address_is_not() -> None:
    assert vip.held(["127.0.0.1"])
    assert not vip.held([ELSEWHERE])
    assert vip.held([ELSEWHERE, "127.0.0.1"])  # any one of them
    assert not vip.held([])


def test_ipv6_loopback_is_held_when_the_host_has_ipv6() -> None:
    if not vip.IF_INET6.exists() or "lo" not in vip.IF_INET6.read_text():
        pytest.skip("no IPv6 loopback on this host")
    assert vip.held(["::1"])
    assert not vip.held(["2001:db8::1"])


def test_secondary_addresses_are_read_from_the_fib_trie() -> None:
    local = {str(a) for a in vip._fib_local(FIB_TRIE)}
    assert local == {"10.1.0.5", "10.1.0.100", "127.0.0.1"}


def test_tentative_and_duplicate_ipv6_addresses_are_not_held() -> None:
    usable = {str(a) for a in vip._inet6_usable(IF_INET6)}
    assert usable == {"::1", "fd00::2"}


def test_without_proc_an_address_is_held_when_it_can_be_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vip, "FIB_TRIE", tmp_path / "absent")
    assert vip.local_addresses() is None
    assert vip.held(["127.0.0.1"])
    assert not vip.held([ELSEWHERE])


def test_a_bad_address_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "vipbad.conf"
    path.write_text("broker amqp://guest@127.0.0.1/\nvip 127.0.0.1, 10.0.0.300\n")
    with pytest.raises(ConfigErrors) as caught:
        load("subscribe", path)
    assert str(caught.value) == f"{path}:2: vip: '10.0.0.300' is not an IP address"
    path.write_text("vip 127.0.0.1,::1\n")
    assert load("subscribe", path).vip == ["127.0.0.1", "::1"]


def test_which_configs_run_only_with_their_vip(tmp_path: Path) -> None:
    path = tmp_path / "guard.conf"
    path.write_text("broker amqp://guest@127.0.0.1/\n")
    assert not vip_guarded(load("subscribe", path))
    path.write_text(f"vip {ELSEWHERE}\n")
    assert vip_guarded(load("subscribe", path))
    assert not vip_guarded(load("poll", path))  # it lists all the same, announcing nothing
    path.write_text(f"vip {ELSEWHERE}\npoll_without_vip False\n")
    assert vip_guarded(load("poll", path))


def test_a_plugin_restart_ends_the_guarded_run(tmp_path: Path) -> None:
    path = tmp_path / "restart.conf"
    path.write_text("vip 127.0.0.1\n")
    config = load("subscribe", path)
    runs = []

    def runner(_config: Config, _number: int, stop: threading.Event) -> None:
        runs.append(stop)
        plugins.RESTART.set()  # as a plugin's parent.restart() does
        stop.set()

    try:
        run_with_vip(runner, config, 0, threading.Event())
    finally:
        plugins.RESTART.clear()
    assert len(runs) == 1
