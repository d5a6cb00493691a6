"""The sla service's collections:

- `sla_tickets`: a state document per ticket (shared/decisions.py): the history its clocks
  are computed from, what was announced, and when it next needs a look (`wake_at`), with
  the ticket's durable timer held in the same document (shared/timers.py, `held`): due at
  `wake_at`, armed by the write that stores it. Until 0.2 the timers were a collection of
  their own, `sla_timers`: its timers move into their tickets when sla starts (`give_timers`).
"""

from pymongo import IndexModel, UpdateOne

from kefu.services.sla.ticket import SlaTicket
from kefu.shared.service import Service
from kefu.shared.store import Document
from kefu.shared.timers import Timers, from_ms

TICKETS = "sla_tickets"
OLDER_TIMERS = "sla_timers"
PAGE = 500


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

    async def give_timers(self) -> None:
        """The timers an older sla kept apart move into their tickets' documents, a page at
        a time, each page's left behind once moved (a stale one must not come back later).
        Before anything is consumed or fired: nothing else writes the tickets meanwhile."""
        while page := await self.older_timers.find({}, limit=PAGE).to_list():
            moved = [
                UpdateOne({"_id": timer["_id"]}, {"$set": Timers.fields(from_ms(timer["due"]))})
                for timer in page
            ]
            await self.tickets.collection.bulk_write(moved, ordered=False)
            await self.older_timers.delete_many({"_id": {"$in": [t["_id"] for t in page]}})
