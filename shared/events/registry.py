"""Every event type kefu writes, by its CloudEvents `type`."""

from kefu.shared.events import agent, notify, ops, routing, sla, survey, ticket
from kefu.shared.events.base import EventData
from kefu.shared.topics import Topic

_MODELS: list[type[EventData]] = [
    ticket.TicketOpened,
    ticket.MessageReceived,
    ticket.AgentReplied,
    ticket.NoteAdded,
    ticket.StatusChanged,
    ticket.PriorityChanged,
    ticket.Reopened,
    ticket.TransferRequested,
    ticket.Escalated,
    ticket.CategoryChanged,
    ticket.TicketMerged,
    agent.AgentStatusChanged,
    agent.AgentCommandRefused,
    agent.TransferFellBack,
    routing.TicketAssigned,
    routing.TicketQueued,
    routing.TicketUnassigned,
    sla.SlaStarted,
    sla.SlaWarning,
    sla.SlaBreached,
    sla.SlaEscalated,
    sla.SlaMet,
    notify.NotifyRequested,
    notify.NotifySent,
    notify.NotifyFailed,
    notify.NotifySuppressed,
    survey.SurveyIssued,
    survey.SurveyResponded,
    survey.SurveyExpired,
    survey.SurveyDetractor,
    ops.KpiSnapshot,
    ops.SurgeStarted,
    ops.SurgeEnded,
    ops.Understaffed,
    ops.Staffed,
    ops.DeadLetter,
]

EVENT_TYPES: dict[str, type[EventData]] = {model.event_type: model for model in _MODELS}


def event_types_on(topic: Topic) -> list[type[EventData]]:
    return [model for model in _MODELS if model.topic is topic]
