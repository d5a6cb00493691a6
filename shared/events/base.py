"""What every event's data shares: its CloudEvents type, topic and Kafka key."""

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from kefu.shared.topics import Topic

Channel = Literal["email", "chat", "sms", "voice", "webform", "social"]
CustomerTier = Literal["standard", "vip", "svip"]
TicketStatus = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
Priority = Literal["P1", "P2", "P3", "P4"]
SupportTier = Annotated[int, Field(ge=1, le=3)]


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[
    AwareDatetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    Field(description="RFC 3339 UTC time"),
]


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventData(BaseModel):
    """Base of every `data` object; subclasses name their type, topic and subject field."""

    model_config = ConfigDict(
        extra="allow", frozen=True, serialize_by_alias=True, validate_by_name=True
    )

    event_type: ClassVar[str]
    topic: ClassVar[Topic]
    subject_field: ClassVar[str] = "ticket_id"

    def event_subject(self) -> str:
        return str(getattr(self, self.subject_field))

    def partition_key(self) -> str:
        """The Kafka key; per-ticket keys keep a ticket's events in order."""
        return self.event_subject()
