"""Which keys are accepted, and how requests are told apart."""

from __future__ import annotations

import uuid

import pytest

from openzone.core.idempotency import domain


@pytest.mark.parametrize("key", ["a", "8e0d6a4c-5f1e-4b55-9a3a-2f6f0a1f2b3c", "x" * 255, "order 42/retry", "~!@#$%^&*()"])
def test_printable_ascii_keys_up_to_255_are_valid(key):
    assert domain.valid_key(key)


@pytest.mark.parametrize("key", ["", "x" * 256, "订单-1", "tab\there", "line\nbreak", "\x7f"])
def test_empty_long_non_ascii_and_control_keys_are_invalid(key):
    assert not domain.valid_key(key)


def test_fingerprint_ignores_key_order_but_not_values_or_scope():
    first = domain.fingerprint("s", {"a": 1, "b": [1, 2]})
    assert first == domain.fingerprint("s", {"b": [1, 2], "a": 1})
    assert first != domain.fingerprint("s", {"a": 1, "b": [2, 1]})
    assert first != domain.fingerprint("t", {"a": 1, "b": [1, 2]})


def test_a_token_and_a_person_have_separate_keys():
    person, token = uuid.uuid4(), uuid.uuid4()
    assert domain.principal_key(person, None) == f"person:{person}"
    assert domain.principal_key(person, token) == f"token:{token}"
