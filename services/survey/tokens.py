"""Survey links: `<KEFU_PUBLIC_URL>/s/<token>`, the token naming the survey (and with it its
ticket: a survey's id is `<ticket_id>-<n>`) and its expiry, signed with HMAC-SHA256 under
KEFU_SURVEY_SECRET (itsdangerous). A token is the same every time it is made for a survey,
so a replay writes the same link; it is short enough for an SMS (about 75 characters)."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadData, URLSafeSerializer

SALT = "kefu.survey.link"
PATH = "/s/"


@dataclass(frozen=True)
class LinkSubject:
    ticket_id: str
    survey_id: str  # `<ticket_id>-<n>`
    expires_at: datetime


class SurveyLinks:
    def __init__(self, secret: str, public_url: str) -> None:
        self._serializer = URLSafeSerializer(
            secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.base = public_url.rstrip("/") + PATH

    def token(self, subject: LinkSubject) -> str:
        expires = int(subject.expires_at.timestamp())
        return self._serializer.dumps([subject.survey_id, expires])

    def url(self, subject: LinkSubject) -> str:
        return self.base + self.token(subject)

    def subject(self, token: str) -> LinkSubject | None:
        """What a token names; None if it was not made with this secret or was changed."""
        try:
            survey_id, expires = self._serializer.loads(token)
            ticket_id = str(survey_id).rpartition("-")[0]
            return LinkSubject(ticket_id, str(survey_id), datetime.fromtimestamp(expires, UTC))
        except (BadData, TypeError, ValueError, OverflowError, OSError):
            return None
