"""The survey service through the real broker, store and HTTP: every status of the page, two
concurrent answers on two replicas, reopen and per_solve, the detractor follow-up, reminder
and expiry."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

from kefu.services.survey.tokens import PATH
from tests import sla_events as ev
from tests.integration.conftest import unique
from tests.integration.surveying import RunningSurvey, running_survey


def now() -> datetime:
    return datetime.now(UTC)


async def solved_ticket(survey: RunningSurvey, **opened: object) -> str:
    ticket = unique("t")
    at = now()
    await survey.send(
        ev.opened(ticket, at, **opened),
        ev.assigned(ticket, "agent-7", at),
        ev.status(ticket, "open", "solved", at),
    )
    return ticket


async def answer(survey: RunningSurvey, url: str, **form: str):
    return await survey.http.post(url, data=form)


async def test_every_status_of_the_page(backend, tmp_path) -> None:
    async with running_survey(backend, tmp_path) as survey:
        ticket = await solved_ticket(survey)
        url = await survey.issued_url(ticket)
        token = url.rsplit("/", 1)[1]

        shown = await survey.http.get(url)
        assert shown.status_code == 200 and shown.text.count('name="score"') == 5
        assert shown.headers["referrer-policy"] == "no-referrer"
        chosen = await survey.http.get(url, params={"score": "4"})
        assert chosen.status_code == 200 and re.search(r'value="4"[^>]* checked', chosen.text)

        tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
        assert (await survey.http.get(tampered)).status_code == 404
        assert (await answer(survey, tampered, score="5")).status_code == 404
        unknown = survey.forged(ticket, f"{ticket}-9", now() + timedelta(days=1))
        assert (await survey.http.get(unknown)).status_code == 404
        assert (await survey.http.get(f"{survey.urls[0]}{PATH}")).status_code == 404
        expired = survey.forged(ticket, f"{ticket}-1", now() - timedelta(seconds=1))
        assert (await answer(survey, expired, score="5")).status_code == 410

        assert (await answer(survey, url, score="6")).status_code == 422
        assert (await answer(survey, url, score="")).status_code == 422
        assert (await answer(survey, url)).status_code == 422
        too_long = await answer(survey, url, score="5", comment="x" * 2001)
        assert too_long.status_code == 422 and "x" * 2001 in too_long.text
        said = await survey.everything(ticket, settle_s=0.5)
        assert "kefu.survey.responded" not in [v["type"] for v in said]  # nothing on a GET

        thanks = await answer(survey, url, score="5", comment="<b>great</b> 很好")
        assert thanks.status_code == 200 and "<b>great" not in thanks.text
        [responded] = await survey.said(1, ticket, "survey.responded")
        assert (
            responded["data"]["score"] == 5 and responded["data"]["comment"] == "<b>great</b> 很好"
        )
        assert responded["data"]["agent_id"] == "a1"  # who solved it
        assert (await answer(survey, url, score="4")).status_code == 409
        assert (await survey.http.get(url)).status_code == 409
        assert token in url


async def test_two_concurrent_answers_on_two_replicas_record_one(backend, tmp_path) -> None:
    async with running_survey(backend, tmp_path, replicas=2) as survey:
        tickets = [await solved_ticket(survey) for _ in range(5)]
        for ticket in tickets:
            path = (await survey.issued_url(ticket)).removeprefix(survey.urls[0])
            replies = await asyncio.gather(
                answer(survey, survey.urls[0] + path, score="5"),
                answer(survey, survey.urls[1] + path, score="1"),
            )
            assert sorted(reply.status_code for reply in replies) == [200, 409], ticket
        # One answer each; a copy of its event (the losing replica publishes the winner's
        # outbox too, as every writer does) has the same id and data, and is dropped by id.
        everything = await survey.reader.settle(1.0)
        responded = {v["id"]: v for v in everything if v["type"] == "kefu.survey.responded"}
        assert len(responded) == len(tickets)
        for value in everything:
            assert value == responded.get(value["id"], value)


async def test_a_reopen_before_the_delay_cancels_and_per_solve_surveys_again(
    backend, tmp_path
) -> None:
    async with running_survey(backend, tmp_path, delay="3s", per_solve=True) as survey:
        cancelled, twice = unique("t"), unique("t")
        at = now()
        await survey.send(
            ev.opened(cancelled, at),
            ev.status(cancelled, "open", "solved", at),
            ev.reopened(cancelled, at + timedelta(milliseconds=200)),
            ev.opened(twice, at),
            ev.status(twice, "open", "solved", at),
        )
        [first] = await survey.said(1, twice, "survey.issued")
        await survey.send(ev.reopened(twice, now()), ev.status(twice, "open", "solved", now()))
        second = (await survey.said(2, twice, "survey.issued"))[1]
        assert (first["data"]["survey_id"], second["data"]["survey_id"]) == (
            f"{twice}-1",
            f"{twice}-2",
        )
        assert first["data"]["url"] != second["data"]["url"]
        said = await survey.everything(cancelled, settle_s=1.5)
        assert [v["type"] for v in said] == []


async def test_one_survey_per_ticket_by_default(backend, tmp_path) -> None:
    async with running_survey(backend, tmp_path) as survey:
        ticket = await solved_ticket(survey)
        await survey.said(1, ticket, "survey.issued")
        await survey.send(ev.reopened(ticket, now()), ev.status(ticket, "open", "solved", now()))
        said = await survey.everything(ticket, settle_s=1.5)
        assert [v["type"] for v in said].count("kefu.survey.issued") == 1


async def test_the_invitation_goes_on_the_customers_channel(backend, tmp_path) -> None:
    async with running_survey(backend, tmp_path, kind="nps") as survey:
        by_mail = await solved_ticket(survey)
        by_sms = await solved_ticket(
            survey, channel="sms", customer=ev.Customer(address="+8613800138000")
        )
        [mail] = await survey.said(1, by_mail, "notify.requested")
        [sms] = await survey.said(1, by_sms, "notify.requested")
        assert (mail["data"]["channel"], mail["data"]["to"]) == ("email", "jane@example.com")
        assert (sms["data"]["channel"], sms["data"]["to"]) == ("sms", "+8613800138000")
        assert mail["data"]["template"] == "survey_invite"
        assert mail["data"]["params"]["scores"] == list(range(11))
        [issued] = await survey.said(1, by_mail, "survey.issued")
        assert mail["data"]["params"]["url"] == issued["data"]["url"]


async def test_a_low_score_asks_a_supervisor_to_call_back(backend, tmp_path) -> None:
    async with running_survey(backend, tmp_path) as survey:
        ticket = await solved_ticket(survey)
        url = await survey.issued_url(ticket)
        assert (await answer(survey, url, score="2", comment="too slow")).status_code == 200
        [detractor] = await survey.said(1, ticket, "survey.detractor")
        assert detractor["data"] | {"at": None} == {
            "survey_id": f"{ticket}-1",
            "ticket_id": ticket,
            "kind": "csat",
            "score": 2,
            "comment": "too slow",
            "agent_id": "a1",
            "at": None,
        }
        requests = await survey.said(2, ticket, "notify.requested")
        call_back = requests[1]["data"]
        assert (call_back["to"], call_back["template"]) == ("role:supervisor", "detractor")
        assert call_back["params"]["customer"] == "jane@example.com"


async def test_one_reminder_then_the_expiry(backend, tmp_path) -> None:
    async with running_survey(backend, tmp_path, expires="3s", remind_after="1s") as survey:
        ticket = await solved_ticket(survey)
        [issued] = await survey.said(1, ticket, "survey.issued")
        invite, reminder = await survey.said(2, ticket, "notify.requested")
        assert invite["data"]["template"] == "survey_invite"
        assert reminder["data"]["template"] == "survey_reminder"
        assert reminder["data"]["params"]["url"] == issued["data"]["url"]
        [expired] = await survey.said(1, ticket, "survey.expired")
        assert expired["id"] == f"survey:{ticket}-1:expired"
        late = datetime.fromisoformat(expired["data"]["at"]) - datetime.fromisoformat(
            issued["data"]["expires_at"]
        )
        assert timedelta(0) <= late < timedelta(seconds=1.5)
        assert (await survey.http.get(issued["data"]["url"])).status_code == 410
        said = await survey.everything(ticket, settle_s=1.5)
        assert [v["type"] for v in said].count("kefu.notify.requested") == 2
