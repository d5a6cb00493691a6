"""The published saves of a process, as ranges of save numbers."""

from hypothesis import given
from hypothesis import strategies as st

from kefu.shared.marks import Ranges, save_of, writer_id


def test_consecutive_saves_are_one_range_and_a_gap_stays_open() -> None:
    ranges = Ranges()
    for number in (1, 2, 3, 5, 6):
        ranges.add(number)
    assert ranges.spans == [[1, 3], [5, 6]]
    assert not ranges.covers(4) and not ranges.covers(7)
    ranges.add(4)
    assert ranges.spans == [[1, 6]]


@given(st.lists(st.integers(min_value=1, max_value=60)))
def test_ranges_cover_exactly_the_numbers_added_in_any_order(numbers: list[int]) -> None:
    ranges = Ranges()
    for number in numbers:
        ranges.add(number)
    assert {n for n in range(0, 62) if ranges.covers(n)} == set(numbers)
    ends = [end for span in ranges.spans for end in span]
    assert ends == sorted(ends)
    assert all(b[0] > a[1] + 1 for a, b in zip(ranges.spans, ranges.spans[1:], strict=False))


def test_a_writer_names_its_process_and_save() -> None:
    assert save_of(writer_id("0a1b", 42)) == ("0a1b", 42)
    assert save_of("0a1b2c") is None  # a writer from before saves were numbered
    assert save_of("") is None
