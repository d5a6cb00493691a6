"""The dashboard's chart, drawn on the server, pure: tickets opened and solved in each hour, as
an SVG bar chart (two bars per hour) that scales with its viewBox.

Accessible as an image: `role="img"`, named by its `<title>` and described by a `<desc>` that
says the totals and the busiest hour; each bar has its own `<title>` (a tooltip). Hours are
labelled HH:00 in UTC every few hours, or by the day over several days. ElementTree builds
the document, so every text and attribute is escaped. No tickets, or no hours at all, draw
the axes and say so.
"""

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

Hour = tuple[datetime, int, int]  # the hour's start, tickets opened, tickets solved

WIDTH, HEIGHT = 720, 300
# The y axis is on the right, next to the latest hour, as is the legend: a phone that shows
# only the chart's right-hand part (the page scrolls it there) still shows both.
LEFT, RIGHT, TOP, BOTTOM = 32, 56, 40, 32  # the margins around the plot
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
SERIES = (("opened", "Opened", "#1d4ed8"), ("solved", "Solved", "#c2410c"))
BAR_SHARE = 0.4  # of an hour's width, for each of its two bars
MAX_STEPS = 4  # horizontal grid lines above zero, at most
LABEL_EVERY = (1, 2, 3, 4, 6, 12, 24)  # hours between labels, the fewest that fit
MAX_LABELS = 8
TEXT = "#4b5563"
GRID = "#e5e7eb"
AXIS = "#6b7280"


def hourly_bars_svg(hours: Sequence[Hour], title: str) -> str:
    peak = max((max(opened, solved) for _, opened, solved in hours), default=0)
    top = _axis_top(peak)
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "role": "img",
            "aria-labelledby": "hourly-title hourly-desc",
            "font-family": "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif",
            "font-size": "16",
        },
    )
    ET.SubElement(svg, "title", id="hourly-title").text = title
    ET.SubElement(svg, "desc", id="hourly-desc").text = _summary(hours)
    _legend(svg)
    _grid(svg, top)
    _bars(svg, hours, top)
    _hour_labels(svg, hours)
    if peak == 0:
        _note(svg, "No tickets in this period")
    return ET.tostring(svg, encoding="unicode")


def _axis_top(peak: int) -> int:
    """The y axis's highest value: the peak rounded up to a whole number of grid steps."""
    step = _grid_step(peak)
    return step * max(1, math.ceil(peak / step))


def _grid_step(peak: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … that reaches the peak in MAX_STEPS steps."""
    magnitude = 1
    while True:
        for nice in (1, 2, 5):
            if nice * magnitude * MAX_STEPS >= peak:
                return nice * magnitude
        magnitude *= 10


def _summary(hours: Sequence[Hour]) -> str:
    if not hours:
        return "No hours in this period."
    opened = sum(hour[1] for hour in hours)
    solved = sum(hour[2] for hour in hours)
    start = _utc(hours[0][0]).strftime("%Y-%m-%d %H:00")
    text = (
        f"Tickets opened and solved in each of the {len(hours)} hours from {start} UTC: "
        f"{opened} opened and {solved} solved in all."
    )
    busiest = max(hours, key=lambda hour: hour[1])
    if busiest[1]:
        text += f" The busiest hour was {_clock(busiest[0])} with {busiest[1]} opened."
    return text


def _legend(svg: ET.Element) -> None:
    x = WIDTH - RIGHT - 170  # two entries 100 apart, the second ending at the plot's edge
    for _, name, colour in SERIES:
        _rect(svg, x, 12, 14, 14, colour)
        _text(svg, x + 20, 25, name)
        x += 100


def _grid(svg: ET.Element, top: int) -> None:
    step = _grid_step(top)
    for value in range(0, top + 1, step):
        y = _y(value, top)
        colour = AXIS if value == 0 else GRID
        ET.SubElement(
            svg, "line", x1=_n(LEFT), x2=_n(WIDTH - RIGHT), y1=_n(y), y2=_n(y), stroke=colour
        )
        _text(svg, WIDTH - RIGHT + 8, y + 6, str(value))


def _bars(svg: ET.Element, hours: Sequence[Hour], top: int) -> None:
    if not hours:
        return
    band = PLOT_WIDTH / len(hours)
    bar = band * BAR_SHARE
    for index, (at, *values) in enumerate(hours):
        x = LEFT + index * band + (band - 2 * bar) / 2
        for offset, ((series, name, colour), value) in enumerate(zip(SERIES, values, strict=True)):
            y = _y(value, top)
            rect = _rect(svg, x + offset * bar, y, bar, TOP + PLOT_HEIGHT - y, colour)
            rect.set("class", f"bar {series}")
            ET.SubElement(rect, "title").text = f"{_clock(at)} UTC: {value} {name.lower()}"


def _hour_labels(svg: ET.Element, hours: Sequence[Hour]) -> None:
    if not hours:
        return
    band = PLOT_WIDTH / len(hours)
    every = next(
        (step for step in LABEL_EVERY if len(hours) <= step * MAX_LABELS),
        math.ceil(len(hours) / MAX_LABELS),
    )
    for index in range(0, len(hours), every):
        x = LEFT + (index + 0.5) * band
        _text(svg, x, HEIGHT - 10, _label(hours[index][0], every), anchor="middle")


def _note(svg: ET.Element, text: str) -> None:
    _text(svg, LEFT + PLOT_WIDTH / 2, TOP + PLOT_HEIGHT / 2, text, anchor="middle")


def _rect(
    svg: ET.Element, x: float, y: float, width: float, height: float, fill: str
) -> ET.Element:
    return ET.SubElement(
        svg, "rect", x=_n(x), y=_n(y), width=_n(width), height=_n(height), fill=fill
    )


def _text(svg: ET.Element, x: float, y: float, text: str, anchor: str = "start") -> None:
    attributes = {"x": _n(x), "y": _n(y), "fill": TEXT, "text-anchor": anchor}
    ET.SubElement(svg, "text", attributes).text = text


def _y(value: int, top: int) -> float:
    return TOP + PLOT_HEIGHT * (1 - value / top)


def _label(at: datetime, every: int) -> str:
    """HH:00, or the day ("Nov 24") where labels are a day or more apart."""
    day = _utc(at)
    return f"{day:%b} {day.day}" if every >= 24 else _clock(at)


def _clock(at: datetime) -> str:
    return _utc(at).strftime("%H:00")


def _utc(at: datetime) -> datetime:
    """An aware instant in UTC; a naive one is taken to be UTC already."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _n(value: float) -> str:
    """A coordinate, to a tenth of a unit."""
    return f"{value:.1f}".removesuffix(".0")
