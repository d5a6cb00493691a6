"""The router's round (services/router/decision.py) with plain values: events in, agents'
slots and tickets' events out, and the queue served a page at a time as the round asks."""

from kefu.services.router.choice import Agent
from kefu.services.router.decision import Round, new_owners
from kefu.services.router.tickets import entered_queue, opened
from kefu.shared.decisions import Slot
from kefu.shared.policy import Routing
from tests.factories import NOW, message, opening


def agent(agent_id: str, capacity: int, *tickets: str) -> Slot[Agent]:
    slot = Slot(agent_id)
    skills = ["general"]
    state = Agent(agent_id=agent_id, status="online", skills=skills, capacity=capacity)
    slot.state = state.model_copy(update={"tickets": list(tickets)})
    return slot


def a_round(*agents: Slot[Agent], tickets: dict | None = None) -> Round:
    return Round(
        policy=Routing(),
        now=NOW,
        today=NOW.date().isoformat(),
        agents={slot.key: slot for slot in agents},
        tickets=tickets or {},
        owners={},
        surge=False,
    )


def opened_event(ticket_id: str):
    return opening(message("email", f"m-{ticket_id}"), ticket_id)[0]


def waiting(ticket_id: str) -> Slot:
    slot = Slot(ticket_id)
    ticket = opened(opened_event(ticket_id).data, None).ticket
    slot.state = entered_queue(ticket, None, Routing().transfer_wait)
    return slot


def test_a_new_ticket_goes_to_the_agent_with_room_and_takes_her_slot() -> None:
    decided = a_round(agent("li", 2, "900"), agent("wang", 0))
    decided.apply(opened_event("1001"))
    decided.route()
    ticket = decided.tickets["1001"]
    [event] = ticket.unpublished()
    assert event.type == "kefu.ticket.assigned" and event.data.agent_id == "li"
    assert event.id == "router:1001:assigned:1"
    assert decided.agents["li"].state.tickets == ["900", "1001"]
    assert decided.agents["li"].changed and not decided.agents["wang"].changed


def test_without_room_the_ticket_is_queued_and_says_why() -> None:
    decided = a_round(agent("li", 1, "900"))
    decided.apply(opened_event("1001"))
    decided.route()
    [event] = decided.tickets["1001"].unpublished()
    assert event.type == "kefu.ticket.queued" and event.data.reason
    assert decided.tickets["1001"].state.status == "waiting"


def test_serving_the_queue_takes_its_order_and_says_when_nobody_has_room() -> None:
    page = {key: waiting(key) for key in ("1003", "1001", "1002")}
    decided = a_round(agent("li", 2))
    decided.drain = opened_event("0")
    assert decided.serve(page) is False  # two served, the third waits for the next round
    served = {key: slot.state.assignee for key, slot in decided.tickets.items()}
    first_two = sorted(page, key=lambda key: page[key].state.queue_rank)[:2]
    assert {key for key, who in served.items() if who == "li"} == set(first_two)
    assert decided.agents["li"].state.tickets == first_two


def test_with_room_left_the_round_asks_for_the_next_page() -> None:
    decided = a_round(agent("li", 5))
    decided.drain = opened_event("0")
    assert decided.serve({"1001": waiting("1001")}) is True


def test_a_first_owner_is_written_only_when_it_changes() -> None:
    decided = a_round(agent("li", 2))
    customer = opened_event("1001").data.customer.address.lower()
    decided.owners = {customer: "li"}  # a returning customer, back to her owner
    decided.apply(opened_event("1001"))
    decided.route()
    assert decided.tickets["1001"].state.assignee == "li"
    assert new_owners(decided.tickets.values(), decided.owners, decided.causes) == {}
    other = a_round(agent("wang", 2))
    other.apply(opened_event("1002"))
    other.route()
    assert new_owners(other.tickets.values(), other.owners, other.causes) == {customer: "wang"}


def test_an_owner_a_crashed_router_did_not_remember_is_remembered_by_the_replay() -> None:
    """The ticket was written with its assignment, then the router died: the replayed
    `opened` decides nothing new, and the assignment it caused, still unpublished, names the
    owner; another event of that ticket does not (its customer may have a newer owner)."""
    first = a_round(agent("li", 2))
    first.apply(opened_event("1001"))
    first.route()
    written = first.tickets["1001"]
    written.version = 1  # stored, its events not published
    replay = a_round(agent("li", 2, "1001"), tickets={"1001": written})
    replay.apply(opened_event("1001"))
    replay.reconcile()
    replay.route()
    customer = opened_event("1001").data.customer.address.lower()
    redelivered = {opened_event("1001").id}
    assert new_owners(replay.tickets.values(), replay.owners, redelivered) == {customer: "li"}
    assert new_owners(replay.tickets.values(), replay.owners, {"a-later-event"}) == {}
    written.published = 1
    assert new_owners(replay.tickets.values(), replay.owners, redelivered) == {}


def test_a_ticket_its_agent_already_holds_goes_to_her_without_a_second_slot() -> None:
    """A crash between the agents' write and the tickets': replayed, the assignment is
    finished where it began, though least_loaded alone would pick the idler agent."""
    li = agent("li", 2, "1001")
    li.state = li.state.model_copy(update={"day": NOW.date().isoformat(), "taken_today": 1})
    decided = a_round(li, agent("wang", 2))
    decided.apply(opened_event("1001"))
    decided.reconcile()
    decided.route()
    [event] = decided.tickets["1001"].unpublished()
    assert event.type == "kefu.ticket.assigned" and event.data.agent_id == "li"
    assert decided.agents["li"].state.tickets == ["1001"]
    assert decided.agents["li"].state.taken_today == 1
    assert not decided.agents["wang"].changed


def test_a_holder_who_may_no_longer_take_it_keeps_her_claim_until_its_document_says() -> None:
    """Away, she cannot finish it: somebody else takes it, and her slot waits for the
    ticket's document to name the other (another replica may be writing it to her now)."""
    li = agent("li", 2, "1001")
    li.state = li.state.model_copy(update={"status": "away"})
    decided = a_round(li, agent("wang", 2))
    decided.apply(opened_event("1001"))
    decided.reconcile()
    decided.route()
    assert decided.tickets["1001"].state.assignee == "wang"
    assert decided.agents["li"].state.tickets == ["1001"]
