"""`kefu adapter imap` as operators run it (a process, over STARTTLS), against Debian's dovecot
started for the module (contract 10): customer mail in a mailbox becomes tickets and is marked
\\Seen; an auto-reply is marked and opens nothing; a mail over KEFU_MAX_MAIL_BYTES opens a
ticket from its headers; mail stays unseen while the broker takes nothing; a dropped
connection is opened again; and an adapter killed in the middle of a batch loses no mail."""

import asyncio
import getpass
import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import quote

import pytest
from imapclient import SEEN, IMAPClient

from kefu.embedded import EmbeddedError, free_port, wait_for_port
from kefu.shared.admin import create_topics
from kefu.shared.settings import Settings
from kefu.shared.topics import Topic
from tests.conftest import TEST_PARTITIONS, Backend, isolated_settings
from tests.e2e.processes import RunningService, start_service
from tests.integration.conftest import POLICY, RunningIntake, running_intake
from tests.kafka import TopicReader
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
USER, PASSWORD = "support@example.com", "imap-test-password-4d1f"
MAX_MAIL_BYTES = 64 * 1024
DOVECOT_CONF = """\
base_dir = {dir}/run
verbose_proctitle = yes
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
disable_plaintext_auth = no
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={dir}/home
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass(frozen=True)
class Dovecot:
    port: int
    pid: int
    cert: Path

    def idle_sessions(self) -> list[int]:
        """The processes of the sessions that wait in IDLE (verbose_proctitle shows it)."""
        ps = subprocess.run(
            ["ps", "--ppid", str(self.pid), "-o", "pid=,args="], capture_output=True, text=True
        )
        return [int(line.split()[0]) for line in ps.stdout.splitlines() if "IDLE]" in line]

    def url(self, folder: str) -> str:
        return f"imap://{quote(USER, safe='')}@localhost:{self.port}/{quote(folder)}"

    def client(self, folder: str) -> IMAPClient:
        """A connection of the test's own, on `folder` (made if new)."""
        client = IMAPClient("127.0.0.1", self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        if not client.folder_exists(folder):
            client.create_folder(folder)
        client.select_folder(folder, readonly=True)  # reads flags, never sets them
        return client


def dovecot_user() -> tuple[str, str]:
    """Who dovecot's processes run as: the test's user; as root, `nobody` (dovecot refuses to
    log in or read mail as root)."""
    name = "nobody" if os.geteuid() == 0 else getpass.getuser()
    return name, grp.getgrgid(pwd.getpwnam(name).pw_gid).gr_name


def self_signed(workdir: Path) -> None:
    """cert.pem for `localhost`, which the adapter trusts (SSL_CERT_FILE) for STARTTLS."""
    request = "req -x509 -newkey rsa:2048 -nodes -days 1 -keyout key.pem -out cert.pem"
    names = ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
    subprocess.run(
        ["openssl", *request.split(), *names],
        cwd=workdir,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    assert Path(binary).exists(), "the tests need dovecot-imapd: run tests/system-packages.sh"
    # Not tmp_path: its parents are private to the test's user, and a unix socket's path must
    # stay short.
    with tempfile.TemporaryDirectory(prefix="kefu-dovecot-") as name:
        workdir, port = Path(name), free_port()
        user, group = dovecot_user()
        workdir.chmod(0o755)
        (workdir / "home").mkdir()
        shutil.chown(workdir / "home", user, group)
        (workdir / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self_signed(workdir)
        config = DOVECOT_CONF.format(dir=workdir, user=user, group=group, port=port)
        (workdir / "dovecot.conf").write_text(config)
        log = workdir / "dovecot.log"
        with log.open("wb") as output:  # what it says before its log is set up
            server = subprocess.Popen(
                [binary, "-F", "-c", str(workdir / "dovecot.conf")], stderr=output
            )
        try:
            try:
                wait_for_port(port, server, "dovecot", log)
            except EmbeddedError as error:
                raise AssertionError(f"{error}:\n{log.read_text(errors='replace')}") from None
            yield Dovecot(port, server.pid, workdir / "cert.pem")
        finally:
            server.terminate()
            server.wait(10)


def mail(subject: str, text: str = "你好，我无法登录。", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Zhang San <zhang@customer.example>")
    message["To"] = USER
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="customer.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def append(client: IMAPClient, folder: str, message: EmailMessage) -> int:
    reply = client.append(folder, message.as_bytes())
    found = re.search(rb"APPENDUID \d+ (\d+)", reply)
    assert found, reply
    return int(found.group(1))


def seen(client: IMAPClient, *uids: int) -> int:
    """How many of `uids` are \\Seen."""
    return sum(SEEN in flags for flags in client.get_flags(list(uids)).values())


def start_adapter(settings: Settings, dovecot: Dovecot, log_dir: Path) -> RunningService:
    with pytest.MonkeyPatch.context() as env:  # start_service passes the environment on
        env.setenv("SSL_CERT_FILE", str(dovecot.cert))  # the CAs OpenSSL trusts
        return start_service("adapter-imap", settings, log_dir, command=("adapter", "imap"))


def received_event(event: dict, message: EmailMessage) -> bool:
    return (
        event["type"] == "kefu.ticket.message_received"
        and event["data"]["message_id"] == message["Message-ID"]
    )


def kill_when_seen(adapter: RunningService, imap: IMAPClient, uids: list[int], count: int) -> int:
    """SIGKILL the adapter as soon as `count` of `uids` are \\Seen (a thread of its own
    watches: the batch takes milliseconds a mail); how many were \\Seen when it died."""
    deadline = time.monotonic() + 20
    try:
        while seen(imap, *uids) < count and time.monotonic() < deadline:
            time.sleep(0.002)
    finally:
        adapter.popen.kill()
        adapter.popen.wait()
    return seen(imap, *uids)


@dataclass
class MailIn:
    settings: Settings
    dovecot: Dovecot
    folder: str
    imap: IMAPClient
    adapter: RunningService
    intake: RunningIntake
    inbound: TopicReader
    log_dir: Path

    def append(self, message: EmailMessage) -> int:
        return append(self.imap, self.folder, message)

    async def received(self, message: EmailMessage, wait_s: float = 30) -> dict:
        """The data of intake's message_received for the mail."""
        [event] = await self.intake.reader.take(
            1, lambda e: received_event(e, message), wait_s=wait_s
        )
        return event["data"]

    async def inbound_record(self, message: EmailMessage) -> dict:
        [record] = await self.inbound.take(1, lambda r: r["message_id"] == message["Message-ID"])
        return record

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.adapter.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.read().decode()

    async def marked_seen(self, *uids: int) -> None:
        await wait_until(lambda: seen(self.imap, *uids) == len(uids), wait_s=10)


@pytest.fixture(scope="module")
async def mail_in(
    backend: Backend, dovecot: Dovecot, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[MailIn]:
    log_dir = tmp_path_factory.mktemp("mail-imap")
    settings = isolated_settings(
        backend,
        config=POLICY,
        imap_url=dovecot.url("Support"),
        imap_password=PASSWORD,
        max_mail_bytes=MAX_MAIL_BYTES,
        attachments_url=str(log_dir / "attachments"),
    )
    await create_topics(settings, TEST_PARTITIONS)
    imap = dovecot.client("Support")
    async with (
        running_intake(backend, settings) as intake,
        TopicReader(settings, Topic.CHANNEL_INBOUND) as inbound,
    ):
        adapter = await asyncio.to_thread(start_adapter, settings, dovecot, log_dir)
        try:
            yield MailIn(settings, dovecot, "Support", imap, adapter, intake, inbound, log_dir)
        finally:
            adapter.popen.kill()
            imap.logout()


async def test_customer_mail_becomes_tickets_and_is_marked_seen(mail_in: MailIn) -> None:
    chinese = mail("无法登录：密码重置邮件没有收到")
    html = mail("HTML only")
    html.set_content("<html><body><p>My <b>order 1234</b> never came.</p></body></html>", "html")
    attached = mail("Invoice attached", "See the invoice.")
    invoice = b"%PDF-1.4 an invoice"
    attached.add_attachment(invoice, maintype="application", subtype="pdf", filename="发票.pdf")
    uids = [mail_in.append(message) for message in (chinese, html, attached)]

    assert (await mail_in.received(chinese))["text"].strip() == "你好，我无法登录。"
    assert (await mail_in.inbound_record(chinese))["subject"] == "无法登录：密码重置邮件没有收到"
    assert "order 1234 never came" in " ".join((await mail_in.received(html))["text"].split())
    [metadata] = (await mail_in.received(attached))["attachments"]
    assert (metadata["filename"], metadata["size"]) == ("发票.pdf", len(invoice))
    await mail_in.marked_seen(*uids)


async def test_an_auto_reply_is_marked_seen_and_opens_nothing(mail_in: MailIn) -> None:
    auto_reply = mail("Out of office", Auto_Submitted="auto-replied")
    later = mail("A real question after it")
    uids = [mail_in.append(auto_reply), mail_in.append(later)]
    await mail_in.received(later)
    await mail_in.marked_seen(*uids)
    auto_id = auto_reply["Message-ID"]
    assert not await mail_in.inbound.take(1, lambda r: r["message_id"] == auto_id, wait_s=0.5)
    assert 'kefu_mail_taken_total{outcome="auto_reply"} 1.0' in mail_in.metrics()


async def test_a_mail_too_large_opens_a_ticket_from_its_headers(mail_in: MailIn) -> None:
    large = mail("Screenshots of the error", "Please see the attached screenshots.")
    screenshots = os.urandom(MAX_MAIL_BYTES)
    large.add_attachment(screenshots, maintype="image", subtype="png", filename="error.png")
    uid = mail_in.append(large)
    size = len(large.as_bytes().replace(b"\n", b"\r\n"))

    received = await mail_in.received(large, wait_s=90)  # 25 MB through Dovecot, on a busy CI
    assert received["attachments"] == []
    assert "only its headers were read" in received["text"]
    assert f"{size:,} bytes" in received["text"]
    assert (await mail_in.inbound_record(large))["subject"] == "Screenshots of the error"
    await mail_in.marked_seen(uid)


async def test_while_the_broker_takes_nothing_the_mail_stays_unseen(
    mail_in: MailIn, backend: Backend
) -> None:
    kafka = dict(backend.process_groups).get("kafka")
    if kafka is None:
        pytest.skip("this test stops the embedded broker")
    held = mail("Sent while the broker is away")
    os.killpg(kafka, signal.SIGSTOP)
    try:
        uid = mail_in.append(held)
        await wait_until(lambda: "the broker took no mail" in mail_in.adapter.log.read_text(), 30)
        assert seen(mail_in.imap, uid) == 0
    finally:
        os.killpg(kafka, signal.SIGCONT)
    await mail_in.received(held)
    await mail_in.marked_seen(uid)


async def test_a_dropped_connection_is_opened_again(mail_in: MailIn) -> None:
    await wait_until(lambda: len(mail_in.dovecot.idle_sessions()) == 1)  # the adapter's
    [session] = mail_in.dovecot.idle_sessions()
    os.kill(session, signal.SIGKILL)
    later = mail("Sent while the adapter connects again")
    uid = mail_in.append(later)
    await mail_in.received(later)
    await mail_in.marked_seen(uid)
    assert "imap connection failed; reconnecting" in mail_in.adapter.log.read_text()


async def test_a_kill_in_the_middle_of_a_batch_loses_no_mail(mail_in: MailIn) -> None:
    folder = "Batch"
    imap = mail_in.dovecot.client(folder)
    settings = mail_in.settings.model_copy(update={"imap_url": mail_in.dovecot.url(folder)})
    adapter = await asyncio.to_thread(start_adapter, settings, mail_in.dovecot, mail_in.log_dir)
    mails = [mail(f"Batch mail {n}", f"Mail {n} of 30.") for n in range(30)]
    imap.multiappend(folder, [message.as_bytes() for message in mails])  # one batch of 30
    uids = imap.search(["ALL"])
    killed_at = await asyncio.to_thread(kill_when_seen, adapter, imap, uids, 10)
    assert 10 <= killed_at < len(uids), f"{killed_at} of {len(uids)} seen at the kill"

    restarted = await asyncio.to_thread(start_adapter, settings, mail_in.dovecot, mail_in.log_dir)
    try:
        await wait_until(lambda: seen(imap, *uids) == len(uids), wait_s=20)
        restarted.popen.terminate()  # a stop: IDLE done, LOGOUT, exit 0
        assert await asyncio.to_thread(restarted.popen.wait, 15) == 0
    finally:
        restarted.popen.kill()
        imap.logout()
    for message in mails:  # on channel.inbound at least once; intake drops a repeat
        await mail_in.inbound_record(message)
        await mail_in.received(message)
    events = await mail_in.intake.settle()
    assert [sum(received_event(e, message) for e in events) for message in mails] == [1] * 30
