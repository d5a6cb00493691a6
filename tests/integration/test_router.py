"""The router against the real broker and store: every routing rule and policy key."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from kefu.shared.events.ops import SurgeEnded, SurgeStarted
from kefu.shared.events.sla import SlaEscalated, SlaStarted, SlaTarget
from kefu.shared.events.ticket import (
    Escalated,
    PriorityChanged,
    Reopened,
    StatusChanged,
    TransferRequested,
)
from kefu.shared.topics import Topic
from tests.integration.routing import agent, event, opened, running_router
from tests.kafka import TopicReader


def now() -> datetime:
    return datetime.now(UTC)


def solved(ticket_id: str) -> object:
    return event(
        StatusChanged(ticket_id=ticket_id, from_status="open", to="solved", by="a", at=now())
    )


async def test_least_loaded_online_agent_with_the_skills_and_tier_gets_it(
    backend, tmp_path
) -> None:
    async with running_router(backend, tmp_path) as router:
        await router.send(
            agent("a", capacity=2, skills=["general", "tech"], tier=2),
            agent("b", capacity=4),
            agent("c", status="away", capacity=9),
        )
        await router.send(opened("1001"), opened("1002", skills=["tech"], tier=2))
        first = (await router.routed(1, type="assigned", ticket_id="1001"))[0]
        second = (await router.routed(1, type="assigned", ticket_id="1002"))[0]
    assert (first["agent_id"], first["strategy"], first["tier"]) == ("a", "least_loaded", 1)
    assert second["agent_id"] == "a" and second["tier"] == 2
    assert first["waited_ms"] >= 0


async def test_nobody_fits_then_the_queue_is_served_in_order(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path) as router:
        await router.send(opened("2001"))
        [queued] = await router.routed(1, type="queued", ticket_id="2001")
        assert queued["reason"] == "no_agent_online"
        due = SlaTarget(metric="first_response", due_at=now() + timedelta(minutes=5))
        await router.send(
            opened("2002", customer_tier="vip"),
            opened("2003", priority="P1"),
            opened("2004", priority="P1"),
            event(SlaStarted(ticket_id="2004", policy="p1", targets=[due])),
            event(PriorityChanged(ticket_id="2001", from_priority="P3", to="P4", by="a", at=now())),
        )
        await router.routed(4, type="queued")
        await router.send(agent("a", capacity=1, skills=["billing"]))
        assert await router.routed(1, type="queued", ticket_id="2001")  # still only one
        await router.send(agent("a", capacity=1))  # now it fits: one slot
        order = [(await router.routed(1, type="assigned"))[0]["ticket_id"]]
        for _ in range(3):
            await router.send(solved(order[-1]))
            assigned = await router.routed(len(order) + 1, type="assigned")
            order.append(assigned[-1]["ticket_id"])
    assert order == ["2002", "2004", "2003", "2001"]  # vip; P1 due soonest; P1; P4


async def test_reasons_no_skill_at_capacity_and_daily_limit(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path, daily_limit=2) as router:
        await router.send(agent("a", capacity=1, skills=["general"]))
        await router.send(opened("3001", skills=["tech"]))
        [no_skill] = await router.routed(1, type="queued", ticket_id="3001")
        await router.send(opened("3002"))
        await router.routed(1, type="assigned", ticket_id="3002")
        await router.send(opened("3003"))
        [full] = await router.routed(1, type="queued", ticket_id="3003")
        await router.send(solved("3002"))
        await router.routed(1, type="assigned", ticket_id="3003")
        await router.send(solved("3003"))
        await router.send(opened("3004"))
        [limit] = await router.routed(1, type="queued", ticket_id="3004")
    assert (no_skill["reason"], full["reason"], limit["reason"]) == (
        "no_skill",
        "at_capacity",
        "daily_limit",
    )


async def test_round_robin_takes_the_longest_since_its_last_ticket(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path, strategy="round_robin") as router:
        await router.send(agent("a", capacity=5), agent("b", capacity=5))
        for number in range(4):
            await router.send(opened(f"400{number}"))
            await router.routed(number + 1, type="assigned")
        assigned = await router.routed(4, type="assigned")
    assert [a["agent_id"] for a in assigned] == ["a", "b", "a", "b"]
    assert {a["strategy"] for a in assigned} == {"round_robin"}


async def test_a_returning_customer_goes_back_to_the_first_owner(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path) as router:
        await router.send(agent("a", capacity=1), agent("b", capacity=5))
        await router.send(opened("5001", customer="jane@example.com"))
        [first] = await router.routed(1, type="assigned", ticket_id="5001")
        await router.send(solved("5001"))
        await asyncio.sleep(1)  # another partition: the slot is free before the next ticket
        await router.send(opened("5002", customer="Jane@example.com"))
        [again] = await router.routed(1, type="assigned", ticket_id="5002")
        await router.send(opened("5003", customer="jane@example.com", follow_up_of="5002"))
        [full] = await router.routed(1, type="assigned", ticket_id="5003")
        await router.send(solved("5003"), solved("5002"))
        await router.send(event(Reopened(ticket_id="5002", by="customer", at=now())))
        reopened = await router.routed(2, type="assigned", ticket_id="5002")
    assert first["agent_id"] == "a"  # least loaded share: a 0/1, b 0/5 → a by id
    assert (again["agent_id"], again["strategy"]) == ("a", "sticky")
    assert (full["agent_id"], full["strategy"]) == ("b", "sticky_fallback")  # a is full
    assert (reopened[1]["agent_id"], reopened[1]["strategy"]) == ("a", "sticky")


async def test_sticky_owner_off_routes_as_usual(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path, sticky_owner=False) as router:
        await router.send(agent("a", capacity=5), agent("b", capacity=5))
        await router.send(opened("5101", customer="jo@example.com"))
        await router.routed(1, type="assigned", ticket_id="5101")
        await router.send(opened("5102", customer="jo@example.com"))
        [second] = await router.routed(1, type="assigned", ticket_id="5102")
    assert second["strategy"] == "least_loaded"


async def test_offline_gives_every_ticket_back_and_away_keeps_them(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path) as router:
        await router.send(agent("a", capacity=3))
        await router.send(opened("6001"), opened("6002"))
        await router.routed(2, type="assigned", agent_id="a")
        await router.send(agent("a", status="away", capacity=3))
        await asyncio.sleep(1)  # another topic: a is away before the next ticket arrives
        await router.send(opened("6003"))
        [waiting] = await router.routed(1, type="queued", ticket_id="6003")
        await router.send(agent("b", capacity=3))
        await router.routed(1, type="assigned", ticket_id="6003", agent_id="b")
        await router.send(agent("a", status="offline", capacity=3))
        given_back = await router.routed(2, type="unassigned", agent_id="a")
        moved = [
            (await router.routed(2, type="assigned", ticket_id=ticket))[1]
            for ticket in ("6001", "6002")
        ]
        events = await router.settle()
    assert waiting["reason"] == "no_agent_online"  # a is away, nobody else online
    assert {g["ticket_id"] for g in given_back} == {"6001", "6002"}
    assert {g["reason"] for g in given_back} == {"agent_offline"}
    assert {m["agent_id"] for m in moved} == {"b"}
    assert not [
        e for e in events if e["type"] == "kefu.ticket.unassigned" and e["data"]["agent_id"] == "b"
    ]


async def test_transfers_to_an_agent_and_to_a_skill(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path) as router:
        await router.send(agent("a", capacity=5), agent("c", capacity=5))
        await router.send(opened("7001"))
        await router.routed(1, type="assigned", ticket_id="7001", agent_id="a")
        await router.send(opened("7002"))
        await router.routed(1, type="assigned", ticket_id="7002", agent_id="c")
        await router.send(agent("b", capacity=5, skills=["general", "billing"]))
        await router.send(
            event(
                TransferRequested(
                    ticket_id="7001",
                    from_agent_id="x",
                    to_agent_id="c",
                    to_skill=None,
                    reason="vip",
                    at=now(),
                )
            ),
            event(
                TransferRequested(
                    ticket_id="7002",
                    from_agent_id="x",
                    to_agent_id=None,
                    to_skill="billing",
                    reason="refund",
                    at=now(),
                )
            ),
        )
        gone = await router.routed(2, type="unassigned")
        to_agent = (await router.routed(2, type="assigned", ticket_id="7001"))[1]
        to_skill = (await router.routed(2, type="assigned", ticket_id="7002"))[1]
    assert {g["reason"] for g in gone} == {"transfer"}
    assert (to_agent["agent_id"], to_agent["strategy"]) == ("c", "transfer")
    assert (to_skill["agent_id"], to_skill["strategy"]) == ("b", "transfer")


async def test_escalations_go_to_the_next_tier(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path) as router:
        await router.send(
            agent("l1", capacity=5),
            agent("l2", capacity=5, tier=2),
            agent("l3", capacity=5, tier=3),
        )
        await router.send(opened("8001"), opened("8002"))
        first = await router.routed(2, type="assigned")
        assert {a["agent_id"] for a in first} <= {"l1", "l2", "l3"}
        await router.send(
            event(
                Escalated(
                    ticket_id="8001", from_tier=1, to_tier=2, reason="hard", by="l1", at=now()
                )
            ),
            event(
                SlaEscalated(
                    ticket_id="8002",
                    policy="p",
                    metric="first_response",
                    level=2,
                    notify=["manager"],
                    raise_tier=True,
                    at=now(),
                )
            ),
        )
        by_agent = (await router.routed(2, type="assigned", ticket_id="8001"))[1]
        by_sla = (await router.routed(2, type="assigned", ticket_id="8002"))[1]
        gone = await router.routed(2, type="unassigned")
    assert by_agent["tier"] == 2 and by_agent["agent_id"] in {"l2", "l3"}
    assert by_sla["tier"] == 2 and by_sla["agent_id"] in {"l2", "l3"}
    assert {g["reason"] for g in gone} == {"escalation"}


async def test_a_surge_stretches_capacity_as_overflow(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path, surge_capacity_factor=2.0) as router:
        await router.send(agent("a", capacity=1))
        await router.send(opened("9001"))
        await router.routed(1, type="assigned", ticket_id="9001")
        await router.send(opened("9002"))
        await router.routed(1, type="queued", ticket_id="9002")
        surge = {"rate_per_min": 90.0, "baseline_per_min": 10.0, "factor": 9.0, "at": now()}
        await router.send(event(SurgeStarted(**surge)))
        [overflow] = await router.routed(1, type="assigned", ticket_id="9002")
        await router.send(event(SurgeEnded(**surge)), opened("9003"))
        [after] = await router.routed(1, type="queued", ticket_id="9003")
    assert (overflow["agent_id"], overflow["strategy"]) == ("a", "overflow")
    assert after["reason"] == "at_capacity"


async def test_a_redelivered_event_takes_no_second_slot(backend, tmp_path) -> None:
    async with running_router(backend, tmp_path) as router:
        await router.send(agent("a", capacity=5))
        ticket = opened("9501")
        await router.send(ticket, ticket, ticket)
        await router.routed(1, type="assigned", ticket_id="9501")
        events = await router.settle(1.5)
    ids = [e["id"] for e in events if e["type"] == "kefu.ticket.assigned"]
    assert ids == ["router:9501:assigned:1"]


async def test_after_relax_after_a_waiting_ticket_may_go_to_a_higher_tier(
    backend, tmp_path
) -> None:
    """Contract 9: it waits for its own tier (`tier_wait`) only while an agent of that tier
    is online; then relax_after, or that agent leaving, lets a higher tier take it."""
    async with running_router(backend, tmp_path, relax_after="2s") as router:
        await router.send(agent("senior", capacity=4, tier=2), agent("junior", capacity=1))
        await router.send(opened("9600"))
        await router.routed(1, type="assigned", ticket_id="9600", agent_id="junior")
        await router.send(opened("9601"))
        [queued] = await router.routed(1, type="queued", ticket_id="9601")
        [relaxed] = await router.routed(1, type="assigned", ticket_id="9601", wait_s=10)
        await router.send(opened("9602"))
        await router.routed(1, type="queued", ticket_id="9602")
        await router.send(agent("junior", status="away", capacity=1))
        [left] = await router.routed(1, type="assigned", ticket_id="9602")
        await router.send(opened("9603"))  # no tier-1 agent online: a higher tier at once
        [at_once] = await router.routed(1, type="assigned", ticket_id="9603")
    assert queued["reason"] == "tier_wait"  # never no_skill: the senior has the skills
    assert (relaxed["agent_id"], relaxed["strategy"]) == ("senior", "relaxed")
    assert 2000 <= relaxed["waited_ms"] < 3500  # the timer fires on time, not on a poll
    assert (left["agent_id"], left["strategy"]) == ("senior", "relaxed")
    assert left["waited_ms"] < 2000
    assert (at_once["agent_id"], at_once["strategy"], at_once["waited_ms"] < 1000) == (
        "senior",
        "relaxed",
        True,
    )


async def test_a_transfer_waits_for_the_named_agent_then_falls_back(backend, tmp_path) -> None:
    """Contract 9: held for her (`queued`, reason `transfer`, her id) while she is full, given
    to her when she has room; after `transfer_wait`, to anyone as `transfer_fallback`, and the
    agent who transferred it is told on agent.events."""
    async with (
        running_router(backend, tmp_path, transfer_wait="2s") as router,
        TopicReader(router.settings, Topic.AGENT_EVENTS) as agent_events,
    ):
        await router.send(agent("a", capacity=5), agent("c", capacity=1))
        for ticket_id, holder in (("8001", "a"), ("8002", "c"), ("8003", "a")):
            await router.send(opened(ticket_id))
            await router.routed(1, type="assigned", ticket_id=ticket_id, agent_id=holder)
        await router.send(agent("idle", capacity=5))
        await router.send(event(transfer("8001", "a", "c")), event(transfer("8003", "a", "c")))
        held = await router.routed(2, type="queued", reason="transfer")
        await router.send(solved("8002"))
        [to_her] = await router.routed(1, type="assigned", ticket_id="8001", agent_id="c")
        fallback = (await router.routed(2, type="assigned", ticket_id="8003", wait_s=10))[1]
        [told] = await agent_events.take(1, lambda v: v["type"].endswith("transfer_fell_back"))
    assert {h["agent_id"] for h in held} == {"c"}
    assert to_her["strategy"] == "transfer"
    assert (fallback["agent_id"], fallback["strategy"]) == ("idle", "transfer_fallback")
    assert 2000 <= fallback["waited_ms"] < 3500
    assert told["subject"] == "a"
    assert (told["data"]["ticket_id"], told["data"]["to_agent_id"]) == ("8003", "c")


def transfer(ticket_id: str, from_agent: str, to_agent: str) -> TransferRequested:
    return TransferRequested(
        ticket_id=ticket_id,
        from_agent_id=from_agent,
        to_agent_id=to_agent,
        to_skill=None,
        reason="",
        at=now(),
    )


async def test_the_queue_is_served_page_after_page_while_anyone_has_room(
    backend, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr("kefu.services.router.handling.QUEUE_PAGE", 2)
    monkeypatch.setattr("kefu.services.router.store.QUEUE_PAGE", 2)
    async with running_router(backend, tmp_path) as router:
        tickets = [f"96{n}0" for n in range(5)]
        for ticket in [*tickets, "9699"]:
            svip = {"customer_tier": "svip"} if ticket == "9699" else {}
            await router.send(opened(ticket, **svip))
            await router.routed(1, type="queued", ticket_id=ticket)
        await router.send(agent("a", capacity=4))  # four slots for six waiting, pages of two
        assigned = await router.routed(4, type="assigned")
        events = await router.settle(1.0)
    assert {a["ticket_id"] for a in assigned} == {"9699", *tickets[:3]}  # in rank order
    queued = [e for e in events if e["type"] == "kefu.ticket.queued"]
    assert len(queued) == 6  # each waited once; nobody was queued again


async def test_a_backlog_nobody_can_take_is_not_read_when_a_slot_frees(
    backend, tmp_path, monkeypatch
) -> None:
    """Pages of two: six tickets for a skill nobody has wait ahead of one for `general`. When
    an agent with `general` comes online, only the lanes she could take are read: she gets
    the general ticket, and the backlog's pages are never loaded."""
    monkeypatch.setattr("kefu.services.router.handling.QUEUE_PAGE", 2)
    monkeypatch.setattr("kefu.services.router.store.QUEUE_PAGE", 2)
    from kefu.services.router.store import RouterStore

    read: list[list[str] | None] = []
    waiting = RouterStore.waiting

    async def counted(self: RouterStore, after: str = "", lanes: list[str] | None = None) -> dict:
        page = await waiting(self, after, lanes)
        read.append(sorted(slot.state.lane for slot in page.values()))
        return page

    monkeypatch.setattr(RouterStore, "waiting", counted)
    async with running_router(backend, tmp_path) as router:
        backlog = [f"97{n}0" for n in range(6)]
        for ticket in backlog:
            await router.send(opened(ticket, customer_tier="svip", skills=["backlog"]))
            await router.routed(1, type="queued", ticket_id=ticket)
        await router.send(opened("9799"))
        await router.routed(1, type="queued", ticket_id="9799")
        await router.send(agent("a", capacity=3))
        [taken] = await router.routed(1, type="assigned")
    assert taken["ticket_id"] == "9799" and taken["agent_id"] == "a"
    assert all("1:backlog" not in lanes for lanes in read), read


@pytest.mark.parametrize("before", ["no keys", "text wake_key"])
async def test_tickets_queued_before_queue_keys_get_them_when_the_router_starts(
    backend, tmp_path, before
) -> None:
    from kefu.services.router.store import KEYS
    from kefu.shared.service import Service

    async with running_router(backend, tmp_path) as router:
        await router.send(opened("9801"))
        await router.routed(1, type="queued", ticket_id="9801")
        settings = router.settings
    service = Service.create("router", settings)
    tickets = service.db[service.collection_name("tickets")]
    if before == "no keys":
        older = {"$unset": {"state.lane": "", **dict.fromkeys(KEYS, "")}}
    else:  # a router of this version's first days wrote wake times as text
        older = {"$unset": {"lane_rank": ""}, "$set": {"wake_key": "2026-12-03T13:22:54.706Z"}}
    await tickets.update_one({"_id": "9801"}, older)
    assert "lane_rank" not in await tickets.find_one({"_id": "9801"})
    async with running_router(backend, tmp_path, settings=settings) as router:
        for _ in range(100):
            if await tickets.find_one({"_id": "9801", "lane_rank": {"$gt": "1:general|"}}):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the older ticket got no queue keys")
        assert "wake_key" not in await tickets.find_one({"_id": "9801"})
        await router.send(agent("b", capacity=1))
        [taken] = await router.routed(1, type="assigned")
    assert taken["ticket_id"] == "9801"


async def test_after_a_crash_between_the_agent_write_and_the_ticket_write_she_gets_it(
    backend, tmp_path
) -> None:
    """The router wrote li's slot for 9901, then died before writing the ticket: the
    redelivered `opened` finishes that assignment (least_loaded alone would give it to
    wang, leaving li's slot taken by a ticket she never got), and wang takes the next."""
    from kefu.services.router.roster import take
    from kefu.services.router.store import RouterStore
    from kefu.shared.service import Service

    async with running_router(backend, tmp_path) as router:
        await router.send(agent("li", capacity=1), agent("wang", capacity=1))
        await router.send(opened("9900", skills=["none"]))  # after the agents, in order
        await router.routed(1, type="queued", ticket_id="9900")
        settings = router.settings
    agents = RouterStore(Service.create("router", settings)).agents
    li = (await agents.load(["li"]))["li"]
    li.replace(take(li.state, "9901", now(), now().date().isoformat()))
    assert await agents.save([li]) == set()
    async with running_router(backend, tmp_path, settings=settings) as router:
        await router.send(opened("9901"), opened("9902"))
        first = (await router.routed(1, type="assigned", ticket_id="9901"))[0]
        second = (await router.routed(1, type="assigned", ticket_id="9902"))[0]
    assert (first["agent_id"], second["agent_id"]) == ("li", "wang")


async def test_after_a_crash_before_remembering_the_owner_the_replay_remembers_her(
    backend, tmp_path
) -> None:
    """The router wrote li's slot and ticket 9951, assigned, then died before remembering
    that li owns its customer: the redelivered `opened` decides nothing new, publishes the
    assignment it finds unpublished and remembers li, so the customer's next ticket goes to
    her (`sticky`) where least_loaded would pick wang."""
    from kefu.services.router.decision import Round
    from kefu.services.router.store import RouterStore
    from kefu.shared.policy import Routing
    from kefu.shared.service import Service

    async with running_router(backend, tmp_path) as router:
        await router.send(agent("li", capacity=3), agent("wang", capacity=3))
        await router.send(opened("9950", skills=["none"]))  # after the agents, in order
        await router.routed(1, type="queued", ticket_id="9950")
        settings = router.settings
    store = RouterStore(Service.create("router", settings))
    first = opened("9951", customer="mei@example.com")
    crashed = Round(
        policy=Routing(),
        now=now(),
        today=now().date().isoformat(),
        agents=await store.agents.load(["li", "wang"]),
        tickets={},
        owners={},
        surge=False,
    )
    crashed.apply(first)
    crashed.route()
    assert crashed.tickets["9951"].state.assignee == "li"
    assert await store.agents.save(crashed.agents.values()) == set()
    assert await store.tickets.save(crashed.tickets.values()) == set()
    async with running_router(backend, tmp_path, settings=settings) as router:
        await router.send(first)
        [replayed] = await router.routed(1, type="assigned", ticket_id="9951")
        await router.send(opened("9952", customer="mei@example.com"))
        [again] = await router.routed(1, type="assigned", ticket_id="9952")
    assert replayed["agent_id"] == "li"
    assert (again["agent_id"], again["strategy"]) == ("li", "sticky")
