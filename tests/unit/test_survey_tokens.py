"""Survey links: signed, tamper-evident, naming survey, ticket and expiry."""

from datetime import UTC, datetime

from kefu.services.survey.tokens import LinkSubject, SurveyLinks

SUBJECT = LinkSubject("1001", "1001-1", datetime(2026, 12, 1, 8, 30, tzinfo=UTC))
LINKS = SurveyLinks("a-long-random-survey-secret", "https://help.example.com/")


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_a_link_names_its_survey_ticket_and_expiry() -> None:
    url = LINKS.url(SUBJECT)
    assert url.startswith("https://help.example.com/s/")
    assert LINKS.subject(token_of(url)) == SUBJECT


def test_the_same_survey_always_gets_the_same_link() -> None:
    assert LINKS.url(SUBJECT) == LINKS.url(SUBJECT)


def test_a_changed_character_anywhere_is_refused() -> None:
    token = LINKS.token(SUBJECT)
    for place in range(len(token)):
        changed = token[:place] + ("A" if token[place] != "A" else "B") + token[place + 1 :]
        assert LINKS.subject(changed) is None, place


def test_a_payload_naming_another_survey_keeps_the_old_signature_and_is_refused() -> None:
    mine, other = (
        LINKS.token(SUBJECT),
        LINKS.token(LinkSubject("1002", "1002-1", SUBJECT.expires_at)),
    )
    forged = other.split(".")[0] + "." + mine.split(".")[1]
    assert LINKS.subject(forged) is None


def test_another_secret_does_not_verify() -> None:
    theirs = SurveyLinks("another-secret-entirely", "https://help.example.com")
    assert theirs.subject(LINKS.token(SUBJECT)) is None


def test_garbage_is_refused_not_raised() -> None:
    for junk in ("", ".", "abc", "a.b.c", "W10.xyz", "%%%", "x" * 5000):
        assert LINKS.subject(junk) is None


def test_the_expiry_travels_in_whole_seconds() -> None:
    precise = LinkSubject("7", "7-2", datetime(2026, 12, 1, 8, 30, 5, 999_000, tzinfo=UTC))
    found = LINKS.subject(LINKS.token(precise))
    assert found is not None and found.expires_at == datetime(2026, 12, 1, 8, 30, 5, tzinfo=UTC)


def test_a_ticket_id_with_dashes_comes_back_whole() -> None:
    subject = LinkSubject("EU-2026-77", "EU-2026-77-3", SUBJECT.expires_at)
    assert LINKS.subject(LINKS.token(subject)) == subject
