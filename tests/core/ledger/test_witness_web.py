"""The administrators' ledger page: witnesses, their last size and error, and whether the newest checkpoint is final."""

from __future__ import annotations

import os

import httpx
import pytest
from sqlalchemy import delete

from openzone.core import ledger
from openzone.core.ledger import merkle, note, witness
from openzone.core.ledger.witness_models import RegisteredWitness
from tests import helpers
from tests.core.ledger import witness_helpers as wh

HTML = {"accept": "text/html"}


@pytest.fixture
def admin(client):
    person, _ = helpers.make_user(platform_admin=True)
    helpers.login(client, person.email)
    return person


@pytest.fixture
def split_view_witness(tmp_path):
    """Start a witness that was shown a larger checkpoint signed with the log's key, and register it (committed)."""
    name = f"split-{os.urandom(4).hex()}.witness.test/w"
    with wh.witnesses(tmp_path, [name], [ledger.log_vkey()]) as (w,):
        helpers.committed(lambda s: ledger.integrate(s))
        size = helpers.committed(ledger.tree_size) + 10
        body = note.Checkpoint(ledger.log_origin(), size, os.urandom(merkle.HASH_SIZE)).body()
        seen = httpx.post(w.url + "/add-checkpoint", content=witness.format_request(0, [], note.sign_note(body, [ledger.log_signer()])))
        assert seen.status_code == 200
        helpers.committed(lambda s: ledger.add_witness(s, name=w.name, vkey=w.vkey, url=w.url))
        try:
            yield w, size
        finally:
            helpers.committed(lambda s: s.execute(delete(RegisteredWitness).where(RegisteredWitness.name == name)))


def test_only_platform_administrators_see_the_ledger_page(client):
    staff, _ = helpers.make_user("staff")
    assert client.get("/admin/ledger", headers=HTML, follow_redirects=False).status_code == 303
    helpers.login(client, staff.email)
    assert client.get("/admin/ledger", headers=HTML).status_code == 403


def test_a_refusal_shows_on_the_page_with_the_witness_and_its_reason(client, admin, split_view_witness):
    w, size = split_view_witness
    report = helpers.committed(lambda s: ledger.cosign_latest(s, timeout=30))
    assert w.name not in report.cosigned
    page = client.get("/admin/ledger", headers=HTML)
    assert page.status_code == 200
    assert w.name in page.text and "拒绝或无法联系" in page.text
    assert f"见证方已联署过更大的树（大小{size}）" in page.text
    assert 'id="checkpoint-final"' in page.text and "未确定" in page.text
    client.cookies.set("oz_lang", "en")
    english = client.get("/admin/ledger", headers=HTML)
    assert f"The witness has cosigned a larger tree (size {size})" in english.text and "Not final" in english.text


def test_the_page_explains_how_to_register_a_witness(client, admin):
    page = client.get("/admin/ledger", headers=HTML)
    assert page.status_code == 200 and "openzone witness add" in page.text
