"""The survey service's handler: ticket and routing events, timers that came due, and answers
from the page, all decided on each ticket's state document, then the ticket's timer set to
what comes next (shared/timed.py)."""

from datetime import timedelta
from typing import Any

from kefu.services.survey.decision import AnswerGiven, Rules, Tick, deciding, ticket_of
from kefu.services.survey.store import SurveyStore
from kefu.services.survey.ticket import SurveyTicket
from kefu.shared.bus import Bus
from kefu.shared.events.base import utc_now
from kefu.shared.events.routing import TicketAssigned
from kefu.shared.events.ticket import MessageReceived, Reopened, StatusChanged, TicketOpened
from kefu.shared.logs import get_logger
from kefu.shared.timed import TimedDecisions

# An answer's events are in its ticket's outbox; if this process dies before publishing
# them, the ticket's timer brings them out this long after.
ANNOUNCED_WITHIN = timedelta(seconds=30)
FOLDED = (TicketOpened, StatusChanged, Reopened, TicketAssigned)
log = get_logger("kefu.survey")


def matters(event: Any) -> bool:
    """Events that can change a ticket's surveys (the rest are not worth a store write)."""
    data = event.data
    return isinstance(data, FOLDED) or (isinstance(data, MessageReceived) and bool(data.survey_id))


class Surveys:
    def __init__(self, bus: Bus, store: SurveyStore, rules: Rules) -> None:
        self.store = store
        self.decisions: TimedDecisions[Any, SurveyTicket] = TimedDecisions(
            store.tickets,
            store.timers,
            bus.publish,
            key=ticket_of,
            decide=deciding(rules),
            tick=Tick,
            wake_at=SurveyTicket.wake_at,
            matters=matters,
        )

    async def answer(self, given: AnswerGiven) -> None:
        """Record an answer, or raise AnswerRefused saying why not."""
        await self.store.timers.arm({given.ticket_id: utc_now() + ANNOUNCED_WITHIN})
        refused = await self.decisions.apply([given], at_once=True)  # any replica answers
        said = {"ticket_id": given.ticket_id, "survey_id": given.survey_id}
        if refused:
            log.info("survey answer refused", reason=str(refused[0][1]), **said)
            raise refused[0][1]
        log.info("survey answered", score=given.score, **said)

    async def ticket(self, ticket_id: str) -> SurveyTicket | None:
        return await self.store.ticket(ticket_id)

    async def run_timers(self) -> None:
        await self.decisions.run_timers()
