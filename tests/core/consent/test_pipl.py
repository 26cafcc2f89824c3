"""PIPL: copies deleted when their data-life ends, and a holder's erasure that leaves the ledger verifiable but unlinkable."""

from __future__ import annotations

import base64
import datetime as dt
import os

import pytest
from sqlalchemy import or_, select, update

from openzone.core import consent, jobs, ledger
from openzone.core.ledger import merkle, receipt, receipt_service
from openzone.db import transaction
from openzone.kit import crypto
from openzone.kit.errors import Forbidden, NotFound
from openzone.kit.time import utcnow
from tests import builders, helpers
from tests.core.consent.conftest import KIND, at_window, give, hall_and_holder


def test_the_data_life_job_deletes_copies_when_their_time_is_up(session):
    hall, clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall, data_life_days=7, use_mode="count", max_uses=2)
    requester = at_window(hall, clerk)
    with pytest.raises(Forbidden):
        consent.keep_copy(session, grant=grant, requester=requester, resource_kind=KIND, payload={"name": "x"})
    consent.require_grant(session, requester=requester, holder=consent.Holder.person(citizen.id), resource_kind=KIND,
                          resource_id="L1", fields=["name"], purpose="service-window")
    copy = consent.keep_copy(session, grant=grant, requester=requester, resource_kind=KIND, payload={"name": "测试持证人"})
    assert copy.delete_after - utcnow() > dt.timedelta(days=6)
    assert consent.read_copy(session, copy.id, requester=requester) == {"name": "测试持证人"}
    with pytest.raises(NotFound):
        consent.read_copy(session, copy.id, requester=consent.Requester(builders.create_org(session).id))
    assert "consent.data_life" in jobs.registered_kinds()
    assert consent.delete_expired_copies(session) == 0
    assert consent.delete_expired_copies(session, now=utcnow() + dt.timedelta(days=8)) >= 1
    assert copy.payload_enc is None and copy.deleted_at is not None
    with pytest.raises(NotFound):
        consent.read_copy(session, copy.id, requester=requester)
    deleted = session.scalar(select(ledger.Entry.body).where(ledger.Entry.event_type == "consent.copy.deleted")
                             .order_by(ledger.Entry.seq.desc()).limit(1))
    assert merkle.leaf_hash(bytes(deleted)) == copy.deleted_leaf


def test_a_copy_is_tied_to_the_access_the_gate_wrote_and_refused_for_another(session):
    hall, clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall, data_life_days=7, use_mode="count", max_uses=3)
    other = give(session, citizen, hall, data_life_days=7, use_mode="count", max_uses=3)
    requester = at_window(hall, clerk)
    permit = consent.gate(session, requester=requester, holder=consent.Holder.person(citizen.id), resource_kind=KIND,
                          resource_id="L1", fields=["name"], purpose="service-window", grant_id=grant.id)
    copy = consent.keep_copy(session, grant=permit.grant, requester=requester, resource_kind=KIND,
                             payload={"name": "测试持证人"}, access=permit.access)
    assert copy.access_id == permit.access.id
    assert consent.read_copy(session, copy.id, requester=requester) == {"name": "测试持证人"}
    with pytest.raises(Forbidden):  # an access under another grant does not make a copy of this one
        consent.keep_copy(session, grant=other, requester=requester, resource_kind=KIND, payload={},
                          access=permit.access)
    with pytest.raises(Forbidden):  # nor of another kind
        consent.keep_copy(session, grant=grant, requester=requester, resource_kind="other-kind", payload={},
                          access=permit.access)


def test_copies_read_the_data_key_again_when_its_file_changes(session, settings):
    hall, clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall, data_life_days=7, use_mode="count", max_uses=3)
    requester = at_window(hall, clerk)
    permit = consent.gate(session, requester=requester, holder=consent.Holder.person(citizen.id), resource_kind=KIND,
                          resource_id="L1", fields=["name"], purpose="service-window", grant_id=grant.id)
    copy = consent.keep_copy(session, grant=grant, requester=requester, resource_kind=KIND, payload={"name": "甲"},
                             access=permit.access)
    path = settings.var_dir / "secrets" / "data.key"
    original = path.read_bytes()
    stat = path.stat()
    try:
        path.write_text(base64.b64encode(b"k" * 32).decode() + "\n")  # as a restored backup with another key would
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        with pytest.raises(crypto.DecryptionFailed):
            consent.read_copy(session, copy.id, requester=requester)
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000))
    assert consent.read_copy(session, copy.id, requester=requester) == {"name": "甲"}


def test_a_grant_that_allows_no_copy_refuses_one(session):
    hall, clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall)
    with pytest.raises(Forbidden):
        consent.keep_copy(session, grant=grant, requester=at_window(hall, clerk), resource_kind=KIND, payload={})


def test_a_copy_lives_from_its_retrieval_and_none_is_kept_after_revocation(session):
    hall, clerk, citizen = hall_and_holder(session)
    holder = consent.Holder.person(citizen.id)
    grant = give(session, citizen, hall, data_life_days=7, use_mode="count", max_uses=3, days=30)
    requester = at_window(hall, clerk)
    permit = consent.gate(session, requester=requester, holder=holder, resource_kind=KIND, resource_id="L1",
                          fields=["name"], purpose="service-window")
    retrieved = utcnow() - dt.timedelta(days=6)
    session.execute(update(consent.Access).where(consent.Access.id == permit.access.id).values(at=retrieved))
    # Saved today from a retrieval six days ago: the seven days count from the retrieval.
    copy = consent.keep_copy(session, grant=grant, requester=requester, resource_kind=KIND, payload={"name": "甲"})
    assert copy.delete_after == retrieved + dt.timedelta(days=7)
    session.execute(update(consent.Access).where(consent.Access.id == permit.access.id)
                    .values(at=utcnow() - dt.timedelta(days=8)))
    with pytest.raises(Forbidden):  # past its data life: saving again cannot start it afresh
        consent.keep_copy(session, grant=grant, requester=requester, resource_kind=KIND, payload={"name": "甲"})
    second = consent.gate(session, requester=requester, holder=holder, resource_kind=KIND, resource_id="L1",
                          fields=["name"], purpose="service-window")
    consent.revoke(session, grant.id, holders=[holder])
    with pytest.raises(Forbidden):  # the holder withdrew consent after the retrieval
        consent.keep_copy(session, grant=grant, requester=requester, resource_kind=KIND, payload={"name": "甲"},
                          access=second.access)


def _drain():
    while helpers.committed(lambda s: ledger.integrate(s)):
        pass


def test_erasure_deletes_personal_data_and_salts_while_the_ledger_still_verifies(database):
    def build(session):
        hall, clerk, citizen = hall_and_holder(session)
        holder = consent.Holder.person(citizen.id)
        requester = at_window(hall, clerk)
        grant = give(session, citizen, hall, data_life_days=30, use_mode="count", max_uses=1)
        consent.require_grant(session, requester=requester, holder=holder, resource_kind=KIND, resource_id="L1",
                              fields=["name"], purpose="service-window")
        consent.keep_copy(session, grant=grant, requester=requester, resource_kind=KIND, payload={"name": "测试持证人"})
        with pytest.raises(consent.GrantUsed):
            consent.require_grant(session, requester=requester, holder=holder, resource_kind=KIND, resource_id="L1",
                                  fields=["name"], purpose="service-window")
        active = give(session, citizen, hall, days=30, scope=[{"kind": KIND, "id": "110101199003074518", "fields": ["name"]},
                                                              {"kind": KIND, "id": "*", "fields": ["number"]}])
        return citizen.id, grant.id, active.id

    citizen_id, grant_id, active_id = helpers.committed(build)
    holder = consent.Holder.person(citizen_id)
    before = helpers.committed(lambda s: [(bytes(a.leaf_hash), a.holder_commitment, a.resource_commitment)
                                          for a in consent.history(s, holder)])
    commitments = helpers.committed(lambda s: [g.holder_commitment for g in consent.grants_of(s, [holder])])
    assert len(before) == 2
    _drain()
    assert helpers.committed(lambda s: ledger.open_commitment(s, commitments[0], consent.holder_value(holder)))

    report = helpers.committed(lambda s: consent.erase_holder(s, holder))
    assert report.grants == 2 and report.accesses == 2 and report.copies == 1 and report.salts >= 4
    _drain()

    def check(session):
        # Nothing in consent points at the person any more.
        rows = session.scalars(select(consent.Grant).where(consent.Grant.id.in_([grant_id, active_id]))).all()
        assert all(g.holder_id is None and g.erased_at is not None for g in rows)
        assert {g.status for g in rows} == {"used", "revoked"}
        # Nor does the grant name the person who gave it, or the holder's own items.
        assert all(g.created_by is None for g in rows)
        assert session.scalar(select(consent.Grant.id).where(consent.Grant.created_by == citizen_id)) is None
        active = session.get(consent.Grant, active_id)
        assert [(line["id"], line["fields"]) for line in active.scope] == [(consent.service.ERASED, ["name"]),
                                                                           ("*", ["number"])]
        for g in rows:  # the grant's own entries still verify
            for leaf in (g.created_leaf, g.ended_leaf):
                if leaf:
                    data = receipt_service.issue(session, bytes(leaf)).data
                    assert receipt.verify_receipt(data, log_keys=[ledger.log_signer().verifier()], quorum=0,
                                                  origin=ledger.log_origin()).leaf_hash == bytes(leaf)
        assert consent.history(session, holder) == []
        assert session.scalar(select(consent.Access.id).where(or_(
            consent.Access.holder_id == citizen_id, consent.Access.grant_id.in_([grant_id])),
            consent.Access.resource_id.is_not(None))) is None
        assert all(c.payload_enc is None for c in session.scalars(
            select(consent.Copy).where(consent.Copy.grant_id == grant_id)))
        # The commitments cannot be opened: the entries no longer link to the person.
        for leaf, holder_c, resource_c in before:
            assert not ledger.open_commitment(session, holder_c, consent.holder_value(holder))
            assert not ledger.open_commitment(session, resource_c, f"{KIND}:L1")
            # ...yet every entry is still in the log and its receipt still verifies.
            data = receipt_service.issue(session, leaf).data
            verdict = receipt.verify_receipt(data, log_keys=[ledger.log_signer().verifier()], quorum=0,
                                             origin=ledger.log_origin())
            assert verdict.leaf_hash == leaf
        for c in commitments:
            assert not ledger.open_commitment(session, c, consent.holder_value(holder))

    helpers.committed(check)
    assert ledger.audit(transaction).ok
