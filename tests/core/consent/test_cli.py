"""Consent commands against the test database."""

from __future__ import annotations

from typer.testing import CliRunner

from openzone.cli import app
from openzone.core import consent
from tests import helpers
from tests.core.consent.conftest import give, hall_and_holder, past

runner = CliRunner()


def test_housekeeping_expires_grants_now():
    grant_id = helpers.committed(lambda s: give(s, *_citizen_and_hall(s), valid_from=past(3), days=1).id)
    result = runner.invoke(app, ["consent", "housekeeping"])
    assert result.exit_code == 0, result.output
    assert helpers.committed(lambda s: s.get(consent.Grant, grant_id).status) == "expired"


def _citizen_and_hall(session):
    hall, _clerk, citizen = hall_and_holder(session)
    return citizen, hall


def test_erase_carries_out_an_erasure_request():
    citizen, grant_id = helpers.committed(lambda s: (lambda c, h: (c, give(s, c, h).id))(*_citizen_and_hall(s)))
    assert runner.invoke(app, ["consent", "erase"]).exit_code == 1
    result = runner.invoke(app, ["consent", "erase", "--person", str(citizen.id), "--yes"])
    assert result.exit_code == 0, result.output
    grant = helpers.committed(lambda s: s.get(consent.Grant, grant_id))
    assert grant.holder_id is None and grant.status == "revoked"
