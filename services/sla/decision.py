"""The sla service's decision for one input, pure: an event folds into the ticket's history,
a timer only lets time pass; then every target is evaluated at `now`."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kefu.services.sla.targets import Cause, Event, Rules, evaluate
from kefu.services.sla.ticket import SlaTicket, fold
from kefu.shared.decisions import Decide
from kefu.shared.events.routing import TicketQueued
from kefu.shared.events.ticket import AgentReplied, NoteAdded


@dataclass(frozen=True)
class Tick:
    """A ticket's timer came due."""

    ticket_id: str


def deciding(rules: Rules) -> Decide[SlaTicket, Event | Tick]:
    def decide(
        ticket: SlaTicket | None, input: Event | Tick, now: datetime
    ) -> tuple[SlaTicket | None, list[Event]]:
        if isinstance(input, Tick):
            cause = Cause(None, None)
        else:
            cause = Cause(input.id, input.correlationid)
            ticket = fold(ticket, input)
        if ticket is None:
            return None, []
        return evaluate(ticket, rules, now, cause)

    return decide


def matters(event: Event) -> bool:
    """Whether an event may change a ticket's SLA: a queued ticket, a note or an internal
    reply changes nothing whatever the ticket's state (time passing is the timer's), so
    they are not worth a store write."""
    data = event.data
    if isinstance(data, AgentReplied):
        return data.public
    return not isinstance(data, NoteAdded | TicketQueued)


def ticket_of(input: Any) -> str:
    return input.ticket_id if isinstance(input, Tick) else input.data.ticket_id
