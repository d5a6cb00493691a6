"""Who is told what, pure (contract 4.1; policy `notify`).

Notify keeps a little of each ticket (`TicketContext`: how to reach the customer, the locale,
the subject, the email thread, the first-response due time) and turns each event into the
notifications it calls for. A notification's id says what caused it and for whom
(`notify:<event id>:<recipient>`), so a redelivered event plans the same ids and nothing is
sent twice. A requested notification keeps the request's id; one to `role:<name>` goes to each
of the role's staff addresses, as `<request id>:<address>`.

A ticket closed by a merge (`status_changed` with `reason: "merged"`) tells the customer
nothing: their conversation goes on in the target ticket (webhooks still get the event).

The acknowledgement of a new ticket tells the customer when to expect an answer, which the
sla service announces on another topic (`kefu.sla.started`) a moment after the ticket opens.
So the acknowledgement waits for it, at most ACK_WAIT: if the due time is known when the ticket
opens it goes at once; otherwise it is held, and `kefu.sla.started` releases it (`wake`).
"""

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from kefu.shared.events import CloudEvent
from kefu.shared.events.base import Channel, Priority, Timestamp
from kefu.shared.events.notify import CUSTOMER_CHANNEL, NotifyChannel, NotifyRequested
from kefu.shared.events.ops import SurgeStarted
from kefu.shared.events.routing import TicketAssigned
from kefu.shared.events.sla import SlaEscalated, SlaStarted
from kefu.shared.events.ticket import (
    AgentReplied,
    MessageReceived,
    PriorityChanged,
    StatusChanged,
    TicketOpened,
)
from kefu.shared.policy import Notify, Sla

ACK_WAIT = timedelta(seconds=3)
ROLE = "role:"  # a requested notification's `to` that names a staff role
STATUS_STEPS = {
    "solved": ("solved", "ticket_solved"),
    "pending": ("status_pending", "status_pending"),
    "closed": ("closed", "ticket_closed"),
}
Audience = Literal["customer", "staff", "webhook"]


class TicketContext(BaseModel):
    model_config = ConfigDict(frozen=True)

    ticket_id: str
    channel: Channel | None = None
    address: str | None = None
    name: str | None = None
    locale: str | None = None
    subject: str | None = None
    priority: Priority = "P3"
    first_message_id: str | None = None
    last_message_id: str | None = None
    first_response_due: Timestamp | None = None
    ack: str | None = None  # the acknowledgement waiting for the due time
    assigned_before: tuple[str, str] | None = None  # (event id, agent) read before `opened`


class Notification(BaseModel):
    """One message to one recipient, as planned; its document carries the sending state."""

    id: str
    ticket_id: str
    audience: Audience
    channel: NotifyChannel
    to: str
    template: str
    locale: str
    params: dict[str, Any] = {}
    priority: Priority = "P3"
    due_at: Timestamp
    body: str | None = None  # a webhook's: the event exactly as read


@dataclass
class Plan:
    context: TicketContext | None
    notifications: list[Notification] = field(default_factory=list)
    wake: list[str] = field(default_factory=list)  # held notifications to send now


@dataclass(frozen=True)
class Rules:
    notify: Notify
    sla: Sla
    default_locale: str


def plan(context: TicketContext | None, event: CloudEvent[Any], raw: str, rules: Rules) -> Plan:
    """The context after `event`, and what it calls for (`raw`: the event as read)."""
    planner = Planner(context, event, rules)
    planner.react()
    planner.webhooks(raw)
    return Plan(planner.context, planner.notifications, planner.wake)


@dataclass
class Planner:
    context: TicketContext | None
    event: CloudEvent[Any]
    rules: Rules
    notifications: list[Notification] = field(default_factory=list)
    wake: list[str] = field(default_factory=list)

    def react(self) -> None:
        data = self.event.data
        match data:
            case TicketOpened():
                self._opened(data)
            case MessageReceived() if self.context and self.context.channel == "email":
                self._update(last_message_id=data.message_id)
            case AgentReplied(public=True):
                self._customer("agent_reply", "agent_reply", text=data.text, agent_id=data.agent_id)
            case StatusChanged(reason="merged"):
                return  # the conversation goes on in another ticket: nothing ended for them
            case StatusChanged() if data.to in STATUS_STEPS:
                step, template = STATUS_STEPS[data.to]
                self._customer(step, template)
            case PriorityChanged():
                self._update(priority=data.to)
            case TicketAssigned() if self.context is None or self.context.address is None:
                known = self.context or TicketContext(ticket_id=data.ticket_id)
                self.context = known.model_copy(
                    update={"assigned_before": (self.event.id, data.agent_id)}
                )
            case TicketAssigned():
                self._customer("assigned", "ticket_assigned", agent_id=data.agent_id)
            case SlaStarted():
                self._sla_started(data)
            case SlaEscalated():
                self._escalated(data)
            case SurgeStarted():
                surge = {"factor": data.factor, "rate_per_min": data.rate_per_min}
                self._staff(["supervisor"], "surge", surge)
            case NotifyRequested() if data.to.startswith(ROLE):
                self._staff(
                    [data.to.removeprefix(ROLE)],
                    data.template,
                    data.params,
                    request_id=data.notification_id,
                    locale=data.locale,
                )
            case NotifyRequested():
                self._add(
                    data.notification_id,
                    "customer",
                    data.channel,
                    data.to,
                    data.template,
                    data.params,
                    locale=data.locale,
                )

    def _opened(self, data: TicketOpened) -> None:
        known = self.context or TicketContext(ticket_id=data.ticket_id)
        self.context = known.model_copy(
            update={
                "channel": data.channel,
                "address": data.customer.address,
                "name": data.customer.name,
                "locale": data.locale,
                "subject": data.subject,
                "priority": data.priority,
                "first_message_id": data.first_message_id,
                "last_message_id": data.first_message_id,
            }
        )
        held = known.first_response_due is None
        note = self._customer("opened", "ticket_opened", hold=held)
        if note and held:
            self._update(ack=note.id)
        if known.assigned_before:  # routing.events came first: another topic, no order
            event_id, agent = known.assigned_before
            self._customer("assigned", "ticket_assigned", cause=event_id, agent_id=agent)

    def _sla_started(self, data: SlaStarted) -> None:
        due = next((t.due_at for t in data.targets if t.metric == "first_response"), None)
        context = self.context or TicketContext(ticket_id=data.ticket_id)
        if context.first_response_due is None and due is not None:
            self.context = context.model_copy(update={"first_response_due": due, "ack": None})
            self.wake += [context.ack] if context.ack else []
        else:
            self.context = context

    def _escalated(self, data: SlaEscalated) -> None:
        """One mail per recipient per step: the breach step's says `sla_breached`."""
        steps = next((p.escalation for p in self.rules.sla.policies if p.name == data.policy), [])
        step = steps[data.level - 1] if 0 < data.level <= len(steps) else None
        at_breach = step.offset == timedelta(0) if step else data.level == 1
        template = "sla_breached" if at_breach else "sla_escalated"
        params = {"metric": data.metric, "level": data.level, "policy": data.policy}
        self._staff(data.notify, template, params)

    def _customer(
        self, step: str, template: str, hold: bool = False, cause: str | None = None, **params: Any
    ) -> Notification | None:
        context = self.context
        if step not in self.rules.notify.customer or context is None or context.address is None:
            return None
        channel = CUSTOMER_CHANNEL.get(context.channel) if context.channel else None
        if channel is None:
            return None
        return self._add(
            f"notify:{cause or self.event.id}:{context.address}",
            "customer",
            channel,
            context.address,
            template,
            params,
            due_at=self.event.time + ACK_WAIT if hold else None,
        )

    def _staff(
        self,
        roles: list[str],
        template: str,
        params: dict[str, Any],
        *,
        request_id: str | None = None,
        locale: str | None = None,
    ) -> None:
        """One mail to each address of `roles` (an entry with `@` is an address), its id
        `<request_id>:<address>` for a requested one, else `notify:<event id>:<address>`."""
        staff = self.rules.notify.staff
        addresses = dict.fromkeys(
            a for role in roles for a in staff.get(role, [role] if "@" in role else [])
        )
        prefix = request_id or f"notify:{self.event.id}"
        for address in addresses:
            self._add(
                f"{prefix}:{address}", "staff", "email", address, template, params, locale=locale
            )

    def webhooks(self, raw: str) -> None:
        for hook in self.rules.notify.webhooks:
            if any(fnmatch.fnmatchcase(self.event.type, pattern) for pattern in hook.events):
                note = self._add(
                    f"notify:{self.event.id}:{hook.url}",
                    "webhook",
                    "webhook",
                    hook.url,
                    self.event.type,
                    {"event_id": self.event.id},
                )
                self.notifications[-1] = note.model_copy(update={"body": raw})

    def _add(
        self,
        notification_id: str,
        audience: Audience,
        channel: NotifyChannel,
        to: str,
        template: str,
        params: dict[str, Any],
        *,
        locale: str | None = None,
        due_at: datetime | None = None,
    ) -> Notification:
        context = self.context
        note = Notification(
            id=notification_id,
            ticket_id=self.event.data.event_subject(),
            audience=audience,
            channel=channel,
            to=to,
            template=template,
            locale=locale
            or (context.locale if context and audience == "customer" else None)
            or self.rules.default_locale,
            params=params,
            priority=context.priority if context else "P1",
            due_at=due_at or self.event.time,
        )
        self.notifications.append(note)
        return note

    def _update(self, **changes: Any) -> None:
        if self.context is not None:
            self.context = self.context.model_copy(update=changes)
