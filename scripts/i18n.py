"""Extract zh-CN source strings and merge them into the English catalogue: python scripts/i18n.py."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "src" / "openzone" / "locale" / "en" / "LC_MESSAGES" / "messages.po"
METHODS = [("src/openzone/**/templates/**.html", "jinja2"), ("src/openzone/**.py", "python")]
OPTIONS = {"src/openzone/**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def extract() -> Catalog:
    """Collect every translatable message in templates and code."""
    catalog = Catalog(locale="zh_CN", project="OpenZone", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT, METHODS, options_map=OPTIONS, keywords=KEYWORDS):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def load_english() -> Catalog:
    """Read the English catalogue (empty if none yet)."""
    if not PO.exists():
        return Catalog(locale="en", project="OpenZone")
    with PO.open("rb") as fh:
        return read_po(fh, locale="en")


def missing() -> list[str]:
    """List source messages that have no English translation."""
    english = {m.id: m for m in load_english() if m.id}
    out = []
    for m in extract():
        if not m.id:
            continue
        t = english.get(m.id)
        strings = t.string if t is not None and isinstance(t.string, tuple) else (t.string if t is not None else "",)
        if t is None or not all(strings) or t.fuzzy:
            out.append(m.id if isinstance(m.id, str) else m.id[0])
    return out


def update() -> None:
    """Merge newly extracted messages into the English catalogue, keeping existing translations."""
    english = load_english()
    english.update(extract(), no_fuzzy_matching=True)
    english.obsolete.clear()
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as fh:
        write_po(fh, english, width=120, omit_header=False, sort_output=True, include_lineno=False)


def apply_table(path: Path) -> int:
    """Fill empty English strings from a tab-separated table of zh-CN source and English text."""
    table = dict(line.split("\t", 1) for line in path.read_text().splitlines() if "\t" in line)
    english = load_english()
    filled = 0
    for m in english:
        if m.id and isinstance(m.id, str) and not m.string and m.id in table:
            m.string = table[m.id].strip()
            filled += 1
    with PO.open("wb") as fh:
        write_po(fh, english, width=120, sort_output=True, include_lineno=False)
    return filled


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "fill":
        print(f"filled {apply_table(Path(sys.argv[2]))} translations")
        sys.exit(0)
    if sys.argv[1:] == ["check"]:
        gaps = missing()
        print("\n".join(gaps) or "every message has an English translation")
        sys.exit(1 if gaps else 0)
    update()
    print(f"updated {PO.relative_to(ROOT)}; untranslated: {len(missing())}")
