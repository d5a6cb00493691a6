"""Documents written per message to each collection, summed over the services that write it."""

from kefu.bench import WRITTEN, by_collection


def test_documents_written_per_message_by_collection_most_first() -> None:
    before = {
        "intake": {f"{WRITTEN}intake_tickets": 10.0, "store_documents": 10.0},
        "router": {},
    }
    after = {
        "intake": {f"{WRITTEN}intake_tickets": 30.0, f"{WRITTEN}intake_keys": 5.0},
        "router": {f"{WRITTEN}router_tickets": 40.0, f"{WRITTEN}intake_keys": 5.0},
    }
    assert by_collection(before, after, ["intake", "router"], 10) == {
        "router_tickets": 4.0,
        "intake_tickets": 2.0,
        "intake_keys": 1.0,
    }
