"""Pure document rules."""

from __future__ import annotations

import pytest

from openzone.core.documents import InvalidVerificationPath, verification_url


def test_a_verification_url_joins_base_and_path():
    assert verification_url("https://oz.example.cn/", "/verify/abc") == "https://oz.example.cn/verify/abc"
    assert verification_url("https://oz.example.cn", "/verify/abc?x=1") == "https://oz.example.cn/verify/abc?x=1"


@pytest.mark.parametrize("path", ["verify/abc", "//evil.example/x", "https://evil.example/", "/a b", "/a\\b"])
def test_a_verification_path_must_stay_on_the_site(path):
    with pytest.raises(InvalidVerificationPath):
        verification_url("https://oz.example.cn", path)
