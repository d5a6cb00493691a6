"""The sla service's collections:

- `sla_tickets`: a state document per ticket (shared/decisions.py): the history its clocks
  are computed from, what was announced, and when it next needs a look (`wake_at`).
- `sla_timers`: one durable timer per ticket that has something to come (shared/timers.py),
  due at the ticket's `wake_at`.
"""

from pymongo import IndexModel

from kefu.services.sla.ticket import SlaTicket
from kefu.shared.service import Service
from kefu.shared.timers import Timers

TIMERS = "sla_timers"


class SlaStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.tickets = service.states("tickets", SlaTicket, owned=True)
        self.timers = Timers(db[TIMERS], metrics=service.bus.metrics)

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return Timers.indexes(TIMERS)
