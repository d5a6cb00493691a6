"""Whether a replica's consumer holds every partition it reads (shared/bus.py)."""

from kefu.shared.bus import holds_every_partition


def test_every_partition_of_every_topic_read_is_held() -> None:
    topics: dict[str, set[int] | None] = {"in": {0, 1}, "events": {0}}
    assert holds_every_partition(topics, {("in", 0), ("in", 1), ("events", 0)})
    assert not holds_every_partition(topics, {("in", 0), ("events", 0)})


def test_partitions_not_known_yet_are_not_held() -> None:
    assert not holds_every_partition({"in": None, "events": {0}}, {("events", 0)})
    assert not holds_every_partition({}, set())
