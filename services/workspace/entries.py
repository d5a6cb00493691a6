"""A conversation entry (contract 8): what the record keeps of a ticket, one entry per
customer message, reply, note or milestone, whatever the topics' retention.

The entry's `id` is the id of the canonical event it comes from, so an event read twice (a
redelivery, a replay) is one entry, and entries from several topics sort by `at`.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from kefu.shared.inbound import Attachment

Kind = Literal["message", "reply", "note", "event"]


class Author(BaseModel):
    type: Literal["customer", "agent", "system"]
    id: str | None = None
    name: str | None = None


class Entry(BaseModel):
    id: str = Field(description="the id of the event it comes from")
    ticket_id: str
    kind: Kind
    public: bool = Field(description="false for notes and staff-only milestones")
    author: Author
    text: str = ""
    at: datetime
    attachments: list[Attachment] = []
    event_type: str | None = Field(
        None, description="for kind `event`: the canonical type, e.g. kefu.ticket.assigned"
    )
    on_behalf: str | None = Field(
        None, description="a public reply's: the assignee it was sent for, when another agent"
    )
