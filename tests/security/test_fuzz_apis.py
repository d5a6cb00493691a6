"""Every HTTP API against its own OpenAPI document (schemathesis, with hypothesis): intake's
door, analytics, notify, survey and the workspace as processes on one isolated backend. Every
operation gets generated parameters and bodies, valid and invalid, as an admin and with no
token (the survey's also with the link of a survey waiting for its answer): never a 5xx,
always a documented status, media type and schema, and no 2xx without a token where one is
required. Relations OpenAPI cannot state (`from` before `to`, a cursor the API gave) answer
422, and schemathesis' invalid cases are not always invalid once sent, so the checks that
schema-valid requests succeed and invalid ones fail are left out."""

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from kefu.services.survey.http import survey_pages
from kefu.services.survey.tokens import SurveyLinks
from kefu.shared.admin import create_topics
from kefu.shared.service import Service
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests import sla_events as ev
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.e2e.processes import RunningService, start_service
from tests.kafka import TopicReader

pytestmark = pytest.mark.e2e
ADMIN = "fuzz-admin-token-0123456789"
# intake first: the tickets its door takes reach the others' stores
SERVICES = ("intake", "analytics", "notify", "survey", "workspace")
EXAMPLES = 60  # per operation, caller and known parameters or not: the file takes ~150 s
LEFT_OUT = [positive_data_acceptance, negative_data_rejection]
PERSON = {  # the workspace takes only people's tokens beyond its people routes
    "id": "fuzz-admin",
    "name": "Fuzz Admin",
    "email": "fuzz-admin@example.com",
    "roles": ["admin"],
    "password": "fuzz-admin-password",
}


@dataclass(frozen=True)
class Api:
    url: str
    schema: OpenApiSchema
    admin_token: Callable[[], str]
    known: dict[str, str] = field(default_factory=dict)  # path parameters that name something


@pytest.fixture(scope="module")
def apis(backend, tmp_path_factory) -> Iterator[dict[str, Api]]:
    service_settings = isolated_settings(backend, api_tokens=f"{ADMIN}:admin")
    asyncio.run(create_topics(service_settings, TEST_PARTITIONS))
    log_dir = tmp_path_factory.mktemp("fuzz")
    running: list[RunningService] = []
    try:
        for name in SERVICES:
            running.append(start_service(name, service_settings, log_dir))
        survey_token = asyncio.run(_open_survey(service_settings))
        yield {
            service.name: _api(service, service_settings, {"token": survey_token})
            for service in running
        }
    finally:
        for service in running:
            service.popen.terminate()
        for service in running:
            service.popen.wait(15)


async def _open_survey(service_settings: Settings) -> str:
    """The token of a survey waiting for its answer, so the form is reached, not only 404s."""
    publisher = Service.create("publisher", service_settings)
    publisher.bus.declare_publishes(Topic.TICKET_EVENTS)
    async with publisher.app(), TopicReader(service_settings, Topic.SURVEY_EVENTS) as reader:
        now = datetime.now(UTC)
        solved = ev.status("fuzz-1", "open", "solved", now)
        await publisher.bus.publish(ev.opened("fuzz-1", now), solved)
        [issued] = await reader.take(1, lambda e: e["type"] == "kefu.survey.issued")
    return issued["data"]["url"].rpartition("/")[2]


def _api(service: RunningService, service_settings: Settings, survey: dict[str, str]) -> Api:
    url = f"http://127.0.0.1:{service.port}"
    if service.name == "survey":  # public pages: the document is not served, only made
        links = SurveyLinks(service_settings.signing_secret("survey_secret"), url)
        no_store: Any = None  # only the routes are read
        document = survey_pages(no_store, links, 10_000).openapi()
        return Api(url, schemathesis.openapi.from_dict(document), lambda: ADMIN, survey)
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    if service.name == "workspace":
        admin = {"Authorization": f"Bearer {ADMIN}"}
        created = httpx.post(f"{url}/v1/people", json=PERSON, headers=admin)
        assert created.status_code == 201, created.text
        return Api(url, schema, lambda: _signed_in_admin(url))
    return Api(url, schema, lambda: ADMIN)


def _signed_in_admin(url: str) -> str:
    login = {"login": PERSON["id"], "password": PERSON["password"]}
    signed_in = httpx.post(f"{url}/v1/sessions", json=login)
    assert signed_in.status_code == 200, signed_in.text
    return signed_in.json()["token"]


@pytest.mark.parametrize("caller", ["admin", "nobody"])
@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_documented(
    apis: dict[str, Api], service: str, caller: str
) -> None:
    api = apis[service]
    operations = [result.ok() for result in api.schema.get_all_operations()]
    assert operations
    for operation in operations:
        # a fresh sign-in each time: the workspace's DELETE /v1/sessions ends it
        token = api.admin_token() if caller == "admin" else None
        statuses = _fuzz(operation, api, token)
        if token:  # the admin got past the token check
            assert set(statuses) - {401}, f"{operation.label}: {statuses}"


def _fuzz(operation: schemathesis.APIOperation, api: Api, token: str | None) -> list[int]:
    statuses: list[int] = []
    auth = {"Authorization": f"Bearer {token}"} if token else None
    known = {name: value for name, value in api.known.items() if f"{{{name}}}" in operation.path}
    cases = st.one_of(
        operation.as_strategy(mode, path_parameters=fixed)
        for mode in GenerationMode
        for fixed in ([{}, known] if known else [{}])
    )

    @given(case=cases)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def answers_as_documented(case: schemathesis.Case) -> None:
        # the document declares bearer auth, so cases come with a made-up token: ours or none
        headers = (case.headers or {}).items()
        case.headers = {name: value for name, value in headers if name.lower() != "authorization"}
        response = case.call_and_validate(base_url=api.url, headers=auth, excluded_checks=LEFT_OUT)
        statuses.append(response.status_code)

    answers_as_documented()
    return statuses
