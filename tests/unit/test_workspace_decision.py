"""The conversation record's decisions on a batch: entries, summaries and command outcomes."""

from kefu.services.workspace.decision import decide, recorded
from tests import sla_events as ev
from tests.factories import NOW


def test_a_batch_comes_to_entries_foldings_and_the_commands_it_settles() -> None:
    merge, closing = ev.merged("1002", "1001", NOW)  # agent a1's command
    batch = recorded([ev.opened("1002", NOW), ev.replied("1002", NOW), merge, closing])
    folded = [(f.ticket_id, f.event.type.rpartition(".")[2]) for f in batch.foldings]
    assert folded == [  # a reply is in the conversation, not the summary
        ("1002", "opened"),
        ("1002", "merged"),
        ("1001", "merged"),
        ("1002", "status_changed"),
    ]
    assert len(batch.entries) == 3  # the reply, the merge, the closing
    assert {(command, status) for command, status, _ in batch.outcomes} == {
        (merge.correlationid, "applied")
    }


def test_folding_a_merge_into_its_target_publishes_nothing() -> None:
    merge, _ = ev.merged("1002", "1001", NOW)
    into_target = recorded([merge]).foldings[1]
    summary, events = decide(None, into_target, NOW)
    assert summary.ticket_id == "1001" and summary.merged_from == ["1002"] and events == []
