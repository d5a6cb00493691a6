"""Real servers for every test that needs them, chosen by KEFU_TEST_BACKEND:
`embedded` (default: Tansu + nx-27017 processes on free ports), `containers`
(testcontainers Kafka + MongoDB, needs Docker) or `external` (the KEFU_* URLs as given)."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from hypothesis import settings as hypothesis_settings

from kefu.embedded import EmbeddedStack, free_port
from kefu.shared.admin import create_topics
from kefu.shared.settings import Settings, load_settings

TEST_PARTITIONS = 3
# Property-based tests (hypothesis, schemathesis): one fixed seed in CI (CI=true), so a run is
# reproducible; a new seed on every local run, so more cases get tried over time.
hypothesis_settings.register_profile("ci", derandomize=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "default")


@dataclass(frozen=True)
class Backend:
    kafka_bootstrap: str
    mongodb_url: str
    session_timeout_ms: int = 6000  # the least real Kafka accepts by default
    # the embedded servers' process groups by name (`kafka`, `mongodb`), for fault tests
    process_groups: tuple[tuple[str, int], ...] = ()


def _containers() -> Iterator[Backend]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with KafkaContainer().with_kraft() as kafka, MongoDbContainer("mongo:8") as mongo:
        yield Backend(kafka.get_bootstrap_server(), mongo.get_connection_url())


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    kind = os.environ.get("KEFU_TEST_BACKEND", "embedded")
    if kind == "external":
        yield Backend(os.environ["KEFU_KAFKA_BOOTSTRAP"], os.environ["KEFU_MONGODB_URL"])
    elif kind == "containers":
        yield from _containers()
    elif kind == "embedded":
        stack = EmbeddedStack(
            tmp_path_factory.mktemp("stack"), free_port(), free_port(), free_port()
        )
        stack.start()
        try:
            groups = tuple((p.name.split()[0], p.popen.pid) for p in stack.processes)
            yield Backend(
                stack.kafka_bootstrap,
                stack.mongodb_url,
                session_timeout_ms=2000,
                process_groups=groups,
            )
        finally:
            stack.stop()
    else:
        raise pytest.UsageError(f"KEFU_TEST_BACKEND={kind!r}: embedded, containers or external")


def isolated_settings(backend: Backend, **overrides: object) -> Settings:
    """Settings with a topic prefix and database of their own, so tests never share data."""
    run = uuid.uuid4().hex[:10]
    values: dict[str, object] = {
        "kafka_bootstrap": backend.kafka_bootstrap,
        "mongodb_url": backend.mongodb_url,
        "topic_prefix": f"t{run}.",
        "mongodb_db": f"kefu_{run}",
        "log_format": "console",
        "kafka_session_timeout_ms": backend.session_timeout_ms,
        "instance_id": "",  # in-process replicas share one host name
        "survey_secret": f"test-survey-secret-{run}-{run}",
        "notify_secret": f"test-notify-secret-{run}-{run}",
        "auth_secret": f"test-auth-secret-{run}-{run}",
    }
    return load_settings(**{**values, **overrides})


@pytest.fixture
async def settings(backend: Backend) -> AsyncIterator[Settings]:
    settings = isolated_settings(backend)
    await create_topics(settings, TEST_PARTITIONS)
    yield settings


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log() -> Iterator[None]:
    """After every test: no service process that a test started wrote a secret of its settings
    (a token, a signing secret, a password) to its log (contract 11)."""
    yield
    from tests.e2e.processes import STARTED, leaks

    found = {
        str(service.log): shown
        for service in STARTED
        if service.log.exists()
        and (shown := leaks(service.log.read_text(errors="replace"), service.secrets))
    }
    assert not found, f"secrets in service logs: {found}"
