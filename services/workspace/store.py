"""The workspace's collections (the `kefu people` command uses them too):

- `workspace_people`: a person per document, `_id` the person's id, the argon2id hash in
  `password_hash` (never leaves this module except to be verified); a unique index on the
  lower-cased email (`email_key`) makes a second person with that email a duplicate key.
- `workspace_sessions`: a sign-in per document, `_id` the session id the token carries;
  read by `_id` on every request of a person; `ended` at sign-out. Expired ones are removed
  by an indexed periodic delete (no TTL index on a hot collection).
- `workspace_signin_failures`: per lower-cased login, the times (epoch seconds) of its last
  failures, appended by one atomic `$push`; removed the same way once out of the window.
"""

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kefu.services.workspace.people import (
    ADMIN,
    ADMIN_EMAIL,
    ADMIN_ROLES,
    Person,
    email_key,
    hash_password,
    password_matches,
)
from kefu.services.workspace.sessions import FAILURES_ALLOWED, WINDOW
from kefu.shared.store import Document, by_ids

PEOPLE, SESSIONS, FAILURES = "workspace_people", "workspace_sessions", "workspace_signin_failures"


class PersonExists(Exception):
    """The id or the email is another person's (`args[0]` says which)."""


class WorkspaceStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.people = db[PEOPLE]
        self.sessions = db[SESSIONS]
        self.failures = db[FAILURES]

    @staticmethod
    def indexes() -> dict[str, list[IndexModel]]:
        return {
            PEOPLE: [IndexModel([("email_key", ASCENDING)], unique=True)],
            SESSIONS: [IndexModel([("expires_at", ASCENDING)])],
            FAILURES: [IndexModel([("last", ASCENDING)])],
        }

    # people

    async def add(self, person: Person, password: str) -> None:
        hashed = await asyncio.to_thread(hash_password, password)
        document = {**_document(person), "password_hash": hashed}
        try:
            await self.people.insert_one(document)
        except DuplicateKeyError:
            taken = await self.people.find_one({"_id": person.id}, {"_id": 1})
            raise PersonExists("id" if taken else "email") from None

    async def person(self, person_id: str) -> Person | None:
        found = await self.people.find_one({"_id": person_id}, {"password_hash": 0})
        return _person(found) if found else None

    async def signing_in(self, login: str) -> tuple[Person | None, str | None]:
        """The person a login names (their id, or their email in any case) and their hash."""
        found = await self.people.find_one({"_id": login}) or await self.people.find_one(
            {"email_key": email_key(login)}
        )
        return (_person(found), found.get("password_hash")) if found else (None, None)

    async def names(self, person_ids: list[str]) -> dict[str, str]:
        """The name of each of these people that exists, by id (one `$in`)."""
        found = await by_ids(self.people, person_ids, {"name": 1})
        return {person_id: person["name"] for person_id, person in found.items()}

    async def everyone(self) -> list[Person]:
        cursor = self.people.find({}, {"password_hash": 0}).sort("_id", ASCENDING)
        return [_person(found) async for found in cursor]

    async def change(
        self, person_id: str, fields: dict[str, Any], password: str | None = None
    ) -> Person | None:
        """Set some of a person's fields (and password) in one write; None: no such person."""
        if password is not None:
            fields = {**fields, "password_hash": await asyncio.to_thread(hash_password, password)}
        if not fields:
            return await self.person(person_id)
        changed = await self.people.find_one_and_update(
            {"_id": person_id},
            {"$set": fields},
            projection={"password_hash": 0},
            return_document=ReturnDocument.AFTER,
        )
        return _person(changed) if changed else None

    async def ensure_admin(self, password: str) -> str:
        """Make sure `admin` exists with these roles and this password: created, reset or
        kept. Every write is conditional, so replicas starting together agree."""
        for _ in range(3):
            found = await self.people.find_one({"_id": ADMIN})
            if found is None:
                admin = Person(id=ADMIN, name="Administrator", email=ADMIN_EMAIL, roles=ADMIN_ROLES)
                try:
                    await self.add(admin, password)
                    return "created"
                except PersonExists:
                    continue  # another replica made it first: check its password
            old = found.get("password_hash")
            roles_ok = set(ADMIN_ROLES) <= set(found.get("roles", ())) and found.get("active")
            if roles_ok and await asyncio.to_thread(password_matches, old, password):
                return "kept"
            reset = await self.people.update_one(
                {"_id": ADMIN, "password_hash": old},
                {
                    "$set": {
                        "password_hash": await asyncio.to_thread(hash_password, password),
                        "roles": list(dict.fromkeys([*ADMIN_ROLES, *found.get("roles", ())])),
                        "active": True,
                    }
                },
            )
            if reset.modified_count:
                return "reset"
        return "kept"  # others kept resetting it to the same password meanwhile

    # sessions

    async def start_session(self, person_id: str, ttl: timedelta, now: datetime) -> Document:
        session = {
            "_id": secrets.token_urlsafe(18),
            "person_id": person_id,
            "started_at": now,
            "expires_at": now + ttl,
            "ended": False,
        }
        await self.sessions.insert_one(session)
        return session

    async def session_live(self, session_id: str, person_id: str, now: datetime) -> bool:
        found = await self.sessions.find_one({"_id": session_id})
        return bool(
            found
            and found["person_id"] == person_id
            and not found.get("ended")
            and found["expires_at"] > now
        )

    async def end_session(self, session_id: str) -> None:
        await self.sessions.update_one({"_id": session_id}, {"$set": {"ended": True}})

    # sign-in failures

    async def failed_at(self, key: str) -> list[datetime]:
        found = await self.failures.find_one({"_id": key})
        return [datetime.fromtimestamp(at, UTC) for at in (found or {}).get("at", [])]

    async def record_failure(self, key: str, now: datetime) -> None:
        at = now.timestamp()
        await self.failures.update_one(
            {"_id": key},
            {"$push": {"at": {"$each": [at], "$slice": -FAILURES_ALLOWED}}, "$max": {"last": at}},
            upsert=True,
        )

    async def forget_failures(self, key: str) -> None:
        await self.failures.delete_one({"_id": key})

    async def remove_expired(self, now: datetime) -> None:
        await self.sessions.delete_many({"expires_at": {"$lt": now}})
        await self.failures.delete_many({"last": {"$lt": (now - WINDOW).timestamp()}})


def _document(person: Person) -> Document:
    fields = person.model_dump(exclude={"id"})
    return {"_id": person.id, **fields, "email_key": email_key(person.email)}


def _person(found: Document) -> Person:
    fields = {k: v for k, v in found.items() if k not in ("_id", "email_key", "password_hash")}
    return Person.model_validate({"id": found["_id"], **fields})  # nx-27017 keeps $set bools as 0/1
