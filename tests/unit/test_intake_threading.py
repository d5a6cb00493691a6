"""Threading table (contract 2.1): which ticket a message joins, reopens or follows up."""

from datetime import timedelta

import pytest

from kefu.services.intake.conversation import (
    JoinTicket,
    NewTicket,
    OpenSurvey,
    choose_thread,
    continued,
    thread_keys,
)
from kefu.shared.policy import Threading
from tests.factories import NOW, conversation, message

RULES = Threading()
SMS_SENDER = "sender:sms:+8613800138000"


def ticket(number: int, channel="email", status="open", age=timedelta(0), keys=()):
    """A ticket and the thread keys the store has pointing at it."""
    state = conversation(number, channel, status, updated_at=NOW - age)
    return state, [f"ticket:{number}", *keys]


def choose(new_message, *tickets, rules=RULES, merged=()):
    """The store's answer for every key is the ticket it points at (the newest one for a
    conversation or sender); the token names a ticket by its id. `merged`: the tickets
    merged tickets were merged into, by id."""
    found = {key: state for state, keys in tickets for key in keys}
    targets = {target.ticket_id: target for target in merged}
    received_at = new_message.received_at or NOW
    return choose_thread(thread_keys(new_message), found, received_at, rules, targets)


EMAIL_TICKETS = (
    ticket(1001, keys=["ref:email:a@mail", "ref:email:b@mail"]),
    ticket(1002, keys=["ref:email:c@mail"]),
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
        ({"in_reply_to": f"<kefu.1002.{'a' * 32}@kefu.example>"}, "Re: my order", "1002"),
        ({"references": [f"<kefu.1002.{'0' * 32}@x>"]}, "Re: [#1001]", "1002"),
        ({"in_reply_to": f"<kefu.1002.{'a' * 31}@kefu.example>"}, None, None),
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


STRANGER = "mallory@elsewhere.example"
CC = "Bob@Example.com"


def tokened(sender: str, status="open", **fields):
    """An email from `sender` with ticket 1001's token, and ticket 1001 of jane@example.com,
    who had Bob on CC."""
    state = conversation(1001, status=status, known=("bob@example.com",), **fields)
    return message("email", "t-2", address=sender, subject="Re: [#1001] my order"), (
        state,
        ["ticket:1001"],
    )


@pytest.mark.parametrize(
    ("sender", "senders", "joins"),
    [
        ("jane@example.com", "requester", True),
        ("JANE@example.com", "requester", True),  # addresses compare in any case
        (CC, "requester", False),
        (STRANGER, "requester", False),
        ("jane@example.com", "known", True),
        (CC, "known", True),
        ("bob@EXAMPLE.com", "known", True),
        (STRANGER, "known", False),
        (STRANGER, "anyone", True),
    ],
)
def test_the_token_is_honoured_only_from_the_senders_policy_allows(sender, senders, joins) -> None:
    new_message, named = tokened(sender)
    choice = choose(new_message, named, rules=Threading(token_senders=senders))
    if joins:
        assert isinstance(choice, JoinTicket) and choice.ticket.ticket_id == "1001"
    else:
        assert choice == NewTicket(related_to="1001")


@pytest.mark.parametrize("status", ["solved", "closed"])
def test_a_stranger_cannot_reopen_or_follow_up_a_ticket_by_its_token(status) -> None:
    new_message, named = tokened(STRANGER, status=status)
    assert choose(new_message, named) == NewTicket(related_to="1001")


def test_the_thread_headers_join_whoever_sends() -> None:
    reply = message(
        "email", "h-2", address=STRANGER, thread={"in_reply_to": "<a@mail>"}, subject="[#1002]"
    )
    choice = choose(reply, *EMAIL_TICKETS)
    assert isinstance(choice, JoinTicket) and choice.ticket.ticket_id == "1001"
    assert choice.on_thread


def test_a_token_naming_no_ticket_relates_to_nothing() -> None:
    assert choose(message("email", "t-3", address=STRANGER, subject="[#9999]")) == NewTicket()


def test_chat_joins_the_ticket_its_conversation_points_at() -> None:
    newest = ticket(1005, "chat", keys=["conversation:chat:conv-1"])
    other = ticket(1009, "chat", keys=["conversation:chat:conv-2"])
    choice = choose(message("chat", "c-9"), newest, other)
    assert isinstance(choice, JoinTicket) and choice.ticket.ticket_id == "1005"


def test_chat_in_a_new_conversation_opens_a_ticket() -> None:
    other = ticket(1009, "chat", keys=["conversation:chat:conv-2"])
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
    sender = f"sender:{channel}:{new_message.sender.address.lower()}"
    choice = choose(new_message, ticket(1001, channel, age=age, keys=[sender]))
    assert isinstance(choice, JoinTicket) is joins


def test_the_window_counts_from_when_the_message_was_received() -> None:
    late = message("sms", "s-2", received_at=(NOW - timedelta(hours=30)).isoformat())
    assert isinstance(
        choose(late, ticket(1001, "sms", age=timedelta(hours=40), keys=[SMS_SENDER])),
        JoinTicket,
    )


def test_same_sender_on_another_channel_is_another_ticket() -> None:
    assert (
        choose(message("sms", "s-2"), ticket(1001, "voice", keys=["sender:voice:+8613800138000"]))
        == NewTicket()
    )


def test_an_old_ticket_of_the_sender_is_not_joined() -> None:
    choice = choose(
        message("sms", "s-2"), ticket(1003, "sms", age=timedelta(days=3), keys=[SMS_SENDER])
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
        ticket(1001, status=status, keys=["ref:email:a@mail"]),
    )
    assert isinstance(choice, expected)
    if status == "solved":
        assert choice.reopens
    if status == "closed":
        assert choice.follow_up_of == "1001"
    if expected is JoinTicket and status != "solved":
        assert not choice.reopens


def test_a_closed_ticket_of_the_same_sender_gets_a_follow_up() -> None:
    choice = choose(message("sms", "s-2"), ticket(1001, "sms", status="closed", keys=[SMS_SENDER]))
    assert choice == NewTicket(follow_up_of="1001")


SURVEY_KEY = "survey:sms:+8613800138000"


def surveyed(number=1001, channel="sms", status="solved", kind="csat", expires=timedelta(days=7)):
    """A ticket whose survey went by SMS to the sender and is open until NOW + expires."""
    state = conversation(number, channel, status, updated_at=NOW - timedelta(days=3))
    survey = OpenSurvey(survey_id=f"{number}-1", kind=kind, expires_at=NOW + expires)
    return state.model_copy(update={"survey": survey}), [SURVEY_KEY]


@pytest.mark.parametrize(
    ("text", "kind", "status", "expires", "answers"),
    [
        ("5", "csat", "solved", timedelta(days=7), "1001-1"),
        (" 4 ", "csat", "closed", timedelta(days=7), "1001-1"),
        ("１０", "nps", "solved", timedelta(days=7), "1001-1"),
        ("0", "nps", "solved", timedelta(days=7), "1001-1"),
        ("6", "csat", "solved", timedelta(days=7), None),  # off the scale: a message
        ("5 thanks", "csat", "solved", timedelta(days=7), None),
        ("5", "csat", "open", timedelta(days=7), None),  # back at work: "5" means five
        ("5", "csat", "solved", timedelta(0), None),  # expired
    ],
)
def test_an_sms_score_answers_the_survey_sent_to_that_number(text, kind, status, expires, answers):
    choice = choose(
        message("sms", "s-9", text=text), surveyed(kind=kind, status=status, expires=expires)
    )
    if answers:
        assert choice == JoinTicket(choice.ticket, reopens=False, answers=answers)
        assert choice.ticket.ticket_id == "1001"
    else:
        assert not isinstance(choice, JoinTicket) or choice.answers is None


def test_a_survey_sent_to_a_voice_ticket_takes_its_sms_reply_past_the_window() -> None:
    choice = choose(message("sms", "s-9", text="2"), surveyed(channel="voice"))
    assert isinstance(choice, JoinTicket) and choice.answers == "1001-1"


def test_a_score_by_email_or_chat_is_a_message() -> None:
    for channel in ("email", "chat"):
        assert thread_keys(message(channel, "x-1", text="5")).survey is None


def merged_source(number=1001, channel="email", into="1002", age=timedelta(0), keys=()):
    """A ticket merged into `into` (closed), and the thread keys that still name it."""
    state = conversation(number, channel, "closed", merged_into=into, updated_at=NOW - age)
    return state, [f"ticket:{number}", *keys]


def target(number=1002, channel="email", status="open", **fields):
    return conversation(number, channel, status, updated_at=NOW - timedelta(days=5), **fields)


@pytest.mark.parametrize(
    ("channel", "keys", "fields"),
    [
        ("email", ["ref:email:a@mail"], {"thread": {"in_reply_to": "<a@mail>"}}),
        ("email", ["ref:email:a@mail"], {"thread": {"references": ["<a@mail>"]}}),
        ("email", [], {"subject": "Re: [#1001] my order"}),
        ("chat", ["conversation:chat:conv-1"], {}),
        ("sms", [SMS_SENDER], {}),  # the window counts from the merge, the source's update
    ],
)
def test_a_message_to_a_merged_ticket_joins_its_target(channel, keys, fields) -> None:
    choice = choose(
        message(channel, "n-1", **fields),
        merged_source(channel=channel, keys=keys),
        merged=[target(channel=channel)],
    )
    assert isinstance(choice, JoinTicket) and choice.ticket.ticket_id == "1002"
    assert not choice.reopens  # and the merged ticket stays closed: it is not chosen


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", JoinTicket(target(status="pending"), reopens=False, on_thread=True)),
        ("solved", JoinTicket(target(status="solved"), reopens=True, on_thread=True)),
        ("closed", NewTicket(follow_up_of="1002")),
    ],
)
def test_the_target_is_threaded_to_as_if_named(status, expected) -> None:
    reply = message(thread={"in_reply_to": "a@mail"})
    choice = choose(reply, merged_source(keys=["ref:email:a@mail"]), merged=[target(status=status)])
    assert choice == expected


def test_merges_are_followed_to_the_end() -> None:
    middle = conversation(1002, status="closed", merged_into="1003")
    reply = message(thread={"in_reply_to": "a@mail"})
    choice = choose(reply, merged_source(keys=["ref:email:a@mail"]), merged=[middle, target(1003)])
    assert isinstance(choice, JoinTicket) and choice.ticket.ticket_id == "1003"


@pytest.mark.parametrize(
    ("merged", "follows"),
    [
        ([conversation(1002, status="closed", merged_into="1001")], "1002"),  # a loop
        ([], "1001"),  # a target intake does not have
    ],
)
def test_a_broken_merge_chain_opens_a_follow_up(merged, follows) -> None:
    reply = message(thread={"in_reply_to": "a@mail"})
    choice = choose(reply, merged_source(keys=["ref:email:a@mail"]), merged=merged)
    assert choice == NewTicket(follow_up_of=follows)


def test_continued_stops_after_max_merges() -> None:
    chain = {
        str(n): conversation(n, status="closed", merged_into=str(n + 1)) for n in range(1002, 1020)
    }
    end = continued(conversation(1001, status="closed", merged_into="1002"), chain)
    assert end.ticket_id == "1009"  # eight merges followed


@pytest.mark.parametrize(
    ("sender", "joins"),
    [
        ("jane@example.com", True),  # the merged ticket's requester
        ("bob@example.com", True),  # the target's requester (they were related_to)
        (STRANGER, False),
    ],
)
def test_a_merged_tickets_token_is_honoured_from_either_tickets_people(sender, joins) -> None:
    bobs = target(customer_address="bob@example.com", related_to="1001")
    choice = choose(
        message("email", "t-1", address=sender, subject="[#1001]"),
        merged_source(),
        merged=[bobs],
        rules=Threading(token_senders="requester"),
    )
    if joins:
        assert isinstance(choice, JoinTicket) and choice.ticket.ticket_id == "1002"
    else:  # related to where the conversation goes on, the ticket an agent could merge into
        assert choice == NewTicket(related_to="1002")
