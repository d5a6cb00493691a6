"""Events on `notify.requests` (any service) and `notify.deliveries` (notify)."""

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.shared.events.base import Channel, EventData, Timestamp
from kefu.shared.events.ticket import TicketOpened
from kefu.shared.topics import Topic

NotifyChannel = Literal["email", "sms", "webhook"]
CUSTOMER_CHANNEL: dict[Channel, NotifyChannel] = {  # contract 4.1: how a customer is reached
    "email": "email",
    "webform": "email",
    "sms": "sms",
    "voice": "sms",
}  # chat and social: their adapters deliver what the customer is told


class CustomerReach(BaseModel):
    """How a ticket's customer is reached, as `kefu.ticket.opened` says."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    address: str
    name: str | None = None
    locale: str | None = None

    @classmethod
    def of(cls, opened: TicketOpened) -> "CustomerReach":
        customer = opened.customer
        return cls(
            channel=opened.channel,
            address=customer.address,
            name=customer.name,
            locale=opened.locale,
        )

    def notify_channel(self) -> NotifyChannel | None:
        """Email or SMS; None for chat and social."""
        return CUSTOMER_CHANNEL.get(self.channel)


class NotifyRequested(EventData):
    event_type: ClassVar[str] = "kefu.notify.requested"
    topic: ClassVar[Topic] = Topic.NOTIFY_REQUESTS
    notification_id: str
    ticket_id: str
    channel: NotifyChannel
    to: str
    template: str
    locale: str
    params: dict[str, Any] = Field(default_factory=dict)


class DeliveryEvent(EventData):
    topic: ClassVar[Topic] = Topic.NOTIFY_DELIVERIES
    notification_id: str
    ticket_id: str


class NotifySent(DeliveryEvent):
    event_type: ClassVar[str] = "kefu.notify.sent"
    channel: NotifyChannel
    template: str
    provider_id: str | None
    attempts: int
    at: Timestamp


class NotifyFailed(DeliveryEvent):
    event_type: ClassVar[str] = "kefu.notify.failed"
    channel: NotifyChannel
    error: str
    attempts: int
    final: bool
    at: Timestamp


class NotifySuppressed(DeliveryEvent):
    event_type: ClassVar[str] = "kefu.notify.suppressed"
    reason: Literal["opted_out", "quiet_hours", "duplicate"]
    at: Timestamp
