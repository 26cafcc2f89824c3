"""Every zh-CN message in templates and code has an English translation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from openzone.kit import i18n

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "i18n.py"


def _script():
    spec = importlib.util.spec_from_file_location("i18n_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_english_translation_is_missing():
    missing = _script().missing()
    assert missing == [], f"run `python scripts/i18n.py` and translate: {missing}"


def test_the_english_catalogue_is_what_the_app_loads():
    token = i18n.current_language.set("en")
    try:
        assert i18n.gettext("我的账户") == "My account"
        assert i18n.gettext("一句没有登记的话") == "一句没有登记的话"
    finally:
        i18n.current_language.reset(token)
