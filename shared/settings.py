"""Every KEFU_* environment variable (contract section 6), validated once at start-up."""

import os
import re
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kefu.shared.durations import parse_duration

Role = Literal["agent", "supervisor", "admin"]
ROLE_RANK: dict[str, int] = {"agent": 1, "supervisor": 2, "admin": 3}
DEFAULT_SECRET = "change-me"  # the old default (now none): refused, like any short secret
MIN_SECRET_CHARS = 32
MIN_PASSWORD_CHARS = 12  # KEFU_ADMIN_PASSWORD: `change-me` and the like refused at start
MIN_TOKEN_CHARS = 16  # KEFU_API_TOKENS: guessable ones (`admin`, `change-me-admin`) refused
# see Settings.signing_secret; `kefu up` and the bench make each one
SIGNING_SECRETS = ("KEFU_SURVEY_SECRET", "KEFU_NOTIFY_SECRET", "KEFU_AUTH_SECRET")
SECRETS_DIR = "/run/secrets/kefu"  # where Kubernetes mounts the kefu Secret (deploy/k8s)


class SettingsError(ValueError):
    """A KEFU_* variable is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEFU_", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(None, description="PEM CA bundle of the brokers")
    kafka_ssl_certfile: Path | None = Field(None, description="PEM client certificate (mTLS)")
    kafka_ssl_keyfile: Path | None = Field(None, description="PEM key of the client certificate")
    kafka_session_timeout_ms: int = Field(
        10_000, ge=1000, description="consumer session timeout; real Kafka wants ≥ 6000"
    )
    instance_id: str = Field(
        default_factory=socket.gethostname,
        max_length=249,
        description="this replica's name in its consumer group (static membership: a "
        "restarted replica takes its partitions back without a rebalance); unique among one "
        "service's replicas; empty for dynamic membership",
    )
    kafka_fetch_max_wait_ms: int = Field(
        50,
        ge=1,
        le=10_000,
        description="longest a consumer's fetch waits for data; brokers that answer a waiting "
        "fetch only when it runs out (Tansu) add up to this much latency per hop",
    )
    mongodb_url: SecretStr = SecretStr("mongodb://127.0.0.1:27017")
    mongodb_db: str = "kefu"
    topic_prefix: str = "kefu."
    topic_partitions: int = Field(6, ge=1, description="partitions for `kefu topics create`")
    config: Path | None = Field(None, description="path of the YAML policy file")
    http_port: int = Field(8080, ge=0, le=65535)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "kefu@localhost"
    sms_url: str | None = None
    sms_token: SecretStr | None = None
    survey_secret: SecretStr | None = Field(None, description="signs survey links")
    public_url: str = "http://127.0.0.1:8085"
    notify_url: str = Field(
        "http://127.0.0.1:8084", description="public base of notify (unsubscribe links)"
    )
    analytics_url: str = Field(
        "http://127.0.0.1:8086", description="public base of analytics (links in reports)"
    )
    notify_secret: SecretStr | None = Field(None, description="signs unsubscribe links")
    auth_secret: SecretStr | None = Field(
        None, description="signs person tokens; unset: only KEFU_API_TOKENS are taken"
    )
    admin_password: SecretStr | None = Field(
        None, description="the workspace makes sure a person `admin` has it"
    )
    session_ttl: timedelta = Field(timedelta(hours=12), description="a sign-in's lifetime")
    max_clock_skew: timedelta = Field(
        timedelta(minutes=5), description="how far ahead an outside producer's time may be"
    )
    max_backdate: timedelta = Field(
        timedelta(days=7), description="how far back an outside producer's time may be"
    )
    workspace_url: str = Field(
        "http://127.0.0.1:8087", description="public base of the desk (customer links)"
    )
    templates_dir: Path | None = Field(None, description="overrides notify's templates")
    default_locale: str = Field("en", description="BCP 47 locale of messages that name none")
    api_tokens: SecretStr = SecretStr("")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    max_body_bytes: int = Field(1024 * 1024, ge=1, description="largest inbound body")
    rate_limit: float = Field(
        200,
        ge=0,
        description="requests a second per token at intake's door (bursts of "
        "twice that); 0: no limit",
    )
    http_host: str = Field("0.0.0.0", description="the address the HTTP server binds")
    imap_url: str | None = Field(
        None,
        description="the mailbox `kefu adapter imap` reads: "
        "imaps://support%40example.com@imap.example.com/INBOX",
    )
    imap_password: SecretStr | None = None
    imap_poll: timedelta = Field(
        timedelta(seconds=30), description="how often to look when the server has no IDLE"
    )
    attachments_url: str | None = Field(
        None,
        description="where the mail adapters keep attachments: a directory (a path or "
        "file:///…) or s3://bucket/prefix; unset: their bytes are dropped",
    )
    max_mail_bytes: int = Field(25 * 1024 * 1024, ge=1024, description="largest mail taken")
    mail_in_certfile: Path | None = Field(
        None, description="PEM certificate (chain) `kefu adapter smtp` offers with STARTTLS"
    )
    mail_in_keyfile: Path | None = Field(None, description="its key, when not in the certfile")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("auth_secret")
    @classmethod
    def _person_tokens_need_a_long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and _weak(value.get_secret_value()):
            raise ValueError(f"must be a random value of at least {MIN_SECRET_CHARS} characters")
        return value

    @field_validator("admin_password")
    @classmethod
    def _admin_password_not_guessable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and _weak_password(value.get_secret_value()):
            raise ValueError(
                f"must be at least {MIN_PASSWORD_CHARS} characters and not the example default"
            )
        return value

    @field_validator("session_ttl", "max_clock_skew", "max_backdate", "imap_poll", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("public_url", "notify_url", "analytics_url", "workspace_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # links are the base + "/v1/…": one slash, or the Ingress misses

    @field_validator("kafka_sasl_mechanism", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return value or None

    @field_validator("api_tokens")
    @classmethod
    def _tokens_well_formed(cls, value: SecretStr) -> SecretStr:
        parse_api_tokens(value.get_secret_value())
        return value

    @field_validator(
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "mail_in_certfile",
        "mail_in_keyfile",
    )
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no file at {value}")
        return value

    @model_validator(mode="after")
    def _tls_files_need_tls(self) -> "Settings":
        files = self.kafka_ssl_cafile or self.kafka_ssl_certfile or self.kafka_ssl_keyfile
        if files and not self.kafka_security_protocol.endswith("SSL"):
            raise ValueError(
                "KEFU_KAFKA_SSL_* files need KEFU_KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL"
            )
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("KEFU_KAFKA_SSL_KEYFILE needs KEFU_KAFKA_SSL_CERTFILE")
        return self

    def signing_secret(
        self, field: Literal["survey_secret", "notify_secret", "auth_secret"]
    ) -> str:
        """A secret that signs links or tokens: refused unless set, not the old default, and
        long."""
        secret = getattr(self, field)
        value = secret.get_secret_value() if secret else ""
        if _weak(value):
            raise SettingsError(
                f"KEFU_{field.upper()} must be set to a random value of at least "
                f"{MIN_SECRET_CHARS} characters (anyone could forge links signed with a default "
                "or short one); `kefu up` makes one for you"
            )
        return value

    def tokens(self) -> dict[str, "StaticToken"]:
        """Token → its name and role, from KEFU_API_TOKENS (`name:token:role,…`)."""
        return parse_api_tokens(self.api_tokens.get_secret_value())


@dataclass(frozen=True)
class StaticToken:
    """An integration's token: its name is who it is in logs, never the token itself."""

    name: str
    role: Role


TOKEN_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def parse_api_tokens(raw: str) -> dict[str, StaticToken]:
    """`name:token:role` entries, comma-separated; the older `token:role` is still read and
    named `integration-N` by its place in the list."""
    tokens: dict[str, StaticToken] = {}
    entries = [part.strip() for part in raw.split(",") if part.strip()]
    for place, entry in enumerate(entries, 1):
        rest, _, role = entry.rpartition(":")
        name, named, token = rest.partition(":")
        name, token = (name, token) if named else (f"integration-{place}", rest)
        if not token or role not in ROLE_RANK or not TOKEN_NAME.fullmatch(name):
            raise ValueError(
                f"entry {place} must be name:token:role (a name of 1-64 letters, digits or "
                "._@-; role agent, supervisor or admin)"
            )
        if name in {known.name for known in tokens.values()}:
            raise ValueError(f"entry {place}: the name {name} is taken by another token")
        if len(token) < MIN_TOKEN_CHARS or token.startswith(DEFAULT_SECRET):
            raise ValueError(
                f"entry {place} ({name}): a token must be a random value of at least "
                f"{MIN_TOKEN_CHARS} characters (openssl rand -hex 24)"
            )
        tokens[token] = StaticToken(name, role)  # type: ignore[arg-type]
    return tokens


def load_settings(**overrides: object) -> Settings:
    """Read the environment and the files of KEFU_SECRETS_DIR (one a variable, named like it);
    a bad value raises SettingsError naming the variable."""
    secrets_dir = Path(os.environ.get("KEFU_SECRETS_DIR") or SECRETS_DIR)
    if secrets_dir.is_dir():
        overrides = {"_secrets_dir": secrets_dir, **overrides}
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(_problem(e["loc"], e["msg"]) for e in error.errors())
        raise SettingsError(f"invalid configuration: {problems}") from None


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    message = message.removeprefix("Value error, ")
    return f"KEFU_{'_'.join(map(str, loc)).upper()}: {message}" if loc else message


def _weak_password(password: str) -> bool:
    return password.startswith(DEFAULT_SECRET) or len(password) < MIN_PASSWORD_CHARS


def _weak(secret: str) -> bool:
    return secret == DEFAULT_SECRET or len(secret) < MIN_SECRET_CHARS
