"""The conversation record's decisions, pure: what a batch of the events the workspace reads
comes to. Each event is an entry of its ticket's conversation (conversation.py), folds into
the summaries it concerns (record.py: its ticket's, and a merge's target) and may settle a
command an agent sent (commands.py). The record publishes nothing."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kefu.services.workspace.commands import Status, outcome_of
from kefu.services.workspace.conversation import entry_of
from kefu.services.workspace.entries import Entry
from kefu.services.workspace.record import Folding, TicketSummary, fold, foldings
from kefu.shared.events import CloudEvent

Event = CloudEvent[Any]


@dataclass(frozen=True)
class Recorded:
    entries: list[Entry]
    foldings: list[Folding]
    outcomes: list[tuple[str, Status, str | None]]


def recorded(events: list[Event]) -> Recorded:
    return Recorded(
        entries=[entry for event in events if (entry := entry_of(event))],
        foldings=[folding for event in events for folding in foldings(event)],
        outcomes=[outcome for event in events if (outcome := outcome_of(event))],
    )


def decide(
    summary: TicketSummary | None, folding: Folding, now: datetime
) -> tuple[TicketSummary, list[Event]]:
    return fold(summary, folding), []
