"""Threading table (contract 2.1): which ticket a message joins, reopens or follows up."""

from datetime import timedelta

import pytest

from services.intake.conversation import (
    JoinTicket,
    NewTicket,
    choose_thread,
    thread_keys,
)
from tests.factories import NOW, conversation, message

WINDOW = timedelta(hours=24)


def ticket(number: int, channel="email", status="open", age=timedelta(0), **fields):
    return conversation(number, channel, status, updated_at=NOW - age, **fields)


def choose(new_message, *tickets):
    return choose_thread(thread_keys(new_message), tickets, new_message.received_at or NOW, WINDOW)


EMAIL_TICKETS = (
    ticket(1001, message_refs=["email:a@mail", "email:b@mail"]),
    ticket(1002, message_refs=["email:c@mail"]),
)


@pytest.mark.parametrize(
    ("thread", "subject", "expected"),
    [
        ({"in_reply_to": "<a@mail>"}, None, "1001"),
        ({"in_reply_to": " <c@mail> "}, None, "1002"),
        ({"references": ["<a@mail>", "<c@mail>"]}, None, "1002"),
        ({"references": ["<a@mail> <c@mail>"]}, None, "1002"),
        ({"in_reply_to": "<b@mail>", "references": ["<c@mail>"]}, None, "1001"),
        ({"in_reply_to": "<unknown@mail>", "references": ["<c@mail>"]}, None, "1002"),
        (None, "Re: [#1002] my order", "1002"),
        ({"in_reply_to": "<a@mail>"}, "Re: [#1002]", "1001"),
        ({"in_reply_to": "<unknown@mail>"}, "Re: [#1002]", "1002"),
        (None, "Re: [#9999] my order", None),
        (None, "Re: #1002 my order", None),
        ({"in_reply_to": "<unknown@mail>"}, None, None),
        (None, None, None),
    ],
)
def test_email(thread, subject, expected) -> None:
    extra = {"thread": thread} if thread else {}
    choice = choose(message("email", "new@mail", subject=subject, **extra), *EMAIL_TICKETS)
    if expected is None:
        assert choice == NewTicket()
    else:
        assert isinstance(choice, JoinTicket) and choice.ticket.ticket_id == expected


def test_chat_joins_the_newest_ticket_of_its_conversation() -> None:
    older = ticket(1001, "chat", conversation="chat:conv-1", status="closed")
    newer = ticket(1005, "chat", conversation="chat:conv-1")
    other = ticket(1009, "chat", conversation="chat:conv-2")
    choice = choose(message("chat", "c-9"), older, newer, other)
    assert isinstance(choice, JoinTicket) and choice.ticket.ticket_id == "1005"


def test_chat_in_a_new_conversation_opens_a_ticket() -> None:
    other = ticket(1009, "chat", conversation="chat:conv-2")
    assert choose(message("chat", "c-9"), other) == NewTicket()


@pytest.mark.parametrize("channel", ["sms", "voice", "social"])
@pytest.mark.parametrize(
    ("age", "joins"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59), True),
        (timedelta(hours=24, seconds=1), False),
    ],
)
def test_same_sender_within_the_window(channel, age, joins) -> None:
    new_message = message(channel, "s-2")
    sender = f"{channel}:{new_message.sender.address}"
    choice = choose(new_message, ticket(1001, channel, sender=sender, age=age))
    assert isinstance(choice, JoinTicket) is joins


def test_the_window_counts_from_when_the_message_was_received() -> None:
    late = message("sms", "s-2", received_at=(NOW - timedelta(hours=30)).isoformat())
    assert isinstance(
        choose(late, ticket(1001, "sms", sender="sms:+8613800138000", age=timedelta(hours=40))),
        JoinTicket,
    )


def test_same_sender_on_another_channel_is_another_ticket() -> None:
    assert (
        choose(message("sms", "s-2"), ticket(1001, "voice", sender="voice:+8613800138000"))
        == NewTicket()
    )


def test_only_the_senders_newest_ticket_counts() -> None:
    sender = "sms:+8613800138000"
    choice = choose(
        message("sms", "s-2"),
        ticket(1001, "sms", sender=sender),
        ticket(1003, "sms", sender=sender, age=timedelta(days=3)),
    )
    assert choice == NewTicket()


@pytest.mark.parametrize("channel", ["webform"])
def test_webforms_always_open_a_ticket(channel) -> None:
    assert choose(message(channel, "w-2", subject="[#1001]"), ticket(1001, channel)) == NewTicket()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("new", JoinTicket),
        ("open", JoinTicket),
        ("pending", JoinTicket),
        ("on_hold", JoinTicket),
        ("solved", JoinTicket),
        ("closed", NewTicket),
    ],
)
def test_status_of_the_matched_ticket(status, expected) -> None:
    choice = choose(
        message(thread={"in_reply_to": "a@mail"}),
        ticket(1001, status=status, message_refs=["email:a@mail"]),
    )
    assert isinstance(choice, expected)
    if status == "solved":
        assert choice.reopens
    if status == "closed":
        assert choice.follow_up_of == "1001"
    if expected is JoinTicket and status != "solved":
        assert not choice.reopens


def test_a_closed_ticket_of_the_same_sender_gets_a_follow_up() -> None:
    sender = "sms:+8613800138000"
    choice = choose(message("sms", "s-2"), ticket(1001, "sms", sender=sender, status="closed"))
    assert choice == NewTicket(follow_up_of="1001")
