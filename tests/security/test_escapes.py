"""Hostile input (contract 11): outside text loses its control characters before it goes
into a mail header, a CSV cell a spreadsheet would run as a formula gets a quote in front,
and the terminal commands show control characters escaped."""

import csv
import io
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

import pytest

from kefu.services.analytics.export import csv_rows, safe_cell
from kefu.services.analytics.projection import TicketProjection, Took
from kefu.services.analytics.reports import report, week
from kefu.services.notify.compose import email_message, header_text
from kefu.services.notify.plan import Notification, TicketContext
from kefu.services.notify.templates import Email
from kefu.streams import dead_letter_line, event_line
from kefu.terminal import printable
from kefu.tickets import ticket_text

AT = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
HOSTILE_NAME = "Eve\r\nBcc: x@evil.example"

# Mail headers


@pytest.mark.parametrize(
    ("outside", "header"),
    [
        ("Li Lei", "Li Lei"),
        ("李雷", "李雷"),
        (HOSTILE_NAME, "Eve Bcc: x@evil.example"),
        ("Eve\nBcc: x", "Eve Bcc: x"),
        ("Eve\rX", "Eve X"),
        ("Eve \r\n\t Smith", "Eve Smith"),
        ("Eve\tSmith", "Eve Smith"),
        ("a\r\n\r\nb", "a b"),
        ("Eve\x00\x07\x1b[31mSmith\x7f", "Eve[31mSmith"),
        ("Eve\x85Smith", "Eve Smith"),  # NEL, a line break to Python's email policy
        ("Eve\u2028Smith", "Eve Smith"),
        ("Eve\x9bSmith", "EveSmith"),  # C1 CSI
        ("\r\nEve\r\n", "Eve"),
        ("\r\n", ""),
        ("two  spaces", "two  spaces"),
        ("<m-1@example.com>\r\nBcc: x@evil", "<m-1@example.com> Bcc: x@evil"),
    ],
)
def test_outside_text_loses_its_control_characters_for_a_header(outside: str, header: str) -> None:
    assert header_text(outside) == header


def customer_mail(context: TicketContext, subject: str) -> bytes:
    note = Notification(
        id="n-1",
        ticket_id="1001",
        audience="customer",
        channel="email",
        to="eve@example.com\r\nBcc: y@evil.example",
        template="ack",
        locale="en",
        due_at=AT,
    )
    email = Email(subject=subject, text="Hello\n", html="<p>Hello</p>")
    unsubscribe = "https://kefu.example/v1/unsubscribe?token=t"
    return email_message(note, email, "kefu@example.com", context, unsubscribe).as_bytes()


def test_a_hostile_name_subject_and_message_ids_make_one_mail_with_no_extra_header() -> None:
    context = TicketContext(
        ticket_id="1001",
        channel="email",
        name=HOSTILE_NAME,
        first_message_id="<first@example.com>\r\nBcc: z@evil.example",
        last_message_id="<last\r\n@example.com>",
    )
    raw = customer_mail(context, "[#1001] Re: refund\r\nBcc: w@evil.example\x1b[2J")
    parsed = message_from_bytes(raw, policy=default)
    assert not parsed.defects
    assert [line for line in raw.splitlines() if line.lower().startswith(b"bcc")] == []
    assert "Bcc" not in parsed
    assert parsed["To"].addresses[0].display_name == "Eve Bcc: x@evil.example"
    assert parsed["Subject"] == "[#1001] Re: refund Bcc: w@evil.example[2J"
    assert parsed["In-Reply-To"] == "<last @example.com>"
    assert len(parsed.get_all("To")) == 1


def test_a_chinese_name_with_an_escape_still_gets_its_mail() -> None:
    context = TicketContext(ticket_id="1001", channel="email", name="李\x1b[31m雷\n")
    parsed = message_from_bytes(customer_mail(context, "你好"), policy=default)
    assert parsed["To"].addresses[0].display_name == "李[31m雷"
    assert parsed["Subject"] == "你好"


# CSV cells


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-5", "'-5"),  # text from outside, even if it looks like a number
        ("billing / refund", "billing / refund"),
        ("a=b", "a=b"),
        ("退款", "退款"),
        ("", ""),
        (-2.5, -2.5),  # kefu's own numbers stay numbers
        (-3, -3),
        (None, None),
        (True, True),
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_quote(cell: object, written: object) -> None:
    assert safe_cell(cell) == written


async def exported(*tickets: TicketProjection) -> list[dict[str, str]]:
    async def each():
        for ticket in tickets:
            yield ticket

    text = "".join([chunk async for chunk in csv_rows(each())])
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_export_quotes_a_formula_and_keeps_numbers() -> None:
    took = Took(at=AT, calendar_s=90.5, business_s=30)
    [row] = await exported(
        TicketProjection(
            ticket_id="1001",
            assignee='=HYPERLINK("http://x")',
            category=["-cmd", "calc"],
            first_response=took,
            public_replies=2,
        )
    )
    assert row["assignee"] == '\'=HYPERLINK("http://x")'
    assert row["category"] == "'-cmd / calc"
    assert (row["first_response_s"], row["public_replies"]) == ("90.5", "2")


def test_the_report_quotes_a_formula_and_keeps_a_negative_change() -> None:
    period = week("2026-W47")
    this_week = [
        TicketProjection(ticket_id="1", opened_at=AT, category=["@SUM(A1)"]),
        TicketProjection(ticket_id="2", assignee="+agent", status="solved", solved_at=AT),
    ]
    kpis = {"tickets": {"opened": 1, "solved": 1, "reopened": 0, "backlog": 3}}
    before = {"tickets": {"opened": 4, "solved": 1, "reopened": 0, "backlog": 3}}

    def measured(start: datetime, end: datetime) -> dict:
        return kpis if start == period.start else before

    rows = list(csv.reader(io.StringIO(report(period, this_week, [], measured, str).csv)))
    firsts = {(row[0], row[1]): row for row in rows}
    assert ("top_categories", "'@SUM(A1)") in firsts
    assert firsts["qa_sample", "sampled"][6:] == ["2", "", "'+agent"]
    assert firsts["kpis", "opened"][2:5] == ["1", "4", "-3"]


# Terminal


@pytest.mark.parametrize(
    ("outside", "shown"),
    [
        ("plain", "plain"),
        ("李雷 张\u3000三", "李雷 张\u3000三"),
        ("\x1b[2J\x1b[31mred", "\\x1b[2J\\x1b[31mred"),
        ("bell\x07", "bell\\x07"),
        ("one\ntwo\rthree\tfour", "one\\ntwo\\rthree\\tfour"),
        ("nul\x00del\x7f", "nul\\x00del\\x7f"),
        ("c1\x9b31m\x85", "c1\\x9b31m\\x85"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("back\\slash", "back\\slash"),
        (42, "42"),
        (None, "None"),
    ],
)
def test_outside_text_is_shown_with_control_characters_escaped(outside: object, shown: str) -> None:
    assert printable(outside) == shown


def test_an_event_line_escapes_the_values_and_keeps_its_own_colour() -> None:
    event = {
        "time": "2026-11-18T10:00:00Z",
        "type": "kefu.ticket.opened\x1b[8m",
        "subject": "1001\r",
        "data": {"ticket_id": "1001\r", "subject": "hi\x1b]0;owned\x07\nthere", "n": [1, "\x1b"]},
    }
    line = event_line(event, colour=True)
    assert line == (
        "2026-11-18T10:00:00Z  \x1b[36mkefu.ticket.opened\\x1b[8m\x1b[0m  1001\\r  "
        'subject=hi\\x1b]0;owned\\x07\\nthere n=[1, "\\u001b"]'
    )
    assert "\n" not in line and "\r" not in line and "\x07" not in line


def test_a_dead_letter_line_escapes_the_error() -> None:
    letter = {
        "id": "d-1",
        "data": {"at": "t", "service": "router", "source_topic": "kefu.x", "error": "bad\n\x1bc"},
    }
    assert dead_letter_line(letter) == "t  d-1  router  kefu.x[None]@None  bad\\n\\x1bc"


def test_a_ticket_keeps_its_layout_and_escapes_its_values() -> None:
    text = ticket_text(
        {
            "ticket_id": "1001",
            "status": "open",
            "subject": "refund\x1b[2K\rplease\x07",
            "customer": {"address": "eve@example.com\n", "tier": "vip"},
            "category": ["billing", "\x1b[31mrefund"],
            "timeline": [
                {"at": "2026-11-18T10:00:00Z", "type": "kefu.ticket.opened", "id": "e\r1"}
            ],
        }
    )
    assert text.splitlines() == [
        "ticket 1001",
        "  status                 open",
        "  subject                refund\\x1b[2K\\rplease\\x07",
        "  customer               eve@example.com\\n (vip)",
        "  category               billing / \\x1b[31mrefund",
        "timeline",
        "  2026-11-18T10:00:00Z  kefu.ticket.opened  e\\r1",
    ]
