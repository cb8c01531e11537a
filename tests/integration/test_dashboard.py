"""The live dashboard in a real headless browser (Debian's Chromium driven by playwright),
against real daemons moving real files: sr_watch announces a directory, sr_subscribe copies
it, a third config is refused by the broker. The page shows each with its state and figures,
refreshes by itself, and shows the end of a config's log on a click. The screenshot is kept
in the test's directory (docs/dashboard.png is one of them)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from observekit import free_port, observing, subscribe_config, wait_for_state
from pumpkit import sr, wait_for

pytestmark = pytest.mark.broker

CHROMIUM = Path("/usr/bin/chromium")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_the_dashboard_shows_every_config_refreshes_and_shows_a_log(
    sarra_home: Path, tmp_path: Path, exchange: str
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (tools/system-packages)")
    credentials = sarra_home / "credentials.conf"
    down = free_port()  # nothing listens there
    credentials.write_text("amqp://guest:guest@127.0.0.1/\namqp://nobody:n0pe@127.0.0.1/\n"
                           f"amqp://guest:guest@127.0.0.1:{down}/\n")  # fmt: skip
    credentials.chmod(0o600)
    outgoing, incoming = tmp_path / "outgoing", tmp_path / "incoming"
    outgoing.mkdir()
    watch = sarra_home / "watch" / "outgoing.conf"
    watch.parent.mkdir(parents=True)
    watch.write_text(
        f"post_broker amqp://guest@127.0.0.1/\npost_exchange {exchange}\n"
        f"post_base_url file:{outgoing}\npost_base_dir {outgoing}\npath {outgoing}\n"
    )
    subscribe_config(sarra_home, "incoming", "amqp://guest@127.0.0.1/", exchange, incoming,
                     f"mirror off\nbase_dir {outgoing}\n")  # fmt: skip
    subscribe_config(sarra_home, "refused", "amqp://nobody@127.0.0.1/", exchange, incoming)
    subscribe_config(sarra_home, "other_pump", f"amqp://guest@127.0.0.1:{down}/", exchange,
                     incoming)  # fmt: skip
    subscribe_config(sarra_home, "old", "amqp://guest@127.0.0.1/", exchange, incoming)
    assert sr("sr_subscribe", "disable", "old").returncode == 0
    started = ["watch/outgoing", "subscribe/incoming", "subscribe/refused", "subscribe/other_pump"]
    try:
        for label in started:
            component, name = label.split("/")
            assert sr(f"sr_{component}", "start", name).returncode == 0
        wait_for_state("subscribe/incoming", "running")
        wait_for_state("subscribe/refused", "refused")
        wait_for_state("subscribe/other_pump", "unreachable")
        for number in range(20):
            (outgoing / f"obs_{number:02d}.dat").write_bytes(os.urandom(4096))
        wait_for(lambda: len(list(incoming.glob("obs_*.dat"))) == 20, "the copies", 30)

        with observing() as url, sync_api.sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),  # a fresh user-data-dir
                executable_path=str(CHROMIUM),
                headless=True,
                args=FLAGS,
                viewport={"width": 1500, "height": 700},
            )
            page = context.new_page()
            page.goto(url)
            expect = sync_api.expect
            row = page.locator('tr[data-config="subscribe/incoming"]')
            expect(row).to_have_attribute("data-state", "running", timeout=20_000)
            expect(page.locator('tr[data-config="watch/outgoing"]')).to_have_attribute(
                "data-state", "running"
            )
            refused = page.locator('tr[data-config="subscribe/refused"]')
            expect(refused).to_have_class("problem")
            expect(refused).to_contain_text("ACCESS_REFUSED - Login was refused")
            expect(page.locator('tr[data-config="subscribe/other_pump"]')).to_contain_text(
                "unreachable 1/1"
            )
            expect(page.locator('tr[data-config="subscribe/old"]')).to_have_attribute(
                "data-state", "disabled"
            )
            expect(page.locator("#totals")).to_contain_text(
                "5 configs: 1 refused, 1 unreachable, 2 running, 1 disabled;"
            )
            # the page refreshes by itself: new files show without a reload
            updated = page.locator("#updated").inner_text()
            (outgoing / "obs_late.dat").write_bytes(b"late")
            expect(page.locator("#updated")).not_to_have_text(updated, timeout=10_000)
            expect(row.locator("td").nth(9)).to_contain_text("ago", timeout=20_000)
            expect(row.locator("td").nth(3)).not_to_have_text("0", timeout=20_000)  # files/s
            row.click()
            log = page.locator("#log-lines")
            expect(page.locator("#log-config")).to_have_text("subscribe/incoming")
            expect(log).to_contain_text("sr_subscribe_incoming_01.log")
            expect(log).to_contain_text(f"downloaded file:{outgoing}/obs_", timeout=10_000)
            expect(log).to_contain_text(", lag ")
            refused.click()
            expect(log).to_contain_text("(403) ACCESS_REFUSED")
            expect(log).not_to_contain_text("n0pe")
            row.click()
            expect(log).to_contain_text("downloaded")
            time.sleep(0.3)  # let the last repaint settle for the picture
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            context.close()
        assert shot.stat().st_size > 10_000
        keep = os.environ.get("SARRA_SCREENSHOT")  # where to copy it, e.g. docs/dashboard.png
        if keep:
            shutil.copyfile(shot, keep)
    finally:
        for label in started:
            component, name = label.split("/")
            sr(f"sr_{component}", "stop", name)
