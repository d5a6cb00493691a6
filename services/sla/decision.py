"""The sla service's decision for one input, pure: an event folds into the ticket's history,
a timer only lets time pass; then every target is evaluated at `now`."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kefu.services.sla.targets import Cause, Event, Rules, evaluate
from kefu.services.sla.ticket import SlaTicket, fold
from kefu.shared.decisions import Decide


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


def ticket_of(input: Any) -> str:
    return input.ticket_id if isinstance(input, Tick) else input.data.ticket_id
