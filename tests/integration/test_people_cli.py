"""`kefu people add|list|set` through the real command, on the embedded store; what it writes
is what the workspace signs people in with."""

import os
import subprocess
import sys

from kefu.services.workspace.people import password_matches
from kefu.services.workspace.store import WorkspaceStore
from kefu.shared.store import connect, database
from tests.conftest import isolated_settings


def people(settings, *args: str, stdin: str = "", code: int = 0) -> str:
    env = {
        **os.environ,
        "KEFU_MONGODB_URL": settings.mongodb_url.get_secret_value(),
        "KEFU_MONGODB_DB": settings.mongodb_db,
    }
    done = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "people", *args],
        env=env,
        input=stdin.encode(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr.decode()
    return (done.stdout + done.stderr).decode()


async def test_people_are_added_listed_and_changed_from_the_command_line(backend) -> None:
    settings = isolated_settings(backend)
    add = ("add", "li", "--name", "Li Lei", "--email", "Li@Example.com", "--role", "agent")
    more = ("--role", "supervisor", "--skill", "billing", "--tier", "2", "--locale", "zh-CN")
    assert "added li" in people(settings, *add, *more, "--password-stdin", stdin="correct horse\n")
    again = people(settings, *add, "--password-stdin", stdin="correct horse\n", code=1)
    assert "a person with this id exists" in again
    short = people(settings, "add", "x", "--name", "X", "--email", "x@example.com",
                   "--password-stdin", stdin="pw-xyzzy\n", code=2)  # fmt: skip
    assert "password" in short and "xyzzy" not in short

    listed = people(settings, "list").splitlines()
    assert listed[0].split() == [
        "id", "name", "email", "roles", "skills", "tier", "capacity", "locale", "active"
    ]  # fmt: skip
    assert listed[1].split() == [
        "li", "Li", "Lei", "Li@example.com", "agent,supervisor", "billing", "2", "5", "zh-CN",
        "True",
    ]  # fmt: skip
    assert "argon2" not in "\n".join(listed)

    changed = people(settings, "set", "li", "--inactive", "--capacity", "9", "--password-stdin",
                     stdin="another horse\n")  # fmt: skip
    assert "changed li" in changed
    assert "no person ghost" in people(settings, "set", "ghost", "--active", code=1)

    client = connect(settings)
    try:
        store = WorkspaceStore(database(client, settings))
        person, hashed = await store.signing_in("li@example.com")
        assert person is not None and (person.active, person.capacity) == (False, 9)
        assert hashed.startswith("$argon2id$") and password_matches(hashed, "another horse")
    finally:
        await client.close()
