"""Mail in through `kefu adapter smtp` as operators run it, with intake and notify as processes
(contract 10): a customer's mail becomes a ticket, notify's acknowledgement goes out, and the
customer's reply joins the same ticket by its In-Reply-To or, from a client that keeps only
the subject, by its [#id] token; auto-replies, bounces and kefu's own mail open nothing; the
adapter answers 452 while the broker is stopped, so the sending server keeps the mail."""

import asyncio
import os
import signal
import smtplib
import ssl
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from aiosmtpd.controller import Controller

from kefu.embedded import free_port
from kefu.shared.admin import create_topics
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.e2e.processes import RunningService, start_service
from tests.integration.conftest import POLICY
from tests.integration.notifying import Mailbox, wait_for
from tests.kafka import TopicReader

pytestmark = pytest.mark.e2e
SUPPORT = "support@example.com"
KEFU = "kefu@support.example.com"


@dataclass
class MailIn:
    settings: Settings
    adapter: RunningService
    smtp_port: int
    outbox: Mailbox
    reader: TopicReader

    def send(self, mail: EmailMessage) -> tuple[int, bytes]:
        """What the adapter answered at the end of DATA."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as client:
            client.ehlo("mx.customer.example")
            client.mail(str(mail["From"]))
            client.rcpt(SUPPORT)
            return client.data(mail.as_bytes(policy=SMTP_POLICY))

    async def opened(self, message_id: str) -> dict:
        [event] = await self.reader.take(1, lambda e: _opened_by(e, message_id))
        return event

    async def received(self, message_id: str) -> dict:
        [event] = await self.reader.take(
            1,
            lambda e: (
                e["type"] == "kefu.ticket.message_received"
                and e["data"]["message_id"] == message_id
            ),
        )
        return event

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.adapter.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.read().decode()


def mail(subject: str, text: str = "你好，我无法登录。", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Jane Doe <jane@customer.example>")
    message["To"] = SUPPORT
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("Message_ID", make_msgid(domain="customer.example"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


@pytest.fixture(scope="module")
async def mail_in(backend: Backend, tmp_path_factory) -> AsyncIterator[MailIn]:
    outbox = Mailbox()
    smtp_out = Controller(outbox, hostname="127.0.0.1", port=free_port())
    smtp_out.start()
    folder = tmp_path_factory.mktemp("mail-in")
    policy = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    del policy["notify"]["quiet_hours"]  # the acknowledgement goes at any hour the test runs
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True), "utf-8")
    settings = isolated_settings(
        backend,
        smtp_port=smtp_out.port,
        config=folder / "policy.yaml",
        mail_from=KEFU,
        attachments_url=str(folder / "attachments"),
    )
    await create_topics(settings, TEST_PARTITIONS)
    port = free_port()
    command = ("adapter", "smtp", "--host", "127.0.0.1", "--port", str(port))
    started = [
        await asyncio.to_thread(start_service, name, settings, folder)
        for name in ("intake", "notify")
    ]
    adapter = await asyncio.to_thread(
        start_service, "adapter-smtp", settings, folder, command=command
    )
    try:
        async with TopicReader(settings, Topic.TICKET_EVENTS) as reader:
            yield MailIn(settings, adapter, port, outbox, reader)
    finally:
        for service in (*started, adapter):
            service.popen.kill()
        smtp_out.stop()


async def test_a_mail_becomes_a_ticket_and_both_kinds_of_reply_join_it(mail_in: MailIn) -> None:
    first = mail("无法登录 / cannot sign in")
    code, _ = await asyncio.to_thread(mail_in.send, first)
    assert code == 250
    ticket_id = (await mail_in.opened(first["Message-ID"]))["data"]["ticket_id"]

    acks = await wait_for(lambda: mail_in.outbox.to("jane@customer.example"), within_s=30)
    ack = acks[0]
    assert f"[#{ticket_id}]" in ack["Subject"] and ack["Message-ID"].startswith(
        f"<kefu.{ticket_id}."
    )

    # a client that keeps the headers but rewrites the subject
    reply = mail("AW: Ihre Anfrage", "Still broken.", In_Reply_To=ack["Message-ID"])
    reply["References"] = f"{first['Message-ID']} {ack['Message-ID']}"
    # a client that keeps nothing but the subject
    bare = mail(f"Re: {ack['Subject']}", "Any news?")
    for answer in (reply, bare):
        assert (await asyncio.to_thread(mail_in.send, answer))[0] == 250
        joined = await mail_in.received(answer["Message-ID"])
        assert joined["data"]["ticket_id"] == ticket_id


async def test_attachments_are_stored_and_named_on_the_message(mail_in: MailIn) -> None:
    photos = mail("Broken screen, photos attached")
    for data in (b"first photo", b"second photo"):  # a phone names both image.png
        photos.add_attachment(data, maintype="image", subtype="png", filename="image.png")
    assert (await asyncio.to_thread(mail_in.send, photos))[0] == 250
    received = (await mail_in.received(photos["Message-ID"]))["data"]
    stored = [
        (item["filename"], Path(urllib.request.url2pathname(urlparse(item["url"]).path)))
        for item in received["attachments"]
    ]
    assert [name for name, _ in stored] == ["image.png", "image.png"]
    assert [path.read_bytes() for _, path in stored] == [b"first photo", b"second photo"]
    assert all(path.stat().st_mode & 0o077 == 0 for _, path in stored)


@pytest.mark.parametrize(
    ("headers", "outcome"),
    [
        ({"Auto_Submitted": "auto-replied"}, "auto_reply"),
        ({"Precedence": "bulk"}, "auto_reply"),
        ({"X_Autoreply": "yes"}, "auto_reply"),
        ({"From": KEFU}, "own_mail"),
    ],
)
async def test_what_is_no_customers_message_opens_no_ticket(
    mail_in: MailIn, headers, outcome
) -> None:
    before = _counted(mail_in.metrics(), outcome)
    sent = mail("Out of office", **headers)
    assert (await asyncio.to_thread(mail_in.send, sent))[0] == 250
    await wait_for(lambda: _counted(mail_in.metrics(), outcome) == before + 1)
    later = mail("A real question after it")
    await asyncio.to_thread(mail_in.send, later)
    await mail_in.opened(later["Message-ID"])  # intake has read past the auto-reply's place
    assert not await mail_in.reader.take(1, lambda e: _opened_by(e, sent["Message-ID"]), 0.5)


async def test_while_the_broker_is_stopped_the_mail_is_refused_for_later(
    mail_in: MailIn, backend: Backend
) -> None:
    kafka = dict(backend.process_groups).get("kafka")
    assert kafka, "this test stops the embedded broker"
    held = mail("Sent while the broker is away")
    os.killpg(kafka, signal.SIGSTOP)
    try:
        code, answer = await asyncio.to_thread(mail_in.send, held)
    finally:
        os.killpg(kafka, signal.SIGCONT)
    assert code == 452, answer
    assert (await asyncio.to_thread(mail_in.send, held))[0] == 250  # the sender's retry
    await mail_in.opened(held["Message-ID"])


def _opened_by(event: dict, message_id: str) -> bool:
    return event["type"] == "kefu.ticket.opened" and event["correlationid"] == f"email:{message_id}"


def _counted(metrics: str, outcome: str) -> float:
    prefix = f'kefu_mail_taken_total{{outcome="{outcome}"}} '
    lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
    return float(lines[0].removeprefix(prefix)) if lines else 0.0


@pytest.fixture(scope="module")
def tls_adapter(backend: Backend, tmp_path_factory) -> Iterator[tuple[Settings, int, Path]]:
    """The SMTP adapter alone, offering STARTTLS with a certificate for 127.0.0.1, taking mail
    of 8 KiB at the most."""
    folder = tmp_path_factory.mktemp("mail-tls")
    names = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    request = "req -x509 -newkey rsa:2048 -nodes -days 1 -keyout key.pem -out cert.pem"
    subprocess.run(
        ["openssl", *request.split(), *names], cwd=folder, check=True, capture_output=True
    )
    settings = isolated_settings(
        backend,
        mail_in_certfile=folder / "cert.pem",
        mail_in_keyfile=folder / "key.pem",
        max_mail_bytes=8192,
    )
    asyncio.run(create_topics(settings, TEST_PARTITIONS))
    port = free_port()
    command = ("adapter", "smtp", "--host", "127.0.0.1", "--port", str(port))
    adapter = start_service("adapter-smtp", settings, folder, command=command)
    try:
        yield settings, port, folder / "cert.pem"
    finally:
        adapter.popen.kill()


async def test_starttls_is_offered_and_mail_over_the_limit_is_552(tls_adapter) -> None:
    settings, port, cert = tls_adapter
    small, large = mail("Over TLS"), mail("Too large", ("x" * 70 + "\n") * 150)

    def send(sent: EmailMessage, tls: bool) -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            if tls:
                client.starttls(context=ssl.create_default_context(cafile=cert))
            client.ehlo("mx.customer.example")  # (again, over TLS: RFC 3207)
            client.mail(str(sent["From"]))
            client.rcpt(SUPPORT)
            try:
                return client.data(sent.as_bytes(policy=SMTP_POLICY))
            except smtplib.SMTPDataError as refused:
                return refused.smtp_code, refused.smtp_error

    answers = [
        await asyncio.to_thread(send, small, True),
        await asyncio.to_thread(send, large, False),
    ]
    assert [code for code, _ in answers] == [250, 552], answers
    async with TopicReader(settings, Topic.CHANNEL_INBOUND) as inbound:
        [published] = await inbound.take(1)
    assert published["message_id"] == small["Message-ID"]
