"""`openzone witness add | list | disable | enable | cosign`: the registry from the command line."""

from __future__ import annotations

import os
import socket

import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner

from openzone.cli import app
from openzone.core import ledger
from openzone.core.ledger import note
from openzone.core.ledger.witness_models import RegisteredWitness
from tests import helpers

runner = CliRunner()


@pytest.fixture
def registered():
    """Register a witness nobody runs (a closed port), and remove it afterwards."""
    name = f"cli-{os.urandom(4).hex()}.witness.test/w"
    signer, _ = note.generate_signer(name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = runner.invoke(app, ["witness", "add", name, note.as_cosigner(signer).vkey, url])
    assert result.exit_code == 0, result.output
    try:
        yield name, note.as_cosigner(signer).vkey
    finally:
        helpers.committed(lambda s: s.execute(delete(RegisteredWitness).where(RegisteredWitness.name == name)))


def _active(name: str) -> bool:
    return helpers.committed(lambda s: s.scalar(select(RegisteredWitness.active).where(RegisteredWitness.name == name)))


def test_add_list_disable_and_enable(registered):
    name, vkey = registered
    listed = runner.invoke(app, ["witness", "list"])
    assert listed.exit_code == 0 and f"{name} {vkey}" in listed.output
    assert runner.invoke(app, ["witness", "disable", name]).exit_code == 0
    assert not _active(name)
    assert runner.invoke(app, ["witness", "enable", name]).exit_code == 0
    assert _active(name)


def test_add_refuses_a_duplicate_or_a_note_key(registered):
    name, vkey = registered
    again = runner.invoke(app, ["witness", "add", name, vkey, "http://127.0.0.1:9"])
    assert again.exit_code == 1 and "already registered" in again.output
    log_key = runner.invoke(app, ["witness", "add", ledger.log_origin(), ledger.log_vkey(), "http://127.0.0.1:9"])
    assert log_key.exit_code == 1 and "type 0x04" in log_key.output
    assert runner.invoke(app, ["witness", "disable", "nobody.witness.test/w"]).exit_code == 1


def test_cosign_reports_a_witness_it_cannot_reach(registered):
    name, _ = registered
    helpers.committed(lambda s: ledger.integrate(s))
    result = runner.invoke(app, ["witness", "cosign"])
    assert result.exit_code == 0, result.output
    assert name in result.output and "could not be reached" in result.output
    error = helpers.committed(lambda s: s.scalar(select(RegisteredWitness.last_error_en).where(RegisteredWitness.name == name)))
    assert error.startswith("The witness could not be reached")
