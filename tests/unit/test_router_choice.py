"""Which agent takes a ticket: fit, strategies, first owner, transfers, limits, queue order."""

from datetime import UTC, datetime, timedelta

import pytest

from kefu.services.router.choice import (
    Agent,
    Assign,
    Limits,
    Need,
    Queue,
    choose,
    lane,
    lanes_with_room,
    queue_rank,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = "2026-11-23"


def agent(agent_id: str, **fields) -> Agent:
    values = {"status": "online", "skills": ["general"], "capacity": 2, "tier": 1, "day": TODAY}
    return Agent(agent_id=agent_id, **{**values, **fields})


def need(**fields) -> Need:
    return Need(**{"ticket_id": "1001", "skills": ("general",), "tier": 1, **fields})


def limits(**fields) -> Limits:
    return Limits(**{"today": TODAY, **fields})


@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        ([], Queue("no_agent_online")),
        ([agent("a", status="away"), agent("b", status="offline")], Queue("no_agent_online")),
        ([agent("a", skills=["billing"])], Queue("no_skill")),
        ([agent("a", tier=1)], Assign("a", "least_loaded")),
        ([agent("a", tickets=["1", "2"])], Queue("at_capacity")),
        ([agent("a", capacity=0)], Queue("at_capacity")),
        ([agent("a", status="away"), agent("b")], Assign("b", "least_loaded")),
    ],
)
def test_fit_or_the_reason_to_queue(agents, expected) -> None:
    assert choose(agents, need(), limits()) == expected


def test_skills_must_cover_the_tickets_and_tier_be_at_least_its() -> None:
    agents = [
        agent("a", skills=["tech"], tier=3),
        agent("b", skills=["tech", "zh"], tier=1),
        agent("c", skills=["tech", "zh"], tier=2),
    ]
    assert choose(agents, need(skills=("tech", "zh"), tier=2), limits()) == Assign(
        "c", "least_loaded"
    )


def test_least_loaded_by_share_then_longest_idle_then_id() -> None:
    agents = [
        agent("a", capacity=4, tickets=["1", "2"]),  # 50 %
        agent("b", capacity=4, tickets=["3"], last_assigned_at=NOW),  # 25 %, just busy
        agent("c", capacity=8, tickets=["4", "5"], last_assigned_at=NOW - timedelta(hours=1)),
        agent("d", capacity=4, tickets=["6"], last_assigned_at=NOW - timedelta(hours=1)),
    ]
    assert choose(agents, need(), limits()) == Assign("c", "least_loaded")
    assert choose(agents[:2], need(), limits()) == Assign("b", "least_loaded")


def test_round_robin_takes_the_longest_since_its_last_assignment() -> None:
    agents = [
        agent("a", last_assigned_at=NOW - timedelta(minutes=5)),
        agent("b", tickets=["1"], last_assigned_at=NOW - timedelta(minutes=9)),
        agent("c", last_assigned_at=NOW),
    ]
    assert choose(agents, need(), limits(strategy="round_robin")) == Assign("b", "round_robin")
    assert choose([*agents, agent("d")], need(), limits(strategy="round_robin")).agent_id == "d"


def test_the_first_owner_gets_the_ticket_back_when_it_fits() -> None:
    agents = [agent("a"), agent("owner", tickets=["1"])]
    assert choose(agents, need(preferred="owner", sticky=True), limits()) == Assign(
        "owner", "sticky"
    )


@pytest.mark.parametrize(
    "owner",
    [
        agent("owner", status="away"),
        agent("owner", tickets=["1", "2"]),
        agent("owner", skills=["billing"]),
    ],
)
def test_an_owner_who_cannot_take_it_is_a_visible_fallback(owner) -> None:
    choice = choose([owner, agent("a")], need(preferred="owner", sticky=True), limits())
    assert choice == Assign("a", "sticky_fallback")


def test_a_transfer_goes_to_its_target_and_never_back_to_who_gave_it() -> None:
    agents = [agent("from"), agent("to", tickets=["1"]), agent("other")]
    to_agent = need(held_for="to", label="transfer", avoid="from")
    assert choose(agents, to_agent, limits()) == Assign("to", "transfer")
    to_skill = need(label="transfer", avoid="from")
    assert choose(agents, to_skill, limits()) == Assign("other", "transfer")
    assert choose([agents[0]], to_skill, limits()) == Queue("no_skill")


@pytest.mark.parametrize(
    "target",
    [
        agent("to", tickets=["1", "2"]),  # full
        agent("to", status="away"),
        agent("to", status="offline"),
        agent("to", skills=["billing"]),
        agent("to", tier=1, day=TODAY),  # fits: the control row below
    ],
    ids=["full", "away", "offline", "lacks-the-skill", "fits"],
)
def test_a_transfer_to_a_named_agent_waits_for_her(target: Agent) -> None:
    """Contract 9: nobody else takes it while it is held, however free they are."""
    held = need(held_for="to", label="transfer", avoid="from")
    choice = choose([agent("from"), target, agent("idle", capacity=9)], held, limits())
    fits = target.status == "online" and not target.tickets and "general" in target.skills
    assert choice == (Assign("to", "transfer") if fits else Queue("transfer"))


def test_a_transfer_let_go_goes_to_the_normal_choice_as_a_fallback() -> None:
    let_go = need(label="transfer_fallback", avoid="from")
    agents = [agent("from"), agent("to", status="away"), agent("idle")]
    assert choose(agents, let_go, limits()) == Assign("idle", "transfer_fallback")


def test_the_daily_limit_counts_todays_tickets_only() -> None:
    tired = agent("a", taken_today=50)
    assert choose([tired], need(), limits(daily_limit=50)) == Queue("daily_limit")
    assert choose([tired], need(), limits(daily_limit=51)).agent_id == "a"
    yesterday = agent("a", taken_today=50, day="2026-11-22")
    assert choose([yesterday], need(), limits(daily_limit=50)).agent_id == "a"
    assert choose([tired, agent("b")], need(), limits(daily_limit=50)).agent_id == "b"


def test_a_surge_stretches_capacity_and_says_overflow() -> None:
    full = agent("a", capacity=2, tickets=["1", "2"])
    assert choose([full], need(), limits()) == Queue("at_capacity")
    assert choose([full], need(), limits(capacity_factor=1.5)) == Assign("a", "overflow")
    half = agent("a", capacity=2, tickets=["1"])
    assert choose([half], need(), limits(capacity_factor=1.5)) == Assign("a", "least_loaded")


def test_relaxation_lets_a_waiting_ticket_reach_higher_tiers() -> None:
    senior, junior = agent("s", tier=2), agent("j", tickets=["1", "2"])
    exact = limits(tier_exact_first=True)
    assert choose([senior, junior], need(tier=1), exact) == Queue("tier_wait")
    assert choose([senior, junior], need(tier=1, relaxed=True), exact) == Assign("s", "relaxed")
    assert choose([senior, agent("j")], need(tier=1, relaxed=True), exact).agent_id == "j"
    assert choose([senior], need(tier=1), limits()) == Assign("s", "least_loaded")


@pytest.mark.parametrize(
    ("own_tier", "expected"),
    [
        (None, Assign("s", "relaxed")),  # nobody of tier 1 online: a higher tier at once
        (agent("j", status="away"), Assign("s", "relaxed")),
        (agent("j", skills=["billing"]), Assign("s", "relaxed")),  # could never take it
        (agent("j", tickets=["1", "2"]), Queue("tier_wait")),  # online and able: wait for her
        (agent("j"), Assign("j", "least_loaded")),
    ],
    ids=["none", "away", "other-skills", "busy", "free"],
)
def test_a_ticket_waits_for_its_own_tier_only_while_one_is_online(own_tier, expected) -> None:
    """Contract 9: the P1 outage seen with `make run` (one tier-3 agent online, three tier-1
    tickets) goes to the senior at once, and the queue says `tier_wait`, never `no_skill`."""
    agents = [agent("s", tier=3, skills=["tech", "general", "billing"], capacity=5)]
    agents += [own_tier] if own_tier else []
    assert choose(agents, need(tier=1), limits(tier_exact_first=True)) == expected


def test_a_full_house_is_at_capacity_not_a_tier_wait() -> None:
    agents = [agent("s", tier=2, tickets=["1", "2"]), agent("j", tickets=["3", "4"])]
    assert choose(agents, need(tier=1), limits(tier_exact_first=True)) == Queue("at_capacity")


def test_the_queue_orders_by_customer_tier_priority_due_time_then_age() -> None:
    t0, t1 = "2026-11-23T10:00:00.000Z", "2026-11-23T10:05:00.000Z"
    ranks = {
        "svip P4": queue_rank("svip", "P4", None, t1),
        "vip P3": queue_rank("vip", "P3", None, t1),
        "std P1 due soon": queue_rank("standard", "P1", "2026-11-23T10:15:00.000Z", t1),
        "std P1 due later": queue_rank("standard", "P1", "2026-11-23T11:00:00.000Z", t0),
        "std P1 no SLA, older": queue_rank("standard", "P1", None, t0),
        "std P1 no SLA, newer": queue_rank("standard", "P1", None, t1),
        "std P2": queue_rank("standard", "P2", "2026-11-23T10:01:00.000Z", t0),
    }
    assert sorted(ranks, key=ranks.get) == list(ranks)


def test_lanes_with_room_are_every_tier_and_skill_subset_an_agent_with_room_could_take() -> None:
    free = Agent(agent_id="a", status="online", skills=["tech", "billing"], capacity=2, tier=2)
    full = Agent(agent_id="b", status="online", skills=["vip"], capacity=1, tickets=["1"])
    away = Agent(agent_id="c", status="away", skills=["legal"], capacity=3)
    lanes = lanes_with_room([free, full, away], Limits())
    assert lanes == sorted(
        lane(skills, tier)
        for skills in ([], ["billing"], ["tech"], ["billing", "tech"])
        for tier in (1, 2)
    )
    assert lane(["tech", "billing", "tech"], 1) == lane(["billing", "tech"], 1) == "1:billing+tech"
    assert lanes_with_room([full, away], Limits()) == []
    many = free.model_copy(update={"skills": [f"s{n}" for n in range(9)], "tier": 1})
    assert lanes_with_room([many], Limits()) is None  # 512 lanes: the queue is read whole
