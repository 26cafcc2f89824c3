"""Pure notification rules: content limits, addresses, message text and the retry decision."""

from __future__ import annotations

import datetime as dt

from openzone.core.notify.domain import Channel, Letter, Status, address_error, after_failure, compose_text, content_error

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def test_content_needs_a_one_line_subject_and_a_body():
    assert content_error("受理通知", "您的申请已受理。", "", "") is None
    assert content_error(" ", "正文", "", "") == "subject"
    assert content_error("标题\n第二行", "正文", "", "") == "subject"
    assert content_error("标" * 201, "正文", "", "") == "subject"
    assert content_error("标题", "  ", "", "") == "body"
    assert content_error("标题", "正文", "Notice\r\nBcc: x@y.z", "") == "subject_en"
    assert content_error("标题", "正文", "", "x" * 10_001) == "body_en"


def test_addresses_must_suit_their_channel():
    assert address_error(Channel.EMAIL, "zhang.san@example.cn") is None
    assert address_error(Channel.EMAIL, "not-an-address") == "format"
    assert address_error(Channel.SMS, "13912345678") is None
    assert address_error(Channel.SMS, "+8613912345678") is None
    assert address_error(Channel.SMS, "12912345678") == "format"
    assert address_error(Channel.CONSOLE, "anyone") is None


def test_text_puts_chinese_first_and_english_after():
    letter = Letter("m1", "a@b.cn", "受理通知", "您的申请已受理。", "Application received", "We received your application.")
    assert compose_text(letter, with_subject=True) == (
        "受理通知\n您的申请已受理。\n\n——\nApplication received\nWe received your application.")
    assert compose_text(letter, with_subject=False).startswith("您的申请已受理。\n\n——\nApplication received")
    chinese_only = Letter("m2", "a@b.cn", "受理通知", "您的申请已受理。")
    assert compose_text(chinese_only, with_subject=True) == "受理通知\n您的申请已受理。"


def test_a_failure_retries_after_backoff_until_the_last_attempt():
    wait = dt.timedelta(seconds=30)
    assert after_failure(attempts=1, max_attempts=3, permanent=False, now=NOW, backoff=wait) == (Status.PENDING, NOW + wait)
    assert after_failure(attempts=3, max_attempts=3, permanent=False, now=NOW, backoff=wait) == (Status.FAILED, None)
    assert after_failure(attempts=1, max_attempts=3, permanent=True, now=NOW, backoff=wait) == (Status.FAILED, None)
