"""Analytics' decisions: which events fold where, and that folding publishes nothing."""

from kefu.services.analytics.decision import (
    agent_decision,
    is_presence,
    is_ticket_fact,
    ticket_decision,
)
from kefu.shared.clock import AlwaysOpen
from kefu.shared.events.agent import AgentStatusChanged
from kefu.shared.events.sla import SlaStarted
from tests import sla_events as ev
from tests.factories import NOW

ONLINE = AgentStatusChanged(
    agent_id="a-1", status="online", skills=["billing"], capacity=3, tier=1, at=NOW
)


def test_presence_folds_into_agents_and_ticket_facts_into_tickets() -> None:
    presence, opened = ev.event(ONLINE, NOW), ev.opened("1001", NOW)
    started = ev.event(SlaStarted(ticket_id="1001", policy="standard", targets=[]), NOW)
    assert [is_presence(e) for e in (presence, opened, started)] == [True, False, False]
    assert [is_ticket_fact(e) for e in (presence, opened, started)] == [False, True, False]


def test_folding_changes_the_projection_and_publishes_nothing() -> None:
    decide = ticket_decision(lambda _: AlwaysOpen())
    projection, events = decide(None, ev.opened("1001", NOW), NOW)
    assert projection.ticket_id == "1001" and projection.status == "new" and events == []
    agent, events = agent_decision(None, ev.event(ONLINE, NOW), NOW)
    assert agent.status == "online" and agent.capacity == 3 and events == []
