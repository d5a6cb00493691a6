"""kefu's Message-IDs name their ticket, so a reply's In-Reply-To finds it (contract 10)."""

import pytest

from kefu.shared.mail_threads import kefu_message_id, ticket_of_message_id


def test_a_notifications_message_id_is_stable_and_names_its_ticket() -> None:
    made = kefu_message_id("n-1", "1042", "kefu@support.example.com")
    assert made == kefu_message_id("n-1", "1042", "kefu@support.example.com")
    assert made != kefu_message_id("n-2", "1042", "kefu@support.example.com")
    assert made.startswith("<kefu.1042.") and made.endswith("@support.example.com>")
    assert ticket_of_message_id(f" {made} ") == "1042"


def test_a_notification_about_no_ticket_gets_a_plain_id() -> None:
    made = kefu_message_id("surge-1", "", "kefu@support.example.com")
    assert ticket_of_message_id(made) is None and made.endswith("@support.example.com>")


@pytest.mark.parametrize(
    "message_id",
    ["<abc@mail.example>", "<kefu.1042@x>", f"<kefu.10 42.{'a' * 32}@x>", f"kefu.1.{'a' * 32}@x"],
)
def test_other_message_ids_name_no_ticket(message_id) -> None:
    assert ticket_of_message_id(message_id) is None


def test_a_sender_with_a_display_name_gives_its_address_domain() -> None:
    made = kefu_message_id("n-1", "1042", '"Acme 客服" <support@acme.example>')
    assert made.endswith("@acme.example>") and not made.endswith(">>")
    assert ticket_of_message_id(made) == "1042"
