"""End to end: `streamlit run app.py` on localhost, opened in headless Chromium (Debian's), driven by Playwright.

Skipped with the reason when the browser or Playwright is missing outside CI; in CI (CI=true) a missing browser
fails, since .ci/run installs it. The screenshot goes to the test's temporary folder, and to
docs/screenshot.png when GENMODEL_UPDATE_SCREENSHOT=1 (the README shows that file).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import genmodel

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# flags the workplace's probe uses for headless Chromium as root on a machine without outside network
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def _missing() -> str | None:
    if CHROMIUM is None:
        return "Debian's chromium is not installed (apt-get install chromium; .ci/run does it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false",
         "--server.fileWatcherType=none"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not become healthy within 90 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_dashboard_in_headless_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright

    expected = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    ttft = f"{expected.ttft_s * 1e3:,.2f} ms"
    tpot = f"{expected.tpot_s * 1e3:,.3f} ms"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(server, timeout=90_000)
            # streamlit renders the metric cards one after another: wait for each figure read below, not only the first
            for figure in (ttft, tpot, f"{expected.max_batch:,}"):
                page.get_by_text(figure, exact=False).first.wait_for(timeout=90_000)
            metrics = page.locator('[data-testid="stMetric"]').all_inner_texts()
            text = "\n".join(metrics)
            assert "TTFT" in text and ttft in text and tpot in text
            assert f"{expected.max_batch:,}" in text
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)  # the roofline chart rendered
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            if os.environ.get("GENMODEL_UPDATE_SCREENSHOT") == "1":
                shutil.copy(shot, ROOT / "docs" / "screenshot.png")
        finally:
            browser.close()
