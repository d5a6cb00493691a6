"""Notify's templates: Jinja2 files per locale, overridable from KEFU_TEMPLATES_DIR.

Each template is two files in `templates/<locale>/`: `<name>.txt` with the blocks `subject`,
`text` and (for customer messages) `sms`, and `<name>.html`, the HTML part, autoescaped (a
`<script>` in a reply arrives as text). A file in KEFU_TEMPLATES_DIR/<locale>/ replaces the
built-in one of the same name. The locale is the ticket's when there is such a folder, else
one of the same language (`zh-TW` → `zh-CN`), else KEFU_DEFAULT_LOCALE, else `en`.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

BUILT_IN = Path(__file__).parent / "templates"
GSM_SEGMENT, UNICODE_SEGMENT = 153, 67  # characters per part of a multi-part SMS
SMS_SEGMENTS = 3


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


class Templates:
    def __init__(self, override: Path | None = None, default_locale: str = "en") -> None:
        folders = [folder for folder in (override, BUILT_IN) if folder is not None]
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(folder)) for folder in folders]),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.locales = sorted(
            {
                p.name
                for folder in folders
                if folder.is_dir()
                for p in folder.iterdir()
                if p.is_dir()
            }
        )
        self.default_locale = self.locale(default_locale, "en")

    def locale(self, wanted: str | None, fallback: str | None = None) -> str:
        fallback = fallback or self.default_locale
        if wanted in self.locales:
            return wanted
        language = (wanted or "").split("-")[0].lower()
        same = [locale for locale in self.locales if locale.split("-")[0].lower() == language]
        return same[0] if same else fallback

    def email(self, name: str, locale: str, params: dict[str, Any]) -> Email:
        chosen = self.locale(locale)
        text = self.env.get_template(f"{chosen}/{name}.txt")
        context = text.new_context(params)
        subject = " ".join(_block(text, "subject", context).split())
        html = self.env.get_template(f"{chosen}/{name}.html").render({**params, "title": subject})
        return Email(subject=subject, text=_block(text, "text", context).strip() + "\n", html=html)

    def sms(self, name: str, locale: str, params: dict[str, Any]) -> str:
        text = self.env.get_template(f"{self.locale(locale)}/{name}.txt")
        return fit_sms(" ".join(_block(text, "sms", text.new_context(params)).split()))


def _block(template: Any, name: str, context: Any) -> str:
    return "".join(template.blocks[name](context))


def fit_sms(body: str, segments: int = SMS_SEGMENTS) -> str:
    """At most `segments` parts: 153 characters each in GSM-7 (ASCII here), 67 otherwise."""
    per = GSM_SEGMENT if body.isascii() else UNICODE_SEGMENT
    limit = per * segments
    return body if len(body) <= limit else body[: limit - 1] + "…"
