"""Workspace: the people who work tickets, their sign-ins and presence, the record of every
conversation, search, macros, the audit trail, the desk's pages and the customer's view
(contract 8)."""

import asyncio

from faststream.asgi import AsgiFastStream
from pymongo.errors import PyMongoError

from kefu.services.workspace.audit import AuditLog
from kefu.services.workspace.handling import ConversationRecord
from kefu.services.workspace.http import workspace_api
from kefu.services.workspace.macro_store import MacroStore
from kefu.services.workspace.record_store import RecordStore
from kefu.services.workspace.search_index import TermIndex
from kefu.services.workspace.store import WorkspaceStore
from kefu.shared.events.base import utc_now
from kefu.shared.logs import get_logger
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic

CLEAN_EVERY_S = 300
log = get_logger("kefu.workspace")


def build(settings: Settings) -> AsgiFastStream:
    settings.signing_secret("auth_secret")  # no person tokens without it: refuse to start
    service = Service.create(
        "workspace",
        settings,
        {
            **WorkspaceStore.indexes(),
            **AuditLog.indexes(),
            **RecordStore.indexes(),
            **MacroStore.indexes(),
            **TermIndex.indexes(),
        },
    )
    service.bus.declare_forwards(Topic.AGENT_INBOUND)
    store = WorkspaceStore(service.db)
    audit = AuditLog(service.db)
    record_store = RecordStore(service.db)
    service.flushed(record_store.tickets)
    record = ConversationRecord(service.bus, record_store)
    search_index = TermIndex(service.db)
    record.subscribe(service.bus)

    async def ensure_admin() -> None:
        if settings.admin_password is not None:
            done = await store.ensure_admin(settings.admin_password.get_secret_value())
            log.info("admin person checked", outcome=done)

    async def remove_expired() -> None:
        while True:
            try:
                await store.remove_expired(utc_now())
            except PyMongoError as error:  # the store is away: next round
                log.warning("could not remove expired sign-ins", error=repr(error))
            await asyncio.sleep(CLEAN_EVERY_S)

    service.preparing += [ensure_admin, audit.give_keys]
    service.background.append(remove_expired)
    record.listeners.append(search_index.add)
    return service.app(
        fallback=workspace_api(
            service.bus, store, audit, record_store, MacroStore(service.db), search_index
        )
    )
