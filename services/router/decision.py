"""The router's decisions for one round, pure: each event applied to its ticket or agent
(tickets.py, roster.py), agents giving up tickets that are no longer theirs, and choice.py
picking an agent for every ticket that needs one, from the batch or from the queue page the
handler (handling.py) reads when capacity appeared: `serve` says whether anyone still has
room, which is when the handler reads the next page. Agents' slots are taken and freed here;
the handler writes the agents before the tickets.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kefu.services.router.choice import Agent, Assign, Limits, choose, lanes_with_room, room
from kefu.services.router.roster import presence, release, take, withdraw
from kefu.services.router.tickets import (
    Change,
    RoutedTicket,
    assigned,
    changed,
    entered_queue,
    given_back,
    gone_from,
    let_go,
    opened,
    unopened,
)
from kefu.shared.decisions import Slot
from kefu.shared.events import CloudEvent, new_event
from kefu.shared.events.agent import AgentCommandRefused, AgentStatusChanged, TransferFellBack
from kefu.shared.events.base import EventData
from kefu.shared.events.ops import SurgeEnded, SurgeStarted
from kefu.shared.events.routing import TicketAssigned, TicketQueued, TicketUnassigned
from kefu.shared.events.sla import SlaStarted
from kefu.shared.events.ticket import TicketOpened
from kefu.shared.policy import Routing

SOURCE = "kefu/router"
Event = CloudEvent[Any]


@dataclass(frozen=True)
class Wake:
    """What causes an assignment that a timer, not an event, asked for."""

    id: str
    correlationid: str


@dataclass
class Round:
    policy: Routing
    now: datetime
    today: str
    agents: dict[str, Slot[Agent]]
    tickets: dict[str, Slot[RoutedTicket]]
    owners: dict[str, str]
    surge: bool
    to_route: dict[str, Event] = field(default_factory=dict)  # ticket → the event that asks
    drain: Event | None = None  # capacity appeared: serve the queue
    surge_set: bool | None = None
    wake_armed: bool = False  # a ticket entered the queue with a wake_at
    holders: dict[str, str] = field(default_factory=dict)  # waiting ticket → agent holding it
    causes: set[str] = field(default_factory=set)  # of this round's assignments

    def apply(self, event: Event) -> None:
        match event.data:
            case AgentStatusChanged():
                self._presence(event)
            case SurgeStarted() | SurgeEnded():
                self.surge = self.surge_set = isinstance(event.data, SurgeStarted)
                if self.surge:
                    self.drain = event
            case TicketOpened():
                self._opened(event)
            case AgentCommandRefused() | TransferFellBack():
                return  # changed nothing
            case _ if hasattr(event.data, "ticket_id"):
                self._ticket_event(event)

    def _opened(self, event: Event) -> None:
        data: TicketOpened = event.data
        slot = self.tickets.setdefault(data.ticket_id, Slot(data.ticket_id))
        early = slot.state
        if slot.has_applied(event.id) or (early and early.status != "unopened"):
            return
        owner = self.owners.get(data.customer.address.lower()) if self.policy.sticky_owner else None
        self._changed(slot, event, opened(data, owner, early.due_at if early else None))

    def _ticket_event(self, event: Event) -> None:
        slot = self.tickets.setdefault(event.data.ticket_id, Slot(event.data.ticket_id))
        if slot.has_applied(event.id):
            return
        if slot.state is None and isinstance(event.data, SlaStarted):
            slot.record(event.id, unopened(event.data), [])
        if slot.state is None or slot.state.status == "unopened":
            return  # nothing to route until the ticket is open
        self._changed(slot, event, changed(slot.state, event.data, event.time))

    def _changed(self, slot: Slot[RoutedTicket], event: Event, change: Change) -> None:
        ticket = change.ticket
        if ticket.sticky and not self.policy.sticky_owner:
            ticket = ticket.model_copy(update={"preferred": None, "sticky": False})
        events = []
        if change.frees:
            self._free(change.frees, ticket.ticket_id)
            self.drain = self.drain or event
            if change.unassigned:
                gone = TicketUnassigned(
                    ticket_id=ticket.ticket_id,
                    agent_id=change.frees,
                    reason=change.unassigned,
                    at=self.now,
                )
                events.append(self._event(gone, event, f"unassigned:{ticket.assignments}"))
        slot.record(event.id, ticket, events)
        if change.route:
            self.to_route[ticket.ticket_id] = event

    def _presence(self, event: Event) -> None:
        data: AgentStatusChanged = event.data
        slot = self.agents.setdefault(data.agent_id, Slot(data.agent_id))
        if slot.has_applied(event.id):
            return
        left = slot.state is not None and slot.state.status == "online" != data.status
        after = presence(slot.state, data)
        slot.record(event.id, after.agent, [])
        for ticket_id in after.given_back:
            held = self.tickets.get(ticket_id)
            if held and held.state and held.state.assignee == data.agent_id:
                self._changed(held, event, given_back(held.state, self.now))
        if after.capacity_appeared or (left and self.policy.relax_after):
            self.drain = self.drain or event  # tickets that waited for her tier may go higher

    def _free(self, agent_id: str, ticket_id: str) -> None:
        slot = self.agents.get(agent_id)
        if slot and slot.state and ticket_id in slot.state.tickets:
            slot.replace(release(slot.state, ticket_id))

    def queue(self, waiting: dict[str, Slot[RoutedTicket]]) -> None:
        """The head of the queue joins the round, behind what this batch routes."""
        for key, slot in waiting.items():
            self.tickets.setdefault(key, slot)

    def reconcile(self) -> None:
        """Agents give up tickets whose documents say somebody else holds them, or that are
        done. A waiting ticket an agent holds is an assignment in flight: its agent's document
        is written before the ticket's, so another replica may read the two in between (the
        kill-under-load test caught an agent given a third ticket over capacity 2 that way);
        routed again, it goes to her if she fits (a crash between the writes left it so)."""
        for slot in self.agents.values():
            agent = slot.state
            for ticket_id in list(agent.tickets) if agent else []:
                ticket = self.tickets.get(ticket_id)
                if ticket and ticket.state and gone_from(ticket.state, agent.agent_id):
                    slot.replace(release(slot.state, ticket_id))
                elif ticket and ticket.state and ticket.state.status == "waiting":
                    self.holders[ticket_id] = agent.agent_id

    def route(self) -> None:
        """Every ticket an event asked to route, in the order asked."""
        limits = self._limits()
        for ticket_id, cause in self.to_route.items():
            self._route(ticket_id, cause, limits, fresh=True)

    def serve(self, page: dict[str, Slot[RoutedTicket]]) -> bool:
        """Capacity appeared: the tickets asked and a page of the queue, together in the
        queue's order. Whether anyone still has room."""
        self.queue(page)
        self.reconcile()
        limits = self._limits()
        asked, self.to_route = self.to_route, {}  # the next page's turn has only the queue
        waiting = [key for key in self.tickets if key in asked or key in page]
        for ticket_id in sorted(waiting, key=lambda key: self.tickets[key].state.queue_rank):
            if not self.has_room(limits):
                break
            cause = asked.pop(ticket_id, None)
            self._route(ticket_id, cause or self.drain, limits, fresh=cause is not None)
        for ticket_id, cause in asked.items():  # nobody had room left: queued
            self._route(ticket_id, cause, limits, fresh=True)
        return self.has_room(limits)

    def lanes(self) -> list[str] | None:
        """The lanes of the queue worth reading now: those an agent with room could take."""
        roster = [slot.state for slot in self.agents.values() if slot.state]
        return lanes_with_room(roster, self._limits())

    def has_room(self, limits: Limits) -> bool:
        return any(room(slot.state, limits) > 0 for slot in self.agents.values() if slot.state)

    def wake(self, due: list[str]) -> None:
        """Waiting tickets whose wake_at has come: a transfer's hold ran out (anyone may take
        it now, and whoever transferred it is told), or higher tiers may take it."""
        limits = self._limits()
        for ticket_id in due:
            slot = self.tickets[ticket_id]
            ticket = slot.state
            if not ticket or ticket.status != "waiting":
                continue
            cause = Wake(f"wake:{ticket_id}:{ticket.queued}", f"wake:{ticket_id}")
            if ticket.held_for:
                self._let_go(slot, ticket, cause)
                self._route(ticket_id, cause, limits, fresh=True)
                continue
            self._route(ticket_id, cause, limits, fresh=False)
            if slot.state.status == "waiting":  # nobody yet: the queue serves it when able
                slot.record(cause.id, slot.state.model_copy(update={"wake_at": None}), [])

    def _let_go(self, slot: Slot[RoutedTicket], ticket: RoutedTicket, cause: "Wake") -> None:
        waited = self.now - (ticket.waiting_since or self.now)
        events = []
        if ticket.transfer_from:
            told = TransferFellBack(
                agent_id=ticket.transfer_from,
                ticket_id=ticket.ticket_id,
                to_agent_id=ticket.held_for,
                waited_ms=max(0, int(waited.total_seconds() * 1000)),
                at=self.now,
            )
            events.append(self._event(told, cause, f"fell_back:{ticket.queued}"))
        slot.record(cause.id, let_go(ticket), events)

    def _route(self, ticket_id: str, cause: Any, limits: Limits, fresh: bool) -> None:
        slot = self.tickets[ticket_id]
        ticket = slot.state
        if ticket is None or ticket.status != "waiting":
            return
        holder = self.agents.get(self.holders.pop(ticket_id, ""), Slot(""))
        claim = holder.state
        if claim:  # her slot is counted again by choosing her
            holder.replace(withdraw(claim, ticket_id))
        roster = [agent.state for agent in self.agents.values() if agent.state]
        need = replace(ticket.need(self._relaxed(ticket)), holder=claim and claim.agent_id)
        choice = choose(roster, need, limits)
        if claim and not (isinstance(choice, Assign) and choice.agent_id == claim.agent_id):
            holder.replace(claim)  # in flight elsewhere, or a document will say she lost it
        if isinstance(choice, Assign):
            self._assign(slot, ticket, choice, cause)
        elif fresh:
            queued = TicketQueued(
                ticket_id=ticket_id,
                skills=ticket.skills,
                tier=ticket.tier,
                reason=choice.reason,
                agent_id=ticket.held_for,
                at=self.now,
            )
            entered = entered_queue(ticket, self.policy.relax_after, self.policy.transfer_wait)
            self.wake_armed = self.wake_armed or entered.wake_at is not None
            slot.record(
                f"route:{cause.id}",
                entered,
                [self._event(queued, cause, f"queued:{entered.queued}")],
            )

    def _assign(
        self, slot: Slot[RoutedTicket], ticket: RoutedTicket, choice: Assign, cause: Any
    ) -> None:
        agent = self.agents[choice.agent_id]
        agent.replace(take(agent.state, ticket.ticket_id, self.now, self.today))
        after = assigned(ticket, choice.agent_id)
        waited = self.now - (ticket.waiting_since or self.now)
        data = TicketAssigned(
            ticket_id=ticket.ticket_id,
            agent_id=choice.agent_id,
            strategy=choice.strategy,
            tier=ticket.tier,
            waited_ms=max(0, int(waited.total_seconds() * 1000)),
            at=self.now,
        )
        event = self._event(data, cause, f"assigned:{after.assignments}")
        slot.record(f"route:{cause.id}", after, [event])
        self.causes.add(cause.id)

    def _limits(self) -> Limits:
        return Limits(
            strategy=self.policy.strategy,
            daily_limit=self.policy.daily_limit,
            capacity_factor=self.policy.surge_capacity_factor if self.surge else 1.0,
            tier_exact_first=self.policy.relax_after is not None,
            today=self.today,
        )

    def _relaxed(self, ticket: RoutedTicket) -> bool:
        after = self.policy.relax_after
        return after is not None and self.now - (ticket.waiting_since or self.now) >= after

    def _event(self, data: EventData, cause: Any, suffix: str) -> Event:
        return new_event(
            data,
            id=f"router:{data.ticket_id}:{suffix}",
            source=SOURCE,
            correlationid=cause.correlationid,
            causationid=cause.id,
            time=self.now,
        )


def new_owners(
    tickets: Iterable[Slot[RoutedTicket]], known: dict[str, str], causes: set[str]
) -> dict[str, str]:
    """Customers of written tickets whose assignments, caused by one of `causes` (the batch's
    events, the round's timers), are not yet published, to the agent of the last: a round's,
    and a replayed round's whose router died before remembering them (an older ticket's
    assignment left unpublished is not its customer's latest). A returning customer's, back
    to the owner `known`, is unchanged: not written."""
    owners = {
        slot.state.customer: event.data.agent_id
        for slot in tickets
        if slot.state and slot.state.customer
        for event in slot.unpublished()
        if isinstance(event.data, TicketAssigned) and event.causationid in causes
    }
    return {who: agent for who, agent in owners.items() if known.get(who) != agent}
