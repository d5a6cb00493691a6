"""Quiet hours, signatures and templates, pure."""

import re
from datetime import UTC, datetime

import pytest

from kefu.services.notify.quiet import quiet_until
from kefu.services.notify.signing import (
    unsubscribe_token,
    unsubscribed,
    verify_webhook,
    webhook_signature,
)
from kefu.services.notify.templates import Templates, fit_sms
from kefu.shared.policy import QuietHours

NIGHT = QuietHours.model_validate(
    {"timezone": "Asia/Shanghai", "from": "22:00", "to": "08:00", "except_priority": ["P1"]}
)


@pytest.mark.parametrize(
    ("utc", "priority", "until"),
    [
        ("2026-11-23T13:00", "P3", None),  # 21:00 in Shanghai
        ("2026-11-23T14:30", "P3", "2026-11-24T00:00"),  # 22:30 → 08:00 next day
        ("2026-11-23T18:00", "P3", "2026-11-24T00:00"),  # 02:00 → 08:00
        ("2026-11-24T00:00", "P3", None),  # 08:00 sharp: open
        ("2026-11-23T14:30", "P1", None),  # P1 is never held
    ],
)
def test_quiet_hours_cross_midnight(utc: str, priority: str, until: str | None) -> None:
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    expected = datetime.fromisoformat(until).replace(tzinfo=UTC) if until else None
    assert quiet_until(NIGHT, priority, now) == expected


def test_webhook_signatures() -> None:
    body = b'{"id": "e1"}'
    header = webhook_signature("s3cret-0123456789", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify_webhook("s3cret-0123456789", body, header, 1_700_000_100)
    assert not verify_webhook("s3cret-0123456789", body, header, 1_700_000_400)  # too old
    assert not verify_webhook("s3cret-0123456789", body + b"x", header, 1_700_000_000)
    assert not verify_webhook("s3cret-0123456789", body, "v1=abc", 1_700_000_000)


def test_unsubscribe_tokens_are_kefus_own() -> None:
    token = unsubscribe_token("secret", "email", "Jane@Example.com")
    assert unsubscribed("secret", token) == ("email", "jane@example.com")
    assert unsubscribed("other", token) is None
    assert unsubscribed("secret", token[:-2] + "xx") is None
    assert unsubscribed("secret", "garbage") is None


def test_templates_escape_html_and_choose_the_locale(tmp_path) -> None:
    templates = Templates()
    params = {
        "ticket_id": "1001",
        "subject": "<b>hi</b>",
        "name": None,
        "text": "<script>x</script>",
        "unsubscribe_url": "u",
        "ticket_url": None,
    }
    mail = templates.email("agent_reply", "zh-TW", params)
    assert mail.subject == "回复：<b>hi</b> [#1001]"
    assert "&lt;script&gt;x&lt;/script&gt;" in mail.html and "<script>x</script>" in mail.text
    assert templates.locale("fr") == "en" and templates.locale("zh") == "zh-CN"


def test_an_operator_overrides_a_template(tmp_path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "ticket_solved.txt").write_text(
        "{% block subject %}All done [#{{ ticket_id }}]{% endblock %}"
        "{% block text %}Bye{% endblock %}{% block sms %}Bye{% endblock %}"
    )
    templates = Templates(tmp_path)
    params = {"ticket_id": "7", "subject": None, "name": None, "unsubscribe_url": "u"}
    params["ticket_url"] = None
    assert templates.email("ticket_solved", "en", params).subject == "All done [#7]"
    assert templates.email(
        "ticket_opened", "en", {**params, "first_response_due": None}
    ).subject.startswith("We received")


FOLLOW = {"en": "Follow your request: ", "zh-CN": "查看工单进度："}


@pytest.mark.parametrize("template", ["ticket_opened", "agent_reply", "ticket_solved"])
@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_the_customers_link_shows_only_when_there_is_one(template: str, locale: str) -> None:
    link = "https://help.example.com/t/IjEwMDEi.sig"
    params = {"ticket_id": "1001", "subject": None, "name": None, "text": "Done."}
    params |= {"unsubscribe_url": "u", "first_response_due": None}
    mail = Templates().email(template, locale, {**params, "ticket_url": link})
    assert FOLLOW[locale] + link in mail.text and f'href="{link}"' in mail.html
    bare = Templates().email(template, locale, {**params, "ticket_url": None})
    assert FOLLOW[locale] not in bare.text and FOLLOW[locale].strip() not in bare.html


def test_sms_fit_in_three_parts() -> None:
    assert fit_sms("a" * 459) == "a" * 459
    assert len(fit_sms("a" * 500)) == 459 and fit_sms("a" * 500).endswith("…")
    assert len(fit_sms("好" * 300)) == 201


SURVEY_URL = "https://support.example.com/s/" + "t" * 100  # as long as a signed survey link
SCALES = {"csat": list(range(1, 6)), "nps": list(range(11))}
NPS_TOP = {"en": "10 (extremely likely)", "zh-CN": "10（极有可能）"}


@pytest.mark.parametrize("template", ["survey_invite", "survey_reminder"])
@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("kind", ["csat", "nps"])
def test_a_survey_mail_links_each_score(template: str, locale: str, kind: str) -> None:
    templates = Templates()
    params = {
        "ticket_id": "1000123",
        "name": "<i>Jane</i>",
        "url": SURVEY_URL,
        "kind": kind,
        "scores": SCALES[kind],
        "unsubscribe_url": "u",
    }
    mail = templates.email(template, locale, params)
    links = re.findall(r'href="([^"]+\?score=\d+)"', mail.html)
    assert links == [f"{SURVEY_URL}?score={n}" for n in SCALES[kind]]
    assert f'href="{SURVEY_URL}"' in mail.html and SURVEY_URL in mail.text
    assert "&lt;i&gt;Jane&lt;/i&gt;" in mail.html and "[#1000123]" in mail.subject
    sms = templates.sms(template, locale, params)
    assert sms.endswith(SURVEY_URL)  # whole: fit_sms cut nothing
    dated = templates.email(template, locale, {**params, "expires_at": "2026-11-30 18:00 (UTC)"})
    assert "2026-11-30 18:00 (UTC)" in dated.text and "2026-11-30 18:00 (UTC)" in dated.html


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
@pytest.mark.parametrize("comment", ["<b>slow</b>", None])
def test_the_detractor_alert_asks_for_a_call_back(locale: str, comment: str | None) -> None:
    params = {
        "ticket_id": "1001",
        "kind": "nps",
        "score": 3,
        "comment": comment,
        "agent_id": "a1" if comment else None,
        "customer": "+8613800138000",
        "name": None,
        "call_back_by": "2026-11-24 10:00 (Asia/Shanghai)",
    }
    mail = Templates().email("detractor", locale, params)
    assert "[#1001]" in mail.subject and "2026-11-24 10:00 (Asia/Shanghai)" in mail.subject
    assert "+8613800138000" in mail.html and NPS_TOP[locale] in mail.text
    assert "None" not in mail.text + mail.html
    if comment:
        assert "&lt;b&gt;slow&lt;/b&gt;" in mail.html and comment in mail.text
        assert "a1" in mail.text
