"""Translate zh-CN source text to English with Babel catalogues; the language follows a context variable."""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)


@lru_cache
def catalogue(lang: str) -> dict[str, str]:
    """Return the msgid → msgstr map for a language, read from its .po file."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        cat = read_po(fh)
    out: dict[str, str] = {}
    for m in cat:
        if not m.id or not m.string:
            continue
        if isinstance(m.id, str):
            out[m.id] = m.string
        else:
            # Plural entries: keyed by the singular msgid, then "\x00" + the plural msgid.
            out[m.id[0]] = m.string[0]
            out["\x00" + m.id[1]] = m.string[-1]
    return out


def normalise(lang: str | None) -> str:
    """Map a cookie or header value to a supported language, zh-CN by default."""
    if lang and lang.lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def gettext(message: str) -> str:
    """Translate a zh-CN message into the current language."""
    lang = current_language.get()
    if lang == DEFAULT_LANGUAGE:
        return message
    return catalogue("en").get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate a message with a count; Chinese has one form, English picks by n."""
    lang = current_language.get()
    if lang == DEFAULT_LANGUAGE:
        return singular
    if n == 1:
        return catalogue("en").get(singular, singular)
    return catalogue("en").get("\x00" + plural, plural)


def pick(zh: str, en: str) -> str:
    """Return whichever of two ready-made strings fits the current language."""
    return en if current_language.get() == "en" else zh
