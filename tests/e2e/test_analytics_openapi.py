"""The analytics API against its own OpenAPI document (schemathesis): every operation, with
generated parameters, as an admin, never a server error and always a documented response.
Relations between parameters that OpenAPI cannot state (`from` before `to`, a cursor this
API gave) answer 422, so the check that every schema-valid request succeeds is left out."""

import asyncio
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from kefu.shared.admin import create_topics
from tests.conftest import TEST_PARTITIONS, isolated_settings
from tests.e2e.processes import start_service

pytestmark = pytest.mark.e2e
ADMIN = "schema-admin-token"
EXAMPLES = 25


@pytest.fixture(scope="module")
def analytics_url(backend, tmp_path_factory) -> Iterator[str]:
    service_settings = isolated_settings(backend, api_tokens=f"{ADMIN}:admin")
    asyncio.run(create_topics(service_settings, TEST_PARTITIONS))
    service = start_service("analytics", service_settings, tmp_path_factory.mktemp("openapi"))
    try:
        yield f"http://127.0.0.1:{service.port}"
    finally:
        service.popen.terminate()
        service.popen.wait(15)


def test_every_operation_answers_as_documented(analytics_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{analytics_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_as_documented(case: schemathesis.Case) -> None:
            # the document declares bearer auth, so cases come with a made-up token: ours wins
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {ADMIN}"}
            response = case.call_and_validate(
                base_url=analytics_url, excluded_checks=[positive_data_acceptance]
            )
            assert response.status_code != 401

        answers_as_documented()
