"""Real-browser tests: Playwright's Python package driving the system's Chromium
(KEFU_CHROMIUM, else Debian's /usr/bin/chromium), never a browser Playwright downloads.

They never skip: without Chromium they fail and say how to get it (`make test` installs it
through tests/system-packages.sh)."""

import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Page

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> Path:
    return Path(os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium"))


def browser_missing() -> str | None:
    """Why real-browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed: run `make install`"
    path = chromium_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        return f"no Chromium at {path}: run `make system` (or set KEFU_CHROMIUM)"
    return None


@asynccontextmanager
async def chromium_page(viewport: tuple[int, int] = (390, 844)) -> AsyncIterator["Page"]:
    missing = browser_missing()
    assert missing is None, missing
    from playwright.async_api import async_playwright

    width, height = viewport
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield await browser.new_page(viewport={"width": width, "height": height})
        finally:
            await browser.close()
