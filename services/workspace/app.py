"""Workspace: the people who work tickets, their sign-ins and presence (contract 8). Later:
the conversation record, search, macros, the audit trail and the desk's pages."""

import asyncio

from faststream.asgi import AsgiFastStream
from pymongo.errors import PyMongoError

from kefu.services.workspace.http import workspace_api
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
    service = Service.create("workspace", settings, WorkspaceStore.indexes())
    service.bus.declare_forwards(Topic.AGENT_INBOUND)
    store = WorkspaceStore(service.db)

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

    service.preparing.append(ensure_admin)
    service.background.append(remove_expired)
    return service.app(fallback=workspace_api(service.bus, store))
