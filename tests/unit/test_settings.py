import pytest

from shared.settings import SettingsError, load_settings


def test_defaults_suit_the_embedded_stack(monkeypatch) -> None:
    for name in ("KEFU_KAFKA_BOOTSTRAP", "KEFU_MONGODB_URL", "KEFU_TOPIC_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.mongodb_url.get_secret_value() == "mongodb://127.0.0.1:27017"
    assert settings.topic_prefix == "kefu."
    assert settings.max_body_bytes == 1024 * 1024


def test_environment_is_read_and_tokens_parsed(monkeypatch) -> None:
    monkeypatch.setenv("KEFU_API_TOKENS", "abc:agent, def:admin")
    monkeypatch.setenv("KEFU_SMTP_STARTTLS", "true")
    monkeypatch.setenv("KEFU_LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.tokens() == {"abc": "agent", "def": "admin"}
    assert settings.smtp_starttls is True
    assert settings.log_level == "DEBUG"
    assert "abc" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KEFU_HTTP_PORT", "eighty"),
        ("KEFU_API_TOKENS", "abc:overlord"),
        ("KEFU_KAFKA_SECURITY_PROTOCOL", "CARRIER_PIGEON"),
        ("KEFU_SMTP_STARTTLS", "perhaps"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()
