"""Search, macros and the audit trail of the workspace on the real broker and store, with the
real intake (the `desk` of test_workspace_record.py): tickets found by a Chinese word inside
a sentence and by an English word, newest first, a page at a time; macros kept by
supervisors and applied by agents as the reply and actions in order; every action a person
took, with the outcome of their commands."""

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from kefu.services.workspace.audit import AuditLog, audit_id
from kefu.services.workspace.paging import cursor_of
from kefu.shared.topics import Topic
from tests.integration import test_workspace_record
from tests.integration.conftest import unique
from tests.integration.test_workspace_record import Desk
from tests.kafka import TopicReader

SUPERVISOR = {"roles": ["agent", "supervisor"]}
desk = test_workspace_record.desk  # the fixture: a workspace beside the real intake


def path(route: str, **params: Any) -> str:
    return f"{route}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def finds(*tickets: str) -> Any:
    def check(answer: httpx.Response) -> bool:
        shown = [found["ticket_id"] for found in answer.json().get("tickets", [])]
        return answer.status_code == 200 and all(ticket in shown for ticket in tickets)

    return check


async def test_search_finds_chinese_inside_a_sentence_and_english_words(desk: Desk) -> None:
    _, me = await desk.agent()
    word = unique("w")
    chinese = await desk.ticket(subject="我想申请退款", text=f"订单还没到 {word}")
    english = await desk.ticket(subject="Parcel", text=f"Where is my REFUND? {word}")
    found = await desk.until(path("/v1/search", q="退款"), me, finds(chinese))
    [hit] = [t for t in found["tickets"] if t["ticket_id"] == chinese]
    assert hit["subject"] == "我想申请退款" and hit["status"] == "new"
    assert hit["at"].endswith("Z") and hit["snippet"]
    refund = await desk.until(path("/v1/search", q=f"refund {word}"), me, finds(english))
    assert [t["ticket_id"] for t in refund["tickets"]] == [english]  # both words, AND
    assert "REFUND" in refund["tickets"][0]["snippet"]
    both = await desk.until(path("/v1/search", q=word), me, finds(chinese, english))
    assert [t["ticket_id"] for t in both["tickets"]] == [english, chinese]  # newest first
    nothing = await desk.workspace.http.get(path("/v1/search", q=f"退货 {word}"), headers=me)
    assert nothing.json() == {"tickets": [], "next_cursor": None}


async def test_replies_and_notes_are_searched_and_pages_go_on_by_cursor(desk: Desk) -> None:
    _, me = await desk.agent()
    word, noted = unique("w"), unique("n")
    tickets = [await desk.ticket(text=f"hello {word}") for _ in range(3)]
    await desk.until(path("/v1/search", q=word), me, finds(*tickets))
    await desk.act(tickets[0], me, action="note", text=f"备注 {noted}")
    await desk.act(tickets[1], me, action="reply", text=f"回复 {noted}")
    await desk.until(path("/v1/search", q=noted), me, finds(tickets[0], tickets[1]))

    pages, cursor = [], None
    for _ in range(4):
        page = await desk.workspace.http.get(
            path("/v1/search", q=word, limit=2, cursor=cursor), headers=me
        )
        assert page.status_code == 200, page.text
        pages.append([t["ticket_id"] for t in page.json()["tickets"]])
        if (cursor := page.json()["next_cursor"]) is None:
            break
    # the note and the reply made tickets 0 and 1 newer, but not by `word`: by its entries
    assert pages == [[tickets[2], tickets[1]], [tickets[0]]]


async def test_search_refuses_bad_queries_and_cursors_and_strangers(desk: Desk) -> None:
    _, me = await desk.agent()
    http = desk.workspace.http

    async def status(**params: Any) -> int:
        return (await http.get(path("/v1/search", **params), headers=me)).status_code

    assert await status(q="x", cursor="not-a-cursor") == 422
    assert await status(q="x", cursor=cursor_of("other", 1, "T-1")) == 422
    assert await status(q=" ".join(f"w{n}" for n in range(17))) == 422
    assert await status(q="") == 422
    assert await status(q="x", limit=0) == 422
    assert await status(q="x", limit=10**30) == 422
    assert (await http.get(path("/v1/search", q="，。"), headers=me)).json()["tickets"] == []
    assert (await http.get(path("/v1/search", q="x"))).status_code == 401


MACRO = {
    "title": "退款受理",
    "locale": "zh-CN",
    "text": "{{ customer.name or '客户' }}您好，工单 {{ ticket.id }}（{{ ticket.subject }}）"
    "已受理。—— {{ agent.name }}",
    "actions": [
        {"action": "set_status", "status": "pending"},
        {"action": "note", "text": "refund macro"},
    ],
}


async def test_macros_are_kept_by_supervisors_and_listed_for_agents(desk: Desk) -> None:
    _, agent = await desk.agent()
    _, boss = await desk.agent(**SUPERVISOR)
    http = desk.workspace.http
    assert (await http.post("/v1/macros", json=MACRO, headers=agent)).status_code == 403
    assert (await http.post("/v1/macros", json=MACRO)).status_code == 401
    added = await http.post("/v1/macros", json=MACRO, headers=boss)
    assert added.status_code == 201, added.text
    macro = added.json()
    assert macro["id"].startswith("m-") and {**macro, "id": None} == {**MACRO, "id": None}
    named = await http.post("/v1/macros", json={**MACRO, "id": "thanks"}, headers=boss)
    again = await http.post("/v1/macros", json={**MACRO, "id": "thanks"}, headers=boss)
    assert (named.status_code, again.status_code) == (201, 409)

    listed = await http.get("/v1/macros", headers=agent)
    assert listed.status_code == 200 and macro in listed.json()
    assert (await http.get("/v1/macros")).status_code == 401

    changed = {**MACRO, "title": "退款（新）", "actions": []}
    route = f"/v1/macros/{macro['id']}"
    assert (await http.put(route, json=changed, headers=agent)).status_code == 403
    put = await http.put(route, json=changed, headers=boss)
    assert put.status_code == 200 and put.json() == {**changed, "id": macro["id"]}
    other_id = await http.put(route, json={**changed, "id": "x"}, headers=boss)
    assert other_id.status_code == 422
    assert (await http.put("/v1/macros/none", json=changed, headers=boss)).status_code == 404

    assert (await http.delete(route, headers=agent)).status_code == 403
    assert (await http.delete(route, headers=boss)).status_code == 204
    assert (await http.delete(route, headers=boss)).status_code == 404
    assert macro["id"] not in [
        m["id"] for m in (await http.get("/v1/macros", headers=agent)).json()
    ]


async def test_a_template_the_sandbox_refuses_is_not_saved(desk: Desk) -> None:
    _, boss = await desk.agent(**SUPERVISOR)
    http = desk.workspace.http
    for text in ("{{ ''.__class__ }}", "{% for %}", "{{ tiket.id }}", "{{ 'x' * 10**9 }}"):
        refused = await http.post("/v1/macros", json={**MACRO, "text": text}, headers=boss)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "text"]
    bad_action = {**MACRO, "actions": [{"action": "set_status", "status": "bogus"}]}
    refused = await http.post("/v1/macros", json=bad_action, headers=boss)
    assert refused.status_code == 422 and "actions" in refused.json()["detail"][0]["loc"]


async def test_applying_a_macro_sends_the_reply_then_its_actions_as_the_person(
    desk: Desk,
) -> None:
    person, agent = await desk.agent(name="李雷")
    _, boss = await desk.agent(**SUPERVISOR)
    http = desk.workspace.http
    ticket = await desk.ticket(subject="我想退款")
    await desk.conversation(ticket, agent, lambda answer: True)  # the record has it
    macro = (await http.post("/v1/macros", json=MACRO, headers=boss)).json()
    route = f"/v1/tickets/{ticket}/macros/{macro['id']}"
    assert (await http.post(route)).status_code == 401
    async with TopicReader(desk.workspace.settings, Topic.AGENT_INBOUND) as reader:
        applied = await http.post(route, headers=agent)
        assert applied.status_code == 202, applied.text
        ids = applied.json()["command_ids"]
        commands = await reader.take(3, lambda c: c.get("command_id") in ids, wait_s=15)
        keys = [r.key for r in reader.seen if json.loads(r.value).get("command_id") in ids]
    fresh = ids[0].removesuffix("-0")
    assert ids == [f"{fresh}-0", f"{fresh}-1", f"{fresh}-2"]
    assert [c["command_id"] for c in commands] == ids  # in order, one partition
    assert keys == [person.encode()] * 3
    reply, status, note = commands
    assert reply == {
        "action": "reply",
        "agent_id": person,
        "command_id": ids[0],
        "ticket_id": ticket,
        "text": f"客户您好，工单 {ticket}（我想退款）已受理。—— 李雷",
        "public": True,
    }
    assert (status["action"], status["status"], status["agent_id"]) == (
        "set_status",
        "pending",
        person,
    )
    assert (note["action"], note["text"], note["ticket_id"]) == ("note", "refund macro", ticket)
    for command_id in ids:
        assert (await desk.outcome(command_id, agent))["status"] == "applied"

    missing = await http.post(f"/v1/tickets/{ticket}/macros/none", headers=agent)
    assert missing.status_code == 404
    # a branch the sample values never took is refused when it renders
    sneaky = {**MACRO, "text": "{% if ticket.id != 'T-1' %}{{ ''.__class__ }}{% endif %}"}
    saved = (await http.post("/v1/macros", json=sneaky, headers=boss)).json()
    refused = await http.post(f"/v1/tickets/{ticket}/macros/{saved['id']}", headers=agent)
    assert refused.status_code == 422 and refused.json()["error"].startswith("text:")


async def audit(desk: Desk, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await desk.workspace.http.get(path("/v1/audit", **params), headers=headers)


async def test_the_audit_trail_lists_what_people_did_newest_first(desk: Desk) -> None:
    person, me = await desk.agent()
    _, boss = await desk.agent(**SUPERVISOR)
    workspace, admin = desk.workspace, desk.workspace.admin
    email = f"{person}@example.com"
    assert (await workspace.sign_in(email.upper(), "wrong horse!")).status_code == 401
    stranger = unique("Nobody-")
    assert (await workspace.sign_in(stranger, "wrong horse!")).status_code == 401
    changed = await workspace.http.patch(
        f"/v1/people/{person}", json={"capacity": 7, "password": "secret horse"}, headers=admin
    )
    assert changed.status_code == 200
    me = await workspace.token(person, "secret horse")
    macro = (await workspace.http.post("/v1/macros", json=MACRO, headers=boss)).json()
    ticket = await desk.ticket()
    command = await desk.act(ticket, me, action="note", text="checked")
    assert (await desk.outcome(command, me))["status"] == "applied"

    mine = (await audit(desk, boss, person_id=person)).json()["lines"]
    assert [line["action"] for line in mine] == ["note", "signed_in", "sign_in_failed", "signed_in"]
    assert mine[0] | {"at": None} == {
        "at": None,
        "person_id": person,
        "action": "note",
        "ticket_id": ticket,
        "command_id": command,
        "outcome": "applied",
        "detail": None,
    }
    assert mine[2]["detail"] == email.lower() and mine[2]["outcome"] == "refused"
    assert [line["at"] for line in mine] == sorted((line["at"] for line in mine), reverse=True)
    [unknown] = (await audit(desk, boss, person_id=stranger.lower())).json()["lines"]
    assert unknown["action"] == "sign_in_failed"

    everyone = (await audit(desk, boss, limit=200)).json()["lines"]
    [people_change] = [
        line for line in everyone if line["detail"] == f"{person}: capacity, password"
    ]
    assert people_change["person_id"] == "admin" and people_change["action"] == "person_changed"
    assert "secret horse" not in str(everyone) and "wrong horse" not in str(everyone)
    assert any(
        line["action"] == "macro_added" and line["detail"] == macro["id"] for line in everyone
    )
    by_ticket = (await audit(desk, boss, ticket_id=ticket)).json()["lines"]
    assert [(line["command_id"], line["outcome"]) for line in by_ticket] == [(command, "applied")]
    later = (await audit(desk, boss, person_id=person, since=mine[0]["at"])).json()["lines"]
    assert [line["action"] for line in later] == ["note"]
    assert (await audit(desk, boss, since="9999-12-31T23:59:59Z")).json()["lines"] == []


async def test_the_audit_trail_is_paged_and_for_supervisors(desk: Desk) -> None:
    person, me = await desk.agent()
    _, boss = await desk.agent(**SUPERVISOR)
    for _ in range(2):
        await desk.workspace.token(person, "correct horse")
    whole = (await audit(desk, boss, person_id=person)).json()["lines"]
    assert len(whole) == 3  # three sign-ins
    paged, cursor = [], None
    for _ in range(5):
        page = (await audit(desk, boss, person_id=person, limit=2, cursor=cursor)).json()
        paged += page["lines"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert paged == whole
    assert (await audit(desk, boss, cursor="%%%")).status_code == 422
    assert (await audit(desk, boss, cursor=cursor_of(1))).status_code == 422
    assert (await audit(desk, boss, since="0001-01-01T00:00:00Z")).status_code == 200
    assert (await audit(desk, boss, since="yesterday")).status_code == 422
    assert (await audit(desk, boss, since="9999-12-31T23:59:59-05:00")).status_code == 422
    assert (await audit(desk, boss, limit=201)).status_code == 422
    assert (await audit(desk, me)).status_code == 403
    assert (await audit(desk, {})).status_code == 401


async def test_audit_lines_written_before_their_key_are_listed_once_given_it(desk: Desk) -> None:
    _, boss = await desk.agent(**SUPERVISOR)
    lines = desk.publisher.db["workspace_audit"]
    at = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    older = {"_id": audit_id(at), "at": at, "person_id": unique("old-"), "action": "note"}
    await lines.insert_one(older)
    since = {"person_id": older["person_id"], "since": "2026-11-01T00:00:00Z"}
    assert (await audit(desk, boss, **since)).json()["lines"] == []
    await AuditLog(desk.publisher.db).give_keys()
    [line] = (await audit(desk, boss, **since)).json()["lines"]
    assert line["action"] == "note" and line["at"].startswith("2026-11-01T09:30:00")
