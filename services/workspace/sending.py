"""Sending a ticket command as a person (contract 8): recorded in `workspace_commands` as
the person's (pending, or applied at once when it changes nothing: commands.py), passed to
intake unchanged on `agent.inbound` keyed by the person's id, and written to the audit
trail. The record is written first, so its outcome, read later from the topics, always
finds it. The actions API and macros send through here."""

import uuid

from kefu.services.workspace.audit import AuditLog
from kefu.services.workspace.commands import changes_nothing
from kefu.services.workspace.record_store import RecordStore
from kefu.shared.bus import Bus
from kefu.shared.events.base import utc_now
from kefu.shared.inbound import TicketCommand
from kefu.shared.logs import get_logger
from kefu.shared.topics import Topic

log = get_logger("kefu.workspace.sending")
NOT_SENT = "the broker did not take the command; send it again"


class CommandTaken(Exception):
    """The command id is another person's command."""


class NotSent(Exception):
    """The broker did not take the command (it is recorded refused, with NOT_SENT)."""


def new_command_id() -> str:
    return f"ws-{uuid.uuid4().hex}"


class Sender:
    def __init__(self, bus: Bus, record: RecordStore, audit: AuditLog) -> None:
        self.bus, self.record, self.audit = bus, record, audit

    async def send(self, person_id: str, command: TicketCommand) -> None:
        """Raises CommandTaken or NotSent."""
        ticket = await self.record.summary(command.ticket_id)
        status = "applied" if changes_nothing(command, ticket) else "pending"
        if not await self.record.sent(command, person_id, status, utc_now()):
            raise CommandTaken(command.command_id)
        try:
            raw = command.model_dump_json().encode()
            await self.bus.forward(Topic.AGENT_INBOUND, raw, person_id)
        except Exception as error:  # the broker is away: say so rather than leave it pending
            log.warning("command not sent", command_id=command.command_id, error=repr(error))
            await self.record.settle([(command.command_id, "refused", NOT_SENT)])
            raise NotSent(command.command_id) from error
        await self.audit.record(
            person_id, command.action, ticket_id=command.ticket_id, command_id=command.command_id
        )
