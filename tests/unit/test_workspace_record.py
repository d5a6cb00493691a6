"""The conversation record's fold: a ticket's summary and its entries, from the events of
every topic, whatever order the topics arrive in and however often an event comes."""

import itertools
from datetime import timedelta

from kefu.services.workspace.conversation import entry_of
from kefu.services.workspace.ordering import desk_order, queue_rank
from kefu.services.workspace.record import (
    TicketSummary,
    customer_key,
    fold,
    foldings,
    history_key,
    history_prefix,
)
from kefu.shared.decisions import Slot
from kefu.shared.events.agent import AgentCommandRefused, AgentStatusChanged
from kefu.shared.events.routing import TicketQueued, TicketUnassigned
from kefu.shared.events.sla import SlaBreached, SlaMet, SlaStarted, SlaTarget, SlaWarning
from kefu.shared.events.survey import SurveyIssued, SurveyResponded
from kefu.shared.events.ticket import (
    Attachment,
    Escalated,
    MessageReceived,
    NoteAdded,
    Party,
    TransferRequested,
)
from tests import sla_events as ev
from tests.factories import NOW


def at(minutes: float):
    return NOW + timedelta(minutes=minutes)


def summaries(*events) -> dict[str, TicketSummary]:
    """Each ticket's summary after the events, folded as the decision unit folds them: an
    input whose id its ticket's slot has applied is skipped."""
    slots: dict[str, Slot[TicketSummary]] = {}
    for event in events:
        for folding in foldings(event):
            slot = slots.setdefault(folding.ticket_id, Slot(folding.ticket_id))
            if not slot.has_applied(folding.input_id):
                slot.record(folding.input_id, fold(slot.state, folding), [])
    return {key: slot.state for key, slot in slots.items() if slot.state}


def summary(*events) -> TicketSummary:
    [only] = summaries(*events).values()
    return only


def started(ticket: str, *targets: tuple[str, float], minute: float = 0):
    due = [SlaTarget(metric=metric, due_at=at(m)) for metric, m in targets]
    return ev.event(SlaStarted(ticket_id=ticket, policy="p", targets=due), at(minute))


def sla_met(ticket: str, metric: str, due: float):
    data = SlaMet(ticket_id=ticket, policy="p", metric=metric, due_at=at(due), met_at=at(1))
    return ev.event(data, at(1))


def sla_breached(ticket: str, metric: str, due: float):
    data = SlaBreached(
        ticket_id=ticket,
        policy="p",
        metric=metric,
        priority="P3",
        due_at=at(due),
        breached_at=at(due),
        agent_id=None,
    )
    return ev.event(data, at(due))


def survey_answer(score: int, comment: str | None = None):
    answer = {"survey_id": "s", "ticket_id": "1001", "kind": "csat", "agent_id": "a1"}
    return ev.event(SurveyResponded(**answer, score=score, comment=comment, at=at(9)), at(9))


def test_an_opened_ticket_has_its_requester_customer_and_waits_in_the_queue() -> None:
    s = summary(ev.opened("1001", at(0), subject="Refund", customer_id="c-9"))
    assert (s.subject, s.status, s.priority, s.channel, s.locale) == (
        "Refund",
        "new",
        "P3",
        "email",
        "en",
    )
    assert s.requester.address == "jane@example.com" and s.customer == "email:jane@example.com"
    assert s.queued and s.queue_rank == queue_rank("standard", "P3", None, at(0), "1001")
    assert s.opened_at == at(0) and s.category == ["general", "inquiry", "other"]


def test_the_customer_is_the_adapters_id_when_given_else_the_address_on_its_channel() -> None:
    assert customer_key("email", "c-9", "Jane@Example.com") == "id:c-9"
    assert customer_key("sms", None, "+8613800138000") == "sms:+8613800138000"
    assert customer_key("email", None, "Jane@Example.com") == "email:jane@example.com"


def test_assignment_opens_the_ticket_and_takes_it_off_the_queue() -> None:
    s = summary(ev.opened("1001", at(0)), ev.assigned("1001", "ann", at(1)))
    assert (s.status, s.assignee, s.queued, s.queue_rank) == ("open", "ann", False, None)
    unassigned = TicketUnassigned(ticket_id="1001", agent_id="ann", reason="transfer", at=at(2))
    again = summary(
        ev.opened("1001", at(0)), ev.assigned("1001", "ann", at(1)), ev.event(unassigned, at(2))
    )
    assert again.assignee is None and again.queued and again.waiting_since == at(2)
    queued = TicketQueued(ticket_id="1001", skills=[], tier=1, reason="agent_offline", at=at(3))
    assert summary(
        ev.opened("1001", at(0)), ev.assigned("1001", "ann", at(1)), ev.event(queued, at(3))
    ).queued


def test_a_ticket_is_on_its_assignees_desk_while_it_is_worked_and_on_no_desk_else() -> None:
    """`desk` is what the person's desk reads by equality: the assignee while the ticket is
    neither solved nor closed, None otherwise (the queue's rank likewise only while queued)."""
    opened, assigned = ev.opened("1001", at(0)), ev.assigned("1001", "ann", at(1))
    waits = summary(opened)
    assert (waits.desk, waits.queued) == (None, True)
    steps = [
        (ev.status("1001", "open", "pending", at(2)), "ann"),
        (ev.status("1001", "pending", "solved", at(3)), None),
        (ev.reopened("1001", at(4)), "ann"),
        (ev.status("1001", "open", "closed", at(5)), None),
    ]
    events = [opened, assigned]
    assert summary(*events).desk == "ann"
    for step, desk in steps:
        events.append(step)
        s = summary(*events)
        assert (s.desk, s.queued, s.queue_rank) == (desk, False, None)
    unassigned = TicketUnassigned(ticket_id="1001", agent_id="ann", reason="transfer", at=at(2))
    back = summary(opened, assigned, ev.event(unassigned, at(2)))
    assert (back.desk, back.queued) == (None, True)
    assert summary(assigned).desk == "ann"  # the assignment read before the opening
    merged = summaries(
        opened, assigned, ev.opened("1002", at(1)), *ev.merged("1001", "1002", at(3))
    )
    assert merged["1001"].desk is None


def test_a_customers_tickets_sort_by_their_history_keys_under_the_customers_prefix() -> None:
    """The customer's history reads the `history_key`s that start with the customer's prefix,
    newest first: no other customer's key starts with it, whatever their characters."""
    s = summary(ev.opened("1001", at(0)))
    assert s.history_key == history_key("email:jane@example.com", at(0), "1001")
    assert s.history_key.startswith(history_prefix(s.customer))
    assert summary(ev.assigned("1001", "ann", at(1))).history_key is None  # no customer yet
    keys = [history_key("id:a", at(m), t) for m, t in ((0, "9"), (1, "10"), (1, "11"), (60, "1"))]
    assert sorted(keys) == keys
    prefix = history_prefix("id:a")
    others = ["id:a|", "id:a|2", "id:ab", "id:", "id:a:"]
    assert all(key.startswith(prefix) and prefix < key < prefix + "~" for key in keys)
    for other in others:
        key = history_key(other, at(0), "9")
        assert not key.startswith(prefix) and not prefix < key < prefix + "~", other


def test_status_priority_category_tier_reopen_and_csat_follow_their_events() -> None:
    escalated = Escalated(ticket_id="1001", from_tier=1, to_tier=2, reason=None, by="ann", at=at(4))
    s = summary(
        ev.opened("1001", at(0)),
        ev.assigned("1001", "ann", at(1)),
        ev.status("1001", "open", "pending", at(2)),
        ev.priority("1001", "P3", "P1", at(3)),
        ev.event(escalated, at(4)),
        ev.category("1001", ["billing", "refund", "late"], at(5)),
        ev.status("1001", "pending", "solved", at(6)),
        ev.reopened("1001", at(7)),
        ev.customer_wrote("1001", at(7)),
        survey_answer(4),
    )
    assert (s.status, s.priority, s.tier, s.category) == (
        "open",
        "P1",
        2,
        ["billing", "refund", "late"],
    )
    assert (s.last_message_at, s.csat, s.waiting_since) == (at(7), 4, at(7))


def test_next_due_is_the_earliest_target_still_running() -> None:
    opened = ev.opened("1001", at(0))
    targets = started("1001", ("first_response", 15), ("resolution", 240))
    assert summary(opened, targets).next_due_at == at(15)
    assert summary(opened, targets, sla_met("1001", "first_response", 15)).next_due_at == at(240)
    breached = sla_breached("1001", "first_response", 15)
    assert summary(opened, targets, breached).next_due_at == at(240)
    moved = started("1001", ("next_reply", 90), ("resolution", 300), minute=30)
    assert summary(opened, targets, breached, moved).next_due_at == at(90)
    solved = ev.status("1001", "open", "solved", at(50))
    assert summary(opened, targets, solved).next_due_at is None


def test_a_merge_closes_the_source_into_the_target_which_names_its_sources() -> None:
    found = summaries(
        ev.opened("1001", at(0)),
        ev.opened("1002", at(1)),
        *ev.merged("1001", "1002", at(2)),
        *ev.merged("1003", "1002", at(3)),
    )
    assert (found["1001"].merged_into, found["1001"].status) == ("1002", "closed")
    assert found["1002"].merged_from == ["1001", "1003"] and found["1002"].status == "new"


def test_every_event_read_twice_is_folded_once() -> None:
    events = [
        ev.opened("1001", at(0)),
        ev.opened("1002", at(0)),
        started("1001", ("first_response", 15)),
        sla_met("1001", "first_response", 15),
        *ev.merged("1001", "1002", at(2)),
    ]
    assert summaries(*events, *events) == summaries(*events)


def interleavings(first: list, second: list):
    """Every order of the two lists' items that keeps each list's own order."""
    for places in itertools.combinations(range(len(first) + len(second)), len(first)):
        ones, twos, merged = iter(first), iter(second), []
        for index in range(len(first) + len(second)):
            merged.append(next(ones) if index in places else next(twos))
        yield merged


def test_the_summary_ends_the_same_whatever_order_the_topics_arrive_in() -> None:
    tickets = [
        ev.opened("1001", at(0), tier=1),
        ev.customer_wrote("1001", at(0)),
        ev.status("1001", "new", "pending", at(5)),
    ]
    routing_and_sla = [
        ev.assigned("1001", "ann", at(1)),
        started("1001", ("first_response", 15), ("resolution", 240)),
        sla_met("1001", "first_response", 15),
    ]
    endings = {
        summary(*order).model_dump_json() for order in interleavings(tickets, routing_and_sla)
    }
    assert len(endings) == 1
    ended = TicketSummary.model_validate_json(endings.pop())
    assert (ended.status, ended.assignee, ended.next_due_at) == ("pending", "ann", at(240))


def test_events_the_summary_does_not_keep_fold_into_nothing() -> None:
    issued = SurveyIssued(survey_id="s", ticket_id="1001", kind="csat", url="u", expires_at=at(9))
    presence = AgentStatusChanged(
        agent_id="ann", status="online", skills=[], capacity=1, tier=1, at=at(0)
    )
    assert foldings(ev.event(issued, at(0))) == foldings(ev.event(presence, at(0))) == []


def test_a_customer_message_is_a_public_message_with_its_attachments() -> None:
    file = Attachment(filename="a.png", content_type="image/png", size=3, url="s3://a")
    data = MessageReceived(
        ticket_id="1001",
        message_id="m-1",
        channel="email",
        sender=Party(address="jane@example.com", name="Jane"),
        text="my order",
        received_at=at(0),
        attachments=[file],
    )
    event = ev.event(data, at(0))
    entry = entry_of(event)
    assert (entry.id, entry.ticket_id, entry.kind, entry.public, entry.text) == (
        event.id,
        "1001",
        "message",
        True,
        "my order",
    )
    assert (entry.author.type, entry.author.id, entry.author.name) == (
        "customer",
        "jane@example.com",
        "Jane",
    )
    assert [a.url for a in entry.attachments] == ["s3://a"] and entry.event_type is None


def test_replies_are_public_as_sent_and_notes_never() -> None:
    public, private = (
        entry_of(ev.replied("1001", at(1))),
        entry_of(ev.replied("1001", at(2), public=False)),
    )
    assert (public.kind, public.public, public.author.type, public.author.id) == (
        "reply",
        True,
        "agent",
        "a1",
    )
    assert (private.kind, private.public) == ("reply", False)
    note = NoteAdded(ticket_id="1001", agent_id="a1", command_id="c", text="vip", at=at(3))
    noted = entry_of(ev.event(note, at(3)))
    assert (noted.kind, noted.public, noted.text, noted.at) == ("note", False, "vip", at(3))


def test_milestones_are_events_with_their_type_and_only_status_and_reopening_public() -> None:
    transfer = TransferRequested(
        ticket_id="1001",
        from_agent_id="a1",
        by="a2",
        to_agent_id=None,
        to_skill="billing",
        reason="vat",
        at=at(4),
    )
    warning = SlaWarning(
        ticket_id="1001", policy="p", metric="first_response", due_at=at(15), remaining_s=60
    )
    unassigned = TicketUnassigned(ticket_id="1001", agent_id="a1", reason="agent_offline", at=at(5))
    escalated = Escalated(
        ticket_id="1001", from_tier=1, to_tier=2, reason="hard", by="a1", at=at(6)
    )
    shown = {
        event.type: entry_of(event)
        for event in [
            ev.assigned("1001", "a1", at(1)),
            ev.status("1001", "open", "closed", at(2), reason="merged"),
            ev.priority("1001", "P3", "P1", at(3)),
            ev.event(transfer, at(4)),
            ev.event(unassigned, at(5)),
            ev.event(escalated, at(6)),
            ev.category("1001", ["a", "b", "c"], at(7)),
            ev.merged("1001", "1002", at(8))[0],
            ev.event(warning, at(10)),
            sla_breached("1001", "first_response", 15),
            survey_answer(2, "slow"),
            ev.reopened("1001", at(11)),
        ]
    }
    assert all(entry.kind == "event" and entry.event_type == kind for kind, entry in shown.items())
    public = {kind for kind, entry in shown.items() if entry.public}
    assert public == {"kefu.ticket.status_changed", "kefu.ticket.reopened"}
    texts = {kind.rsplit(".", 1)[1]: entry.text for kind, entry in shown.items()}
    assert texts == {
        "assigned": "assigned to a1",
        "status_changed": "status open → closed: merged",
        "priority_changed": "priority P3 → P1",
        "transfer_requested": "transfer to skill billing requested: vat",
        "unassigned": "unassigned from a1: agent_offline",
        "escalated": "escalated from tier 1 to 2: hard",
        "category_changed": "category a / b / c",
        "merged": "merged into ticket 1002",
        "warning": "SLA first_response due at 2026-11-23T10:15:00.000Z: warning",
        "breached": "SLA first_response breached (due at 2026-11-23T10:15:00.000Z)",
        "responded": "csat answer 2: slow",
        "reopened": "reopened",
    }
    authors = {kind.rsplit(".", 1)[1]: entry.author for kind, entry in shown.items()}
    assert (authors["assigned"].type, authors["transfer_requested"].id) == ("system", "a2")
    assert (authors["reopened"].type, authors["responded"].type) == ("customer", "customer")
    assert shown["kefu.sla.breached"].at == at(15) and shown["kefu.sla.warning"].at == at(10)


def test_events_that_are_no_entry() -> None:
    refused = AgentCommandRefused(
        agent_id="a1", command_id="c", action="reply", ticket_id="1", reason="x", at=at(0)
    )
    assert entry_of(ev.event(refused, at(0))) is None
    assert entry_of(ev.opened("1001", at(0))) is None
    assert entry_of(started("1001", ("first_response", 15))) is None


def test_the_queue_is_in_the_routers_order_and_a_desk_by_due_time_priority_then_age() -> None:
    ranks = {
        "svip P4": queue_rank("svip", "P4", None, at(5), "1"),
        "vip P3": queue_rank("vip", "P3", None, at(5), "2"),
        "std P1 due soon": queue_rank("standard", "P1", at(15), at(5), "3"),
        "std P1 due later": queue_rank("standard", "P1", at(60), at(0), "4"),
        "std P1 no SLA, older": queue_rank("standard", "P1", None, at(0), "5"),
        "std P1 no SLA, newer": queue_rank("standard", "P1", None, at(1), "6"),
        "std P2": queue_rank("standard", "P2", at(1), at(0), "7"),
    }
    assert sorted(ranks, key=ranks.__getitem__) == list(ranks)
    desk = {
        "due soon P3": TicketSummary(
            ticket_id="1", next_due_at=at(10), priority="P3", opened_at=at(5)
        ),
        "due later P1": TicketSummary(
            ticket_id="2", next_due_at=at(20), priority="P1", opened_at=at(0)
        ),
        "no due P1 old": TicketSummary(ticket_id="3", priority="P1", opened_at=at(0)),
        "no due P1 new": TicketSummary(ticket_id="4", priority="P1", opened_at=at(1)),
        "no due P2": TicketSummary(ticket_id="5", priority="P2", opened_at=at(0)),
    }
    assert sorted(desk, key=lambda name: desk_order(desk[name])) == list(desk)
