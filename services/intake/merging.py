"""Merging two tickets (contract 8), pure: whether an agent may merge ticket A (the source)
into ticket B (the target), and what it becomes.

The rule: A and B both exist and are open (anything not solved or closed: new, open,
pending and on_hold count), A is not B, and they are the same customer's (the same requester
address, in any case, on the same channel; or the same `customer_id`) or linked by
`related_to` (A's names B or B's names A). A merge becomes `kefu.ticket.merged` (A, into B)
then `kefu.ticket.status_changed` A → closed with `reason: "merged"`; A keeps
`merged_into = B`, so later messages that thread to A join B (services/intake/conversation.py).

Why the decision is one conditional write of A's document, and B is only read:
- The command is keyed by A (`ticket_id`) and decided on A's document, like every command;
  its id is in A's applied ids and its events in A's outbox, written together with A's new
  state, conditional on the version read. So A is closed once, by one merge, whatever the
  replicas and retries, and the events' ids come from the command (`intake:agent:<id>`,
  `intake:agent:<id>:closed`).
- What the rule asks of B is read in the same load as A (one `$in`). B's customer, channel,
  customer id and `related_to` never change, so that part holds whenever the write lands.
  B's status can change meanwhile (an agent closes B on another replica): that is the same
  as B changing just after the merge, which the rule allows, so a merge never needs B's
  version. A message that joins B, or a change to B, writes B's own document, conditional
  on B's version, and never conflicts with the merge.
- B needs nothing written: its conversation does not change until a message comes, and a
  message that threads to A reads A, finds `merged_into` and goes to B (which it then writes,
  conditional on B's version). A's `merged_into` never changes once written (a closed ticket
  is final), so reading it is always current. A into B while B goes into C elsewhere is A
  into B, then B into C: messages to A follow both. Downstream, `kefu.ticket.merged` on A's key
  names B for whoever shows B's conversation.
- The one outcome no serial order gives: A into B and B into A decided at the same moment on
  two replicas (each read the other open), both closed. Messages that thread to either then
  reach the end of a loop and open a follow-up (conversation.continued), so nothing is lost
  or reopened; in one round, or one after the other, the second merge is refused. Locking B
  for this would need a second conditional write whose crash in between would have to be
  repaired; two agents merging one pair both ways at once is not worth it.
"""

from datetime import datetime
from typing import Any

from kefu.services.intake.conversation import Conversation
from kefu.shared.events.base import EventData
from kefu.shared.events.ticket import StatusChanged, TicketMerged
from kefu.shared.inbound import MergeCommand

MERGED = "merged"  # status_changed's reason when a merge closed the ticket
DONE = ("solved", "closed")


def same_customer(one: Conversation, other: Conversation) -> bool:
    """The same requester on the same channel (addresses in any case), or the same
    customer id from the adapters."""
    if one.customer_id is not None and one.customer_id == other.customer_id:
        return True
    return (
        one.channel == other.channel
        and one.customer_address.lower() == other.customer_address.lower()
    )


def linked(one: Conversation, other: Conversation) -> bool:
    """Either ticket opened `related_to` the other."""
    return one.related_to == other.ticket_id or other.related_to == one.ticket_id


def merge_refusal(source: Conversation, target: Conversation | None, into: str) -> str | None:
    """Why `source` may not be merged into ticket `into` (`target`, None if it does not
    exist); None when it may. A closed source is refused before this, like any command."""
    if into == source.ticket_id:
        return f"ticket {into} cannot be merged into itself"
    if source.status in DONE:
        return f"ticket {source.ticket_id} is {source.status}; only an open ticket can be merged"
    if target is None:
        return f"ticket {into} does not exist"
    if target.status in DONE:
        return f"ticket {into} is {target.status}; a ticket can only be merged into an open one"
    if not (same_customer(source, target) or linked(source, target)):
        return (
            f"tickets {source.ticket_id} and {into} are not the same customer's (requester "
            "on the channel, or customer id) and neither is related_to the other"
        )
    return None


def merge(
    command: MergeCommand, source: Conversation, target: Conversation, now: datetime
) -> tuple[list[tuple[str, EventData]], dict[str, Any]]:
    """The events (with their id suffixes) and the source's changes: merged, then closed."""
    merged = TicketMerged(
        ticket_id=source.ticket_id,
        into_ticket_id=target.ticket_id,
        agent_id=command.agent_id,
        at=now,
    )
    closed = StatusChanged(
        ticket_id=source.ticket_id,
        from_status=source.status,
        to="closed",
        by=command.agent_id,
        at=now,
        reason=MERGED,
    )
    changes = {"status": "closed", "merged_into": target.ticket_id}
    return [("", merged), (":closed", closed)], changes
