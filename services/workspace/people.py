"""People who work tickets (contract 8): what a person is, what may change, and passwords
as argon2id hashes. Pure: no store, no HTTP."""

import functools
from typing import Annotated, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from kefu.shared.events.base import SupportTier
from kefu.shared.identifiers import Identifier
from kefu.shared.inbound import email_address
from kefu.shared.settings import ROLE_RANK, Role

Locale = Literal["zh-CN", "en"]
Password = Annotated[SecretStr, Field(min_length=10, max_length=1024)]  # bounds hashing work
ADMIN = "admin"
ADMIN_EMAIL = "admin@example.com"  # the bootstrap admin's; an admin may give it another
ADMIN_ROLES: tuple[Role, ...] = ("admin", "supervisor", "agent")
HASHER = PasswordHasher()  # argon2id, RFC 9106's low-memory parameters


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("roles", "skills", check_fields=False)
    @classmethod
    def _once_each(cls, values: list[str] | None) -> list[str] | None:
        return list(dict.fromkeys(values)) if values is not None else None


class Person(_Body):
    id: Identifier
    name: str = Field(min_length=1, max_length=256)
    email: str = Field(max_length=320)
    roles: list[Role] = Field(min_length=1)
    skills: list[Identifier] = Field(default_factory=list)
    tier: SupportTier = 1
    capacity: int = Field(5, ge=0, le=1000)
    locale: Locale = "en"
    active: bool = True

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return email_address(value)

    def highest_role(self) -> Role:
        return max(self.roles, key=ROLE_RANK.__getitem__)


class NewPerson(Person):
    password: Password

    def person(self) -> Person:
        return Person.model_validate(self.model_dump(exclude={"password"}))


class PersonChange(_Body):
    """`PATCH /v1/people/{id}`: only what is given changes (null is not given)."""

    name: str | None = Field(None, min_length=1, max_length=256)
    roles: list[Role] | None = Field(None, min_length=1)
    skills: list[Identifier] | None = None
    tier: SupportTier | None = None
    capacity: int | None = Field(None, ge=0, le=1000)
    locale: Locale | None = None
    active: bool | None = None
    password: Password | None = None

    def fields(self) -> dict[str, object]:
        return self.model_dump(exclude_none=True, exclude={"password"})


def email_key(email: str) -> str:
    """What makes two emails the same person's (the unique index's value)."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def password_matches(hashed: str | None, password: str) -> bool:
    """Always runs one argon2 verification, against a dummy hash when there is no person,
    so an unknown login takes as long as a wrong password."""
    try:
        return HASHER.verify(hashed or _dummy_hash(), password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return HASHER.hash("no-one-has-this-password")
