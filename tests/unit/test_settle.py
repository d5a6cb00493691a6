"""The one loop (shared/decisions.py `settle`): writes in order, a gate that stops the writes
after it, inputs decided again until none is beaten, and only the winners kept to publish.
The collections here are doubles that lose the keys they are told to; test_engine.py races
real replicas on nx-27017."""

from typing import Any

from kefu.shared.decisions import Played, Slot, Write, settle


class Losing:
    """A collection whose saves lose the keys listed for each call, in turn."""

    def __init__(self, *losses: set[str]) -> None:
        self.losses = list(losses)
        self.saved: list[list[str]] = []

    async def save(self, slots: Any) -> set[str]:
        keys = [slot.key for slot in slots]
        self.saved.append(keys)
        return self.losses.pop(0) if self.losses else set()


def slots(*keys: str) -> dict[str, Slot[Any]]:
    return {key: Slot(key) for key in keys}


async def test_beaten_inputs_are_decided_again_until_none_is_left() -> None:
    tickets = Losing({"b"})
    rounds: list[list[str]] = []

    async def play(pending: list[str], number: int) -> Played[str]:
        rounds.append(list(pending))
        assert number == len(rounds) - 1

        def beaten(lost: list[set[str]]) -> list[str]:
            return [key for key in pending if key in lost[0]]

        return Played([Write(tickets, slots(*pending))], beaten)  # type: ignore[arg-type]

    stored = await settle(["a", "b", "c"], play)
    assert rounds == [["a", "b", "c"], ["b"]]
    assert sorted(slot.key for slot in stored.slots(tickets)) == ["a", "b", "c"]  # type: ignore[arg-type]


async def test_a_lost_gate_writes_nothing_after_it_and_keeps_nothing_of_it() -> None:
    agents, tickets = Losing({"li"}), Losing()
    played = 0

    async def play(pending: list[bool], _: int) -> Played[bool]:
        nonlocal played
        played += 1
        writes = [Write(agents, slots("li", "wang"), gate=True), Write(tickets, slots("1001"))]  # type: ignore[arg-type]
        return Played(writes, lambda lost: pending if any(lost) else [])

    stored = await settle([True], play)
    assert played == 2
    assert tickets.saved == [["1001"]]  # only the second round wrote the ticket
    assert [slot.key for slot in stored.slots(tickets)] == ["1001"]  # type: ignore[arg-type]
    assert sorted(slot.key for slot in stored.slots(agents)) == ["li", "wang"]  # type: ignore[arg-type]
