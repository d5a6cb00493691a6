"""`kefu up`: the embedded stack plus all seven services, supervised until Ctrl-C or SIGTERM."""

import asyncio
import os
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

from kefu.embedded import (
    PARTITIONS,
    EmbeddedError,
    EmbeddedStack,
    Process,
    start_service,
    wait_for_port,
)
from kefu.shared.admin import create_topics
from kefu.shared.service import SERVICES
from kefu.shared.settings import SIGNING_SECRETS, load_settings

DEFAULT_POLICY = Path("deploy/policy.yaml")
RESTART_DELAY_S = 2.0
ADMIN_PASSWORD = "admin-password"  # kept as .kefu/admin-password
# kept as .kefu/survey-secret, .kefu/notify-secret
MAIL_IN = "mail-in"  # `kefu adapter smtp`, as kefu up names it
SECRETS = {name: name.removeprefix("KEFU_").lower().replace("_", "-") for name in SIGNING_SECRETS}


def up(
    data_dir: Path,
    kafka_port: int,
    mongo_port: int,
    smtp_port: int,
    http_port: int,
    mail_port: int = 2525,
    keep: bool = False,
    partitions: int = PARTITIONS,
) -> int:
    """The embedded broker keeps topics in memory, so each run starts with empty topics; the
    store starts empty too (state that no events back would mislead), unless `keep`."""
    _private(data_dir)
    stack = EmbeddedStack(data_dir.resolve(), kafka_port, mongo_port, smtp_port)
    if not keep:
        shutil.rmtree(stack.mongo_dir, ignore_errors=True)
    try:
        stack.start()
    except EmbeddedError as error:
        print(f"kefu up: {error}", file=sys.stderr)
        return 1
    env = {**os.environ, **stack.env()}
    if "KEFU_CONFIG" not in env and DEFAULT_POLICY.exists():
        env["KEFU_CONFIG"] = str(DEFAULT_POLICY.resolve())
    env.setdefault("KEFU_HTTP_HOST", "127.0.0.1")  # a laptop's kefu is not the network's
    env.setdefault("KEFU_PUBLIC_URL", f"http://127.0.0.1:{http_port + SERVICES.index('survey')}")
    env.setdefault("KEFU_NOTIFY_URL", f"http://127.0.0.1:{http_port + SERVICES.index('notify')}")
    env.setdefault(
        "KEFU_ANALYTICS_URL", f"http://127.0.0.1:{http_port + SERVICES.index('analytics')}"
    )
    env.setdefault(
        "KEFU_WORKSPACE_URL", f"http://127.0.0.1:{http_port + SERVICES.index('workspace')}"
    )
    for variable, kept in SECRETS.items():
        env.setdefault(variable, _kept_secret(data_dir, kept))
    admin = "KEFU_ADMIN_PASSWORD" if "KEFU_ADMIN_PASSWORD" in env else data_dir / ADMIN_PASSWORD
    if "KEFU_ADMIN_PASSWORD" not in env:  # the workspace's person `admin` signs in with it
        env["KEFU_ADMIN_PASSWORD"] = _kept_secret(data_dir, ADMIN_PASSWORD)
    token = None if "KEFU_API_TOKENS" in env else _kept_secret(data_dir, "api-token")
    if token:
        env["KEFU_API_TOKENS"] = f"kefu-up:{token}:admin"
    stopping = _stop_on_signals()
    services: dict[str, Process] = {}
    try:
        settings = load_settings(kafka_bootstrap=stack.kafka_bootstrap)
        asyncio.run(create_topics(settings, partitions))
        for offset, name in enumerate(SERVICES):
            services[name] = start_service(name, http_port + offset, env, data_dir / "logs")
        mail_in = ("adapter", "smtp", "--host", "127.0.0.1", "--port", str(mail_port))
        services[MAIL_IN] = start_service(
            MAIL_IN, http_port + len(SERVICES), env, data_dir / "logs", mail_in
        )
        for process in services.values():
            wait_for_port(process.port, process.popen, process.name, data_dir / "logs")
        _print_endpoints(
            stack, services, data_dir, env.get("KEFU_CONFIG"), token, keep, admin, partitions
        )
        print(
            f"Mail to any address at 127.0.0.1:{mail_port} (SMTP) becomes a ticket too, e.g.\n"
            f"  {first_mail(mail_port)}",
            flush=True,
        )
        _supervise(services, env, data_dir, stopping)
    except (EmbeddedError, OSError) as error:
        print(f"kefu up: {error}", file=sys.stderr)
        return 1
    finally:
        print("stopping kefu …", flush=True)
        for process in services.values():
            process.stop(timeout=15)
        stack.stop()
    return 0


def first_mail(port: int) -> str:
    """A one-line command that sends a first real mail to kefu's SMTP adapter."""
    mail = "Subject: Cannot log in\\r\\n\\r\\nSince this morning."
    return (
        f"python3 -c \"import smtplib; smtplib.SMTP('127.0.0.1', {port}).sendmail("
        f"'jane@example.com', ['support@example.com'], '{mail}')\""
    )


def _private(data_dir: Path) -> None:
    """Logs, mails (.eml), the store and the secrets are the customers' and the operator's:
    the data directory is 0700 and all that kefu up and its children write in it 0600."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)


def _kept_secret(data_dir: Path, name: str) -> str:
    """A random secret for this machine (the admin token, link signing keys), made once and
    kept in the data directory, so links and tokens outlive a restart."""
    path = data_dir / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def _stop_on_signals() -> list[bool]:
    stopping = [False]

    def request_stop(*_: object) -> None:
        stopping[0] = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stopping


def _supervise(
    services: dict[str, Process], env: dict[str, str], data_dir: Path, stopping: list[bool]
) -> None:
    while not stopping[0]:
        for name, process in services.items():
            if process.popen.poll() is not None:
                print(f"{name} exited with {process.popen.returncode}; restarting", flush=True)
                time.sleep(RESTART_DELAY_S)
                services[name] = start_service(
                    name, process.port, env, data_dir / "logs", process.command
                )
        time.sleep(0.5)


def _print_endpoints(
    stack: EmbeddedStack,
    services: dict[str, Process],
    data_dir: Path,
    policy: str | None,
    token: str | None,
    keep: bool,
    admin: object,
    partitions: int,
) -> None:
    intake = f"http://127.0.0.1:{services['intake'].port}"
    where = f"admin, kept in {data_dir / 'api-token'}"
    lines = [
        "kefu is up. Ctrl-C stops everything.",
        f"  kafka     {stack.kafka_bootstrap}   (Tansu; {partitions} partition(s) a topic, "
        "kept in memory: every run starts with empty topics)",
        f"  mongodb   {stack.mongodb_url}   (nx-27017, SQLite files in {stack.mongo_dir}; "
        f"{'kept from the last run' if keep else 'empty at every run, --keep keeps it'})",
        f"  smtp      127.0.0.1:{stack.smtp_port}   (mails written to {stack.mail_dir})",
        f"  policy    {policy or 'built-in defaults'}",
        *(
            f"  {name:<9} http://127.0.0.1:{process.port}   (/healthz /readyz /metrics)"
            for name, process in services.items()
        ),
        f"  dashboard http://127.0.0.1:{services['analytics'].port}/   "
        "(as the person signed in at the desk, or with the token)",
        f"  desk      http://127.0.0.1:{services['workspace'].port}/   (sign in as admin, "
        f"password in {admin})",
        f"  logs      {data_dir.resolve() / 'logs'}",
        f"  token     {token}   ({where})" if token else "  tokens    from KEFU_API_TOKENS",
        f"POST a customer message to {intake}/v1/inbound/channel (or publish it to "
        "kefu.channel.inbound) and it becomes a ticket.",
    ]
    print("\n".join(lines), flush=True)
