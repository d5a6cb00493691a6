"""The desk in Debian's Chromium against the platform as processes (intake, router, sla,
notify, workspace) and an SMTP sink: an agent signs in through the form and goes online with
the presence switch; a customer's mail posted to intake is assigned to her and shows with a
live SLA countdown; she replies (the customer's mail arrives with the text), applies a
supervisor's macro (its reply appears without a reload) and finds a Chinese ticket by `退款`;
each customer opens the link in their mail. Screenshots of every page, in English and
Chinese, at phone and desktop widths: tests/artifacts/desk-*.png."""

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller

from kefu.embedded import free_port
from kefu.shared.admin import create_topics
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.browser import chromium_page
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.e2e.processes import RunningService, start_service
from tests.integration.notifying import Mailbox, wait_for
from tests.integration.test_survey_page_browser import screenshot_path, scrolls_sideways
from tests.kafka import TopicReader

pytestmark = pytest.mark.e2e
SERVICES = ("intake", "router", "sla", "notify", "workspace")
ADMIN = "e2e-admin-token-0123"
PASSWORD = "correct horse"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
DEFAULT = {"priority": "P3", "category": ["general", "inquiry", "other"], "skills": ["general"]}
TARGETS = {"first_response": "1h", "next_reply": "2h", "resolution": "1d"}
POLICY = {
    "classification": {
        "default": DEFAULT,
        "rules": [{"keywords": ["退款"], "set": {"skills": ["billing"]}}],  # no one online has it
    },
    "sla": {"policies": [{"name": "std", "calendar": "24x7", "targets": TARGETS}]},
    "notify": {"customer": ["opened", "agent_reply"], "timezone": "Asia/Shanghai"},
}
PEOPLE = [
    {"id": "li.na", "name": "Li Na", "roles": ["agent"], "skills": ["general"]},
    {"id": "wang.fang", "name": "王芳", "roles": ["agent", "supervisor"], "locale": "zh-CN"},
]
MACRO = {
    "id": "shipping",
    "title": "Shipping update",
    "text": "Hello {{ customer.name }}, your parcel ships today.",
    "actions": [{"action": "set_status", "status": "pending"}],
}
LINK = re.compile(r"https?://\S+?(/t/[\w.-]+)")
WAREHOUSE = re.compile("warehouse")


@dataclass
class Platform:
    settings: Settings
    services: dict[str, RunningService]
    mailbox: Mailbox

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.services[service].port}{path}"

    async def mail(self, address: str, name: str, subject: str, text: str, locale: str) -> str:
        """A customer's mail through intake's HTTP door; the ticket it opened."""
        message_id = f"<{subject.encode().hex()[:16]}@{address.split('@')[1]}>"
        body = {
            "channel": "email",
            "message_id": message_id,
            "from": {"address": address, "name": name},
            "subject": subject,
            "text": text,
            "locale": locale,
        }
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with TopicReader(self.settings, Topic.TICKET_EVENTS) as reader:
            async with httpx.AsyncClient(base_url=self.url("intake"), timeout=10) as http:
                sent = await http.post("/v1/inbound/channel", json=body, headers=headers)
            assert sent.status_code == 202, sent.text
            [opened] = await reader.take(1, lambda e: e["correlationid"] == f"email:{message_id}")
        return opened["data"]["ticket_id"]

    async def customer_link(self, address: str) -> str:
        """The path of the customer's view, from the acknowledgement mail they got."""
        mails = await wait_for(lambda: self.mails(address, LINK))
        return LINK.search(mails[0]).group(1)

    def mails(self, address: str, holding: re.Pattern[str]) -> list[str]:
        """The plain text of each mail to `address` that holds the pattern."""
        texts = [mail.get_body(("plain",)).get_content() for mail in self.mailbox.to(address)]
        return [text for text in texts if holding.search(text)]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    mailbox = Mailbox()
    server = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    server.start()
    mailbox.port = server.port  # type: ignore[attr-defined]
    try:
        yield mailbox
    finally:
        server.stop()


@pytest.fixture
async def platform(backend, mailbox, tmp_path) -> AsyncIterator[Platform]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY, allow_unicode=True), "utf-8")
    settings = isolated_settings(
        backend, smtp_port=mailbox.port, config=policy, api_tokens=f"{ADMIN}:admin"
    )
    await create_topics(settings, TEST_PARTITIONS)
    started = await asyncio.gather(
        *(asyncio.to_thread(start_service, name, settings, tmp_path) for name in SERVICES),
        return_exceptions=True,
    )
    services = {s.name: s for s in started if isinstance(s, RunningService)}
    try:
        assert len(services) == len(SERVICES), started
        yield Platform(settings, services, mailbox)
    finally:
        for service in services.values():
            service.popen.kill()


async def shots(page: Any, name: str) -> None:
    """The page at desktop and phone width, full length; nothing may scroll sideways."""
    for width, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        await page.mouse.move(0, 0)
        assert not await scrolls_sideways(page), f"{name} at {width}"
        await page.screenshot(path=screenshot_path(f"desk-{name}-{width}"), full_page=True)
    await page.set_viewport_size(DESKTOP)


async def sign_in(page: Any, desk: str, login: str) -> None:
    await page.goto(desk)
    await page.locator("#login").fill(login)
    await page.locator("#password").fill(PASSWORD)
    await page.locator("form[action='/desk/sign-in'] button").click()
    await page.wait_for_selector("h1#mine")


async def reloaded_until(page: Any, selector: str, within_s: float = 20) -> None:
    for _ in range(int(within_s * 2)):
        if await page.locator(selector).count():
            return
        await asyncio.sleep(0.5)
        await page.reload()
    raise AssertionError(f"{selector} never showed on {page.url}")


async def finds(page: Any, words: str, ticket: str) -> None:
    """The search box finds the ticket."""
    await page.locator("#q").fill(words)
    await page.locator("#q").press("Enter")
    await page.wait_for_selector(f".tickets a[href='/desk/tickets/{ticket}']")


async def customer_view(page: Any, platform: Platform, address: str, name: str) -> str:
    """The customer's view from the link in their mail, with no script on it; its HTML."""
    await page.goto(platform.url("workspace", await platform.customer_link(address)))
    assert await page.locator("script").count() == 0
    await shots(page, name)
    return await page.content()


async def people_and_a_macro(desk: str) -> None:
    """Two people added by an integration's admin token; the supervisor adds the macro."""
    as_admin = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=desk, timeout=10) as api:
        for person in PEOPLE:
            body = {**person, "email": f"{person['id']}@corp.example", "password": PASSWORD}
            added = await api.post("/v1/people", json=body, headers=as_admin)
            assert added.status_code == 201, added.text
        signed = await api.post("/v1/sessions", json={"login": "wang.fang", "password": PASSWORD})
        boss = {"Authorization": f"Bearer {signed.json()['token']}"}
        assert (await api.post("/v1/macros", json=MACRO, headers=boss)).status_code == 201


async def test_an_agent_works_her_tickets_in_the_desk(platform: Platform) -> None:
    desk = platform.url("workspace")
    await people_and_a_macro(desk)
    async with chromium_page((DESKTOP["width"], DESKTOP["height"])) as page:
        await page.goto(desk)
        await shots(page, "sign-in-en")
        await sign_in(page, desk, "li.na@corp.example")
        await page.get_by_role("button", name="Online").click()
        await page.wait_for_selector(".presence-online[aria-pressed='true']")

        parcel = await platform.mail("jane@example.com", "Jane Doe", "Where is my parcel?",
                                     "Order 1234 has not arrived.", "en")  # fmt: skip
        refund = await platform.mail("lei@example.cn", "王磊", "退款申请",
                                     "我想申请退款，订单号 5678。", "zh-CN")  # fmt: skip
        countdown = page.locator("#mine + ol time[data-due]")
        await reloaded_until(page, "#mine + ol time[data-due]")
        before = await countdown.inner_text()
        await page.wait_for_function(  # the script counts down
            "was => document.querySelector('#mine + ol time[data-due]').textContent !== was",
            arg=before,
        )
        assert re.fullmatch(r"due in (59 min \d\d s|1 h 00 min)", await countdown.inner_text())
        await shots(page, "list-en")

        await page.get_by_role("link", name="Where is my parcel?").click()
        await page.locator("#reply").fill(f"Your parcel left our {WAREHOUSE.pattern} this morning.")
        await page.get_by_role("button", name="Send reply").click()
        await page.wait_for_selector("#commands li.applied")  # pending, then applied by the script
        [reply] = await wait_for(lambda: platform.mails("jane@example.com", WAREHOUSE), 20)
        assert f"Ticket #{parcel}." in reply

        await page.locator("#macro").select_option(label="Shipping update")
        await page.get_by_role("button", name="Apply macro").click()
        await page.wait_for_selector("text=Hello Jane Doe, your parcel ships today.")
        await page.wait_for_selector("#facts .status-pending")
        await shots(page, "ticket-en")

        await finds(page, "退款", refund)
        await shots(page, "search-en")

        seen = await customer_view(page, platform, "jane@example.com", "customer-en")
        assert "Your parcel left our warehouse this morning." in seen and "Li Na" in seen

    async with chromium_page((DESKTOP["width"], DESKTOP["height"])) as page:
        await sign_in(page, desk, "wang.fang")  # a supervisor, in Chinese: the queue too
        await reloaded_until(page, f"#queue + ol a[href='/desk/tickets/{refund}']")
        await shots(page, "list-zh-CN")
        await page.get_by_role("link", name="退款申请").click()
        await page.locator("#note").fill("客户是老用户，请优先处理。")
        await page.get_by_role("button", name="添加备注").click()
        await page.wait_for_selector("#entries .kind-note")
        await shots(page, "ticket-zh-CN")
        await finds(page, "退款", refund)
        await shots(page, "search-zh-CN")
        seen = await customer_view(page, platform, "lei@example.cn", "customer-zh-CN")
        assert "我想申请退款" in seen and "客户是老用户" not in seen  # the note stays inside
