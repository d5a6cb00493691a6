"""The desk's pure rules: which language a page speaks and how it writes times, the CSRF
token and origin check, and what the customer's view keeps of a conversation."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kefu.services.workspace.csrf import csrf_matches, csrf_token, local_path, same_origin
from kefu.services.workspace.customer_view import expected_answer, public_entries
from kefu.services.workspace.entries import Author, Entry
from kefu.services.workspace.page_kit import web_link
from kefu.services.workspace.page_texts import (
    TEXTS,
    accepted_locale,
    local_time,
    page_locale,
    remaining,
)
from kefu.services.workspace.record import TicketSummary, target_key
from kefu.shared.events.sla import SlaTarget
from kefu.shared.inbound import Attachment

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
SECRET = "s" * 40


def test_both_languages_have_every_text_with_the_same_blanks() -> None:
    assert TEXTS["en"].keys() == TEXTS["zh-CN"].keys()
    for key, english in TEXTS["en"].items():
        blanks = {part.split("}")[0] for part in english.split("{")[1:]}
        assert blanks == {part.split("}")[0] for part in TEXTS["zh-CN"][key].split("{")[1:]}, key


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, zh-TW;q=0.5, en;q=0.4", "zh-CN"),
        ("en;q=0.2, zh;q=0.7", "zh-CN"),
        ("zh;q=0, de", "en"),
        ("garbage;q=x, zh-Hans", "zh-CN"),
    ],
)
def test_the_sign_in_page_speaks_the_browsers_language(header: str | None, lang: str) -> None:
    assert accepted_locale(header) == lang


def test_a_person_or_ticket_locale_picks_the_page_language() -> None:
    assert [page_locale(x) for x in ("zh-CN", "zh-Hans", "en", "fr", None)] == [
        "zh-CN",
        "zh-CN",
        "en",
        "en",
        "en",
    ]


def test_remaining_time_reads_like_the_countdown() -> None:
    assert (
        remaining(NOW + timedelta(hours=3, minutes=5, seconds=9), NOW, "en") == "due in 3 h 05 min"
    )
    assert remaining(NOW + timedelta(seconds=75), NOW, "en") == "due in 1 min 15 s"
    assert remaining(NOW - timedelta(days=2, hours=1), NOW, "en") == "overdue by 2 d 1 h"
    assert remaining(NOW + timedelta(minutes=42), NOW, "zh-CN") == "剩余 42分00秒"
    assert remaining(NOW - timedelta(hours=1), NOW, "zh-CN") == "已超时 1小时00分"


def test_times_are_written_in_the_zone_with_its_offset() -> None:
    assert local_time(NOW, ZoneInfo("Asia/Shanghai")) == "2026-12-02 18:00 UTC+08:00"
    assert local_time(NOW, ZoneInfo("UTC")) == "2026-12-02 10:00 UTC+00:00"


def test_the_csrf_token_is_bound_to_the_session_and_the_secret() -> None:
    token = csrf_token(SECRET, "session-1")
    assert csrf_matches(SECRET, "session-1", token)
    assert not csrf_matches(SECRET, "session-2", token)
    assert not csrf_matches("t" * 40, "session-1", token)
    assert not any(csrf_matches(SECRET, "session-1", bad) for bad in (None, "", token[:-1]))


def test_a_post_must_come_from_our_origin() -> None:
    ours = {"https://desk.example.com", "http://127.0.0.1:8087"}
    assert same_origin("https://desk.example.com", None, ours)
    assert same_origin("HTTP://127.0.0.1:8087", None, ours)
    assert same_origin(None, "https://desk.example.com/desk/tickets/1", ours)
    assert not same_origin("https://evil.example", "https://desk.example.com/", ours)
    assert not same_origin("null", None, ours)  # what `no-referrer` pages send
    assert not same_origin(None, None, ours)
    assert not same_origin("https://desk.example.com.evil.example", None, ours)


def test_a_form_sends_the_browser_only_to_a_desk_page() -> None:
    assert local_path("/desk/tickets/1001") == "/desk/tickets/1001"
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/desk/\\evil", "/v1/me", ""):
        assert local_path(elsewhere) == "/"


def test_only_web_addresses_become_links() -> None:
    assert web_link("https://files.example/r.pdf") and web_link("HTTP://x/y")
    assert not any(web_link(url) for url in ("javascript:alert(1)", "s3://bucket/r", "data:x"))


def entry(kind: str, public: bool, author: Author, text: str) -> Entry:
    files = [Attachment(filename="r.pdf", content_type="application/pdf", size=3, url="s3://r")]
    return Entry(
        id=f"e-{text}",
        ticket_id="1001",
        kind=kind,
        public=public,
        author=author,
        text=text,
        at=NOW,
        attachments=files if kind == "message" else [],
    )


def test_the_customer_sees_messages_and_public_replies_and_agents_by_name_only() -> None:
    agent = Author(type="agent", id="li.lei@corp", name="Li Lei")
    shown = public_entries(
        [
            entry("message", True, Author(type="customer", id="jane@x.org", name="Jane"), "hi"),
            entry("reply", True, agent, "hello"),
            entry("reply", False, agent, "private reply"),
            entry("note", False, agent, "vip!"),
            entry("event", False, Author(type="system"), "assigned to li.lei@corp"),
            entry("event", True, agent, "status open → pending"),
        ]
    )
    assert [(e.by, e.agent_name, e.text, e.files) for e in shown] == [
        ("customer", None, "hi", ["r.pdf"]),
        ("agent", "Li Lei", "hello", []),
    ]
    assert "li.lei@corp" not in str([e.model_dump() for e in shown])


def test_the_expected_answer_is_the_earliest_running_response_target() -> None:
    soon, later = NOW + timedelta(hours=1), NOW + timedelta(hours=4)
    targets = [
        SlaTarget(metric="resolution", due_at=NOW + timedelta(minutes=30)),
        SlaTarget(metric="next_reply", due_at=later),
        SlaTarget(metric="first_response", due_at=soon),
    ]
    ticket = TicketSummary(ticket_id="1001", status="open", sla_targets=targets)
    assert expected_answer(ticket, NOW) == soon
    met = ticket.model_copy(update={"sla_ended": [target_key("first_response", soon)]})
    assert expected_answer(met, NOW) == later
    assert expected_answer(ticket, later + timedelta(seconds=1)) is None  # passed
    for waiting in ("pending", "solved", "closed"):
        assert expected_answer(ticket.model_copy(update={"status": waiting}), NOW) is None
