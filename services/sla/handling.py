"""The sla service's handler: ticket and routing events, and timers that came due, decided on
each ticket's state document, then the ticket's timer set to what comes next
(shared/timed.py)."""

from kefu.services.sla.decision import Tick, deciding, matters, ticket_of
from kefu.services.sla.store import SlaStore
from kefu.services.sla.targets import Event, Rules
from kefu.services.sla.ticket import SlaTicket
from kefu.shared.bus import Bus
from kefu.shared.timed import TimedDecisions


def sla_decisions(
    bus: Bus, store: SlaStore, rules: Rules
) -> TimedDecisions[Event | Tick, SlaTicket]:
    return TimedDecisions(
        store.tickets,
        store.timers,
        bus.publish,
        key=ticket_of,
        decide=deciding(rules),
        tick=Tick,
        wake_at=lambda ticket: ticket.wake_at,
        matters=matters,
    )
