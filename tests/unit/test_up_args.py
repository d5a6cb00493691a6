"""`kefu up`'s topics: one partition each unless told otherwise, and never none."""

import pytest

from kefu.cli import parser


def test_kefu_up_makes_one_partition_a_topic_by_default() -> None:
    assert parser().parse_args(["up"]).partitions == 1
    assert parser().parse_args(["up", "--partitions", "6"]).partitions == 6


@pytest.mark.parametrize("given", ["0", "-1", "two", "1.5"])
def test_kefu_up_refuses_partitions_that_are_not_a_whole_number_above_zero(given, capsys) -> None:
    with pytest.raises(SystemExit) as refused:
        parser().parse_args(["up", "--partitions", given])
    assert refused.value.code == 2
    assert "a whole number of at least 1" in capsys.readouterr().err
