"""The hourly chart's SVG, read back with xml.etree: one bar per hour and series, heights in
proportion, UTC hour labels, the title escaped, and an empty period drawn as such."""

from datetime import UTC, datetime, timedelta, timezone
from xml.etree import ElementTree as ET

from kefu.services.analytics.chart import hourly_bars_svg

SVG = "{http://www.w3.org/2000/svg}"
MIDNIGHT = datetime(2026, 11, 23, tzinfo=UTC)


def hours(*counts: tuple[int, int], start: datetime = MIDNIGHT) -> list[tuple[datetime, int, int]]:
    return [
        (start + timedelta(hours=n), opened, solved) for n, (opened, solved) in enumerate(counts)
    ]


def bars(root: ET.Element, series: str) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == f"bar {series}"]


def texts(root: ET.Element) -> list[str]:
    return [text.text or "" for text in root.iter(f"{SVG}text")]


def test_one_bar_per_hour_and_series_in_proportion() -> None:
    root = ET.fromstring(hourly_bars_svg(hours((4, 1), (8, 2), (0, 0)), "Tickets per hour"))
    opened, solved = bars(root, "opened"), bars(root, "solved")
    assert (len(opened), len(solved)) == (3, 3)
    heights = [float(bar.get("height", "")) for bar in opened]
    assert heights[1] == 2 * heights[0] > 0 == heights[2]
    assert [bar.findtext(f"{SVG}title") for bar in solved] == [
        "00:00 UTC: 1 solved",
        "01:00 UTC: 2 solved",
        "02:00 UTC: 0 solved",
    ]


def test_an_image_named_and_described_that_scales() -> None:
    root = ET.fromstring(hourly_bars_svg(hours((3, 0), (9, 4)), "Today"))
    assert root.get("role") == "img"
    assert root.get("viewBox") == "0 0 720 300"
    assert root.get("width") is None and root.get("height") is None
    assert root.findtext(f"{SVG}title") == "Today"
    assert root.findtext(f"{SVG}desc") == (
        "Tickets opened and solved in each of the 2 hours from 2026-11-23 00:00 UTC: "
        "12 opened and 4 solved in all. The busiest hour was 01:00 with 9 opened."
    )


def test_hours_are_labelled_in_utc_every_few_hours() -> None:
    shanghai = timezone(timedelta(hours=8))
    day = hours(*[(1, 1)] * 24, start=datetime(2026, 11, 23, 8, tzinfo=shanghai))
    labels = [text for text in texts(ET.fromstring(hourly_bars_svg(day, "Day"))) if ":" in text]
    assert labels == ["00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"]


def test_the_title_is_escaped() -> None:
    title = '</title><script>alert("x")</script> & <b>'
    svg = hourly_bars_svg(hours((1, 0)), title)
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert root.findtext(f"{SVG}title") == title
    assert root.find(f".//{SVG}script") is None


def test_no_hours_draw_the_axes_and_say_so() -> None:
    root = ET.fromstring(hourly_bars_svg([], "Nothing"))
    assert bars(root, "opened") == bars(root, "solved") == []
    assert "No tickets in this period" in texts(root)
    assert root.findtext(f"{SVG}desc") == "No hours in this period."


def test_hours_without_tickets_keep_their_bars_flat() -> None:
    root = ET.fromstring(hourly_bars_svg(hours((0, 0), (0, 0)), "Quiet"))
    assert [bar.get("height") for bar in bars(root, "opened") + bars(root, "solved")] == ["0"] * 4
    assert "No tickets in this period" in texts(root)
    assert {"0", "1"} <= set(texts(root))  # a y axis from 0, not a division by zero


def test_several_days_are_labelled_by_the_day() -> None:
    week = hours(*[(2, 1)] * 24 * 7)
    labels = [text for text in texts(ET.fromstring(hourly_bars_svg(week, "Week"))) if " " in text]
    assert labels == ["Nov 23", "Nov 24", "Nov 25", "Nov 26", "Nov 27", "Nov 28", "Nov 29"]
