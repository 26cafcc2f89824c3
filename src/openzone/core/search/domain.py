"""Pure search rules: the Chinese analyser, index declarations, the query language and highlighting."""

from __future__ import annotations

import enum
import html
import logging
import re
import tempfile
import threading
import unicodedata
import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from openzone.kit.errors import problem

# --------------------------------------------------------------------------------------------------
# Folding: NFKC (full-width → half-width), Traditional → Simplified, lower case, dashes and punctuation.
# --------------------------------------------------------------------------------------------------

# Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign, small and full-width
# hyphen-minus: standard numbers are typeset with "—" but typed with "-" (domain-rules §8).
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
# ASCII characters that join the parts of a code (DB13(J)/T 8001-2020, GB/T 1.1-2020, ISO 9001:2015).
_KEEP = frozenset("-/.:()")
_QUOTES = {"\u201c": '"', "\u201d": '"', "\u300c": '"', "\u300d": '"', "\u300e": '"', "\u300f": '"', "\u2033": '"'}


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    # One character after NFKC and lower-casing, before Traditional → Simplified (done on the whole string).
    out = []
    for c in unicodedata.normalize("NFKC", ch).lower():
        if c in _DASHES:
            c = "-"
        if c.isspace():
            c = " "
        elif not (c.isalnum() or c in _KEEP):
            # Punctuation and symbols separate words; they never match.
            c = " "
        out.append(c)
    return "".join(out)


@lru_cache(maxsize=1)
def _changing() -> re.Pattern[str]:
    # The characters that folding changes: a class of characters of the Basic Multilingual Plane is a bitmap that a
    # regular expression tests in constant time, so the (many) characters that stay as they are cost no Python call.
    # Every character beyond the plane is looked at one by one.
    spans: list[list[int]] = []
    for c in range(0x10000):
        if _fold_char(chr(c)) != chr(c):  # a lone surrogate too: it folds to a space
            if spans and spans[-1][1] == c - 1:
                spans[-1][1] = c
            else:
                spans.append([c, c])
    return re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in spans)
                      + "]|[\U00010000-\U0010FFFF]")


def _fold_match(m: re.Match[str]) -> str:
    return _fold_char(m.group())


# A run of spaces between two characters that join (ASCII letters and digits, and the marks that join a code) stays
# as one space; any other run goes. Marked in place first (\x02 the space kept, \x01 a character dropped), so that the
# map to the original text comes from one pass over the marks.
_JOINING = "a-zA-Z0-9" + re.escape("".join(_KEEP))
_JOINED_SPACES_RE = re.compile(f"(?<=[{_JOINING}]) +(?=[{_JOINING}])")


def _mark_joined(m: re.Match[str]) -> str:
    return "\x02" + "\x01" * (m.end() - m.start() - 1)


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """Fold text and return, for each folded character, the index of the original character it came from."""
    joined = _changing().sub(_fold_match, text)
    # Most characters fold to exactly one; only then can the map be the identity.
    origin: Sequence[int] = (range(len(text)) if len(joined) == len(text)
                             else [i for i, ch in enumerate(text) for _ in _fold_char(ch)])
    simplified = _converter().convert(joined)
    if len(simplified) != len(joined):
        # A phrase-level conversion changed the length: convert character by character to keep the map.
        simplified = "".join((_converter().convert(c) or c)[:1] for c in joined)
    # Collapse spaces; drop a space next to a non-ASCII character, so 收费 系统, 收费，系统 and 收费系统 fold alike.
    if " " not in simplified:
        return simplified, list(origin)
    marked = _JOINED_SPACES_RE.sub(_mark_joined, simplified).replace(" ", "\x01")
    return marked.replace("\x01", "").replace("\x02", " "), [i for i, ch in zip(origin, marked, strict=True) if ch != "\x01"]


def fold(text: str) -> str:
    """Fold text for matching: full-width to half-width, Traditional to Simplified, lower case, punctuation to spaces."""
    return fold_with_map(text)[0]


# --------------------------------------------------------------------------------------------------
# Segmentation: jieba search mode, loaded once per process, its cache outside site-packages.
# --------------------------------------------------------------------------------------------------

_cache_dir: Path | None = None
_lock = threading.Lock()


def use_cache_dir(path: Path) -> None:
    """Put jieba's dictionary cache in this folder (call before the first analysis; later calls do nothing)."""
    global _cache_dir
    with _lock:
        if _cache_dir is None:
            _cache_dir = path


@lru_cache(maxsize=1)
def segmenter():
    """Return the process-wide jieba tokenizer, building or reading its dictionary cache on first use."""
    with warnings.catch_warnings():
        # jieba 0.42.1 has invalid escape sequences in its regexes; Python warns when it compiles them.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", SyntaxWarning)
        import jieba
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    folder = _cache_dir or Path(tempfile.gettempdir()) / "openzone-jieba"
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.tmp_dir = str(folder)
    tokenizer.initialize()
    return tokenizer


# A run of ASCII letters and digits, joined by code separators, or by spaces before a digit ("db11/t 3022").
_CODE_RE = re.compile(r"[a-z0-9]+(?:(?:[-/.:()]+ ?| (?=[0-9]))[a-z0-9]+)*")
_PART_RE = re.compile(r"[a-z]+|[0-9]+")
_WORD_RE = re.compile(r"^\w+$")
_HAS_WORD_RE = re.compile(r"\w")


def code_parts(span: str) -> list[str]:
    """Split a folded code into letter runs and digit runs: db11/t 3022-2019 → db, 11, t, 3022, 2019."""
    return _PART_RE.findall(span)


def _pieces(folded: str) -> Iterable[tuple[bool, str]]:
    # (is_code, text) pieces of a folded string, in order.
    pos = 0
    for m in _CODE_RE.finditer(folded):
        if m.start() > pos:
            yield False, folded[pos:m.start()]
        yield True, m.group()
        pos = m.end()
    if pos < len(folded):
        yield False, folded[pos:]


def _words(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if _WORD_RE.match(t) and "_" not in t]


def analyse_folded(folded: str) -> list[str]:
    """Return the index tokens of folded text: jieba search-mode words, and each code whole and in parts."""
    tokens: list[str] = []
    seg = segmenter()
    for is_code, piece in _pieces(folded):
        if is_code:
            parts = code_parts(piece)
            tokens.extend(parts)
            if len(parts) > 1:
                tokens.append("".join(parts))
        elif _HAS_WORD_RE.search(piece):
            # jieba's words are pieces of its input, so a piece without a word character (the spaces and punctuation
            # between the words of Latin text, mostly) gives no token: it is not segmented at all.
            tokens.extend(_words(seg.cut_for_search(piece)))
    return tokens


def exact_token(phrase: str) -> str | None:
    """Return a folded Chinese phrase that the analyser keeps as one token, else None.

    A document holding that token holds the phrase in its folded text (a Chinese token is a substring of it), so
    such documents need no text check; the others may still hold the phrase segmented another way.
    """
    if phrase and all("\u4e00" <= c <= "\u9fff" for c in phrase) and phrase in analyse_folded(phrase):
        return phrase
    return None


def analyse(text: str) -> list[str]:
    """Return the index tokens of raw text (folded first, so Traditional text is segmented as Simplified)."""
    return analyse_folded(fold(text))


@lru_cache(maxsize=65536)
def _word_pinyin(word: str) -> tuple[str, str]:
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(word)), "".join(lazy_pinyin(word, style=Style.FIRST_LETTER))


def pinyin_tokens(text: str) -> list[str]:
    """Return full pinyin and initials of each Chinese word of a title: 停车场 → tingchechang, tcc."""
    out: list[str] = []
    for is_code, piece in _pieces(fold(text)):
        if is_code:
            continue
        for word in _words(segmenter().cut_for_search(piece)):
            if len(word) < 2 or not all("\u4e00" <= c <= "\u9fff" for c in word):
                continue
            out.extend(_word_pinyin(word))
    return out


# --------------------------------------------------------------------------------------------------
# Index declarations.
# --------------------------------------------------------------------------------------------------


class Weight(enum.StrEnum):
    """Rank the kinds of field from the strongest evidence of relevance to the weakest."""

    CODE = "code"
    TITLE = "title"
    KEYWORDS = "keywords"
    SCOPE = "scope"
    BODY = "body"


PINYIN = "pinyin"
# One column per weight, plus one for pinyin, in this order in every backend.
COLUMNS: tuple[str, ...] = (*(w.value for w in Weight), PINYIN)
DEFAULT_BOOSTS: Mapping[str, float] = {"code": 20.0, "title": 8.0, "keywords": 4.0, "scope": 2.0, "body": 1.0, PINYIN: 3.0}
_INDEX_NAME_RE = re.compile(r"^[a-z][a-z0-9]{1,39}$")
_FILTER_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Field:
    """Declare one searchable field: its weight class and whether its Chinese words get pinyin tokens."""

    name: str
    weight: Weight
    pinyin: bool = False


@dataclass(frozen=True)
class Document:
    """Hold what a module gives the index for one record: its key, field texts and filter values."""

    key: str
    fields: Mapping[str, str]
    filters: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    # The fields' analysis if done ahead (analyse_fields, in a bulk importer's worker process say); indexing uses it only
    # when it was made by the same index from these very field texts, and analyses the fields itself otherwise.
    analysis: FieldAnalysis | None = None


@dataclass(frozen=True)
class FieldAnalysis:
    """Hold field texts with their per-column tokens and folded text, analysed ahead of indexing (picklable)."""

    index: str
    fields: Mapping[str, str]
    columns: Mapping[str, list[str]]
    folded: str


@dataclass(frozen=True)
class IndexSpec:
    """Declare an index: searchable fields with boosts, filterable and facet fields, and how to load documents."""

    name: str
    fields: tuple[Field, ...]
    filters: tuple[str, ...] = ()
    facets: tuple[str, ...] = ()
    boosts: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BOOSTS))
    # load_all(session) yields every document, for reindex; load_one(session, key) returns one or None (deleted).
    load_all: Callable[[Any], Iterable[Document]] | None = None
    load_one: Callable[[Any, str], Document | None] | None = None

    def __post_init__(self) -> None:
        if not _INDEX_NAME_RE.match(self.name):
            raise ValueError(f"index name {self.name!r}: 2–40 lower-case letters and digits, starting with a letter")
        names = [f.name for f in self.fields]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"index {self.name}: field names must be present and unique")
        bad = [f for f in self.filters if not _FILTER_NAME_RE.match(f)]
        if bad:
            raise ValueError(f"index {self.name}: bad filter names {bad}")
        if not set(self.facets) <= set(self.filters):
            raise ValueError(f"index {self.name}: every facet must also be a filter")
        if set(self.boosts) != set(COLUMNS) or any(v <= 0 for v in self.boosts.values()):
            raise ValueError(f"index {self.name}: boosts need a positive value for each of {COLUMNS}")


@dataclass(frozen=True)
class Analysed:
    """Hold a document ready for a backend: tokens per column, folded text, filter pairs."""

    columns: Mapping[str, list[str]]
    folded: str
    filters: tuple[tuple[str, str], ...]


FILTER_VALUE_MAX = 200

# SQLite keeps every index in one FTS5 table; each index owns a block of 2^40 rowids, so a MATCH limited to the
# block needs no join to tell indexes apart (FTS5 applies a rowid range itself). 22 bits of CRC-32 pick the block.
ROWID_BLOCK_BITS = 40
_INDEX_BLOCK_MASK = (1 << 22) - 1


def fts_rowid_range(index_name: str) -> tuple[int, int]:
    """Return the first and last FTS5 rowid an index may use."""
    low = (zlib.crc32(index_name.encode()) & _INDEX_BLOCK_MASK) << ROWID_BLOCK_BITS
    return low, low + (1 << ROWID_BLOCK_BITS) - 1


def filter_token(name: str, value: str) -> str:
    """Return the single index token for one filter value (hex of `name=value`, so no analyser splits it)."""
    return "f" + f"{name}={value}".encode().hex()


def analyse_fields(spec: IndexSpec, fields: Mapping[str, str]) -> FieldAnalysis:
    """Analyse field texts into per-column tokens and the folded text that phrases are checked against."""
    unknown = set(fields) - {f.name for f in spec.fields}
    if unknown:
        raise ValueError(f"index {spec.name}: unknown fields {sorted(unknown)}")
    columns: dict[str, list[str]] = {c: [] for c in COLUMNS}
    folded_parts = []
    for f in spec.fields:
        text = fields.get(f.name) or ""
        if not text:
            continue
        folded = fold(text)
        folded_parts.append(folded)
        columns[f.weight.value].extend(analyse_folded(folded))
        if f.pinyin:
            columns[PINYIN].extend(pinyin_tokens(text))
    return FieldAnalysis(index=spec.name, fields=dict(fields), columns=columns, folded="\n".join(folded_parts))


def analyse_document(spec: IndexSpec, doc: Document) -> Analysed:
    """Analyse a document's fields into per-column tokens, folded text for phrases, and its filter values."""
    text = doc.analysis
    if text is None or text.index != spec.name or text.fields != doc.fields:
        text = analyse_fields(spec, doc.fields)
    pairs: list[tuple[str, str]] = []
    for name, values in doc.filters.items():
        if name not in spec.filters:
            raise ValueError(f"index {spec.name}: unknown filter {name!r}")
        for value in [values] if isinstance(values, str) else values:
            value = str(value).strip()[:FILTER_VALUE_MAX]
            if value and (name, value) not in pairs:
                pairs.append((name, value))
    return Analysed(columns=text.columns, folded=text.folded, filters=tuple(pairs))


# --------------------------------------------------------------------------------------------------
# The query language: words, "phrases", -exclusions, field=value filters.
# --------------------------------------------------------------------------------------------------

QuerySyntax = problem("search-query", 400, "检索式有误", "The search query is not valid")
UnknownFilter = problem("search-filter", 400, "不能按此字段筛选", "Cannot filter on this field")

QUERY_MAX_CHARS = 256
QUERY_MAX_TERMS = 64
# Function words dropped from queries (kept in the index, so phrases still match them); a query of nothing but
# these keeps them.
STOP_WORDS = frozenset(
    ["的", "了", "是", "在", "和", "与", "及", "或", "由", "被", "把", "将", "对", "于", "为", "以", "之", "其", "这", "那", "哪", "吗", "呢", "啊", "吧", "谁", "也", "都", "而", "就", "还", "所", "从", "到", "向", "个", "什么", "哪些", "哪个", "哪里", "哪一", "多少", "怎么", "怎样", "如何", "为什么", "是否", "是由", "一个", "这个", "那个", "有", "the", "a", "an", "of", "and", "or", "to", "in"])


@dataclass(frozen=True)
class Term:
    """Match one token."""

    text: str


@dataclass(frozen=True)
class Seq:
    """Match tokens at consecutive positions (the parts of a code)."""

    parts: tuple[str, ...]


@dataclass(frozen=True)
class All:
    """Match every item."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class AnyOf:
    """Match at least one item."""

    items: tuple[Expr, ...]


Expr = Term | Seq | All | AnyOf


@dataclass(frozen=True)
class ParsedQuery:
    """Hold a query string taken apart: folded words and phrases, exclusions, and filters."""

    words: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded_words: tuple[str, ...] = ()
    excluded_phrases: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """Say whether the query asks for no text at all (filters alone browse the index)."""
        return not (self.words or self.phrases or self.excluded_words or self.excluded_phrases)


# The head of a code typed apart from its number: an issuer in capitals (GB, ISO, DB11/T, GB/T) or letters with digits.
_CODE_HEAD_RE = re.compile(r"^(?:[A-Z]{1,6}(?:/[A-Z]{1,2})?|[A-Za-z]+[0-9]+(?:\([A-Za-z]\))?(?:/[A-Za-z]{1,2})?)$")
_CODE_TAIL_RE = re.compile(r"^[0-9][0-9A-Za-z./:()\-\u2014\u2013]*$")


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for k, v in _QUOTES.items():
        text = text.replace(k, v)
    return text.replace("\u2212", "-")


def parse_query(text: str, *, filterable: Iterable[str] = ()) -> ParsedQuery:
    """Take a query apart; raise QuerySyntax for unbalanced quotes, a query of exclusions only, or huge input."""
    if len(text) > QUERY_MAX_CHARS:
        raise QuerySyntax(f"检索式过长（{len(text)} 个字符），最多 {QUERY_MAX_CHARS} 个字符",
                          f"The query is too long ({len(text)} characters); at most {QUERY_MAX_CHARS} are allowed")
    text = _prepare(text)
    if text.count('"') % 2:
        raise QuerySyntax("引号没有成对出现，请补全或删除引号", "The quotation marks are unbalanced; close or remove them")
    allowed = set(filterable)
    words: list[str] = []
    phrases: list[str] = []
    ex_words: list[str] = []
    ex_phrases: list[str] = []
    filters: dict[str, list[str]] = {}
    last_raw: str | None = None
    for m in re.finditer(r'(-?)"([^"]*)"|(\S+)', text):
        negated, quoted, bare = m.group(1), m.group(2), m.group(3)
        if quoted is not None:
            last_raw = None
            phrase = fold(quoted).strip()
            if phrase:
                (ex_phrases if negated else phrases).append(phrase)
            continue
        name, eq, value = bare.partition("=")
        if eq and _FILTER_NAME_RE.match(name.lower()):
            last_raw = None
            name = name.lower()
            if name not in allowed:
                names = "、".join(sorted(allowed)) or "无"
                raise UnknownFilter(f"不能按“{name}”筛选；可用的筛选字段：{names}",
                                    f"Cannot filter on {name!r}; filters: {', '.join(sorted(allowed)) or 'none'}")
            value = value.strip('"').strip()
            if value:
                filters.setdefault(name, []).append(value)
            continue
        negated_word = bare.startswith("-")
        raw = bare[1:] if negated_word else bare
        target = ex_words if negated_word else words
        word = fold(raw).strip()
        if word and target and last_raw is not None and _CODE_HEAD_RE.match(last_raw) and _CODE_TAIL_RE.match(raw):
            # "DB11/T 3022-2019" and "GB 50016" are one code typed with a space.
            target[-1] = f"{target[-1]} {word}"
            last_raw = None
            continue
        last_raw = raw
        if word:
            target.append(word)
    # A quoted filter value (status="即将 实施") leaves its tail as a phrase; that is acceptable and rare.
    parsed = ParsedQuery(tuple(words), tuple(phrases), tuple(ex_words), tuple(ex_phrases),
                         {k: tuple(v) for k, v in filters.items()})
    if (parsed.excluded_words or parsed.excluded_phrases) and not (parsed.words or parsed.phrases):
        raise QuerySyntax("检索式只有排除词（以 - 开头），请至少输入一个要查找的词",
                          "The query only excludes words (starting with -); give at least one word to find")
    return parsed


def _unit_for_word(word: str, seg) -> Expr | None:
    if len(word) > 2:
        grams = [word[i:i + 2] for i in range(len(word) - 1) if seg.FREQ.get(word[i:i + 2])]
        covered = {i for g in grams for i in range(word.index(g), word.index(g) + 2)}
        if grams and len(covered) == len(word):
            # The document may hold this word only as its search-mode sub-words (a different segmentation).
            return AnyOf((Term(word), All(tuple(Term(g) for g in grams))))
    return Term(word)


def _code_unit(piece: str) -> Expr:
    parts = code_parts(piece)
    if len(parts) == 1:
        return Term(parts[0])
    return AnyOf((Seq(tuple(parts)), Term("".join(parts))))


def _code_mark(piece: str) -> str:
    parts = code_parts(piece)
    return r"(?<![a-z0-9])" + r"[-/.:() ]*".join(re.escape(p) for p in parts) + r"(?![0-9])"


@dataclass(frozen=True)
class Plan:
    """Hold what a backend runs for one query: the strict (all words) and relaxed (any word) expressions."""

    strict: Expr | None
    relaxed: Expr | None
    exclude: Expr | None
    phrases: tuple[str, ...]
    excluded_phrases: tuple[str, ...]
    substrings: tuple[str, ...]
    excluded_substrings: tuple[str, ...]
    filters: Mapping[str, tuple[str, ...]]
    marks: tuple[str, ...]


def _strict_units(text: str) -> list[tuple[Expr, bool]]:
    seg = segmenter()
    units: list[tuple[Expr, bool]] = []
    for is_code, piece in _pieces(text):
        if is_code:
            units.append((_code_unit(piece), False))
            continue
        for word in _words(seg.cut(piece)):
            unit = _unit_for_word(word, seg)
            units.append((unit, word in STOP_WORDS))
    return units


def _drop_stops(units: list[tuple[Expr, bool]]) -> list[Expr]:
    kept = [u for u, stop in units if not stop]
    return kept or [u for u, _ in units]


def _dedupe(items: Iterable[Expr]) -> tuple[Expr, ...]:
    return tuple(dict.fromkeys(items))


def plan_query(parsed: ParsedQuery) -> Plan:
    """Turn a parsed query into expressions; raise QuerySyntax when it has more terms than a search can take."""
    seg = segmenter()
    positive = [*parsed.words, *parsed.phrases]
    strict_units = _dedupe(u for text in positive for u in _drop_stops(_strict_units(text)))
    relaxed_items: list[Expr] = []
    marks: list[str] = []
    for text in positive:
        for is_code, piece in _pieces(text):
            if is_code:
                relaxed_items.append(_code_unit(piece))
                marks.append(_code_mark(piece))
                continue
            tokens = _words(seg.cut_for_search(piece))
            kept = [t for t in tokens if t not in STOP_WORDS] or tokens
            relaxed_items.extend(Term(t) for t in kept)
            marks.extend(re.escape(t) for t in kept)
    marks.extend(re.escape(p) for p in parsed.phrases)
    relaxed_units = _dedupe(relaxed_items)
    if len(relaxed_units) > QUERY_MAX_TERMS:
        raise QuerySyntax(f"检索词过多（{len(relaxed_units)} 个），最多 {QUERY_MAX_TERMS} 个",
                          f"Too many search terms ({len(relaxed_units)}); at most {QUERY_MAX_TERMS}")
    strict = All(strict_units) if strict_units else None
    relaxed = AnyOf(relaxed_units) if len(relaxed_units) > 1 else None
    excluded = _dedupe(All(tuple(_drop_stops(_strict_units(w)))) for w in parsed.excluded_words if _strict_units(w))
    return Plan(
        strict=strict,
        relaxed=relaxed,
        exclude=AnyOf(excluded) if excluded else None,
        phrases=parsed.phrases,
        excluded_phrases=parsed.excluded_phrases,
        substrings=parsed.words,
        excluded_substrings=parsed.excluded_words,
        filters=parsed.filters,
        marks=tuple(dict.fromkeys(marks)),
    )


# --------------------------------------------------------------------------------------------------
# Highlighting: escaped HTML with <mark>, on the original text.
# --------------------------------------------------------------------------------------------------

SNIPPET_CHARS = 160


def highlight(text: str, marks: Sequence[str], *, limit: int | None = None) -> str:
    """Return text as escaped HTML with query matches in <mark>; with limit, a window around the best matches."""
    if not marks or not text:
        return html.escape(_clip(text, limit))
    folded, origin = fold_with_map(text)
    pattern = re.compile("|".join(sorted(marks, key=len, reverse=True)))
    spans: list[tuple[int, int]] = []
    for m in pattern.finditer(folded):
        if m.end() > m.start():
            start, end = origin[m.start()], origin[m.end() - 1] + 1
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
    lo, hi = 0, len(text)
    if limit is not None and len(text) > limit:
        lo = _best_window(spans, limit, len(text))
        hi = lo + limit
        spans = [(max(s, lo), min(e, hi)) for s, e in spans if e > lo and s < hi]
    out = ["…" if lo > 0 else ""]
    pos = lo
    for s, e in spans:
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:hi]))
    out.append("…" if hi < len(text) else "")
    return "".join(out)


def _clip(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[:limit] + "…"


def _best_window(spans: list[tuple[int, int]], limit: int, length: int) -> int:
    # Start the window a little before the match that has the most other matches within `limit` characters.
    if not spans:
        return 0
    best, best_count = spans[0][0], 0
    j = 0
    for i, (s, _) in enumerate(spans):
        j = max(j, i)
        while j + 1 < len(spans) and spans[j + 1][1] <= s + limit:
            j += 1
        if j - i + 1 > best_count:
            best, best_count = s, j - i + 1
    return max(0, min(best - limit // 5, length - limit))
