"""Services as processes (`kefu run <service>`) on the test's topics and database."""

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from kefu.embedded import free_port
from kefu.shared.settings import Settings


@dataclass
class RunningService:
    name: str
    popen: subprocess.Popen
    port: int
    log: Path
    secrets: frozenset[str] = frozenset()


MIN_SECRET_SEEN = 8
READY_WITHIN_S = 60  # a test may start fourteen services at once, beside other workers' tests
# every service any test started, for the session's last check: no secret in any log
STARTED: list[RunningService] = []


def secret_values(settings: Settings) -> frozenset[str]:
    """Every secret in `settings`: the secret settings' values and each static token."""
    values = {
        value.get_secret_value()
        for value in settings.model_dump().values()
        if isinstance(value, SecretStr)
    }
    values.discard(settings.mongodb_url.get_secret_value())  # no password in the tests' URL
    # shorter ones could turn up by chance; every secret the tests give is longer
    return frozenset(v for v in values | set(settings.tokens()) if len(v) >= MIN_SECRET_SEEN)


def leaks(text: str, secrets: frozenset[str]) -> list[str]:
    """The secrets that `text` shows, cut to their first characters."""
    return [secret[:6] + "…" for secret in secrets if secret in text]


def start_service(
    name: str,
    settings: Settings,
    log_dir: Path,
    kefu: list[str] | None = None,
    instance_id: str = "",
    command: tuple[str, ...] = (),
    port: int | None = None,
) -> RunningService:
    """Start `kefu run <name>` (this venv's, or the `kefu` command given; or the kefu
    `command`, e.g. `("adapter", "smtp", "--port", "2525")`) and wait until /readyz answers
    200. Replicas share this host's name, so they are dynamic members of their
    group unless given an `instance_id` (static membership: a restart that names it takes its
    partitions back; on Tansu a static member that never returns keeps them for ever)."""
    env = {
        **os.environ,
        "KEFU_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KEFU_MONGODB_URL": settings.mongodb_url.get_secret_value(),
        "KEFU_MONGODB_DB": settings.mongodb_db,
        "KEFU_TOPIC_PREFIX": settings.topic_prefix,
        "KEFU_KAFKA_SESSION_TIMEOUT_MS": str(settings.kafka_session_timeout_ms),
        "KEFU_SMTP_HOST": settings.smtp_host,
        "KEFU_SMTP_PORT": str(settings.smtp_port),
        "KEFU_SURVEY_SECRET": settings.survey_secret.get_secret_value(),
        "KEFU_NOTIFY_SECRET": settings.notify_secret.get_secret_value(),
        **(
            {"KEFU_AUTH_SECRET": settings.auth_secret.get_secret_value()}
            if settings.auth_secret
            else {}
        ),
        "KEFU_PUBLIC_URL": settings.public_url,
        "KEFU_API_TOKENS": settings.api_tokens.get_secret_value(),
        "KEFU_RATE_LIMIT": str(settings.rate_limit),
        "KEFU_MAIL_FROM": settings.mail_from,
        "KEFU_MAX_MAIL_BYTES": str(settings.max_mail_bytes),
        **({"KEFU_ATTACHMENTS_URL": settings.attachments_url} if settings.attachments_url else {}),
        **({"KEFU_IMAP_URL": settings.imap_url} if settings.imap_url else {}),
        **(
            {"KEFU_IMAP_PASSWORD": settings.imap_password.get_secret_value()}
            if settings.imap_password
            else {}
        ),
        "KEFU_IMAP_POLL": f"{settings.imap_poll.total_seconds()}s",
        **{
            f"KEFU_{name.upper()}": str(path)
            for name in ("mail_in_certfile", "mail_in_keyfile")
            if (path := getattr(settings, name))
        },
        **({"KEFU_CONFIG": str(settings.config)} if settings.config else {}),
    }
    port = port or free_port()
    log = log_dir / f"{name}-{port}.log"
    popen = subprocess.Popen(
        [*(kefu or [sys.executable, "-m", "kefu.cli"]), *(command or ("run", name))],
        env={**env, "KEFU_HTTP_PORT": str(port), "KEFU_INSTANCE_ID": instance_id},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    service = RunningService(name, popen, port, log, secret_values(settings))
    STARTED.append(service)
    wait_ready(service)
    return service


def wait_ready(service: RunningService) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        assert service.popen.poll() is None, service.log.read_text()
        try:
            url = f"http://127.0.0.1:{service.port}/readyz"
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{service.name} not ready: {service.log.read_text()}")
