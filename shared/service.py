"""What every kefu service is made of, and its ASGI app with /healthz, /readyz and /metrics."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, make_asgi_app
from pydantic import BaseModel
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from starlette.responses import JSONResponse

from kefu.shared.access import access_logged
from kefu.shared.bus import Bus, make_broker
from kefu.shared.decisions import Keys, StateCollection
from kefu.shared.logs import configure_logging, get_logger
from kefu.shared.metrics import Metrics
from kefu.shared.policy import Policy, load_policy
from kefu.shared.settings import Settings
from kefu.shared.store import Document, connect, database, ensure_indexes

S = TypeVar("S", bound=BaseModel)
SERVICES = ("intake", "router", "sla", "notify", "survey", "analytics", "workspace")
STARTUP_RETRY_S = 60
log = get_logger("kefu.service")


@dataclass
class Service:
    name: str
    settings: Settings
    policy: Policy
    broker: KafkaBroker
    bus: Bus
    mongo: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    registry: CollectorRegistry
    indexes: dict[str, list[IndexModel]] = field(default_factory=dict)
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    preparing: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # after indexes
    closing: list[Callable[[], Awaitable[None]]] = field(default_factory=list)  # before the store
    _tasks: list["asyncio.Task[None]"] = field(default_factory=list)

    @classmethod
    def create(
        cls, name: str, settings: Settings, indexes: Mapping[str, Sequence[IndexModel]] = {}
    ) -> "Service":
        configure_logging(settings.log_level, settings.log_format, service=name)
        policy = load_policy(settings.config)
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        broker = make_broker(settings, name)
        broker.add_middleware(KafkaPrometheusMiddleware(registry=registry, app_name=name))
        mongo = connect(settings, listeners=[metrics.store_listener()])
        return cls(
            name=name,
            settings=settings,
            policy=policy,
            broker=broker,
            bus=Bus(broker, settings, name, metrics),
            mongo=mongo,
            db=database(mongo, settings),
            registry=registry,
            indexes={name: list(models) for name, models in indexes.items()},
        )

    def collection_name(self, short: str) -> str:
        """Each service owns its collections; the name says whose they are."""
        return f"{self.name}_{short}"

    def states(
        self, short: str, model: type[S], keys: Keys | None = None, owned: bool = False
    ) -> StateCollection[S]:
        """The service's collection of state documents `short` (shared/decisions.py)."""
        collection = self.db[self.collection_name(short)]
        states = StateCollection(
            collection,
            model,
            keys,
            owned,
            alone=lambda: self.bus.holds_every_partition,
            marks=self.db[self.collection_name("marks")],
        )
        return self.flushed(states)

    def flushed(self, states: StateCollection[S]) -> StateCollection[S]:
        """`states`, whose marks kept in memory are written when the service stops or its
        partitions are handed over."""
        self.closing.append(states.flush)
        self.bus.handing_over.append(states.flush)
        return states

    async def ready(self) -> bool:
        try:
            await self.db.command("ping")
        except PyMongoError:
            return False
        return await self.broker.ping(timeout=2.0)

    async def _prepare_store(self) -> None:
        deadline = asyncio.get_running_loop().time() + STARTUP_RETRY_S
        while True:
            try:
                await ensure_indexes(self.db, self.indexes)
                break
            except PyMongoError as error:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                log.warning("store not reachable yet", error=repr(error))
                await asyncio.sleep(1)
        for prepare in self.preparing:
            await prepare()

    async def _start_background(self) -> None:
        self._tasks = [asyncio.create_task(run()) for run in self.background]

    async def _stop_background(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _close(self) -> None:
        for close in self.closing:
            try:
                await close()
            except Exception as error:  # the rest still closes (marks lost: events sent again)
                log.warning("closing failed", error=repr(error))
        await self.mongo.close()

    def app(self, routes: Sequence[tuple[str, Any]] = (), fallback: Any = None) -> AsgiFastStream:
        """The service's ASGI app: health, readiness, metrics and `routes` by exact path;
        every other path goes to `fallback` (an ASGI app, e.g. FastAPI) when there is one."""
        app = ServiceApp(
            self.broker,
            asgi_routes=[*probe_routes(self.ready, self.registry), *routes],
            # Timers live in the store and need no partition: they start before the broker
            # joins its consumer group, which can wait a dead member's session out.
            on_startup=[self._prepare_store, self.bus.start, self._start_background],
            on_shutdown=[self._stop_background],
            after_shutdown=[self.bus.stop, self._close],
            logger=get_logger("faststream.app"),
        )
        app.fallback = fallback
        return app


def probe_routes(
    ready: Callable[[], Awaitable[bool]], registry: CollectorRegistry
) -> list[tuple[str, Any]]:
    """/healthz (alive), /readyz (`ready`: what the process needs is reachable), /metrics."""

    @get(include_in_schema=False)
    async def healthz(scope: Any) -> AsgiResponse:
        return AsgiResponse(b"ok", 200)

    @get(include_in_schema=False)
    async def readyz(scope: Any) -> AsgiResponse:
        if await ready():
            return AsgiResponse(b"ready", 200)
        return AsgiResponse(b"broker or store unreachable", 503)

    return [("/healthz", healthz), ("/readyz", readyz), ("/metrics", make_asgi_app(registry))]


class ServiceApp(AsgiFastStream):
    """FastStream's ASGI app routes exact paths only; paths with parameters (a survey's
    token) go to the fallback app, which routes them itself. Without one, an unknown path
    is a JSON 404 like every other error of the APIs."""

    fallback: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await access_logged(super().__call__, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def not_found(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await super().not_found(scope, receive, send)
        elif self.fallback is not None:
            await self.fallback(scope, receive, send)
        else:
            await JSONResponse({"detail": "Not Found"}, 404)(scope, receive, send)
