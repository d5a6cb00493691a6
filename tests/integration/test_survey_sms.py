"""Survey answers by SMS, through intake and survey on one broker and store: a customer who
replies to the survey SMS with a bare score answers it, and the ticket is not reopened;
anything else is a message as before."""

import asyncio
from typing import Any

from kefu.embedded import free_port
from kefu.services.intake.app import build as build_intake
from kefu.services.intake.conversation import survey_key
from kefu.shared.topics import Topic
from tests.factories import message_body
from tests.integration.conftest import served, unique
from tests.integration.surveying import RunningSurvey, running_survey
from tests.kafka import TopicReader, produce

PHONE = "+8613800139999"


async def sms(survey: RunningSurvey, text: str, phone: str = PHONE) -> str:
    body = message_body("sms", unique("s-"), phone, text=text)
    await produce(survey.settings, Topic.CHANNEL_INBOUND, body, key=f"sms:{phone}")
    return f"sms:{body['message_id']}"


async def solve(survey: RunningSurvey, ticket: str) -> None:
    command = {
        "action": "set_status",
        "agent_id": "agent-7",
        "command_id": unique("cmd-"),
        "ticket_id": ticket,
        "status": "solved",
    }
    await produce(survey.settings, Topic.AGENT_INBOUND, command, key="agent-7")


async def survey_reaches_intake(survey: RunningSurvey, phone: str) -> None:
    """Intake has read the issued survey once its reply key names the ticket."""
    keys = survey.publisher.db["intake_keys"]
    for _ in range(200):
        if await keys.find_one({"_id": survey_key(phone)}):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("intake never learned of the survey")


def of_type(values: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [value for value in values if value["type"] == kind]


async def test_a_bare_score_by_sms_answers_the_survey_without_reopening(backend, tmp_path) -> None:
    async with (
        running_survey(backend, tmp_path, kind="nps") as survey,
        served(build_intake(survey.settings), free_port()),
        TopicReader(survey.settings, Topic.TICKET_EVENTS) as tickets,
    ):
        first = await sms(survey, "my parcel is lost")
        [received] = await tickets.take(1, lambda v: v["correlationid"] == first)
        ticket = received["data"]["ticket_id"]
        await solve(survey, ticket)
        [invite] = await survey.said(1, ticket, "notify.requested")
        assert (invite["data"]["channel"], invite["data"]["to"]) == ("sms", PHONE)
        await survey_reaches_intake(survey, PHONE)

        reply = await sms(survey, " ９ ")
        [answer] = await tickets.take(1, lambda v: v["correlationid"] == reply)
        assert answer["data"]["ticket_id"] == ticket
        assert answer["data"]["survey_id"] == f"{ticket}-1"
        [responded] = await survey.said(1, ticket, "survey.responded")
        assert (responded["data"]["score"], responded["data"]["comment"]) == (9, None)

        later = await sms(survey, "actually, one more question")
        await tickets.take(1, lambda v: v["correlationid"] == later)
        said = [v for v in await tickets.settle(1.0) if v["subject"] == ticket]
        assert len(of_type(said, "kefu.ticket.reopened")) == 1  # by the question, not the 9
        [message] = [
            v for v in of_type(said, "kefu.ticket.message_received") if v["correlationid"] == later
        ]
        assert message["data"]["survey_id"] is None


async def test_a_number_off_the_scale_is_a_message_that_reopens(backend, tmp_path) -> None:
    async with (
        running_survey(backend, tmp_path) as survey,
        served(build_intake(survey.settings), free_port()),
        TopicReader(survey.settings, Topic.TICKET_EVENTS) as tickets,
    ):
        phone = "+8613800137777"
        first = await sms(survey, "help", phone)
        [received] = await tickets.take(1, lambda v: v["correlationid"] == first)
        ticket = received["data"]["ticket_id"]
        await solve(survey, ticket)
        await survey_reaches_intake(survey, phone)
        reply = await sms(survey, "7", phone)  # CSAT is 1-5
        said = await tickets.take(2, lambda v: v["correlationid"] == reply)
        assert [v["type"] for v in said] == ["kefu.ticket.reopened", "kefu.ticket.message_received"]
        assert said[1]["data"]["survey_id"] is None
        everything = await survey.everything(ticket, settle_s=1.0)
        assert of_type(everything, "kefu.survey.responded") == []
