"""A period's report from the stored projections: for the API and for `kefu report`."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from kefu.services.analytics.kpis import kpis
from kefu.services.analytics.reports import Period, Report, previous, report
from kefu.services.analytics.store import AnalyticsStore


async def period_report(
    store: AnalyticsStore, period: Period, ticket_url: Callable[[str], str]
) -> Report:
    """`period` against the one before; tickets with any event since the earlier's start."""
    tickets = [ticket async for ticket in store.updated_since(previous(period).start)]
    agents = await store.every_agent()

    def measured(start: datetime, end: datetime, by: Any = None) -> dict[str, Any]:
        return kpis(tickets, agents, start, end, by)

    concerned = [t for t in tickets if t.opened_at and t.opened_at < period.end]
    return report(period, concerned, tickets, measured, ticket_url)
