"""Every service that signs or checks with a secret refuses to start without a real one
(`kefu run`, as operators start it): unset, the old default `change-me`, or short."""

import os
import subprocess
import sys

import pytest

SIGNERS = [("notify", "KEFU_NOTIFY_SECRET"), ("survey", "KEFU_SURVEY_SECRET")]
SIGNERS += [("workspace", "KEFU_AUTH_SECRET")]
LONG = "a" * 32


def started(service: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """`kefu run <service>` with only these KEFU_ variables (and no secrets directory)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env |= {"KEFU_SECRETS_DIR": "/nonexistent", **variables}
    return subprocess.run(
        [sys.executable, "-m", "kefu.cli", "run", service],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("service", "variable"), SIGNERS)
@pytest.mark.parametrize("value", [None, "change-me", "short-secret"])
def test_a_service_refuses_to_start_with_a_default_or_short_secret(service, variable, value):
    done = started(service, **({variable: value} if value else {}))
    assert done.returncode == 2, done.stderr
    assert variable in done.stderr


@pytest.mark.parametrize("value", ["change-me", "short-secret"])
def test_notify_refuses_a_default_or_short_secret_for_the_customers_links(value):
    """Notify signs the customer's ticket link with KEFU_AUTH_SECRET when it is set."""
    done = started("notify", KEFU_NOTIFY_SECRET=LONG, KEFU_AUTH_SECRET=value)
    assert done.returncode == 2, done.stderr
    assert "KEFU_AUTH_SECRET" in done.stderr and value not in done.stderr


@pytest.mark.parametrize("value", ["change-me", "change-me-please", "short-pw"])
def test_the_workspace_refuses_a_default_or_short_admin_password(value):
    done = started("workspace", KEFU_AUTH_SECRET=LONG, KEFU_ADMIN_PASSWORD=value)
    assert done.returncode == 2, done.stderr
    assert "KEFU_ADMIN_PASSWORD" in done.stderr and value not in done.stderr


@pytest.mark.parametrize("service", ["intake", "router", "sla", "notify", "survey", "analytics"])
def test_a_service_checking_person_tokens_refuses_a_default_auth_secret(service):
    """Every API checks person tokens with KEFU_AUTH_SECRET when it is set."""
    done = started(service, KEFU_AUTH_SECRET="change-me")
    assert done.returncode == 2, done.stderr
    assert "KEFU_AUTH_SECRET" in done.stderr and "change-me" not in done.stderr
