"""Real-browser testing: `streamlit run` in a subprocess + Playwright driving Debian's Chromium."""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.request
from pathlib import Path

from tests.servers import free_port, local_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@contextlib.contextmanager
def streamlit_app(data_dir: Path, port: int | None = None, env: dict | None = None, timeout: float = 60.0):
    """Serve Home.py on 127.0.0.1:<port> with KMART_DATA=data_dir; yields the base URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "streamlit", "run", str(ROOT / "Home.py"), "--server.headless", "true",
            "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none"]
    with local_server(args, lambda: urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok",
                      Path(data_dir).parent / f"streamlit-{port}.log", "streamlit", timeout,
                      cwd=ROOT, env={**os.environ, "KMART_DATA": str(data_dir), **(env or {})}):
        yield url


@contextlib.contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def wait_until_idle(page, timeout: float = 60_000) -> None:
    """Wait until the script run is over (stApp's script state 'notRunning') and the page settled."""
    idle = '[data-testid="stApp"][data-test-script-state="notRunning"]'
    page.wait_for_selector(idle, timeout=timeout)
    page.wait_for_timeout(500)  # a rerun triggered by the first render starts within this
    page.wait_for_selector(idle, timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=stSkeleton]')", timeout=timeout)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
