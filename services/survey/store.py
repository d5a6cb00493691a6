"""The survey service's collections:

- `survey_tickets`: a state document per ticket (shared/decisions.py): who to ask and how,
  the survey waiting after a solve, and the surveys issued with their answers. An answer is
  recorded by that document's version compare-and-swap, so of two concurrent answers, on
  one replica or two, exactly one is written.
- `survey_timers`: one durable timer per ticket with something to come (shared/timers.py): a
  survey to send, a reminder, an expiry.
"""

from pymongo import IndexModel

from kefu.services.survey.ticket import SurveyTicket
from kefu.shared.service import Service
from kefu.shared.timers import Timers

TIMERS = "survey_timers"


class SurveyStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.tickets = service.states("tickets", SurveyTicket, owned=True)
        self.timers = Timers(db[TIMERS], metrics=service.bus.metrics)

    async def ticket(self, ticket_id: str) -> SurveyTicket | None:
        """A ticket's surveys as stored, for a page to show (no decision is made on it)."""
        found = await self.tickets.collection.find_one({"_id": ticket_id}, {"state": 1})
        state = found and found.get("state")
        return SurveyTicket.model_validate(state) if state else None

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return Timers.indexes(TIMERS)
