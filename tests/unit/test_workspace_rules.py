"""The workspace's pure rules: the sign-in lockout window and what a person may be."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kefu.services.workspace.people import (
    NewPerson,
    PersonChange,
    hash_password,
    password_matches,
)
from kefu.services.workspace.sessions import locked_for, login_key

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def minutes(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in offsets]


def test_four_failures_leave_the_login_open_and_the_fifth_locks_it() -> None:
    assert locked_for(minutes(0, 1, 2, 3), T0 + timedelta(minutes=4)) is None
    assert locked_for(minutes(0, 1, 2, 3, 4), T0 + timedelta(minutes=4)) == 11 * 60


def test_retry_after_is_the_time_until_the_oldest_of_the_five_leaves_the_window() -> None:
    failures = minutes(0, 1, 2, 3, 4)
    assert locked_for(failures, T0 + timedelta(minutes=10, seconds=30)) == 4 * 60 + 30
    assert locked_for(failures, T0 + timedelta(minutes=14, seconds=59.5)) == 1  # rounded up
    assert locked_for(failures, T0 + timedelta(minutes=15)) is None


def test_the_window_slides() -> None:
    failures = minutes(0, 10, 11, 12, 13, 14)
    # at 15:00 the first has left; the five of 10..14 still lock until 25:00
    assert locked_for(failures, T0 + timedelta(minutes=15)) == 10 * 60
    assert locked_for(failures, T0 + timedelta(minutes=25)) is None
    assert locked_for(minutes(0, 5, 10, 16, 17), T0 + timedelta(minutes=17)) is None


def test_failures_are_counted_per_lower_cased_login() -> None:
    assert login_key("  Jane@Example.COM ") == "jane@example.com"


def person(**fields: object) -> dict[str, object]:
    return {
        "id": "agent-7",
        "name": "Li Lei",
        "email": "li@example.com",
        "roles": ["agent"],
        "password": "correct horse",
        **fields,
    }


def test_a_person_has_the_contract_defaults() -> None:
    made = NewPerson.model_validate(person()).person()
    assert made.model_dump() == {
        "id": "agent-7",
        "name": "Li Lei",
        "email": "li@example.com",
        "roles": ["agent"],
        "skills": [],
        "tier": 1,
        "capacity": 5,
        "locale": "en",
        "active": True,
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"id": ""},
        {"id": "a" * 65},
        {"id": "li lei"},
        {"id": "李雷"},
        {"skills": ["billing/refunds"]},
        {"roles": []},
        {"roles": ["owner"]},
        {"email": "not-an-address"},
        {"password": "too-short"},
        {"tier": 4},
        {"capacity": -1},
        {"locale": "fr"},
        {"password_hash": "x"},
    ],
)
def test_an_invalid_person_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        NewPerson.model_validate(person(**bad))


def test_identifiers_take_letters_digits_and_the_five_marks() -> None:
    made = NewPerson.model_validate(person(id="a.b_c:d@e-f", skills=["zh-CN", "tier:2"]))
    assert made.id == "a.b_c:d@e-f" and made.skills == ["zh-CN", "tier:2"]


def test_a_change_names_only_what_it_changes() -> None:
    change = PersonChange.model_validate({"roles": ["agent", "agent"], "active": False})
    assert change.fields() == {"roles": ["agent"], "active": False}
    with pytest.raises(ValidationError):
        PersonChange.model_validate({"email": "x@example.com"})
    with pytest.raises(ValidationError):
        PersonChange.model_validate({"password": "short"})


def test_passwords_are_argon2id_and_a_missing_hash_never_matches() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert password_matches(hashed, "correct horse")
    assert not password_matches(hashed, "wrong horse!")
    assert not password_matches(None, "correct horse")
    assert not password_matches("not a hash", "correct horse")
