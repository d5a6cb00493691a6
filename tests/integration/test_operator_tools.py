"""The operator tools against the real broker: `kefu events` prints the stream, `kefu dlq
list` shows a refused agent command with its reason, and `kefu dlq replay` of it after the
fix takes effect once, however often it is replayed."""

import io
import os
import subprocess
import sys

from kefu.shared.topics import Topic
from kefu.streams import dead_letter_line, dead_letters, print_events, replay
from tests.factories import message_body
from tests.integration.conftest import running_intake, unique


def reply_to(ticket: str) -> dict:
    return {
        "action": "reply",
        "agent_id": "agent-7",
        "command_id": unique("cmd-"),
        "ticket_id": ticket,
        "text": "Here is your answer",
    }


def cli(settings, *args: str) -> str:
    env = {
        **os.environ,
        "KEFU_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "KEFU_TOPIC_PREFIX": settings.topic_prefix,
    }
    done = subprocess.run(
        [sys.executable, "-m", "kefu.cli", *args], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


async def test_a_refused_command_is_listed_and_its_replay_takes_effect_once(backend) -> None:
    async with running_intake(backend) as intake:
        early = reply_to("1001")  # the ticket does not exist yet: refused, dead-lettered
        await intake.act(early)
        await intake.take(1, type="kefu.dlq.message")
        listed = cli(intake.settings, "dlq", "list")
        assert "ticket 1001 does not exist" in listed and "agent.inbound" in listed

        body = message_body("email", unique("m-"), "jane@example.com")
        await intake.send(body)
        assert await intake.ticket_of(f"email:{body['message_id']}") == "1001"
        letters = await dead_letters(intake.settings, since=None)
        assert [dead_letter_line(letter) for letter in letters]
        for _ in range(2):
            assert await replay(intake.settings, letters) == 1
        replied = await intake.take(1, type="kefu.ticket.agent_replied")
        assert replied[0]["data"]["command_id"] == early["command_id"]
        everything = await intake.settle(2.0)
        assert [v["type"] for v in everything].count("kefu.ticket.agent_replied") == 1

        shown = io.StringIO()
        await print_events(intake.settings, [Topic.TICKET_EVENTS], "1001", None, False, shown)
        lines = shown.getvalue().splitlines()
        assert [line.split()[1] for line in lines] == [
            "kefu.ticket.opened",
            "kefu.ticket.message_received",
            "kefu.ticket.agent_replied",
        ]
        assert all(line.split()[2] == "1001" for line in lines)
        printed = cli(intake.settings, "events", "--topic", "ticket.events", "--ticket", "1001")
        assert printed.splitlines() == lines  # not a terminal: no colours
