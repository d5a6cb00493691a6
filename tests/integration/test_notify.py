"""Notify through the real broker, store, SMTP server and an HTTP gateway: who is told what
(contract 4.1), templates in both locales with HTML escaping and threading headers, the SMS
gateway, staff mails, requests to a customer or a staff role, retries, Retry-After, permanent
failures, quiet hours, opt-out and the unsubscribe link, signed webhooks, and redeliveries that
send nothing twice."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from kefu.services.notify.signing import verify_webhook
from kefu.shared.events.notify import NotifyRequested
from kefu.shared.events.ops import SurgeStarted
from kefu.shared.events.sla import SlaStarted, SlaTarget
from kefu.shared.events.survey import SurveyDetractor
from kefu.shared.events.ticket import Customer
from kefu.shared.store import connect, database
from kefu.shared.topics import Topic
from tests import sla_events as ev
from tests.integration.notifying import TOKEN, RunningNotify, running_notify, wait_for
from tests.kafka import TopicReader


def now() -> datetime:
    return datetime.now(UTC)


def ticket() -> str:
    return uuid.uuid4().hex[:8]


def customer(address: str = "jane@example.com") -> Customer:
    return Customer(address=address, name="Jane")


def started(ticket_id: str, due: datetime) -> Any:
    targets = [SlaTarget(metric="first_response", due_at=due)]
    return ev.event(SlaStarted(ticket_id=ticket_id, policy="p1", targets=targets), now())


async def deliveries(notify: RunningNotify, count: int, **match: Any) -> list[dict[str, Any]]:
    async with TopicReader(notify.settings, Topic.NOTIFY_DELIVERIES) as reader:
        found = await reader.take(
            count,
            lambda e: (
                all(e["data"].get(k) == v for k, v in match.items() if k != "type")
                and e["type"] == match.get("type", e["type"])
            ),
            wait_s=20,
        )
    assert len(found) >= count, found
    return [e["data"] for e in found]


async def test_the_customer_is_told_each_step_in_a_threaded_escaped_mail(backend, tmp_path) -> None:
    async with running_notify(backend, tmp_path) as notify:
        t, address = ticket(), f"{ticket()}@example.com"
        opened = ev.opened(
            t,
            now(),
            subject="Login <b>broken</b>",
            customer=customer(address),
            first_message_id="<m1@mail.example>",
        )
        await notify.send(opened, started(t, datetime(2026, 11, 23, 12, 0, tzinfo=UTC)))
        [ack] = await wait_for(lambda: notify.mailbox.to(address))
        assert ack["Subject"] == f"We received your request [#{t}]: Login <b>broken</b>"
        assert ack["In-Reply-To"] == "<m1@mail.example>"
        assert ack["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = ack.get_body(("plain",)).get_content()
        html = ack.get_body(("html",)).get_content()
        assert "2026-11-23 12:00 (UTC)" in text
        assert "Login &lt;b&gt;broken&lt;/b&gt;" in html
        await notify.send(ev.replied(t, now()), ev.replied(t, now(), public=False))
        await notify.send(
            ev.event(
                ev.replied(t, now()).data.model_copy(update={"text": "<script>x()</script> fixed"}),
                now(),
            )
        )
        mails = await wait_for(
            lambda: len(notify.mailbox.to(address)) >= 3 and notify.mailbox.to(address)
        )
        [reply] = [m for m in mails if "fixed" in m.get_body(("plain",)).get_content()]
        assert "&lt;script&gt;x()&lt;/script&gt; fixed" in reply.get_body(("html",)).get_content()
        assert "<script>x()</script> fixed" in reply.get_body(("plain",)).get_content()
        await notify.send(
            ev.status(t, "open", "solved", now()), ev.status(t, "open", "pending", now())
        )
        mails = await wait_for(
            lambda: len(notify.mailbox.to(address)) >= 4 and notify.mailbox.to(address)
        )
        await asyncio.sleep(1.0)
        assert [m["Subject"].split(" [")[0] for m in notify.mailbox.to(address)][3:] == [
            "Solved: Login <b>broken</b>"
        ]


async def test_an_acknowledgement_waits_for_the_due_time_at_most_a_few_seconds(
    backend, tmp_path
) -> None:
    async with running_notify(backend, tmp_path) as notify:
        t, address = ticket(), f"{ticket()}@example.com"
        sent_at = time.monotonic()
        await notify.send(ev.opened(t, now(), customer=customer(address), locale="zh-CN"))
        [ack] = await wait_for(lambda: notify.mailbox.to(address))
        assert 2.5 <= time.monotonic() - sent_at < 6
        assert ack["Subject"].startswith("我们已收到您的请求")
        assert "我们会尽快答复您" in ack.get_body(("plain",)).get_content()


async def test_optional_steps_and_sms(backend, tmp_path) -> None:
    steps = ["opened", "agent_reply", "solved", "assigned", "status_pending", "closed"]
    async with running_notify(backend, tmp_path, customer=steps) as notify:
        t = ticket()
        phone = "+8613800138000"
        await notify.send(
            ev.opened(t, now(), channel="sms", customer=customer(phone)),
            started(t, now() + timedelta(minutes=15)),
        )
        await notify.send(
            ev.assigned(t, "alice", now()),
            ev.status(t, "open", "pending", now()),
            ev.status(t, "pending", "closed", now()),
        )
        sms = await wait_for(
            lambda: len(notify.gateway.to("/sms")) >= 4 and notify.gateway.to("/sms")
        )
        headers, body = sms[0]
        assert headers["authorization"] == "Bearer sms-secret"
        form = dict(httpx.QueryParams(body.decode()))
        assert form["to"] == phone and t in form["body"]
        bodies = [dict(httpx.QueryParams(b.decode()))["body"] for _, b in sms]
        assert any("agent is now working" in b for b in bodies)
        assert any("need a reply" in b for b in bodies) and any("is closed" in b for b in bodies)


async def test_a_merge_close_is_no_mail_to_the_customer(backend, tmp_path) -> None:
    """Even with `closed` among the customer's steps: their conversation goes on elsewhere."""
    async with running_notify(backend, tmp_path, customer=["opened", "closed"]) as notify:
        merged_away, closed, address = ticket(), ticket(), f"{ticket()}@example.com"
        for t in (merged_away, closed):
            await notify.send(ev.opened(t, now(), customer=customer(address)), started(t, now()))
        await wait_for(lambda: len(notify.mailbox.to(address)) >= 2)
        await notify.send(
            ev.category(merged_away, ["billing", "refund", "x"], now()),
            *ev.merged(merged_away, closed, now()),
            ev.status(closed, "open", "closed", now()),
        )
        await wait_for(lambda: len(notify.mailbox.to(address)) >= 3)
        await asyncio.sleep(1.5)
        mails = [
            (t, m["Subject"]) for m in notify.mailbox.to(address) for t in (merged_away, closed)
        ]
        told = [t for t, subject in mails if f"[#{t}]" in subject]
        assert sorted(told) == sorted([merged_away, closed, closed])  # two acks, one close


async def test_staff_get_one_mail_per_recipient_per_step(backend, tmp_path) -> None:
    async with running_notify(backend, tmp_path) as notify:
        t = ticket()
        await notify.send(ev.opened(t, now(), customer=customer()))
        await notify.send(
            ev.escalated(t, 1, ["supervisor"], now()), ev.escalated(t, 2, ["manager"], now())
        )
        await notify.send(
            ev.event(SurgeStarted(rate_per_min=30, baseline_per_min=5, factor=6, at=now()), now())
        )
        await wait_for(
            lambda: (
                len(notify.mailbox.to("head@example.com")) == 1
                and len(notify.mailbox.to("boss@example.com")) == 1
            )
        )
        lead = await wait_for(
            lambda: (
                len(notify.mailbox.to("lead@example.com")) >= 2
                and notify.mailbox.to("lead@example.com")
            )
        )
        subjects = sorted(m["Subject"] for m in lead)
        assert subjects[0].startswith("SLA breached: first_response on ticket #" + t)
        assert subjects[1].startswith("Surge: 30")
        assert notify.mailbox.to("head@example.com")[0]["Subject"].startswith("SLA escalation 2")


async def test_a_gateway_that_fails_twice_then_succeeds(backend, tmp_path) -> None:
    async with running_notify(backend, tmp_path) as notify:
        notify.gateway.script["/sms"] = [(503, {}), (500, {})]
        t = ticket()
        await notify.send(
            ev.opened(t, now(), channel="sms", customer=customer("+12025550143")), started(t, now())
        )
        sent = await deliveries(notify, 1, type="kefu.notify.sent", ticket_id=t)
        assert sent[0]["attempts"] == 3
        failures = await deliveries(notify, 2, type="kefu.notify.failed", ticket_id=t)
        assert [f["final"] for f in failures] == [False, False]
        assert len(notify.gateway.to("/sms")) == 3


async def test_a_permanent_failure_is_final_and_retry_after_is_honoured(backend, tmp_path) -> None:
    async with running_notify(backend, tmp_path) as notify:
        notify.gateway.script["/sms"] = [(400, {})]
        t = ticket()
        await notify.send(
            ev.opened(t, now(), channel="sms", customer=customer("+12025550143")), started(t, now())
        )
        [failed] = await deliveries(notify, 1, type="kefu.notify.failed", ticket_id=t)
        assert failed["final"] is True and "HTTP 400" in failed["error"]
        notify.gateway.script["/sms"] = [(429, {"Retry-After": "2"})]
        u = ticket()
        await notify.send(
            ev.opened(u, now(), channel="sms", customer=customer("+12025550144")), started(u, now())
        )
        await deliveries(notify, 1, type="kefu.notify.sent", ticket_id=u)
        first, second = notify.gateway.times("/sms")[-2:]
        assert second - first >= 1.9  # waited as asked, not the 200 ms backoff


async def test_quiet_hours_defer_and_suppress(backend, tmp_path) -> None:
    start = (now() - timedelta(hours=1)).strftime("%H:%M")
    # ends 8 s from now: starting notify on a loaded machine takes seconds of it
    end = (now() + timedelta(seconds=8)).strftime("%H:%M:%S")
    quiet = {"timezone": "UTC", "from": start, "to": end, "except_priority": ["P1"]}
    async with running_notify(backend, tmp_path, quiet_hours=quiet) as notify:
        t, address = ticket(), f"{ticket()}@example.com"
        await notify.send(ev.opened(t, now(), customer=customer(address)), started(t, now()))
        [held] = await deliveries(notify, 1, type="kefu.notify.suppressed", ticket_id=t)
        assert held["reason"] == "quiet_hours"
        assert notify.mailbox.to(address) == []
        await wait_for(lambda: notify.mailbox.to(address), within_s=15)  # sent when it ends
        p1, urgent = ticket(), f"{ticket()}@example.com"
        await notify.send(
            ev.opened(p1, now(), priority="P1", customer=customer(urgent)), started(p1, now())
        )
        await wait_for(lambda: notify.mailbox.to(urgent), within_s=3)
    async with running_notify(
        backend,
        tmp_path,
        quiet_hours={
            **quiet,
            "mode": "suppress",
            "to": (now() + timedelta(hours=1)).strftime("%H:%M"),
        },
    ) as notify:
        t, address = ticket(), f"{ticket()}@example.com"
        await notify.send(ev.opened(t, now(), customer=customer(address)), started(t, now()))
        [dropped] = await deliveries(notify, 1, type="kefu.notify.suppressed", ticket_id=t)
        assert dropped["reason"] == "quiet_hours"
        await asyncio.sleep(1.5)
        assert notify.mailbox.to(address) == []


async def test_opt_out_by_api_and_by_the_unsubscribe_link(backend, tmp_path) -> None:
    async with (
        running_notify(backend, tmp_path) as notify,
        httpx.AsyncClient(base_url=notify.url) as http,
    ):
        address = f"{ticket()}@example.com"
        body = {"channel": "email", "address": address}
        assert (await http.post("/v1/optouts", json=body)).status_code == 401
        assert (
            await http.post(
                "/v1/optouts", json=body, headers={"Authorization": "Bearer notify-agent-token"}
            )
        ).status_code == 403
        admin = {"Authorization": f"Bearer {TOKEN}"}
        assert (await http.post("/v1/optouts", json=body, headers=admin)).status_code == 201
        t = ticket()
        await notify.send(ev.opened(t, now(), customer=customer(address)), started(t, now()))
        [suppressed] = await deliveries(notify, 1, type="kefu.notify.suppressed", ticket_id=t)
        assert suppressed["reason"] == "opted_out"
        assert (
            await http.request("DELETE", "/v1/optouts", json=body, headers=admin)
        ).status_code == 200
        u = ticket()
        await notify.send(ev.opened(u, now(), customer=customer(address)), started(u, now()))
        [mail] = await wait_for(lambda: notify.mailbox.to(address))
        link = mail["List-Unsubscribe"].strip().strip("<>")  # folded: too long for one line
        assert link.startswith(notify.url)
        page = await http.get(link)
        assert page.status_code == 200 and "<form" in page.text
        one_click = await http.post(
            link,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code == 200
        assert (await http.get(link.replace("token=", "token=x"))).status_code == 404
        v = ticket()
        await notify.send(ev.opened(v, now(), customer=customer(address)), started(v, now()))
        await deliveries(notify, 1, type="kefu.notify.suppressed", ticket_id=v)


async def test_signed_webhooks_verify_and_a_replay_is_rejected(backend, tmp_path) -> None:
    secret = "whsec-0123456789abcdef"
    hooks = [{"url": "set by running_notify", "events": ["kefu.ticket.*"], "secret": secret}]
    async with running_notify(backend, tmp_path, webhooks=hooks) as notify:
        t = ticket()
        opened = ev.opened(t, now(), channel="chat", customer=customer("visitor-1"))
        await notify.send(opened, started(t, now()))
        [(headers, body)] = await wait_for(lambda: notify.gateway.to("/hook"))
        assert headers["kefu-event-id"] == opened.id  # receivers drop repeats by it
        signature = headers["kefu-signature"]
        assert verify_webhook(secret, body, signature, int(time.time()))
        assert not verify_webhook(secret, body + b" ", signature, int(time.time()))  # tampered
        assert not verify_webhook("another-secret-123", body, signature, int(time.time()))
        assert not verify_webhook(secret, body, signature, int(time.time()) + 600)  # replayed late
        assert body.decode() == opened.to_bytes().decode()  # the event exactly as published
        await asyncio.sleep(1.0)
        assert len(notify.gateway.to("/hook")) == 1  # sla.started matches no pattern


async def test_a_redelivered_event_sends_nothing_twice(backend, tmp_path) -> None:
    async with running_notify(backend, tmp_path) as notify:
        t, address = ticket(), f"{ticket()}@example.com"
        opened, due = ev.opened(t, now(), customer=customer(address)), started(t, now())
        await notify.send(opened, due)
        await wait_for(lambda: notify.mailbox.to(address))
        await notify.send(opened, due)
        await asyncio.sleep(2.0)
        assert len(notify.mailbox.to(address)) == 1


async def test_a_requested_survey_invite(backend, tmp_path) -> None:
    async with running_notify(backend, tmp_path) as notify:
        t, address = ticket(), f"{ticket()}@example.com"
        await notify.send(ev.opened(t, now(), customer=customer(address), locale="zh-CN"))
        request = NotifyRequested(
            notification_id=f"survey:{t}:invite",
            ticket_id=t,
            channel="email",
            to=address,
            template="survey_invite",
            locale="zh-CN",
            params={"url": "https://kefu.example/s/abc", "kind": "csat", "scores": [1, 2, 3, 4, 5]},
        )
        await notify.send(ev.event(request, now()))
        mails = await wait_for(
            lambda: len(notify.mailbox.to(address)) >= 2 and notify.mailbox.to(address)
        )
        [invite] = [m for m in mails if m["Subject"].startswith("请评价")]
        assert "https://kefu.example/s/abc" in invite.get_body(("plain",)).get_content()
        html = invite.get_body(("html",)).get_content()
        assert 'href="https://kefu.example/s/abc?score=5"' in html
        [sent] = await deliveries(
            notify, 1, type="kefu.notify.sent", notification_id=f"survey:{t}:invite"
        )
        assert sent["template"] == "survey_invite"


async def test_a_request_to_a_role_mails_its_staff_once_whatever_the_customer_rules(
    backend, tmp_path
) -> None:
    quiet = {
        "timezone": "UTC",
        "from": (now() - timedelta(hours=1)).strftime("%H:%M"),
        "to": (now() + timedelta(hours=1)).strftime("%H:%M"),
        "mode": "suppress",
    }
    staff = {"supervisor": ["lead@example.com", "deputy@example.com"]}
    async with (
        running_notify(backend, tmp_path, staff=staff, quiet_hours=quiet) as notify,
        httpx.AsyncClient(base_url=notify.url) as http,
    ):
        optout = {"channel": "email", "address": "deputy@example.com"}
        admin = {"Authorization": f"Bearer {TOKEN}"}
        assert (await http.post("/v1/optouts", json=optout, headers=admin)).status_code == 201
        t = ticket()
        low = SurveyDetractor(
            survey_id=f"s-{t}",
            ticket_id=t,
            kind="csat",
            score=1,
            comment="<b>slow</b>",
            agent_id="a1",
            at=now(),
        )
        request = ev.event(
            NotifyRequested(
                notification_id=f"survey:{t}:detractor",
                ticket_id=t,
                channel="email",
                to="role:supervisor",
                template="detractor",
                locale="en",
                params={
                    "kind": low.kind,
                    "score": low.score,
                    "comment": low.comment,
                    "agent_id": low.agent_id,
                    "customer": "+8613800138000",
                    "name": None,
                    "call_back_by": "2026-11-24 10:00 (UTC)",
                },
            ),
            now(),
        )
        await notify.send(ev.event(low, now()), request, request)
        for address in staff["supervisor"]:
            [mail] = await wait_for(lambda a=address: notify.mailbox.to(a))
            assert mail["X-Kefu-Notification-Id"] == f"survey:{t}:detractor:{address}"
            assert mail["Subject"].startswith(f"Low CSAT score 1 on ticket #{t}")
            assert "&lt;b&gt;slow&lt;/b&gt;" in mail.get_body(("html",)).get_content()
        await asyncio.sleep(1.5)  # neither the detractor event nor the repeat mails again
        assert [len(notify.mailbox.to(a)) for a in staff["supervisor"]] == [1, 1]


async def test_notifications_an_older_notify_stored_get_their_timers_when_notify_starts(
    backend, tmp_path
) -> None:
    """Until 0.2 a notification's timer was a document of `notify_timers`; now it is held in
    the notification's own document. A timer stored the older way (a mail deferred by quiet
    hours, now due) moves into its notification when notify starts, and the mail goes."""
    run = uuid.uuid4().hex[:10]
    same = {"mongodb_db": f"kefu_{run}", "topic_prefix": f"t{run}."}
    start = (now() - timedelta(hours=1)).strftime("%H:%M")
    end = (now() + timedelta(hours=1)).strftime("%H:%M")
    quiet = {"timezone": "UTC", "from": start, "to": end}
    t, address = ticket(), f"{ticket()}@example.com"
    async with running_notify(backend, tmp_path, same, quiet_hours=quiet) as notify:
        await notify.send(ev.opened(t, now(), customer=customer(address)), started(t, now()))
        await deliveries(notify, 1, type="kefu.notify.suppressed", ticket_id=t)  # deferred
    client = connect(notify.settings)
    db = database(client, notify.settings)
    try:
        held = {"ticket_id": t, "held": True}
        found = await db.notify_notifications.find_one_and_update(
            held, {"$unset": {"due": "", "at": "", "claim": "", "gen": ""}}
        )
        await db.notify_timers.insert_one({"_id": found["_id"], "due": 0, "at": 0, "gen": 1})
        async with running_notify(backend, tmp_path, same) as notify:
            await wait_for(lambda: notify.mailbox.to(address))
        assert await db.notify_timers.find_one({}) is None  # moved, not left to come back
        assert (await db.notify_notifications.find_one({"_id": found["_id"]}))["at"] is None
    finally:
        await client.close()
