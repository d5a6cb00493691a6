"""The committed AsyncAPI document is the one the code generates (`make docs` refreshes it)."""

from pathlib import Path

from kefu.asyncapi import asyncapi_yaml

COMMITTED = Path(__file__).parents[2] / "docs" / "asyncapi.yaml"


def test_docs_asyncapi_yaml_matches_the_code() -> None:
    assert asyncapi_yaml() == COMMITTED.read_text(encoding="utf-8"), "run `make docs`"
