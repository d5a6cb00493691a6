"""Every service that signs or checks with a secret refuses to start without a real one
(`kefu run`, as operators start it): unset, the old default `change-me`, or short."""

import os
import subprocess
import sys

import pytest

SIGNERS = [("notify", "KEFU_NOTIFY_SECRET"), ("survey", "KEFU_SURVEY_SECRET")]
SIGNERS += [("workspace", "KEFU_AUTH_SECRET")]


@pytest.mark.parametrize(("service", "variable"), SIGNERS)
@pytest.mark.parametrize("value", [None, "change-me", "short-secret"])
def test_a_service_refuses_to_start_with_a_default_or_short_secret(service, variable, value):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env |= {"KEFU_SECRETS_DIR": "/nonexistent", **({variable: value} if value else {})}
    done = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "run", service],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert variable in done.stderr


@pytest.mark.parametrize("value", ["change-me", "change-me-please", "short-pw"])
def test_the_workspace_refuses_a_default_or_short_admin_password(value):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
    env |= {
        "KEFU_SECRETS_DIR": "/nonexistent",
        "KEFU_AUTH_SECRET": "a" * 32,
        "KEFU_ADMIN_PASSWORD": value,
    }
    done = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "run", "workspace"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "KEFU_ADMIN_PASSWORD" in done.stderr and value not in done.stderr
