"""The survey link in a real browser (Debian's Chromium through Playwright), against the
running service: open the link, choose a score, write a comment, submit, see the thank-you
page, and find `kefu.survey.responded` on the topic; the link then says it is answered.
A screenshot of each page is kept in tests/artifacts/."""

from tests.browser import chromium_page
from tests.integration.surveying import running_survey
from tests.integration.test_survey import solved_ticket
from tests.integration.test_survey_page_browser import screenshot_path


async def test_a_customer_answers_in_chinese_on_a_phone(backend, tmp_path) -> None:
    async with running_survey(backend, tmp_path, kind="nps") as survey:
        ticket = await solved_ticket(survey, locale="zh-CN")
        url = await survey.issued_url(ticket)
        async with chromium_page() as page:
            shown = await page.goto(url)
            assert shown and shown.status == 200
            assert await page.locator("html").get_attribute("lang") == "zh-CN"
            await page.screenshot(path=screenshot_path("flow-zh-CN-nps-form"), full_page=True)

            await page.get_by_text("8", exact=True).click()
            await page.get_by_role("textbox").fill("客服很耐心，谢谢！")
            async with page.expect_navigation():
                await page.get_by_role("button").click()
            assert "谢谢" in await page.locator("h1").inner_text()
            await page.screenshot(path=screenshot_path("flow-zh-CN-thanks"), full_page=True)

            [responded] = await survey.said(1, ticket, "survey.responded")
            assert (responded["data"]["score"], responded["data"]["comment"]) == (
                8,
                "客服很耐心，谢谢！",
            )
            again = await page.goto(url)
            assert again and again.status == 409
            await page.screenshot(path=screenshot_path("flow-zh-CN-answered"), full_page=True)


async def test_the_score_chosen_in_the_mail_is_recorded_only_when_submitted(
    backend, tmp_path
) -> None:
    async with running_survey(backend, tmp_path) as survey:
        ticket = await solved_ticket(survey)
        url = await survey.issued_url(ticket)
        async with chromium_page() as page:
            await page.goto(f"{url}?score=4")
            assert await page.get_by_label("4", exact=True).is_checked()
            said = await survey.everything(ticket, settle_s=0.5)
            assert "kefu.survey.responded" not in [v["type"] for v in said]
            await page.screenshot(path=screenshot_path("flow-en-csat-from-mail"), full_page=True)
            async with page.expect_navigation():
                await page.get_by_role("button").click()
            [responded] = await survey.said(1, ticket, "survey.responded")
            assert responded["data"]["score"] == 4
            await page.screenshot(path=screenshot_path("flow-en-thanks"), full_page=True)
