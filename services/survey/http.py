"""The survey page (FastAPI, mounted in the service's app): `GET /s/<token>` shows the form,
`POST /s/<token>` records the answer. A GET never records anything (mail scanners follow
links); the score an email link names (`?score=4`) is only chosen in advance.

Statuses: 404 a token that is not ours or names no survey, 410 expired, 409 answered,
413 a body over KEFU_MAX_BODY_BYTES (refused before it is parsed),
422 a missing or out-of-range score or a comment over 2,000 characters (the form again, with
the problem said; JSON, without the input, for a body that is no form), 200 the thank-you
page.
"""

from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from kefu.services.survey.decision import AnswerGiven, AnswerRefused, refusal
from kefu.services.survey.handling import Surveys
from kefu.services.survey.page import COMMENT_MAX_CHARS, FormProblem, Pages
from kefu.services.survey.ticket import Survey, SurveyTicket
from kefu.services.survey.tokens import SurveyLinks
from kefu.shared.events.base import utc_now
from kefu.shared.http_errors import Problem, invalid_request, read_body, refusals
from kefu.shared.surveys import in_scale

FORM = "application/x-www-form-urlencoded"
# the service's app passes KEFU_MAX_BODY_BYTES; the pages alone take the setting's default
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the link is the key: it must not leak to other sites
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def documented_page(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {}}}


REFUSED: dict[int | str, dict[str, Any]] = {
    404: documented_page("a token that is not ours or names no survey"),
    409: documented_page("the survey is answered"),
    410: documented_page("the link has expired"),
}
FORM_AGAIN = {
    "description": "the form again with the problem said; JSON for a body that is no form",
    "content": {"text/html": {}, "application/json": {"schema": Problem.model_json_schema()}},
}


class Answer(BaseModel):
    """The form's fields, as the page posts them."""

    score: str | None = None
    comment: str = ""


ANSWER_FORM = {"requestBody": {"content": {FORM: {"schema": Answer.model_json_schema()}}}}


def page(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status, headers=HEADERS)


def survey_pages(surveys: Surveys, links: SurveyLinks, limit: int) -> FastAPI:
    api = FastAPI(title="kefu survey", docs_url=None, redoc_url=None, openapi_url=None)
    api.add_exception_handler(RequestValidationError, invalid_request)
    pages = Pages()

    async def open_survey(token: str) -> tuple[SurveyTicket, Survey] | HTMLResponse:
        subject, now = links.subject(token), utc_now()
        ticket = await surveys.ticket(subject.ticket_id) if subject else None
        locale = ticket.locale if ticket else None
        if subject is None:
            return page(pages.problem(locale, 404), 404)
        if subject.expires_at <= now:
            return page(pages.problem(locale, 410), 410)
        if refused := refusal(ticket, subject.survey_id, now):
            return page(pages.problem(locale, refused.status), refused.status)
        assert ticket is not None
        return ticket, ticket.survey(subject.survey_id)  # type: ignore[return-value]

    def form(ticket: SurveyTicket, survey: Survey, token: str, **shown: object) -> str:
        return pages.survey(
            ticket.locale,
            kind=survey.kind,
            ticket_id=ticket.ticket_id,
            action=f"/s/{token}",
            **shown,  # type: ignore[arg-type]
        )

    @api.get("/s/{token}", response_class=HTMLResponse, responses=REFUSED)
    async def survey_page(token: str, score: str | None = None) -> HTMLResponse:
        found = await open_survey(token)
        if isinstance(found, HTMLResponse):
            return found
        ticket, survey = found
        chosen = _score(score)
        selected = chosen if chosen is not None and in_scale(survey.kind, chosen) else None
        return page(form(ticket, survey, token, selected=selected))

    @api.post(
        "/s/{token}",
        response_class=HTMLResponse,
        responses={**REFUSED, **refusals(413), 422: FORM_AGAIN},
        openapi_extra=ANSWER_FORM,
    )
    async def answer(token: str, request: Request) -> HTMLResponse:
        posted = await _answer(request, limit)
        found = await open_survey(token)
        if isinstance(found, HTMLResponse):
            return found
        ticket, survey = found
        chosen = _score(posted.score)
        comment = posted.comment.replace("\r\n", "\n")  # browsers count a line break as one
        if problem := _problem(survey, chosen, comment):
            error = pages.error_text(ticket.locale, problem, survey.kind)
            selected = chosen if chosen is not None and in_scale(survey.kind, chosen) else None
            shown = form(ticket, survey, token, selected=selected, comment=comment, error=error)
            return page(shown, 422)
        given = AnswerGiven(
            ticket_id=ticket.ticket_id,
            survey_id=survey.id,
            score=chosen or 0,
            comment=comment.strip() or None,
            at=utc_now(),
        )
        try:
            await surveys.answer(given)
        except AnswerRefused as refused:
            return page(pages.problem(ticket.locale, refused.status), refused.status)
        return page(
            pages.thanks(
                ticket.locale, kind=survey.kind, score=given.score, ticket_id=ticket.ticket_id
            )
        )

    return api


async def _answer(request: Request, limit: int) -> Answer:
    """The posted form; before any of it is parsed, 422 for a body that is no form and 413
    for one over `limit` bytes."""
    media_type = request.headers.get("content-type", FORM).partition(";")[0].strip().lower()
    if media_type != FORM:
        no_form = {"loc": ("body",), "msg": f"a form ({FORM}) is required", "type": "no_form"}
        raise RequestValidationError([no_form])
    raw = await read_body(request, limit)
    # latin-1 never fails, as Starlette's own form parser reads a form
    return Answer.model_validate(dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)))


def _score(given: str | None) -> int | None:
    given = (given or "").strip()
    return int(given) if given.isdecimal() and len(given) <= 3 else None


def _problem(survey: Survey, score: int | None, comment: str) -> FormProblem | None:
    if score is None:
        return "score_missing"
    if not in_scale(survey.kind, score):
        return "score_out_of_range"
    if len(comment) > COMMENT_MAX_CHARS:
        return "comment_too_long"
    return None
