"""Threading (contract 2.1), pure: which ticket, if any, a customer message belongs to.

A message joins the ticket that
- (email) holds the message its `in_reply_to` or any of its `references` names, or whose token
  `[#<ticket_id>]` is in the subject; In-Reply-To is the most specific, then References
  newest first, then the token. Ticket ids are guessable, so the token is honoured only from
  the senders policy `threading.token_senders` allows (the requester, the addresses known on
  the ticket, or anyone); anyone else's message opens a new ticket related to the named one;
- (chat) is the newest ticket of its `conversation_id`;
- (sms, voice, social) is the newest ticket from the same address on the same channel, when
  that ticket was updated within the threading window before the message was received.
A matched `solved` ticket is reopened; a matched `closed` one gets a follow-up ticket that
links it. Web forms, and messages that match nothing, open a new ticket.

A survey reply comes first: an SMS whose whole text is a score, from the number a survey
was sent to (`survey:sms:<address>`), while that survey is open and its ticket solved or
closed, answers the survey: it joins the ticket marked with the survey's id, and neither
reopens it nor opens a follow-up (survey records the score from it).

A merged ticket is closed, and its conversation goes on in the ticket it was merged into: a
message that threads to it by any key (a Message-ID of its messages, its `[#id]` token, its
chat conversation, its sender) joins the merge target instead (or the target's target, when
that was merged in turn), as if it had threaded there; it never touches the merged ticket.
A sender's window counts from the merged ticket's last change (the merge, at the latest).
The token is honoured from the senders either ticket takes it from. The rules above then
hold for the target: a solved target is reopened, a closed one gets the follow-up, and a
stranger's token relates the new ticket to the target (the ticket an agent can merge into).

Each way of matching is a thread key (`ref:email:<message id>`, `conversation:chat:<id>`,
`sender:sms:<address>`, `ticket:<id>`); the store finds the ticket each key names, and
`choose_thread` decides from those tickets and their merge targets alone.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.shared.events.base import Channel, Priority, SupportTier, TicketStatus, Timestamp
from kefu.shared.events.survey import SurveyKind
from kefu.shared.inbound import MAX_CC, ChannelMessage
from kefu.shared.mail_threads import TICKET_TOKEN, ticket_of_message_id
from kefu.shared.policy import Threading, TokenSenders
from kefu.shared.surveys import bare_number, in_scale

SENDER_THREADED: set[Channel] = {"sms", "voice", "social"}
MAX_KNOWN = 2 * MAX_CC
MAX_MERGES = 8  # merge targets followed from a ticket a message names (A into B, B into C …)


class OpenSurvey(BaseModel):
    """A survey sent on the ticket and not yet answered or expired (from survey.events)."""

    model_config = ConfigDict(frozen=True)

    survey_id: str
    kind: SurveyKind
    expires_at: Timestamp


class Conversation(BaseModel):
    """Intake's state of one ticket: what later messages thread against and commands check."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    status: TicketStatus
    channel: Channel
    customer_address: str
    first_ref: str = Field(description="thread key of the message that opened the ticket")
    priority: Priority
    tier: SupportTier
    updated_at: datetime
    survey: OpenSurvey | None = None
    known: tuple[str, ...] = Field(
        (),
        description="lower-cased addresses on the thread besides the requester's: CCs, "
        "and senders who joined by In-Reply-To/References",
    )
    assignee: str | None = Field(None, description="the agent routing.events last assigned")
    customer_id: str | None = Field(None, description="the adapter's customer id, if it gave one")
    category: tuple[str, ...] = Field(
        (),
        description="[l1, l2, l3]: classified at opening, then set by agents (empty for a "
        "ticket opened before intake kept it)",
    )
    related_to: str | None = Field(None, description="kefu.ticket.opened's `related_to`")
    merged_into: str | None = Field(
        None,
        description="the ticket this one was merged into (it is closed); its messages go there",
    )

    def takes_token_from(self, address: str, senders: TokenSenders) -> bool:
        """Whether an email from `address` may join this ticket by its `[#id]` token."""
        address = address.lower()
        if senders == "anyone" or address == self.customer_address.lower():
            return True
        return senders == "known" and address in self.known

    def knowing(self, addresses: Iterable[str]) -> tuple[str, ...]:
        """`known` with `addresses` added (lower-cased; never the requester; at most
        MAX_KNOWN, the earliest kept)."""
        requester = self.customer_address.lower()
        added = (a.lower() for a in addresses if a.lower() != requester)
        return tuple(dict.fromkeys((*self.known, *added)))[:MAX_KNOWN]

    def answers_survey(self, score: int | None, received_at: datetime) -> str | None:
        """The survey a bare score received now answers, if any."""
        survey = self.survey
        if survey is None or score is None or self.status not in ("solved", "closed"):
            return None
        open_ = received_at < survey.expires_at and in_scale(survey.kind, score)
        return survey.survey_id if open_ else None


@dataclass(frozen=True)
class ThreadKeys:
    """What to look a message's ticket up by, most specific first; empty ones are not."""

    message_refs: tuple[str, ...] = ()
    ticket_token: str | None = None
    conversation: str | None = None
    sender: str | None = None
    survey: str | None = None  # an SMS that is a bare number: the survey sent to its sender
    score: int | None = None
    from_address: str = ""  # an email's sender: the token is honoured only from some

    def indexed(self) -> list[str]:
        """The keys the store maps to a ticket (the token is the ticket's id itself)."""
        named = (self.conversation, self.sender, self.survey)
        return [*self.message_refs, *filter(None, named)]


@dataclass(frozen=True)
class NewTicket:
    follow_up_of: str | None = None
    related_to: str | None = None  # named by a token its sender may not use


@dataclass(frozen=True)
class JoinTicket:
    ticket: Conversation
    reopens: bool
    answers: str | None = None  # the survey a reply answers
    on_thread: bool = False  # joined by In-Reply-To/References: its sender is on the thread


def message_ref(channel: Channel, message_id: str) -> str:
    """Email Message-IDs compare without their angle brackets and surrounding space."""
    if channel == "email":
        message_id = message_id.strip().strip("<>").strip()
    return f"ref:{channel}:{message_id}"


def sender_key(channel: Channel, address: str) -> str:
    return f"sender:{channel}:{address.lower()}"


def token_key(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


def survey_key(address: str) -> str:
    """Surveys go by SMS to sms and voice tickets' numbers; replies come back by SMS."""
    return f"survey:sms:{address.lower()}"


def own_keys(
    message: ChannelMessage, keys: ThreadKeys, ticket_id: str, answers: bool = False
) -> dict[str, str]:
    """The thread keys that point at a message's ticket once the message is on it (a survey
    reply moves no conversation or sender to its ticket)."""
    pointers = [message_ref(message.channel, message.message_id)]
    pointers += [] if answers else [keys.conversation, keys.sender]
    return {key: ticket_id for key in pointers if key}


def _named_ticket(refs: list[str], subject: str) -> str | None:
    """The ticket kefu's own Message-ID in In-Reply-To or References names (the most precise),
    else the subject's [#id] token."""
    for ref in refs:
        if ticket := ticket_of_message_id(ref):
            return ticket
    token = TICKET_TOKEN.search(subject)
    return token.group(1) if token else None


def thread_keys(message: ChannelMessage) -> ThreadKeys:
    channel, thread = message.channel, message.thread
    if channel == "email":
        named = [thread.in_reply_to] if thread and thread.in_reply_to else []
        for reference in reversed(thread.references if thread else []):
            named.extend(reversed(reference.split()))
        return ThreadKeys(
            message_refs=tuple(dict.fromkeys(message_ref("email", ref) for ref in named)),
            ticket_token=_named_ticket(named, message.subject or ""),
            from_address=message.sender.address,
        )
    if channel == "chat" and thread and thread.conversation_id:
        return ThreadKeys(conversation=f"conversation:chat:{thread.conversation_id}")
    if channel in SENDER_THREADED:
        address, score = message.sender.address, bare_number(message.text)
        survey = survey_key(address) if channel == "sms" and score is not None else None
        return ThreadKeys(sender=sender_key(channel, address), survey=survey, score=score)
    return ThreadKeys()


Matched = Literal["headers", "token", "conversation", "sender"]


def matched_ticket(
    keys: ThreadKeys, found: Mapping[str, Conversation], received_at: datetime, window: timedelta
) -> tuple[Conversation, Matched] | None:
    """The ticket a message's keys name, and by what; `found` maps each thread key the store
    knows to the ticket it names."""
    for key in keys.message_refs:
        if key in found:
            return found[key], "headers"
    if keys.ticket_token and (named := found.get(token_key(keys.ticket_token))):
        return named, "token"
    if keys.conversation in found:
        return found[keys.conversation], "conversation"
    latest = found.get(keys.sender or "")
    if latest and received_at - latest.updated_at <= window:
        return latest, "sender"
    return None


def continued(ticket: Conversation, tickets: Mapping[str, Conversation]) -> Conversation:
    """The ticket in which `ticket`'s conversation goes on: `ticket` itself unless it was
    merged, else its merge target, followed at most MAX_MERGES times; `tickets` holds the
    merge targets by id. A chain that breaks (a target not given) or loops ends at the last
    ticket reached, which is closed: the message then opens a follow-up of it."""
    seen = {ticket.ticket_id}
    while ticket.merged_into and len(seen) <= MAX_MERGES:
        target = tickets.get(ticket.merged_into)
        if target is None or target.ticket_id in seen:
            break
        seen.add(target.ticket_id)
        ticket = target
    return ticket


def choose_thread(
    keys: ThreadKeys,
    found: Mapping[str, Conversation],
    received_at: datetime,
    rules: Threading,
    tickets: Mapping[str, Conversation] | None = None,
) -> NewTicket | JoinTicket:
    """`found`: the ticket each thread key names; `tickets`: merge targets by id."""
    surveyed = found.get(keys.survey or "")
    if surveyed and (survey_id := surveyed.answers_survey(keys.score, received_at)):
        return JoinTicket(surveyed, reopens=False, answers=survey_id)
    matched = matched_ticket(keys, found, received_at, rules.window)
    if matched is None:
        return NewTicket()
    named, by = matched
    ticket = continued(named, tickets or {})
    if by == "token" and not any(
        one.takes_token_from(keys.from_address, rules.token_senders) for one in (named, ticket)
    ):
        return NewTicket(related_to=ticket.ticket_id)
    if ticket.status == "closed":
        return NewTicket(follow_up_of=ticket.ticket_id)
    return JoinTicket(ticket, reopens=ticket.status == "solved", on_thread=by == "headers")
