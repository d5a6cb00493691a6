"""The sla service's collections:

- `sla_tickets`: a state document per ticket (shared/decisions.py): the history its clocks
  are computed from, what was announced, and when it next needs a look (`wake_at`), with
  the ticket's durable timer held in the same document (shared/timers.py, `held`): due at
  `wake_at`, armed by the write that stores it. Until 0.2 the timers were a collection of
  their own, `sla_timers`: its timers move into their tickets when sla starts
  (`Timers.take_over`).
"""

from pymongo import IndexModel

from kefu.services.sla.ticket import SlaTicket
from kefu.shared.service import Service
from kefu.shared.store import Document
from kefu.shared.timers import Timers

TICKETS = "sla_tickets"
OLDER_TIMERS = "sla_timers"


def timer_of(ticket: SlaTicket) -> Document:
    return Timers.fields(ticket.wake_at)


class SlaStore:
    def __init__(self, service: Service) -> None:
        self.older_timers = service.db[OLDER_TIMERS]
        self.tickets = service.states("tickets", SlaTicket, keys=timer_of, owned=True)
        self.timers = Timers(self.tickets.collection, metrics=service.bus.metrics, held=True)

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return Timers.indexes(TICKETS)
