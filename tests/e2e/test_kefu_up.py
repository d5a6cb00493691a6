"""`kefu up` (what `make run` starts): the whole platform from one command, and a clean stop."""

import asyncio
import email
import email.policy
import os
import random
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from kefu.embedded import free_port, port_open

pytestmark = pytest.mark.e2e
SHIPPED_POLICY = Path(__file__).parents[2] / "deploy" / "policy.yaml"
SERVED = 8  # seven services and the SMTP adapter's health port


async def test_kefu_up_runs_everything_and_a_message_becomes_a_ticket(tmp_path) -> None:
    kafka, mongo, smtp, mail_in = free_port(), free_port(), free_port(), free_port()
    http = _free_ports_in_a_row()
    up = _start_up(tmp_path, kafka, mongo, smtp, http, mail_in)
    try:
        banner = await asyncio.to_thread(_read_until, up, ".sendmail(")
        assert "1 partition(s) a topic, kept in memory" in banner
        assert await _partitions(kafka, "kefu.ticket.events") == {0}
        assert f"dashboard http://127.0.0.1:{http + 5}/" in banner
        assert f"desk      http://127.0.0.1:{http + 6}/" in banner
        for port in range(http, http + SERVED):
            assert await asyncio.to_thread(_ready, port), banner
        token = re.search(r"token\s+(\S+)", banner).group(1)
        assert (tmp_path / "api-token").read_text() == token
        await _post(f"http://127.0.0.1:{http}", token)
        ticket = await _ticket(f"mongodb://127.0.0.1:{mongo}", "<up@mail>", within_s=5)
        assert ticket["subject"] == "Cannot log in"
        await _mail_in(banner, mail_in, f"mongodb://127.0.0.1:{mongo}")
        with smtplib.SMTP("127.0.0.1", smtp) as mail:
            mail.sendmail("kefu@localhost", ["ops@example.com"], "Subject: hi\r\n\r\nbody")
        assert len(_mails(tmp_path / "mail", "hi")) == 1
        await _solve(f"http://127.0.0.1:{http}", token, ticket["ticket_id"])
        await _answer_the_survey(tmp_path / "mail", within_s=20)
        kept = tmp_path / "admin-password"
        _assert_private(tmp_path)
        # bound to 127.0.0.1 only: 0.0.0.0 would also answer on the rest of 127/8
        ports = [*range(http, http + SERVED), mail_in]
        assert not any(_answers("127.0.0.2", port) for port in ports)
        await _sign_in_as_admin(f"http://127.0.0.1:{http + 6}", kept.read_text().strip())
    finally:
        up.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(up.wait, 40)
        assert code == 0, up.stdout.read().decode(errors="replace")[-4000:]


def _assert_private(data_dir: Path) -> None:
    """Logs, mails, the store and secrets are 0600 in 0700 folders, and no log shows a
    secret (contract 11)."""
    kept = ("api-token", "admin-password", "survey-secret", "notify-secret", "auth-secret")
    secrets = [(data_dir / name).read_text().strip() for name in kept]
    logs = "".join(path.read_text(errors="replace") for path in data_dir.rglob("*.log"))
    assert not [secret for secret in secrets if secret in logs]
    assert data_dir.stat().st_mode & 0o777 == 0o700
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert {"admin-password", "api-token", "intake.log"} <= {path.name for path in files}
    assert any(path.suffix == ".eml" for path in files)
    for path in data_dir.rglob("*"):
        if path.name != "policy.yaml":  # the test's, written before kefu up
            assert path.stat().st_mode & 0o077 == 0, f"{path} is open to others"


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def _free_ports_in_a_row() -> int:
    """The services' and the mail adapter's ports in a row below Linux's ephemeral range
    (32768 up), where no outgoing connection of another test can take one between this check
    and the services' bind."""
    base = random.randrange(20000, 32000, SERVED)
    while any(port_open(port) for port in range(base, base + SERVED)):
        base = random.randrange(20000, 32000, SERVED)
    return base


async def _mail_in(banner: str, port: int, mongodb_url: str) -> None:
    """The one-liner the banner shows sends a real mail, and it becomes a ticket."""
    command = next(line.strip() for line in banner.splitlines() if "smtplib" in line)
    assert f"'127.0.0.1', {port}" in command
    python = command.removeprefix("python3 -c ").strip('"')  # as a shell would pass it
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", python], check=True)
    client: AsyncMongoClient = AsyncMongoClient(mongodb_url)
    try:
        for _ in range(200):
            mailed = {"state.channel": "email", "state.first_message_id": {"$ne": "<up@mail>"}}
            if await client.kefu.analytics_tickets.find_one(mailed):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the mail to the SMTP adapter became no ticket")
    finally:
        await client.close()


async def _partitions(kafka: int, topic: str) -> set[int]:
    """One replica of each service reads every partition on the embedded stack: one a topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=f"127.0.0.1:{kafka}")
    await consumer.start()
    try:
        await consumer.topics()
        return consumer.partitions_for_topic(topic) or set()
    finally:
        await consumer.stop()


def _start_up(
    data_dir, kafka: int, mongo: int, smtp: int, http: int, mail_in: int
) -> subprocess.Popen:
    """`kefu up` with the shipped policy, but without quiet hours (the mails must go at any
    time of day the test runs)."""
    policy = yaml.safe_load(SHIPPED_POLICY.read_text(encoding="utf-8"))
    del policy["notify"]["quiet_hours"]
    (data_dir / "policy.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    options = {
        "--data-dir": data_dir,
        "--kafka-port": kafka,
        "--mongo-port": mongo,
        "--smtp-port": smtp,
        "--http-port": http,
        "--mail-port": mail_in,
    }
    command = [sys.executable, "-m", "kefu.cli", "up"]
    for option, value in options.items():
        command += [option, str(value)]
    env = {**os.environ, "KEFU_CONFIG": str(data_dir / "policy.yaml")}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)


def _read_until(process: subprocess.Popen, marker: str) -> str:
    seen = ""
    for line in iter(process.stdout.readline, b""):
        seen += line.decode()
        if marker in seen:
            return seen
    raise AssertionError(f"kefu up stopped: {seen}")


def _ready(port: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as reply:
                return reply.status == 200
        except OSError:
            time.sleep(0.1)
    return False


async def _post(intake: str, token: str) -> None:
    message = {
        "channel": "email",
        "message_id": "<up@mail>",
        "subject": "Cannot log in",
        "from": {"address": "jane@example.com"},
        "text": "Since this morning.",
    }
    async with httpx.AsyncClient(base_url=intake, timeout=10) as client:
        unknown = await client.get("/v1/nothing-here")
        assert (unknown.status_code, unknown.json()["detail"]) == (404, "Not Found")
        unauthorised = await client.post("/v1/inbound/channel", json=message)
        accepted = await client.post(
            "/v1/inbound/channel", json=message, headers={"Authorization": f"Bearer {token}"}
        )
    assert (unauthorised.status_code, accepted.status_code) == (401, 202)


async def _solve(intake: str, token: str, ticket_id: str) -> None:
    command = {
        "action": "set_status",
        "agent_id": "agent-1",
        "command_id": "up-solve",
        "ticket_id": ticket_id,
        "status": "solved",
    }
    async with httpx.AsyncClient(base_url=intake, timeout=10) as client:
        solved = await client.post(
            "/v1/inbound/agent", json=command, headers={"Authorization": f"Bearer {token}"}
        )
    assert solved.status_code == 202, solved.text


async def _sign_in_as_admin(workspace: str, password: str) -> None:
    login = {"login": "admin", "password": password}
    async with httpx.AsyncClient(base_url=workspace, timeout=10) as client:
        signed = await client.post("/v1/sessions", json=login)
        assert signed.status_code == 200, signed.text
        token = signed.json()["token"]
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["roles"] == ["admin", "supervisor", "agent"]


def _mails(mail_dir, subject: str) -> list[email.message.EmailMessage]:
    parsed = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in mail_dir.glob("*.eml")
    ]
    return [mail for mail in parsed if subject in str(mail["Subject"])]


async def _answer_the_survey(mail_dir, within_s: float) -> None:
    """The survey mail reaches the customer; its link opens the page and takes the answer."""
    deadline = time.monotonic() + within_s
    while not (invites := _mails(mail_dir, "How did we do")):
        assert time.monotonic() < deadline, "no survey mail"
        await asyncio.sleep(0.1)
    text = invites[0].get_body(("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:\d+/s/[\w.-]+", text).group(0)
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.get(link)).status_code == 200
        assert (await client.post(link, data={"score": "5"})).status_code == 200
        assert (await client.post(link, data={"score": "5"})).status_code == 409


async def _ticket(url: str, first_message_id: str, within_s: float) -> dict:
    client: AsyncMongoClient = AsyncMongoClient(url)
    try:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if found := await client.kefu.analytics_tickets.find_one(
                {"state.first_message_id": first_message_id}
            ):
                return found["state"]
            await asyncio.sleep(0.02)
        raise AssertionError("no ticket in MongoDB")
    finally:
        await client.close()
