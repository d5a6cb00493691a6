"""`kefu people add|list|set`: operators manage the workspace's people straight in MongoDB,
through the workspace's own store (the same argon2id hashing). Passwords come from stdin or a
prompt, never from an argument (which would stay in the shell's history)."""

import argparse
import asyncio
import getpass
import sys
from typing import Any

from pydantic import ValidationError

from kefu.services.workspace.people import NewPerson, PersonChange
from kefu.services.workspace.store import PersonExists, WorkspaceStore
from kefu.shared.settings import load_settings
from kefu.shared.store import connect, database, ensure_indexes
from kefu.terminal import printable

FIELDS = ("name", "email", "roles", "skills", "tier", "capacity", "locale", "active")


def add_parsers(commands: Any) -> None:
    people = commands.add_parser("people", help="the workspace's people (straight in MongoDB)")
    which = people.add_subparsers(dest="people_command", required=True)
    add = which.add_parser("add", help="add a person")
    add.add_argument("id")
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    _options(add)
    which.add_parser("list", help="everyone, without passwords")
    change = which.add_parser("set", help="change a person")
    change.add_argument("id")
    change.add_argument("--name")
    _options(change)
    state = change.add_mutually_exclusive_group()
    state.add_argument("--active", action="store_const", const=True, help="may sign in")
    state.add_argument(
        "--inactive", action="store_const", const=False, dest="active", help="may not sign in"
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", action="append", dest="roles", help="repeatable")
    parser.add_argument("--skill", action="append", dest="skills", help="repeatable")
    parser.add_argument("--tier", type=int)
    parser.add_argument("--capacity", type=int)
    parser.add_argument("--locale", choices=("zh-CN", "en"))
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )


def run_people(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        print(f"kefu people: {problems}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    client = connect(settings)
    db = database(client, settings)
    store = WorkspaceStore(db)
    try:
        await ensure_indexes(db, WorkspaceStore.indexes())
        if args.people_command == "list":
            _table(await store.everyone())
            return 0
        given = {k: v for k in FIELDS if (v := getattr(args, k, None)) is not None}
        if args.people_command == "add":
            body = {"id": args.id, "roles": ["agent"], **given, "password": _password(args)}
            new = NewPerson.model_validate(body)
            try:
                await store.add(new.person(), new.password.get_secret_value())
            except PersonExists as taken:
                taken_field = taken.args[0]
                print(f"kefu people add: a person with this {taken_field} exists", file=sys.stderr)
                return 1
            print(f"added {args.id}")
            return 0
        password = _password(args) if args.password_stdin else None
        change = PersonChange.model_validate({**given, "password": password})
        secret = change.password.get_secret_value() if change.password else None
        if await store.change(args.id, change.fields(), secret) is None:
            print(f"kefu people set: no person {args.id}", file=sys.stderr)
            return 1
        print(f"changed {args.id}")
        return 0
    finally:
        await client.close()


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password (10 characters or more): ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("kefu people: the passwords differ")
    return first


def _table(people: list[Any]) -> None:
    rows = [("id", "name", "email", "roles", "skills", "tier", "capacity", "locale", "active")]
    for p in people:
        cells = (p.id, p.name, p.email, ",".join(p.roles), ",".join(p.skills), p.tier)
        rows.append(tuple(map(printable, (*cells, p.capacity, p.locale, p.active))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(line.rstrip())
