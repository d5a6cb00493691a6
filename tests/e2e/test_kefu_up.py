"""`kefu up` (what `make run` starts): the whole platform from one command, and a clean stop."""

import asyncio
import random
import re
import signal
import smtplib
import subprocess
import sys
import time
import urllib.request

import httpx
import pytest
from pymongo import AsyncMongoClient

from tools.embedded import free_port, port_open

pytestmark = pytest.mark.e2e


async def test_kefu_up_runs_everything_and_a_message_becomes_a_ticket(tmp_path) -> None:
    kafka, mongo, smtp, http = free_port(), free_port(), free_port(), _six_free_ports()
    up = _start_up(tmp_path, kafka, mongo, smtp, http)
    try:
        banner = await asyncio.to_thread(_read_until, up, "becomes a ticket")
        for port in range(http, http + 6):
            assert await asyncio.to_thread(_ready, port), banner
        token = re.search(r"token\s+(\S+)", banner).group(1)
        assert (tmp_path / "api-token").read_text() == token
        await _post(f"http://127.0.0.1:{http}", token)
        ticket = await _ticket(f"mongodb://127.0.0.1:{mongo}", within_s=5)
        assert ticket["subject"] == "Cannot log in"
        with smtplib.SMTP("127.0.0.1", smtp) as mail:
            mail.sendmail("kefu@localhost", ["jane@example.com"], "Subject: hi\r\n\r\nbody")
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
    finally:
        up.send_signal(signal.SIGINT)
        code = await asyncio.to_thread(up.wait, 40)
        assert code == 0, up.stdout.read().decode(errors="replace")[-4000:]


def _six_free_ports() -> int:
    """Six ports in a row below Linux's ephemeral range (32768 up), where no outgoing
    connection of another test can take one between this check and the services' bind."""
    base = random.randrange(20000, 32000, 6)
    while any(port_open(port) for port in range(base, base + 6)):
        base = random.randrange(20000, 32000, 6)
    return base


def _start_up(data_dir, kafka: int, mongo: int, smtp: int, http: int) -> subprocess.Popen:
    options = {
        "--data-dir": data_dir,
        "--kafka-port": kafka,
        "--mongo-port": mongo,
        "--smtp-port": smtp,
        "--http-port": http,
    }
    command = [sys.executable, "-m", "tools.cli", "up"]
    for option, value in options.items():
        command += [option, str(value)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


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
        unauthorised = await client.post("/v1/inbound/channel", json=message)
        accepted = await client.post(
            "/v1/inbound/channel", json=message, headers={"Authorization": f"Bearer {token}"}
        )
    assert (unauthorised.status_code, accepted.status_code) == (401, 202)


async def _ticket(url: str, within_s: float) -> dict:
    client: AsyncMongoClient = AsyncMongoClient(url)
    try:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if found := await client.kefu.analytics_tickets.find_one(
                {"state.first_message_id": "<up@mail>"}
            ):
                return found["state"]
            await asyncio.sleep(0.02)
        raise AssertionError("no ticket in MongoDB")
    finally:
        await client.close()
