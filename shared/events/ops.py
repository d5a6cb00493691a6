"""Events on `analytics.kpis`, `ops.events` and `dlq`."""

from typing import Any, ClassVar, Literal

from pydantic import Field

from kefu.shared.events.base import EventData, Timestamp
from kefu.shared.topics import Topic


class KpiSnapshot(EventData):
    event_type: ClassVar[str] = "kefu.kpi.snapshot"
    topic: ClassVar[Topic] = Topic.ANALYTICS_KPIS
    subject_field: ClassVar[str] = "window"
    window: Literal["1m", "1h", "1d"]
    start: Timestamp
    end: Timestamp
    metrics: dict[str, Any]
    by: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)


class SurgeEvent(EventData):
    topic: ClassVar[Topic] = Topic.OPS_EVENTS
    rate_per_min: float
    baseline_per_min: float
    factor: float
    at: Timestamp

    def event_subject(self) -> str:
        return "surge"


class SurgeStarted(SurgeEvent):
    event_type: ClassVar[str] = "kefu.ops.surge_started"


class SurgeEnded(SurgeEvent):
    event_type: ClassVar[str] = "kefu.ops.surge_ended"


class StaffingEvent(EventData):
    topic: ClassVar[Topic] = Topic.OPS_EVENTS
    online: int
    min_online: int
    at: Timestamp

    def event_subject(self) -> str:
        return "staffing"


class Understaffed(StaffingEvent):
    """Fewer agents online than `analytics.staffing.min_online` in staffed hours."""

    event_type: ClassVar[str] = "kefu.ops.understaffed"


class Staffed(StaffingEvent):
    event_type: ClassVar[str] = "kefu.ops.staffed"


class DeadLetter(EventData):
    event_type: ClassVar[str] = "kefu.dlq.message"
    topic: ClassVar[Topic] = Topic.DLQ
    service: str
    source_topic: str = Field(description="the full topic name the input came from")
    partition: int | None
    offset: int | None
    key: str | None = Field(description="the original key")
    error: str = Field(description="why the input was rejected, for a human")
    payload: str
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    at: Timestamp

    def event_subject(self) -> str:
        return f"{self.source_topic}/{self.partition}/{self.offset}"

    def partition_key(self) -> str:
        return self.key or ""
