"""The events a customer message becomes, and the ticket state after them."""

import json
from datetime import UTC, datetime, timedelta

import structlog

from kefu.services.intake.conversation import JoinTicket, own_keys, thread_keys
from kefu.services.intake.handling import log_conversations
from kefu.services.intake.tickets import followed, joined, joining_events, opened_conversation
from kefu.shared.events.routing import TicketAssigned, TicketUnassigned
from kefu.shared.events.survey import SurveyIssued
from kefu.shared.logs import configure_logging
from kefu.shared.policy import Classification
from tests.factories import NOW, message, opening, survey_answer


def test_a_new_ticket_is_opened_then_its_message_received() -> None:
    opened, received = opening(
        message(subject="Help", **{"from": {"address": "a@b.co", "name": "Jane"}})
    )
    assert (opened.type, received.type) == ("kefu.ticket.opened", "kefu.ticket.message_received")
    assert opened.data.ticket_id == received.data.ticket_id == "1001"
    assert opened.data.subject == "Help" and opened.data.customer.name == "Jane"
    assert opened.data.opened_at == received.data.received_at == NOW
    assert opened.correlationid == received.correlationid == "email:m-1"
    assert opened.data.follow_up_of is None and opened.data.locale == "en"


def test_ids_derive_from_the_message_so_a_retry_repeats_them() -> None:
    first, again = opening(message()), opening(message())
    assert (
        [e.id for e in first]
        == [e.id for e in again]
        == [
            "intake:email:m-1:opened",
            "intake:email:m-1:message",
        ]
    )


def test_classification_and_the_message_fill_the_ticket() -> None:
    policy = Classification.model_validate(
        {"rules": [{"keywords": ["退款"], "set": {"priority": "P2", "skills": ["billing"]}}]}
    )
    received_at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    opened, _ = opening(
        message(
            "chat",
            text="我要退款",
            locale="zh-CN",
            customer_tier="vip",
            received_at=received_at.isoformat(),
        ),
        policy=policy,
        follow_up_of="1000",
    )
    assert (opened.data.priority, opened.data.skills) == ("P1", ["billing"])
    assert opened.data.locale == "zh-CN" and opened.data.customer.tier == "vip"
    assert opened.data.opened_at == received_at and opened.data.follow_up_of == "1000"


def conversation_of(first, status="new"):
    opened = opening(first)[0].data
    return opened_conversation(first, opened).model_copy(update={"status": status})


def test_the_opened_conversation_is_what_later_messages_thread_against() -> None:
    first = message("chat", "c-1")
    ticket = conversation_of(first)
    assert (ticket.ticket_id, ticket.status, ticket.channel) == ("1001", "new", "chat")
    assert ticket.first_ref == "ref:chat:c-1" and ticket.updated_at == NOW
    assert ticket.customer_address == "visitor-42"


def test_the_opened_conversation_keeps_what_merges_and_categories_check() -> None:
    first = message("email", "m-1", customer_id="c-7", subject="refund please")
    opened = opening(first, related_to="1000")[0].data
    ticket = opened_conversation(first, opened)
    assert (ticket.customer_id, ticket.related_to, ticket.merged_into) == ("c-7", "1000", None)
    assert ticket.category == tuple(opened.category) and len(ticket.category) == 3


ATTACHMENT = {
    "filename": "receipt.pdf",
    "content_type": "application/pdf",
    "size": 48213,
    "url": "https://files.example/receipt.pdf",
}


def test_every_message_received_carries_its_attachments_as_received() -> None:
    first = message(message_id="<a@x>", attachments=[ATTACHMENT, {**ATTACHMENT, "size": 0}])
    received = opening(first)[1]
    body = json.loads(received.to_bytes())
    assert body["data"]["attachments"] == [ATTACHMENT, {**ATTACHMENT, "size": 0}]
    later = message(message_id="<b@x>", attachments=[ATTACHMENT])
    ticket = conversation_of(first, "open")
    [joined_one] = joining_events(later, JoinTicket(ticket, reopens=False), now=NOW)
    assert [a.model_dump() for a in joined_one.data.attachments] == [ATTACHMENT]
    assert opening(message(message_id="<c@x>"))[1].data.attachments == []


def test_a_message_points_its_keys_at_its_ticket() -> None:
    chat = message("chat", "c-1")
    assert own_keys(chat, thread_keys(chat), "1001") == {
        "ref:chat:c-1": "1001",
        "conversation:chat:conv-1": "1001",
    }
    sms = message("sms", "s-1")
    assert own_keys(sms, thread_keys(sms), "1002") == {
        "ref:sms:s-1": "1002",
        "sender:sms:+8613800138000": "1002",
    }
    email = message("email", "<A@x>", thread={"in_reply_to": "<b@x>"})
    assert own_keys(email, thread_keys(email), "1003") == {"ref:email:A@x": "1003"}


def test_joining_an_open_ticket_is_just_the_message() -> None:
    ticket = conversation_of(message(message_id="<a@x>"), "open")
    later = message(message_id="<b@x>")
    events = joining_events(later, JoinTicket(ticket, reopens=False), now=NOW)
    assert [e.type for e in events] == ["kefu.ticket.message_received"]
    assert events[0].id == "intake:email:<b@x>:message" and events[0].data.ticket_id == "1001"
    after = joined(JoinTicket(ticket, reopens=False), later, NOW + timedelta(hours=1))
    assert after.status == "open"
    assert after.updated_at == NOW + timedelta(hours=1)


def test_a_solved_ticket_is_reopened_before_the_message() -> None:
    ticket = conversation_of(message(), "solved")
    events = joining_events(message(message_id="m-2"), JoinTicket(ticket, True), now=NOW)
    assert [e.type for e in events] == ["kefu.ticket.reopened", "kefu.ticket.message_received"]
    assert events[0].data.by == "customer"
    assert joined(JoinTicket(ticket, False), message(message_id="m-2"), NOW).status == "open"


def test_a_customer_answer_opens_a_pending_ticket() -> None:
    ticket = conversation_of(message(), "pending")
    events = joining_events(message(message_id="m-2"), JoinTicket(ticket, False), now=NOW)
    assert [e.type for e in events] == [
        "kefu.ticket.message_received",
        "kefu.ticket.status_changed",
    ]
    assert (events[1].data.from_status, events[1].data.to, events[1].data.by) == (
        "pending",
        "open",
        "system",
    )
    assert joined(JoinTicket(ticket, False), message(message_id="m-2"), NOW).status == "open"


def test_on_hold_stays_on_hold() -> None:
    ticket = conversation_of(message(), "on_hold")
    assert len(joining_events(message(message_id="m-2"), JoinTicket(ticket, False), NOW)) == 1
    assert joined(JoinTicket(ticket, False), message(message_id="m-2"), NOW).status == "on_hold"


def test_a_survey_reply_is_the_message_alone_marked_with_its_survey() -> None:
    ticket = conversation_of(message("sms", "s-1"), "solved")
    reply = message("sms", "s-2", text="5")
    choice = JoinTicket(ticket, reopens=False, answers="1001-1")
    [received] = joining_events(reply, choice, NOW)
    assert received.type == "kefu.ticket.message_received"
    assert received.data.survey_id == "1001-1"
    assert joined(choice, reply, NOW) == ticket
    assert own_keys(reply, thread_keys(reply), "1001", answers=True) == {"ref:sms:s-2": "1001"}


def test_the_ccs_of_every_message_and_senders_on_the_thread_become_known() -> None:
    first = message(cc=[{"address": "Bob@Example.com"}, {"address": "jane@example.com"}])
    ticket = conversation_of(first, "open")
    assert ticket.known == ("bob@example.com",), "the requester is not a CC"
    reply = message(message_id="m-2", address="Carol@x.cn", cc=[{"address": "dan@x.cn"}])
    by_token = joined(JoinTicket(ticket, reopens=False), reply, NOW)
    assert by_token.known == ("bob@example.com", "dan@x.cn")
    on_thread = joined(JoinTicket(ticket, reopens=False, on_thread=True), reply, NOW)
    assert on_thread.known == ("bob@example.com", "carol@x.cn", "dan@x.cn")


def test_a_stranger_with_the_token_opens_a_ticket_related_to_it() -> None:
    opened, _ = opening(message(address="mallory@x.cn"), related_to="1001")
    assert (opened.data.related_to, opened.data.follow_up_of) == ("1001", None)


def test_routing_says_who_the_assignee_is() -> None:
    ticket = conversation_of(message(), "open")
    at = {"ticket_id": "1001", "tier": 1, "at": NOW}
    assigned = followed(ticket, TicketAssigned(agent_id="a-1", strategy="x", waited_ms=0, **at))
    assert assigned.assignee == "a-1"
    at.pop("tier")
    other = TicketUnassigned(agent_id="a-2", reason="transfer", **at)
    assert followed(assigned, other) == assigned, "another agent's unassignment is stale"
    gone = TicketUnassigned(agent_id="a-1", reason="agent_offline", **at)
    assert followed(assigned, gone).assignee is None


def test_only_a_survey_sent_by_sms_is_kept_open_to_sms_replies() -> None:
    expires = {"kind": "csat", "url": "u", "expires_at": NOW + timedelta(days=3)}
    for channel, kept in (("sms", True), ("voice", True), ("chat", False), ("email", False)):
        ticket = conversation_of(message(channel), "solved")
        issued = SurveyIssued(survey_id="1001-1", ticket_id="1001", **expires)
        after = followed(ticket, issued)
        assert (after.survey is not None) is kept, channel
        assert after == ticket or kept, "a ticket answered on its page is not written"
        assert followed(after, survey_answer(5, NOW)).survey is None


def test_an_operator_sees_tickets_open_and_messages_join(capsys) -> None:
    configure_logging("INFO", "json", service="intake")
    first = message("email", "<first@mail.example.com>")
    ticket = conversation_of(first, "open")
    later = message("email", "<second@mail.example.com>")
    events = [*opening(first), *joining_events(later, JoinTicket(ticket, False), NOW)]
    log_conversations(events, structlog.get_logger("intake-test"))  # not one cached before
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert [(line["event"], line["ticket_id"]) for line in lines] == [
        ("ticket opened", "1001"),
        ("message joined ticket", "1001"),
    ]
    assert lines[1]["correlation_id"] == "email:<second@mail.example.com>"
