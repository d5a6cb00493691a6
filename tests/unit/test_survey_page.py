"""Survey's pages, read back with the standard library's HTML parser: the form's fields and
their labels, both locales and both kinds, escaping, the thank-you and problem pages."""

from html.parser import HTMLParser

import pytest

from kefu.services.survey.page import PAGE_LOCALES, TEXTS, Pages, page_locale

PAGES = Pages()
KINDS = ("csat", "nps")
SCORES = {"csat": [str(n) for n in range(1, 6)], "nps": [str(n) for n in range(11)]}
Attrs = dict[str, str | None]


class Parsed(HTMLParser):
    """Every start tag with its attributes, the text of each labelled element's label, the
    text of each element with an id, and all the page's text (the CSS left out)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, Attrs]] = []
        self.label_text: dict[str, str] = {}
        self.text_by_id: dict[str, str] = {}
        self.text = ""
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of elements not yet closed
        self._label_for: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "label":
            self._label_for = attributes.get("for")
            self.label_text.setdefault(self._label_for or "", "")
        if tag not in {"input", "meta"}:
            self._open.append((tag, attributes.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1][0] == "style":
            return
        self.text += data
        if self._label_for is not None:
            self.label_text[self._label_for] += data
        for _, element_id in self._open:
            if element_id:
                self.text_by_id[element_id] = self.text_by_id.get(element_id, "") + data

    def all(self, tag: str, **wanted: str) -> list[Attrs]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(key) == value for key, value in wanted.items())
        ]

    def one(self, tag: str, **wanted: str) -> Attrs:
        [attrs] = self.all(tag, **wanted)
        return attrs


def survey(locale: str = "en", kind: str = "csat", **page: object) -> Parsed:
    defaults: dict[str, object] = {"ticket_id": "T-1", "action": "/s/abc"}
    return Parsed(PAGES.survey(locale, kind=kind, **{**defaults, **page}))


def every_page() -> list[tuple[str, str]]:
    """(locale, html) of every page the service renders."""
    return [
        (locale, html)
        for locale in PAGE_LOCALES
        for html in (
            *(PAGES.survey(locale, kind=kind, ticket_id="T-1", action="/s") for kind in KINDS),
            *(PAGES.thanks(locale, kind=kind, score=4, ticket_id="T-1") for kind in KINDS),
            *(PAGES.problem(locale, status) for status in (404, 409, 410)),
        )
    ]


@pytest.mark.parametrize(
    ("locale", "page"),
    [
        ("zh", "zh-CN"),
        ("zh-CN", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("ZH-tw", "zh-CN"),
        ("en", "en"),
        ("en-GB", "en"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_any_chinese_locale_gets_the_chinese_pages(locale: str | None, page: str) -> None:
    assert page_locale(locale) == page


def test_both_locales_have_every_string() -> None:
    assert set(TEXTS) == set(PAGE_LOCALES)
    assert TEXTS["en"].keys() == TEXTS["zh-CN"].keys()


@pytest.mark.parametrize(("locale", "html"), every_page())
def test_every_page_is_a_phone_page_in_its_language_without_scripts(locale: str, html: str) -> None:
    parsed = Parsed(html)
    assert parsed.one("html")["lang"] == locale
    assert "width=device-width" in (parsed.one("meta", name="viewport")["content"] or "")
    assert parsed.all("script") == [] and parsed.all("link") == []
    assert not any("src" in attrs or "onclick" in attrs for _, attrs in parsed.tags)
    assert parsed.all("h1") and "kefu" in parsed.text


@pytest.mark.parametrize("locale", PAGE_LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_form_offers_the_kind_s_scores_with_labels(locale: str, kind: str) -> None:
    parsed = survey(locale, kind)
    radios = parsed.all("input", type="radio")
    assert [radio["value"] for radio in radios] == SCORES[kind]
    assert {radio["name"] for radio in radios} == {"score"}
    assert not any("checked" in radio for radio in radios)
    assert parsed.all("fieldset") and parsed.all("legend")
    fields = [*radios, *parsed.all("textarea")]
    assert all(parsed.label_text.get(field["id"] or "", "").strip() for field in fields)
    assert parsed.label_text["score-" + SCORES[kind][1]].split() == [SCORES[kind][1]]


@pytest.mark.parametrize(
    ("kind", "question", "lowest", "highest"),
    [
        ("csat", "How satisfied are you with how we handled ticket #T-1?", "1", "5"),
        ("nps", "How likely are you to recommend us to a friend or colleague?", "0", "10"),
    ],
)
def test_the_question_and_the_ends_of_the_scale(
    kind: str, question: str, lowest: str, highest: str
) -> None:
    parsed = survey("en", kind)
    assert question in parsed.text
    assert parsed.label_text[f"score-{lowest}"].split()[1:] == TEXTS["en"][f"{kind}.lowest"].split()
    assert (
        parsed.label_text[f"score-{highest}"].split()[1:] == TEXTS["en"][f"{kind}.highest"].split()
    )


def test_the_chinese_form() -> None:
    parsed = survey("zh-CN", "csat")
    assert "您对我们处理工单 #T-1 的服务满意吗？" in parsed.text
    assert (
        "非常不满意" in parsed.label_text["score-1"] and "非常满意" in parsed.label_text["score-5"]
    )
    assert "提交" in parsed.text and "满意度调查" in parsed.text


@pytest.mark.parametrize(("kind", "selected"), [("csat", 4), ("csat", 1), ("nps", 0), ("nps", 10)])
def test_the_score_from_the_link_is_checked(kind: str, selected: int) -> None:
    checked = [r for r in survey(kind=kind, selected=selected).all("input") if "checked" in r]
    assert [radio["value"] for radio in checked] == [str(selected)]


@pytest.mark.parametrize(("kind", "selected"), [("csat", 0), ("csat", 6), ("nps", 11)])
def test_a_score_off_the_scale_checks_nothing(kind: str, selected: int) -> None:
    assert not any(
        "checked" in radio for radio in survey(kind=kind, selected=selected).all("input")
    )


def test_the_form_posts_to_its_action() -> None:
    form = survey(action="/s/abc?sig=x&exp=1").one("form")
    assert form["method"] == "post" and form["action"] == "/s/abc?sig=x&exp=1"
    assert "enctype" not in form


def test_the_comment_is_limited_and_prefilled() -> None:
    parsed = survey(comment="\nThanks, Jane")
    textarea = parsed.one("textarea")
    assert textarea["name"] == "comment" and textarea["maxlength"] == "2000"
    # the parser keeps the newline a browser drops after <textarea>
    assert parsed.text_by_id["comment"] == "\n\nThanks, Jane"


def test_what_the_customer_typed_is_escaped() -> None:
    html = PAGES.survey(
        "en", kind="csat", ticket_id="<b>T</b>", action="/s", comment="<script>alert(1)</script>"
    )
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "#&lt;b&gt;T&lt;/b&gt;" in html
    assert Parsed(html).text_by_id["comment"] == "\n<script>alert(1)</script>"


def test_the_thanks_page_escapes_the_ticket_id() -> None:
    html = PAGES.thanks("en", kind="csat", score=5, ticket_id="<i>T</i>")
    assert "<i>" not in html and "#&lt;i&gt;T&lt;/i&gt;" in html


@pytest.mark.parametrize("locale", PAGE_LOCALES)
def test_an_error_is_announced_and_linked_to_the_fields(locale: str) -> None:
    message = PAGES.error_text(locale, "score_missing", "csat")
    parsed = survey(locale, error=message)
    alert = parsed.one("p", role="alert")
    assert parsed.text_by_id[alert["id"] or ""] == message
    assert alert["id"] in (parsed.one("fieldset")["aria-describedby"] or "").split()
    assert alert["id"] in (parsed.one("textarea")["aria-describedby"] or "").split()
    assert parsed.text_by_id["comment-hint"] and parsed.all("title")


def test_without_an_error_nothing_is_announced() -> None:
    parsed = survey()
    assert parsed.all("p", role="alert") == []
    assert parsed.one("textarea")["aria-describedby"] == "comment-hint"


@pytest.mark.parametrize(
    ("locale", "problem", "kind", "text"),
    [
        ("en", "score_missing", "csat", "Please choose a score from 1 to 5."),
        ("en", "score_missing", "nps", "Please choose a score from 0 to 10."),
        ("zh-CN", "score_missing", "csat", "请选择 1 到 5 之间的分数。"),
        ("zh", "score_out_of_range", "nps", "该分数无效，请选择 0 到 10 之间的分数。"),
        ("en", "comment_too_long", "csat", "Your comment is longer than 2,000 characters."),
        ("zh-CN", "comment_too_long", "nps", "您的留言超过了 2000 字。"),
    ],
)
def test_error_texts(locale: str, problem: str, kind: str, text: str) -> None:
    assert PAGES.error_text(locale, problem, kind) == text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("locale", "kind", "text"),
    [
        ("en", "csat", "We recorded your score for ticket #T-9: 4 out of 5."),
        ("en", "nps", "We recorded your score for ticket #T-9: 4 out of 10."),
        ("zh-CN", "csat", "我们已记录您对工单 #T-9 的评分：4\u00a0分（满分 5 分）。"),
    ],
)
def test_the_thanks_page_shows_the_recorded_score(locale: str, kind: str, text: str) -> None:
    parsed = Parsed(PAGES.thanks(locale, kind=kind, score=4, ticket_id="T-9"))
    assert text in parsed.text and TEXTS[locale]["thanks.title"] in parsed.text


@pytest.mark.parametrize(
    ("locale", "status", "title"),
    [
        ("en", 404, "This survey link is not valid"),
        ("en", 409, "This survey has already been answered"),
        ("en", 410, "This survey has expired"),
        ("zh-CN", 404, "此调查链接无效"),
        ("zh-CN", 409, "此调查已答复"),
        ("zh-CN", 410, "此调查已过期"),
    ],
)
def test_problem_pages(locale: str, status: int, title: str) -> None:
    parsed = Parsed(PAGES.problem(locale, status))
    assert parsed.one("html")["lang"] == locale
    assert len(parsed.all("h1")) == 1 and len(parsed.all("p")) == 1
    assert title in parsed.text and TEXTS[locale][f"{status}.detail"] in parsed.text
    assert parsed.all("form") == [] and str(status) not in parsed.text
