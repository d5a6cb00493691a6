"""Which of a process's saves have all their events on the broker, as one small document.

A state collection's process numbers its saves; a document it writes carries the writer
`<process>.<n>`. Once every event of save n is published, n joins the process's `Ranges`,
which the service's marks collection keeps as one document per collection and process
(`{_id: "<collection>:<process>", ranges: [[first, last], ...]}`). A reader takes a document
whose writer's save is covered as published, so the documents a save wrote need no mark of
their own: one write marks a batch, not one per document.
"""

from dataclasses import dataclass, field


@dataclass
class Ranges:
    """Sorted, disjoint, inclusive ranges of save numbers."""

    spans: list[list[int]] = field(default_factory=list)

    def covers(self, number: int) -> bool:
        return any(first <= number <= last for first, last in reversed(self.spans))

    def add(self, number: int) -> None:
        if self.spans and self.spans[-1][1] + 1 == number:
            self.spans[-1][1] = number  # the usual case: the next save
            return
        if self.covers(number):
            return
        spans = sorted([*self.spans, [number, number]])
        merged: list[list[int]] = []
        for first, last in spans:
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        self.spans = merged


def writer_id(process: str, number: int) -> str:
    return f"{process}.{number}"


def save_of(writer: str) -> tuple[str, int] | None:
    """The process and save number of a writer id (None for a writer without them)."""
    process, dot, number = writer.rpartition(".")
    return (process, int(number)) if dot and number.isdigit() else None
