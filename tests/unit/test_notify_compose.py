"""The mail as it goes to the SMTP server: 7-bit whatever the text, and read back as written."""

from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

from kefu.services.notify.compose import email_message
from kefu.services.notify.plan import Notification, TicketContext
from kefu.services.notify.providers import _content
from kefu.services.notify.templates import Email

UNSUBSCRIBE = "https://kefu.example/v1/unsubscribe?token=ZW1haWw6MjY4ODI3NDdAZXhhbXBsZS5jb20.I7j9FA"


def sent(to: str, name: str, message_id: str, email: Email, sender: str) -> bytes:
    note = Notification(
        id="n-1",
        ticket_id="1001",
        audience="customer",
        channel="email",
        to=to,
        template="ticket_opened",
        locale="zh-CN",
        due_at=datetime.now(UTC),
    )
    context = TicketContext(
        ticket_id="1001",
        channel="email",
        name=name,
        first_message_id=message_id,
        last_message_id=message_id,
    )
    return _content(email_message(note, email, sender, context, UNSUBSCRIBE))


def test_chinese_text_and_a_long_line_go_7_bit_and_read_back_as_written() -> None:
    text = "您好，\n我们已收到您的请求。\n" + "x" * 1200 + "\n"
    email = Email(subject="[#1001] 无法登录账户", text=text, html="<p>您好</p>")
    raw = sent(
        "li@example.com", "李雷", "<m-1@example.com>", email, '"Acme 客服" <kefu@acme.example>'
    )
    assert raw.isascii() and raw.endswith(b"\r\n.\r\n")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    mail = message_from_bytes(raw[: -len(b".\r\n")], policy=default)
    assert not mail.defects
    assert mail["Subject"] == "[#1001] 无法登录账户"
    assert mail["To"].addresses[0].display_name == "李雷"
    assert mail["From"].addresses[0].display_name == "Acme 客服"
    assert mail["Message-ID"].endswith("@acme.example>")
    assert mail["In-Reply-To"] == "<m-1@example.com>"
    assert mail.get_body(("plain",)).get_content() == text
    assert mail.get_body(("html",)).get_content() == "<p>您好</p>"


def test_ascii_stays_readable_and_the_unsubscribe_link_is_folded_not_encoded() -> None:
    email = Email(subject="[#1001] We received your request", text="Hi\n", html="<p>Hi</p>")
    raw = sent("eve@example.com", "", "<m-1@example.com>", email, "kefu@example.com")
    assert b"Content-Transfer-Encoding: 7bit" in raw and b"\r\n\r\nHi\r\n" in raw
    assert b"=?" not in raw
    mail = message_from_bytes(raw, policy=default)
    assert mail["List-Unsubscribe"].strip() == f"<{UNSUBSCRIBE}>"


def test_text_from_outside_that_is_not_ascii_still_makes_a_7_bit_mail() -> None:
    email = Email(subject="你好", text="hi\n", html="<p>hi</p>")
    raw = sent("李@例子.中国", "", "<李@example.com>", email, "kefu@example.com")
    assert raw.isascii()
    assert not message_from_bytes(raw, policy=default).defects
