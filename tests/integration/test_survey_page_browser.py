"""Survey's pages in a real Chromium at phone sizes: the scores are tiles a thumb can hit,
chosen by their label or the keyboard, nothing scrolls sideways. Screenshots go to
tests/artifacts/ for a person to look at."""

from pathlib import Path

import pytest

from kefu.services.survey.page import Pages
from tests.browser import chromium_page

ARTIFACTS = Path(__file__).parents[1] / "artifacts"
PAGES = Pages()
PHONE, SMALL_PHONE = (390, 844), (360, 740)
MIN_TILE = 44  # px, WCAG 2.5.5's target size


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


async def scrolls_sideways(page) -> bool:
    return await page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )


@pytest.mark.parametrize(
    ("name", "locale", "kind", "viewport", "rows"),
    [
        ("survey-en-csat", "en", "csat", PHONE, 1),
        ("survey-zh-CN-nps", "zh-CN", "nps", SMALL_PHONE, 2),
        ("survey-en-nps-desktop", "en", "nps", (1024, 768), 1),
    ],
)
async def test_scores_are_big_tiles_chosen_by_label_or_keyboard(
    name: str, locale: str, kind: str, viewport: tuple[int, int], rows: int
) -> None:
    html = PAGES.survey(locale, kind=kind, ticket_id="T-1024", action="/s/abc", selected=2)
    async with chromium_page(viewport) as page:
        await page.set_content(html)
        assert all([await radio.is_visible() for radio in await page.get_by_role("radio").all()])
        tiles = [await label.bounding_box() for label in await page.locator("label.score").all()]
        assert all(box and box["width"] >= MIN_TILE and box["height"] >= MIN_TILE for box in tiles)
        assert len({box["y"] for box in tiles if box}) == rows
        assert not await scrolls_sideways(page)

        await page.get_by_text("4", exact=True).click()
        assert await page.get_by_label("4", exact=True).is_checked()
        await page.keyboard.press("ArrowLeft")
        assert await page.get_by_label("3", exact=True).is_checked()
        await page.mouse.move(0, 0)  # no hover in the picture, the focus ring is the keyboard's
        await page.screenshot(path=screenshot_path(name), full_page=True)


async def test_an_error_is_shown_above_the_form() -> None:
    error = PAGES.error_text("en", "comment_too_long", "csat")
    html = PAGES.survey(
        "en", kind="csat", ticket_id="T-1", action="/s", selected=5, comment="x" * 2001, error=error
    )
    async with chromium_page() as page:
        await page.set_content(html)
        assert await page.get_by_role("alert").inner_text() == error
        assert await page.get_by_label("Anything else").input_value() == "x" * 2001
        await page.screenshot(path=screenshot_path("survey-en-csat-error"), full_page=True)


@pytest.mark.parametrize(
    ("name", "html"),
    [
        ("thanks-zh-CN", PAGES.thanks("zh-CN", kind="nps", score=9, ticket_id="T-1024")),
        ("problem-zh-CN-410", PAGES.problem("zh-CN", 410)),
        ("problem-en-404", PAGES.problem("en", 404)),
    ],
)
async def test_short_pages_fit_a_phone(name: str, html: str) -> None:
    async with chromium_page(SMALL_PHONE) as page:
        await page.set_content(html)
        assert await page.get_by_role("heading", level=1).is_visible()
        assert not await scrolls_sideways(page)
        await page.screenshot(path=screenshot_path(name), full_page=True)
