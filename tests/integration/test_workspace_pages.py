"""The desk's pages and the customer's view, through HTTP against the real workspace (with
the real intake, broker and store): the headers every page carries, signing in and the
lockout through the form, CSRF and origin checks on every form, the ticket page with its
conversation (text escaped, notes marked) and the commands it sends, search, presence, and
the customer's view with nothing of the staff's on it."""

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from kefu.shared.customer_links import customer_link
from kefu.shared.events.sla import SlaStarted, SlaTarget
from kefu.shared.topics import Topic
from tests import sla_events as ev
from tests.integration import test_workspace_record
from tests.integration.test_workspace_record import Desk, has
from tests.kafka import TopicReader

desk = test_workspace_record.desk  # the same running workspace, intake and publisher
PASSWORD = "correct horse"
NEEDED_CSP = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
)
SCRIPT = "<script>alert(1)</script>"


def origin(desk: Desk) -> str:
    return str(desk.workspace.http.base_url).rstrip("/")


@pytest.fixture
async def browser(desk: Desk) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the desk: keeps cookies, sends the desk's Origin with every request."""
    headers = {"Origin": origin(desk)}
    async with httpx.AsyncClient(base_url=origin(desk), headers=headers, timeout=10) as client:
        yield client


async def signed_in(desk: Desk, browser: httpx.AsyncClient, **fields: object) -> dict:
    person = await desk.workspace.add(PASSWORD, **fields)
    answer = await browser.post("/desk/sign-in", data={"login": person["id"], "password": PASSWORD})
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    return person


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


async def until_page(browser: httpx.AsyncClient, path: str, check: Callable[[str], bool]) -> str:
    for _ in range(150):
        page = await browser.get(path)
        if page.status_code == 200 and check(page.text):
            return page.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never matched: {page.status_code} {page.text[-2000:]}")


def assert_page_headers(page: httpx.Response, customer: bool = False) -> None:
    csp = page.headers["content-security-policy"]
    # the customer's view is stricter still: no script, no form
    stricter = {"script-src 'self'": None, "form-action 'self'": "form-action 'none'"}
    needed = [stricter.get(part, part) if customer else part for part in NEEDED_CSP]
    assert all(part in csp for part in needed if part), csp
    assert "unsafe" not in csp and page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    policy = "no-referrer" if customer else "same-origin"
    assert page.headers["referrer-policy"] == policy
    assert page.headers["content-type"].startswith("text/html")
    assert "style=" not in page.text and not re.search(r"<script(?! src=)", page.text)


async def test_every_page_carries_the_security_headers(desk: Desk, browser) -> None:
    assert_page_headers(await browser.get("/"))  # the sign-in page
    await signed_in(desk, browser, roles=["agent", "supervisor"])
    ticket = await desk.ticket(subject="Headers")
    link = urlsplit(customer_link(desk.workspace.settings, ticket)).path
    await until_page(browser, f"/desk/tickets/{ticket}", lambda text: "Headers" in text)
    for path in ("/", f"/desk/tickets/{ticket}", "/desk/search?q=headers", "/desk/tickets/none"):
        assert_page_headers(await browser.get(path))
    customer = await browser.get(link)
    assert_page_headers(customer, customer=True)
    assert "script-src" not in customer.headers["content-security-policy"]
    assert "<script" not in customer.text
    assert_page_headers(await browser.get("/t/not-a-token"), customer=True)
    style = await browser.get("/desk/static/desk.css")
    assert style.headers["content-type"].startswith("text/css")
    assert style.headers["x-content-type-options"] == "nosniff"
    assert (await browser.get("/desk/static/../app.py")).status_code == 404


async def test_signing_in_through_the_form_sets_the_cookie(desk: Desk, browser) -> None:
    person = await desk.workspace.add(PASSWORD, name="Mei Han", locale="zh-CN")
    zh = await browser.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert 'lang="zh-CN"' in zh.text and "登录" in zh.text
    answer = await browser.post(
        "/desk/sign-in",
        data={"login": person["email"], "password": PASSWORD, "next": "/desk/tickets/1"},
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/desk/tickets/1")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("kefu_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    desk_page = await browser.get("/")
    assert "我的工单" in desk_page.text and "Mei Han" in desk_page.text
    elsewhere = await browser.post(
        "/desk/sign-in",
        data={"login": person["id"], "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert elsewhere.headers["location"] == "/"

    token = csrf_of((await browser.get("/")).text)  # of the latest sign-in
    signed_out = await browser.post("/desk/sign-out", data={"csrf": token})
    assert signed_out.status_code == 303
    assert "登录" in (await browser.get("/", headers={"Accept-Language": "zh"})).text


async def test_wrong_logins_look_the_same_and_five_lock_the_form(desk: Desk, browser) -> None:
    person = await desk.workspace.add(PASSWORD)
    unknown = await browser.post("/desk/sign-in", data={"login": "nobody-x", "password": "nope"})
    wrong = await browser.post("/desk/sign-in", data={"login": person["id"], "password": "nope"})
    assert (unknown.status_code, wrong.status_code) == (401, 401)
    assert "Unknown login or wrong password." in unknown.text and "Unknown login" in wrong.text
    assert "kefu_session" not in wrong.headers.get("set-cookie", "")
    for _ in range(4):
        await browser.post("/desk/sign-in", data={"login": person["id"], "password": "nope"})
    locked = await browser.post("/desk/sign-in", data={"login": person["id"], "password": PASSWORD})
    assert locked.status_code == 429 and 898 <= int(locked.headers["retry-after"]) <= 900
    assert "Try again in 15 min" in locked.text
    api = await desk.workspace.sign_in(person["id"], PASSWORD)
    assert api.status_code == 429  # one lockout for the API and the form


async def test_forms_need_the_sessions_token_and_the_desks_origin(desk: Desk, browser) -> None:
    await signed_in(desk, browser)
    ticket = await desk.ticket()
    path = f"/desk/tickets/{ticket}"
    token = csrf_of(await until_page(browser, path, lambda text: "csrf" in text))
    reply = {"action": "note", "text": "refused note"}
    refused = [
        await browser.post(f"{path}/actions", data=reply),
        await browser.post(f"{path}/actions", data={**reply, "csrf": token[::-1]}),
        await browser.post(
            f"{path}/actions",
            data={**reply, "csrf": token},
            headers={"Origin": "https://evil.example"},
        ),
        await browser.post(
            f"{path}/actions", data={**reply, "csrf": token}, headers={"Origin": "null"}
        ),
        await browser.post("/desk/presence", data={"status": "online"}),
        await browser.post("/desk/sign-out", data={"csrf": "x"}),
    ]
    assert [answer.status_code for answer in refused] == [403] * len(refused)
    assert "This form was refused" in refused[0].text
    assert_page_headers(refused[0])
    # the cookie alone authorises no JSON API change
    api = await browser.post(f"/v1/tickets/{ticket}/actions", json={"action": "note", "text": "x"})
    assert api.status_code == 401
    sent = await browser.post(
        f"{path}/actions", data={"action": "note", "text": "kept note", "csrf": token}
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith(f"{path}?sent=ws-")
    page = await until_page(browser, path, lambda text: "kept note" in text)
    assert "refused note" not in page
    signed_out = await browser.post("/desk/sign-out", data={"csrf": token})
    assert signed_out.status_code == 303
    after = await browser.post(f"{path}/actions", data={**reply, "csrf": token})
    assert (after.status_code, after.headers["location"]) == (303, "/")  # signed out: sign in


async def test_the_ticket_page_shows_the_conversation_and_sends_each_action(
    desk: Desk, browser
) -> None:
    person = await signed_in(desk, browser, name="Han Meimei")
    ticket = await desk.ticket(subject="Parcel", text=f"where is it? {SCRIPT}")
    path = f"/desk/tickets/{ticket}"
    page = await until_page(browser, path, lambda text: "where is it?" in text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and SCRIPT not in page
    token = csrf_of(page)
    for form in (
        {"action": "reply", "text": "It ships today"},
        {"action": "note", "text": "Call the carrier"},
        {"action": "set_priority", "priority": "P2"},
    ):
        sent = await browser.post(f"{path}/actions", data={**form, "csrf": token})
        assert sent.status_code == 303, sent.text
    shown = await until_page(browser, sent.headers["location"], lambda text: "done." in text)
    assert "Priority: done." in shown
    page = await until_page(
        browser, path, lambda text: "Call the carrier" in text and "It ships today" in text
    )
    note = page[page.index("kind-note") : page.index("Call the carrier")]
    assert "Internal note" in note and "Han Meimei" in note
    live = await browser.get(f"{path}/live")
    assert live.headers["content-type"] == "application/json"
    assert set(live.json()["parts"]) == {"facts", "commands", "entries"}
    assert "It ships today" in live.json()["parts"]["entries"]
    assert "P2" in (await until_page(browser, path, lambda text: ">P2<" in text))

    invalid = await browser.post(
        f"{path}/actions", data={"action": "set_priority", "priority": "P9", "csrf": token}
    )
    assert invalid.status_code == 422 and "Not sent" in invalid.text
    assert person["id"]


async def test_my_tickets_the_queue_search_and_presence(desk: Desk, browser) -> None:
    person = await signed_in(desk, browser, roles=["agent", "supervisor"], skills=["billing"])
    mine, waiting = await desk.ticket(subject="我想申请退款"), await desk.ticket(subject="Waiting")
    now = datetime.now(UTC)
    due = SlaTarget(metric="first_response", due_at=now + timedelta(minutes=30))
    await desk.publisher.bus.publish(
        ev.assigned(mine, person["id"], now),
        ev.event(SlaStarted(ticket_id=mine, policy="p", targets=[due]), now),
    )

    def shown(text: str) -> bool:  # assigned and its SLA both read (two topics)
        return "data-due>due in" in text and -1 < text.find(mine) < text.find("Queue")

    page = await until_page(browser, "/", lambda text: shown(text) and waiting in text)
    assert re.search(
        r'<time class="due" datetime="[^"]+" data-due>due in 29 min \d\d s</time>', page
    )
    assert page.index(mine) < page.index("Queue") < page.index(waiting)
    found = await until_page(browser, "/desk/search?q=退款", lambda text: mine in text)
    assert f'href="/desk/tickets/{mine}"' in found and "Waiting" not in found

    async with TopicReader(desk.workspace.settings, Topic.AGENT_INBOUND) as reader:
        sent = await browser.post(
            "/desk/presence",
            data={"status": "away", "csrf": csrf_of((await browser.get("/")).text)},
            headers={"Referer": f"{origin(desk)}/desk/search?q=x"},
        )
        assert (sent.status_code, sent.headers["location"]) == (303, "/desk/search?q=x")
        [command] = await reader.take(1, lambda c: c.get("agent_id") == person["id"], wait_s=15)
    assert (command["action"], command["status"], command["skills"]) == (
        "presence",
        "away",
        ["billing"],
    )
    assert 'class="presence-away current" aria-pressed="true"' in (await browser.get("/")).text


async def test_the_customer_sees_the_public_conversation_only(desk: Desk, browser) -> None:
    person, me = await desk.agent(name="Han Meimei", email="han.meimei@corp.example")
    ticket = await desk.ticket(subject="Parcel", text=f"hello {SCRIPT}", locale="zh-CN")
    await desk.act(ticket, me, action="reply", text="It ships today")
    await desk.act(ticket, me, action="note", text="secret note")
    now = datetime.now(UTC)
    due = SlaTarget(metric="first_response", due_at=now + timedelta(hours=2))
    await desk.publisher.bus.publish(
        ev.assigned(ticket, person, now),
        ev.event(SlaStarted(ticket_id=ticket, policy="p", targets=[due]), now),
    )
    await desk.conversation(ticket, me, has("note"))
    await desk.conversation(ticket, me, has("event", event_type="kefu.ticket.assigned"))
    link = urlsplit(customer_link(desk.workspace.settings, ticket)).path
    page = await until_page(browser, link, lambda text: "我们预计在" in text)  # the due time
    assert 'lang="zh-CN"' in page and "It ships today" in page and "Han Meimei" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and SCRIPT not in page
    for staff in ("secret note", person, "han.meimei@corp.example", "assigned", "<form"):
        assert staff not in page, staff
    assert "您" in page and "处理中" in page  # the customer, and the status

    bad = await browser.get(link[:-3] + "abc", headers={"Accept-Language": "en"})
    assert bad.status_code == 404 and "Not found" in bad.text


async def test_a_macro_applied_through_the_form_sends_its_reply_and_actions(
    desk: Desk, browser
) -> None:
    await signed_in(desk, browser, name="Han Meimei")
    macro = {
        "title": "Ships today",
        "text": "Hi {{ customer.name }}, it ships today. {{ agent.name }}",
        "actions": [{"action": "set_status", "status": "pending"}],
    }
    added = await desk.workspace.http.post("/v1/macros", json=macro, headers=desk.workspace.admin)
    assert added.status_code == 201, added.text
    ticket = await desk.ticket(**{"from": {"address": "jane@example.org", "name": "Jane"}})
    path = f"/desk/tickets/{ticket}"
    page = await until_page(browser, path, lambda text: "Ships today</option>" in text)
    form = {"macro_id": added.json()["id"], "csrf": csrf_of(page)}
    sent = await browser.post(f"{path}/macro", data=form)
    assert sent.status_code == 303 and sent.headers["location"].count("ws-") == 2
    shown = await until_page(browser, path, lambda text: "it ships today" in text)
    assert "Hi Jane, it ships today. Han Meimei" in shown
    await until_page(browser, path, lambda text: "badge status-pending" in text)
    unknown = await browser.post(f"{path}/macro", data={**form, "macro_id": "nope"})
    assert unknown.status_code == 422 and "No such macro." in unknown.text
