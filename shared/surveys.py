"""What every service agrees on about surveys: the scales, what a low score is, and what an
SMS reply must look like to be an answer (intake decides it, survey records it)."""

import re

from kefu.shared.events.survey import SurveyKind

SCALES: dict[SurveyKind, range] = {"csat": range(1, 6), "nps": range(0, 11)}
DETRACTOR_AT_MOST: dict[SurveyKind, int] = {"csat": 2, "nps": 6}
# "5", " 4 ", "9!", full-width "５" (phones type it); anything more is a message, not a score
BARE_SCORE = re.compile(r"\s*(\d{1,2})\s*[.!。！]?\s*")


def in_scale(kind: SurveyKind, score: int) -> bool:
    return score in SCALES[kind]


def is_detractor(kind: SurveyKind, score: int) -> bool:
    return score <= DETRACTOR_AT_MOST[kind]


def bare_number(text: str) -> int | None:
    found = BARE_SCORE.fullmatch(text)
    return int(found.group(1)) if found else None


def sms_score(text: str, kind: SurveyKind) -> int | None:
    """The score an SMS reply gives, if the whole text is one number on the survey's scale."""
    number = bare_number(text)
    return number if number is not None and in_scale(kind, number) else None
