import pytest

from kefu.shared.settings import SettingsError, StaticToken, load_settings

ABC, DEF = "a" * 16, "d" * 16


def test_defaults_suit_the_embedded_stack(monkeypatch) -> None:
    for name in ("KEFU_KAFKA_BOOTSTRAP", "KEFU_MONGODB_URL", "KEFU_TOPIC_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.mongodb_url.get_secret_value() == "mongodb://127.0.0.1:27017"
    assert settings.topic_prefix == "kefu."
    assert settings.max_body_bytes == 1024 * 1024


def test_environment_is_read_and_tokens_parsed(monkeypatch) -> None:
    monkeypatch.setenv("KEFU_API_TOKENS", f"{ABC}:agent, crm:{DEF}:admin")
    monkeypatch.setenv("KEFU_SMTP_STARTTLS", "true")
    monkeypatch.setenv("KEFU_LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.tokens() == {
        ABC: StaticToken("integration-1", "agent"),
        DEF: StaticToken("crm", "admin"),
    }
    assert settings.smtp_starttls is True
    assert settings.log_level == "DEBUG"
    assert ABC not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KEFU_HTTP_PORT", "eighty"),
        ("KEFU_API_TOKENS", f"{ABC}:overlord"),
        ("KEFU_API_TOKENS", f"crm:{ABC}:admin,crm:{DEF}:agent"),
        ("KEFU_API_TOKENS", f"bad name:{ABC}:admin"),
        ("KEFU_API_TOKENS", "crm::admin"),
        ("KEFU_API_TOKENS", "crm:short-token:admin"),
        ("KEFU_API_TOKENS", "change-me-admin-123456:admin"),
        ("KEFU_KAFKA_SECURITY_PROTOCOL", "CARRIER_PIGEON"),
        ("KEFU_SMTP_STARTTLS", "perhaps"),
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


@pytest.mark.parametrize("value", [None, "change-me", "x" * 31])
@pytest.mark.parametrize("field", ["survey_secret", "notify_secret"])
def test_a_signing_secret_unset_default_or_short_is_refused_by_name(field, value) -> None:
    settings = load_settings(**({field: value} if value else {}))
    with pytest.raises(SettingsError, match=f"KEFU_{field.upper()}"):
        settings.signing_secret(field)


def test_a_long_signing_secret_is_taken() -> None:
    assert load_settings(notify_secret="n" * 32).signing_secret("notify_secret") == "n" * 32


def test_secrets_are_read_from_files_named_like_their_variables(monkeypatch, tmp_path) -> None:
    (tmp_path / "KEFU_SURVEY_SECRET").write_text("s" * 40 + "\n")
    (tmp_path / "KEFU_MONGODB_URL").write_text("mongodb://kefu:pw@mongo:27017")
    monkeypatch.setenv("KEFU_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("KEFU_NOTIFY_SECRET", "e" * 40)
    settings = load_settings()
    assert settings.signing_secret("survey_secret") == "s" * 40
    assert settings.mongodb_url.get_secret_value() == "mongodb://kefu:pw@mongo:27017"
    assert settings.signing_secret("notify_secret") == "e" * 40


def test_an_environment_variable_wins_over_a_secret_file(monkeypatch, tmp_path) -> None:
    (tmp_path / "KEFU_TOPIC_PREFIX").write_text("file.")
    monkeypatch.setenv("KEFU_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("KEFU_TOPIC_PREFIX", "env.")
    assert load_settings().topic_prefix == "env."


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"kafka_ssl_cafile": "/nonexistent/ca.crt"}, "KEFU_KAFKA_SSL_CAFILE: no file"),
        ({"kafka_ssl_cafile": __file__}, "need KEFU_KAFKA_SECURITY_PROTOCOL SSL"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": __file__},
            "KEFU_KAFKA_SSL_KEYFILE needs KEFU_KAFKA_SSL_CERTFILE",
        ),
    ],
)
def test_tls_files_that_cannot_work_are_refused_at_start(values, problem) -> None:
    with pytest.raises(SettingsError, match=problem):
        load_settings(**values)


def test_public_base_urls_lose_a_trailing_slash() -> None:
    settings = load_settings(notify_url="https://help.example.com/", public_url="https://h.io//")
    assert (settings.notify_url, settings.public_url) == (
        "https://help.example.com",
        "https://h.io",
    )
