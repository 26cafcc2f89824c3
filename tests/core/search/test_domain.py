"""The analyser, the query language and highlighting, one behaviour at a time."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openzone.core.search import domain
from openzone.core.search.domain import All, AnyOf, Seq, Term


def test_full_width_letters_digits_and_spaces_fold_to_half_width():
    assert domain.fold("ＤＢ１１／Ｔ　３０２２") == "db11/t 3022"


def test_dashes_fold_to_a_hyphen():
    assert domain.fold("3022—2019") == domain.fold("3022–2019") == domain.fold("3022－2019") == "3022-2019"


def test_punctuation_between_chinese_words_disappears():
    assert domain.fold("收费，系统") == domain.fold("收费 系统") == domain.fold("《收费系统》") == "收费系统"


def test_traditional_folds_to_simplified():
    assert domain.fold("停車場電子不停車收費系統") == "停车场电子不停车收费系统"


def test_latin_is_lower_cased():
    assert domain.fold("ISO Force") == "iso force"


def _fold_one_by_one(text: str) -> str:
    # The definition, character by character: NFKC and lower case, dashes to "-", anything that is not a letter, a
    # digit or a code's joining mark to a space; Traditional to Simplified (by phrase); a run of spaces stays as one space only
    # between two ASCII letters, digits or joining marks.
    out = []
    for ch in text:
        for c in unicodedata.normalize("NFKC", ch).lower():
            if c in domain._DASHES:
                c = "-"
            out.append(c if c.isalnum() or c in "-/.:()" else " ")
    converter, joined = domain._converter(), "".join(out)
    folded = converter.convert(joined)  # phrase by phrase, unless that changes the length
    if len(folded) != len(joined):
        folded = "".join((converter.convert(c) or c)[:1] for c in joined)
    joins = lambda c: (c.isascii() and c.isalnum()) or c in "-/.:()"  # noqa: E731
    result, i = [], 0
    while i < len(folded):
        if folded[i] != " ":
            result.append(folded[i])
            i += 1
            continue
        j = i
        while j < len(folded) and folded[j] == " ":
            j += 1
        if i > 0 and j < len(folded) and joins(folded[i - 1]) and joins(folded[j]):
            result.append(" ")
        i = j
    return "".join(result)


TRICKY = ("aZ09 _-—–‐/.:()，。、《》“”「」ＡＢ１２３﹣－ΣσςΑİıǅﬁ①㎡e\u0301\u1100\u1161\u3131\u314f"
          "漢字體臺灣停車場\t\n\u3000!?@#$%^&*+=~`'\"[]{}|\\<>ÀÉΆ\u0345\U00020000\U0001F600")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=TRICKY, max_size=24) | st.text(max_size=12))
def test_folding_a_string_is_folding_it_character_by_character(text):
    folded, origin = domain.fold_with_map(text)
    assert folded == _fold_one_by_one(text)
    assert len(origin) == len(folded) and origin == sorted(origin)
    assert all(0 <= i < len(text) for i in origin)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=TRICKY + "银行发展中国 农业 the co. ltd, 123", max_size=40) | st.text(max_size=16))
def test_pieces_without_a_word_character_are_not_segmented_and_give_no_tokens(text):
    folded = domain.fold(text)
    every_piece = []
    for is_code, piece in domain._pieces(folded):
        if is_code:
            parts = domain.code_parts(piece)
            every_piece.extend(parts + (["".join(parts)] if len(parts) > 1 else []))
        else:
            every_piece.extend(domain._words(domain.segmenter().cut_for_search(piece)))
    assert domain.analyse_folded(folded) == every_piece


def test_search_mode_finds_a_word_inside_a_longer_word():
    assert "农业" in domain.analyse("中国农业发展银行")
    assert "处理" in domain.analyse("待处理")


def test_traditional_text_is_segmented_as_simplified():
    assert domain.analyse("中國農業發展銀行") == domain.analyse("中国农业发展银行")


def test_a_code_is_kept_whole_and_in_parts():
    tokens = domain.analyse("DB11/T 3022—2019")
    assert tokens == ["db", "11", "t", "3022", "2019", "db11t30222019"]


def test_numbers_are_kept_whole():
    assert "5000" in domain.analyse("总容积不应大于5000 m3")


def test_pinyin_gives_full_spelling_and_initials():
    tokens = domain.pinyin_tokens("停车场")
    assert "tingchechang" in tokens
    assert "tcc" in tokens


def test_query_words_phrases_exclusions_and_filters_are_taken_apart():
    parsed = domain.parse_query('農業 "电子 不停车" -银行 -"发展 银行" region=北京', filterable=["region"])
    assert parsed.words == ("农业",)
    assert parsed.phrases == ("电子不停车",)
    assert parsed.excluded_words == ("银行",)
    assert parsed.excluded_phrases == ("发展银行",)
    assert parsed.filters == {"region": ("北京",)}


def test_chinese_quotation_marks_make_a_phrase():
    assert domain.parse_query("“停车场”").phrases == ("停车场",)


@pytest.mark.parametrize("query", ['"停车场', '停车 "场" "收费'])
def test_unbalanced_quotes_are_refused(query):
    with pytest.raises(domain.QuerySyntax) as err:
        domain.parse_query(query)
    assert "引号" in err.value.detail


def test_a_query_of_exclusions_only_is_refused():
    with pytest.raises(domain.QuerySyntax) as err:
        domain.parse_query("-银行 -农业")
    assert "排除" in err.value.detail


def test_huge_input_is_refused():
    with pytest.raises(domain.QuerySyntax) as err:
        domain.parse_query("停车" * 1000)
    assert err.value.status == 400


def test_too_many_terms_are_refused():
    words = " ".join(f"w{i}" for i in range(domain.QUERY_MAX_TERMS + 1))
    with pytest.raises(domain.QuerySyntax):
        domain.plan_query(domain.parse_query(words))


def test_an_unknown_filter_is_refused_with_the_known_ones():
    with pytest.raises(domain.UnknownFilter) as err:
        domain.parse_query("colour=red", filterable=["region"])
    assert "region" in err.value.detail_en


@pytest.mark.parametrize("query", ["DB11/T3022-2019", "db11/t 3022-2019", "ＤＢ１１／Ｔ ３０２２—２０１９"])
def test_a_code_query_matches_its_parts_in_sequence_or_whole(query):
    plan = domain.plan_query(domain.parse_query(query))
    assert plan.strict == All((AnyOf((Seq(("db", "11", "t", "3022", "2019")), Term("db11t30222019"))),))


def test_strict_query_accepts_the_sub_words_of_a_long_word():
    plan = domain.plan_query(domain.parse_query("农业发展银行"))
    assert plan.strict == All((AnyOf((Term("农业发展银行"), All((Term("农业"), Term("发展"), Term("银行"))))),))


def test_function_words_are_dropped_from_queries():
    plan = domain.plan_query(domain.parse_query("哪个公司开发的"))
    assert Term("的") not in plan.relaxed.items
    assert Term("公司") in plan.relaxed.items


def test_highlight_escapes_html_and_marks_matches_in_the_original_text():
    marks = domain.plan_query(domain.parse_query("停车场")).marks
    assert domain.highlight("<b>停車場</b>", marks) == "&lt;b&gt;<mark>停車場</mark>&lt;/b&gt;"


def test_highlight_marks_a_code_across_its_separators():
    marks = domain.plan_query(domain.parse_query("DB11/T3022-2019")).marks
    assert domain.highlight("见 DB11/T 3022—2019。", marks) == "见 <mark>DB11/T 3022—2019</mark>。"


def test_a_snippet_is_a_window_around_the_matches():
    text = "甲" * 300 + "停车场" + "乙" * 300
    snippet = domain.highlight(text, ["停车场"], limit=60)
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>停车场</mark>" in snippet
    assert len(snippet) < 90


def test_an_index_declaration_is_checked():
    with pytest.raises(ValueError, match="facet"):
        domain.IndexSpec(name="bad", fields=(domain.Field("t", domain.Weight.TITLE),), facets=("x",))
    with pytest.raises(ValueError, match="index name"):
        domain.IndexSpec(name="Bad Name", fields=(domain.Field("t", domain.Weight.TITLE),))
