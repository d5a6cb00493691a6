"""Survey's pages: the form a customer answers, the thank-you page and the problem pages
(404, 409, 410), in English or Simplified Chinese.

Plain HTML posted form-encoded, no JavaScript, the CSS inline in `templates/layout.html`.
Every string of both locales is in TEXTS; the templates only lay them out, calling `t(key)`,
which fills in the page's values (`{ticket_id}`, `{low}`, `{high}`, `{score}`,
`{comment_max}`). What `t` returns is plain text, autoescaped like any other value.
"""

from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kefu.shared.events.survey import SurveyKind
from kefu.shared.surveys import SCALES

PAGE_LOCALES = ("en", "zh-CN")
COMMENT_MAX_CHARS = 2000
TEMPLATES = Path(__file__).parent / "templates"

FormProblem = Literal["score_missing", "score_out_of_range", "comment_too_long"]

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "csat.title": "Satisfaction survey",
        "csat.question": "How satisfied are you with how we handled ticket #{ticket_id}?",
        "csat.lowest": "Very dissatisfied",
        "csat.highest": "Very satisfied",
        "nps.title": "Would you recommend us?",
        "nps.question": "How likely are you to recommend us to a friend or colleague?",
        "nps.lowest": "Not at all likely",
        "nps.highest": "Extremely likely",
        "comment.label": "Anything else you would like to tell us? (optional)",
        "comment.hint": "At most {comment_max:,} characters.",
        "submit.once": "Submitting records your answer. Each survey can be answered once.",
        "submit": "Submit",
        "error.title": "Error: ",
        "score_missing": "Please choose a score from {low} to {high}.",
        "score_out_of_range": "That score is not on the scale. "
        "Please choose a score from {low} to {high}.",
        "comment_too_long": "Your comment is longer than {comment_max:,} characters.",
        "thanks.title": "Thank you for your feedback",
        "thanks.score": "We recorded your score for ticket #{ticket_id}: {score} out of {high}.",
        "thanks.close": "You can close this page now.",
        "404.title": "This survey link is not valid",
        "404.detail": "Please check that you copied the whole link from our message.",
        "409.title": "This survey has already been answered",
        "409.detail": "We already have your answer. Thank you!",
        "410.title": "This survey has expired",
        "410.detail": "This link no longer accepts answers. Thank you for your time.",
    },
    "zh-CN": {
        "csat.title": "满意度调查",
        "csat.question": "您对我们处理工单 #{ticket_id} 的服务满意吗？",
        "csat.lowest": "非常不满意",
        "csat.highest": "非常满意",
        "nps.title": "您会推荐我们吗？",
        "nps.question": "您有多大可能向朋友或同事推荐我们？",
        "nps.lowest": "完全不可能",
        "nps.highest": "极有可能",
        "comment.label": "还有什么想告诉我们的吗？（选填）",
        "comment.hint": "最多 {comment_max} 字。",
        "submit.once": "提交后即记录您的回答，每份调查只能回答一次。",
        "submit": "提交",
        "error.title": "错误：",
        "score_missing": "请选择 {low} 到 {high} 之间的分数。",
        "score_out_of_range": "该分数无效，请选择 {low} 到 {high} 之间的分数。",
        "comment_too_long": "您的留言超过了 {comment_max} 字。",
        "thanks.title": "谢谢您的反馈",
        # a no-break space keeps the score and its unit on one line
        "thanks.score": "我们已记录您对工单 #{ticket_id} 的评分："
        "{score}\u00a0分（满分 {high} 分）。",
        "thanks.close": "您现在可以关闭此页面。",
        "404.title": "此调查链接无效",
        "404.detail": "请检查您是否复制了完整的链接。",
        "409.title": "此调查已答复",
        "409.detail": "我们已收到您的回答，谢谢！",
        "410.title": "此调查已过期",
        "410.detail": "此链接已超过有效期，无法再提交回答。感谢您的关注。",
    },
}


def page_locale(locale: str | None) -> str:
    """The page's language: Simplified Chinese for any Chinese locale, English otherwise."""
    return "zh-CN" if (locale or "").lower().startswith("zh") else "en"


class Pages:
    def __init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(enabled_extensions=("html",)),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def survey(
        self,
        locale: str | None,
        *,
        kind: SurveyKind,
        ticket_id: str,
        action: str,
        selected: int | None = None,
        comment: str = "",
        error: str | None = None,
    ) -> str:
        return self._render(
            "survey.html",
            locale,
            kind=kind,
            scale=SCALES[kind],
            ticket_id=ticket_id,
            action=action,
            selected=selected,
            comment=comment,
            error=error,
            **_scale_values(kind),
        )

    def error_text(self, locale: str | None, problem: FormProblem, kind: SurveyKind) -> str:
        return _text(page_locale(locale), problem, **_scale_values(kind))

    def thanks(self, locale: str | None, *, kind: SurveyKind, score: int, ticket_id: str) -> str:
        return self._render(
            "thanks.html", locale, score=score, ticket_id=ticket_id, **_scale_values(kind)
        )

    def problem(self, locale: str | None, status: int) -> str:
        return self._render("problem.html", locale, status=status)

    def _render(self, template: str, locale: str | None, **page: Any) -> str:
        lang = page_locale(locale)

        def t(key: str) -> str:
            return _text(lang, key, **page)

        return self.env.get_template(template).render(lang=lang, t=t, **page)


def _scale_values(kind: SurveyKind) -> dict[str, int]:
    """What the strings about a survey's form refer to: its lowest and highest score, the
    comment's length limit."""
    scale = SCALES[kind]
    return {"low": scale[0], "high": scale[-1], "comment_max": COMMENT_MAX_CHARS}


def _text(lang: str, key: str, **values: Any) -> str:
    return TEXTS[lang][key].format(**values)
