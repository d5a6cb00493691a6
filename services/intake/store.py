"""Intake's collections:

- `intake_tickets`: a state document per ticket (shared/decisions.py) whose state is the
  `Conversation`; unique on the opening message's thread key, so two replicas, or a replay
  after a crash, can never open two tickets for one message.
- `intake_keys`: thread key → ticket id (`ref:email:<Message-ID>` for every message on a
  ticket, `conversation:chat:<id>` and `sender:sms:<address>` for the newest ticket). A
  message's own `ref:` key is also its dedupe record: it is written once the message is on
  its ticket, and a message that finds its own key was handled before. A merge rewrites no
  key: the keys of a merged ticket still name it, its state names the ticket it was merged
  into, and a message that follows them goes there (moving its conversation or sender key
  with it). Rewriting would mean a query on `ticket_id` and a write per key, and would make
  the old messages' dedupe records name a ticket they never went to.
- `intake_agents`: a state document per agent, its last presence.
- `intake_counters`: ticket numbers, reserved in blocks with one `$inc`.
"""

from collections import deque
from collections.abc import Iterator

from pymongo import IndexModel, ReturnDocument, UpdateOne

from kefu.services.intake.conversation import Conversation
from kefu.shared.events.agent import AgentStatusChanged
from kefu.shared.service import Service
from kefu.shared.store import insert_all

FIRST_TICKET_NUMBER = 1000
NUMBER_BLOCK = 64


class IntakeStore:
    def __init__(self, service: Service) -> None:
        db = service.db
        self.tickets = service.states("tickets", Conversation)
        self.agents = service.states("agents", AgentStatusChanged)
        self.keys = db[service.collection_name("keys")]
        self.counters = db[service.collection_name("counters")]
        self._numbers: deque[int] = deque()

    @staticmethod
    def indexes(service_name: str = "intake") -> dict[str, list[IndexModel]]:
        return {f"{service_name}_tickets": [IndexModel("state.first_ref", unique=True)]}

    async def tickets_of(self, keys: list[str]) -> dict[str, str]:
        """Thread key → ticket id, for the keys that name a ticket."""
        if not keys:
            return {}
        found = self.keys.find({"_id": {"$in": list(dict.fromkeys(keys))}})
        return {document["_id"]: document["ticket_id"] async for document in found}

    async def point(self, pointers: dict[str, str], known: dict[str, str]) -> None:
        """Let each thread key name its ticket: new keys inserted, changed ones (a newer
        ticket for a conversation or sender) updated, unchanged ones left alone. `known` is
        what the keys named when read."""
        changed = {key: ticket for key, ticket in pointers.items() if known.get(key) != ticket}
        new = [{"_id": key, "ticket_id": t} for key, t in changed.items() if key not in known]
        raced = await insert_all(self.keys, new)  # another writer inserted them meanwhile
        moved = [key for key in changed if key in known or key in raced]
        if moved:
            await self.keys.bulk_write(
                [
                    UpdateOne({"_id": key}, {"$set": {"ticket_id": changed[key]}}, upsert=True)
                    for key in moved
                ],
                ordered=False,
            )

    async def reserve_numbers(self, count: int) -> None:
        """Make sure `count` ticket numbers are at hand; unused ones serve the next batch."""
        missing = count - len(self._numbers)
        if missing <= 0:
            return
        block = max(missing, NUMBER_BLOCK)
        counter = await self.counters.find_one_and_update(
            {"_id": "ticket"},
            {"$inc": {"seq": block}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        top = int(counter["seq"])
        self._numbers.extend(range(top - block + 1, top + 1))

    def numbers(self) -> Iterator[str]:
        """The reserved ticket numbers, each taken once, as a round opens tickets."""
        while self._numbers:
            yield str(FIRST_TICKET_NUMBER + self._numbers.popleft())
