"""The search terms (services/workspace/search.py): Latin words, CJK bigrams, mixed text."""

from kefu.services.workspace.search import LONGEST_WORD, snippet, terms


def test_a_chinese_sentence_is_its_overlapping_bigrams() -> None:
    assert terms("我想申请退款") == ["我想", "想申", "申请", "请退", "退款"]


def test_a_chinese_query_word_is_found_inside_a_sentence() -> None:
    assert set(terms("退款")) <= set(terms("您好，我想申请退款，谢谢"))
    assert set(terms("申请退款")) <= set(terms("我想申请退款"))
    assert not set(terms("退货")) <= set(terms("我想申请退款"))


def test_punctuation_ends_a_cjk_run_and_a_lone_character_is_itself() -> None:
    assert terms("好，谢") == ["好", "谢"]
    assert "款谢" not in terms("退款，谢谢")


def test_latin_words_are_lower_cased_and_nfkc_normalised() -> None:
    assert terms("Refund PLEASE, refund!") == ["refund", "please"]
    assert terms("ＯＲＤＥＲ１２３") == ["order123"]  # full-width letters and digits
    assert terms("naïve Café") == ["naïve", "café"]
    assert terms("ﾘﾌｧﾝﾄﾞ") == terms("リファンド")  # half-width katakana


def test_no_stemming() -> None:
    assert terms("refunds refunded") == ["refunds", "refunded"]


def test_mixed_text_splits_where_the_script_changes() -> None:
    assert terms("iPhone15退款ORD-9") == ["iphone15", "退款", "ord", "9"]
    assert terms("订单ABC123已发货") == ["订单", "abc123", "已发", "发货"]


def test_japanese_and_korean_are_bigrams_too() -> None:
    assert terms("カタカナ") == ["カタ", "タカ", "カナ"]
    assert terms("한국어") == ["한국", "국어"]


def test_underscores_split_and_overlong_runs_are_dropped() -> None:
    assert terms("snake_case") == ["snake", "case"]
    assert terms("x" * (LONGEST_WORD + 1) + " ok") == ["ok"]


def test_terms_are_distinct_and_bounded() -> None:
    assert terms("a b a c b") == ["a", "b", "c"]
    assert terms(" ".join(f"w{n}" for n in range(50)), most=3) == ["w0", "w1", "w2"]
    assert terms("，。！ ... ") == []


def test_a_snippet_shows_the_text_as_written_around_the_first_match() -> None:
    text = "开头" * 80 + " 我想申请退款，订单 ORD-1 " + "结尾" * 80
    shown = snippet(text, terms("退款"), width=40)
    assert "申请退款" in shown and shown.startswith("…") and shown.endswith("…")
    assert len(shown) <= 42
    assert snippet("Where is my REFUND?", ["refund"]) == "Where is my REFUND?"
    assert snippet("ＲＥＦＵＮＤ now", ["refund"]) == "ＲＥＦＵＮＤ now"  # as written


def test_a_snippet_without_a_match_is_the_start_and_squeezes_spaces() -> None:
    assert snippet("a\n\n  b   c", ["zzz"]) == "a b c"
    assert snippet("x" * 200, ["zzz"], width=10) == "x" * 10 + "…"
