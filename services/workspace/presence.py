"""Presence as the signed-in person (contract 8): what `POST /v1/me/presence` and the desk's
presence switch send."""

import uuid

from kefu.services.workspace.audit import AuditLog
from kefu.services.workspace.people import Person
from kefu.shared.bus import Bus
from kefu.shared.events.agent import Presence
from kefu.shared.inbound import PresenceCommand
from kefu.shared.topics import Topic


async def send_presence(bus: Bus, audit: AuditLog, person: Person, status: Presence) -> str:
    """A section 2.2 `presence` command as the person, with their skills, tier and capacity;
    its command id."""
    command = PresenceCommand(
        action="presence",
        agent_id=person.id,
        command_id=f"presence-{uuid.uuid4().hex}",
        status=status,
        skills=person.skills,
        capacity=person.capacity,
        tier=person.tier,
    )
    await bus.forward(Topic.AGENT_INBOUND, command.model_dump_json().encode(), person.id)
    await audit.record(person.id, "presence", command_id=command.command_id, detail=status)
    return command.command_id or ""
