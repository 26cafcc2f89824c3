"""Consent use cases on a real database: the gate, presentations, and a ledger entry for every access."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import event, select

from openzone.core import consent, ledger, notify
from openzone.db import transaction
from openzone.kit.errors import NotFound, RateLimited, ValidationFailed
from openzone.kit.time import utcnow
from tests import builders, helpers
from tests.core.consent.conftest import KIND, accesses, at_window, give, hall_and_holder, ledger_leaves, past, terms


def _use(session, requester, citizen, *, fields=("name",), resource_id="L1", purpose="service-window", grant_id=None):
    return consent.require_grant(session, requester=requester, holder=consent.Holder.person(citizen.id),
                                 resource_kind=KIND, resource_id=resource_id, fields=fields, purpose=purpose,
                                 grant_id=grant_id)


def _refused(session, cls, fn):
    with pytest.raises(cls) as caught:
        fn()
    problem = caught.value
    assert problem.type == cls.type and problem.extensions["receipts"]
    record = session.get(consent.Access, uuid.UUID(problem.extensions["access_ids"][0]))
    assert record.outcome == "refused" and record.reason == cls.type
    assert record.leaf_hash in ledger_leaves(session)
    return record


def test_giving_a_grant_writes_a_ledger_entry_the_holder_can_prove(session):
    hall, _clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall)
    assert grant.status == "active" and grant.requester_name == hall.name
    assert grant.created_leaf in ledger_leaves(session)
    assert ledger.open_commitment(session, grant.holder_commitment, f"person:{citizen.id}")


def test_a_single_use_grant_allows_once_then_refuses_and_both_are_logged(session):
    hall, clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall)
    requester = at_window(hall, clerk)
    assert _use(session, requester, citizen).id == grant.id
    assert grant.status == "used" and grant.uses == 1
    refused = _refused(session, consent.GrantUsed, lambda: _use(session, requester, citizen))
    assert refused.grant_id == grant.id
    records = accesses(session, grant.id)
    assert [r.outcome for r in records] == ["allowed", "refused"]
    assert {r.leaf_hash for r in records} <= ledger_leaves(session)


def test_the_gate_reads_the_holders_salt_with_the_grant_and_still_refuses_an_erased_one():
    # Committed first, as a holder's grant is: in the transaction that made it, record() knows its commitment anyway.
    def setup(session):
        hall, clerk, citizen = hall_and_holder(session)
        return hall, clerk, citizen, give(session, citizen, hall, max_uses=2)

    hall, clerk, citizen, grant = helpers.committed(setup)
    requester = at_window(hall, clerk)
    statements: list[str] = []

    def listen(conn, cursor, statement, *rest):
        statements.append(statement)

    with transaction() as session:
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", listen)
        try:
            assert _use(session, requester, citizen).id == grant.id
            session.flush()
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        # The access entry commits to the holder with the grant's commitment, read as kept along with the grant.
        body = session.scalar(select(ledger.Entry.body).where(
            ledger.Entry.leaf_hash == accesses(session, grant.id)[-1].leaf_hash))
        assert grant.holder_commitment in bytes(body).decode()
    assert any("consent_grant" in s and "ledger_salt" in s for s in statements)
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT") and "ledger_salt" in s
                and "consent_grant" not in s]
    # Once the holder's salt is erased no entry may commit to it: the gate reads it gone and record() refuses.
    helpers.committed(lambda session: ledger.erase_salts(session, [grant.holder_commitment]))
    with transaction() as session, pytest.raises(ledger.InvalidEntry):
        _use(session, requester, citizen)


def test_a_grant_locked_in_the_callers_read_is_checked_like_one_the_gate_reads(session):
    hall, clerk, citizen = hall_and_holder(session)
    other = builders.create_person(session)
    grant = give(session, citizen, hall, max_uses=3)
    shown = consent.present_qr(session, grant.id, holders=[consent.Holder.person(citizen.id)])
    requester = at_window(hall, clerk)
    stmt = consent.with_locked_grant(select(consent.Presentation).where(consent.Presentation.id == shown.presentation.id),
                                     consent.Presentation.grant_id, of=[consent.Presentation])
    _, locked_grant, kept = session.execute(stmt).one()
    assert locked_grant is grant and kept

    def use(holder, grant_id=grant.id):
        return consent.gate(session, requester=requester, holder=holder, resource_kind=KIND, resource_id="L1",
                            fields=("name",), purpose="service-window", grant_id=grant_id, locked=(locked_grant, kept))

    assert use(consent.Holder.person(citizen.id)).grant is grant and grant.uses == 1
    # Another holder's request finds no grant, as the gate's own read filtered by holder would.
    _refused(session, consent.GrantMissing, lambda: use(consent.Holder.person(other.id)))
    with pytest.raises(ValueError):
        use(consent.Holder.person(citizen.id), grant_id=uuid.uuid4())
    assert grant.uses == 1


def test_an_expired_grant_is_refused(session):
    hall, clerk, citizen = hall_and_holder(session)
    give(session, citizen, hall, valid_from=past(3), days=1)
    _refused(session, consent.GrantExpired, lambda: _use(session, at_window(hall, clerk), citizen))


def test_a_grant_not_yet_started_is_refused(session):
    hall, clerk, citizen = hall_and_holder(session)
    give(session, citizen, hall, valid_from=utcnow() + dt.timedelta(days=1), days=1)
    _refused(session, consent.GrantNotYetValid, lambda: _use(session, at_window(hall, clerk), citizen))


def test_a_revoked_grant_is_refused_at_once(session):
    hall, clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall, use_mode="count", max_uses=3)
    _use(session, at_window(hall, clerk), citizen)
    consent.revoke(session, grant.id, holders=[consent.Holder.person(citizen.id)])
    assert grant.ended_leaf in ledger_leaves(session)
    _refused(session, consent.GrantRevoked, lambda: _use(session, at_window(hall, clerk), citizen))


def test_items_fields_and_purposes_outside_the_scope_are_refused(session):
    hall, clerk, citizen = hall_and_holder(session)
    give(session, citizen, hall, scope=[{"kind": KIND, "id": "L1", "fields": ["name"]}], use_mode="count", max_uses=5)
    requester = at_window(hall, clerk)
    _refused(session, consent.GrantScope, lambda: _use(session, requester, citizen, fields=("name", "expiry")))
    _refused(session, consent.GrantScope, lambda: _use(session, requester, citizen, resource_id="L2"))
    _refused(session, consent.GrantScope, lambda: _use(session, requester, citizen, purpose="account-opening"))
    assert _use(session, requester, citizen).uses == 1


def test_terms_outside_the_calendar_are_invalid_input_not_an_error(session):
    for bad in ({"days": 999_999_999}, {"days": 0}, {"valid_from": dt.datetime(9999, 12, 31, tzinfo=dt.UTC)},
                {"valid_from": dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))},
                {"valid_from": utcnow() + dt.timedelta(days=1200)}):
        with pytest.raises(ValidationFailed):
            terms(**bad)
    assert terms(valid_from=utcnow() + dt.timedelta(days=30), days=10).valid_until > utcnow()


def test_malformed_kinds_fields_and_purposes_are_refused_as_scope_and_kept_out_of_the_ledger(session):
    hall, clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall, use_mode="count", max_uses=5)
    requester = at_window(hall, clerk)
    long_field = "x" * 9000
    record = _refused(session, consent.GrantScope,
                      lambda: _use(session, requester, citizen, fields=("name", long_field), grant_id=grant.id))
    # Recorded against the grant and in the holder's history, with only the names a grant could hold.
    assert record.grant_id == grant.id and record.holder_id == citizen.id
    assert record.fields == ["name"] and record.resource_kind == KIND and record.purpose_code == "service-window"
    record = _refused(session, consent.GrantScope, lambda: consent.require_grant(
        session, requester=requester, holder=consent.Holder.person(citizen.id), resource_kind="Kind\n" + "k" * 300,
        resource_id="L" * 129, fields=["name"], purpose="service-window\n"))
    assert (record.resource_kind, record.resource_id, record.purpose_code) == (None, None, None)
    bodies = b"".join(bytes(b) for b in session.scalars(select(ledger.Entry.body)))
    assert b"x" * 100 not in bodies and b"k" * 100 not in bodies
    assert [a.reason for a in consent.history(session, consent.Holder.person(citizen.id))] == ["grant-scope"] * 2
    assert _use(session, requester, citizen).uses == 1


def test_another_window_clerk_or_organisation_is_refused(session):
    hall, clerk, citizen = hall_and_holder(session)
    other_clerk = builders.create_person(session, org=hall, role="clerk")
    grant = give(session, citizen, hall, hall="H1", window="A05", use_mode="count", max_uses=5)
    _refused(session, consent.GrantRequester, lambda: _use(session, at_window(hall, clerk, window="A06"), citizen))
    grant.requester_clerk_id = clerk.id
    _refused(session, consent.GrantRequester, lambda: _use(session, at_window(hall, other_clerk), citizen))
    stranger = builders.create_org(session, kind="bank")
    # Without the grant id another organisation learns nothing: there is no grant to it.
    _refused(session, consent.GrantMissing, lambda: _use(session, consent.Requester(stranger.id), citizen))
    # With a (stolen) grant id the refusal names the grant, so the holder sees it in the history.
    record = _refused(session, consent.GrantRequester,
                      lambda: _use(session, consent.Requester(stranger.id), citizen, grant_id=grant.id))
    assert record.holder_id == citizen.id and record.requester_org_id == stranger.id


def test_no_grant_at_all_is_missing_and_still_logged_for_the_holder(session):
    hall, clerk, citizen = hall_and_holder(session)
    record = _refused(session, consent.GrantMissing, lambda: _use(session, at_window(hall, clerk), citizen))
    assert record.holder_id == citizen.id and record.grant_id is None
    assert ledger.open_commitment(session, record.holder_commitment, f"person:{citizen.id}")


def test_a_periodic_grant_keeps_its_frequency_and_dies_on_revocation(session):
    bank = builders.create_org(session, kind="bank")
    citizen = builders.create_person(session)
    grant = consent.give_grant(session, holder=consent.Holder.person(citizen.id), requester=consent.Binding(bank.id),
                               terms=terms(use_mode="periodic", frequency="day", frequency_uses=2, days=90,
                                           purpose="credit-assessment"))
    client = consent.Requester(bank.id, client_id=uuid.uuid4())
    for _ in range(2):
        _use(session, client, citizen, purpose="credit-assessment", grant_id=grant.id)
    _refused(session, consent.GrantFrequency, lambda: _use(session, client, citizen, purpose="credit-assessment"))
    consent.revoke(session, grant.id, holders=[consent.Holder.person(citizen.id)])
    _refused(session, consent.GrantRevoked,
             lambda: _use(session, client, citizen, purpose="credit-assessment", grant_id=grant.id))


def test_a_requested_grant_waits_for_the_holder(session):
    hall, clerk, citizen = hall_and_holder(session)
    holder = consent.Holder.person(citizen.id)
    grant = consent.request_grant(session, requester=at_window(hall, clerk), holder=holder, terms=terms())
    assert grant.status == "pending" and grant.requester_window == "A05"
    _refused(session, consent.GrantMissing, lambda: _use(session, at_window(hall, clerk), citizen))
    inbox = notify.inbox(session, citizen.id).items
    assert inbox and "数据授权请求" in inbox[0].subject
    consent.approve(session, grant.id, holders=[holder])
    assert _use(session, at_window(hall, clerk), citizen).id == grant.id


def test_a_holder_cannot_act_on_another_holders_grant(session):
    hall, _clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall)
    other = consent.Holder.person(builders.create_person(session).id)
    for action in (consent.revoke, consent.approve, consent.decline):
        with pytest.raises(NotFound):
            action(session, grant.id, holders=[other])
    with pytest.raises(NotFound):
        consent.present_qr(session, grant.id, holders=[other])


def test_terms_are_checked_against_the_registry_and_limits():
    with pytest.raises(ValidationFailed) as caught:
        consent.check_terms(scope=[{"kind": "nope", "id": "*", "fields": ["x"]},
                                   {"kind": KIND, "id": "*", "fields": ["salary"]}],
                            purpose="gossip", days=5000, use_mode="count", max_uses=0, data_life_days=9999)
    fields = {e["field"] for e in caught.value.errors}
    assert fields == {"scope", "purpose", "valid_until", "max_uses", "data_life_days"}


def test_the_preview_shows_what_would_be_released(session):
    citizen = builders.create_person(session)
    items = consent.preview(session, holder=consent.Holder.person(citizen.id), scope=terms().scope)
    assert items[0].rows == [("姓名", "测试持证人"), ("证照编号", "LIC-*")]


# --- presentations ---

def test_a_qr_code_is_redeemed_once_at_its_window_and_binds_the_grant(session):
    hall, clerk, citizen = hall_and_holder(session)
    holder = consent.Holder.person(citizen.id)
    grant = give(session, citizen, hall)
    shown = consent.present_qr(session, grant.id, holders=[holder])
    assert len(shown.secret) >= 43 and shown.presentation.secret_hash != shown.secret
    assert consent.redeem(session, requester=at_window(hall, clerk), token=shown.qr_payload).id == grant.id
    assert (grant.requester_window, grant.requester_clerk_id) == ("A05", clerk.id)
    # The photographed QR replayed at another window: used, and refused.
    _refused(session, consent.PresentationUsed,
             lambda: consent.redeem(session, requester=at_window(hall, clerk, window="A06"), token=shown.secret))
    # The bound grant now serves only that window and clerk.
    _refused(session, consent.GrantRequester, lambda: _use(session, at_window(hall, clerk, window="A06"), citizen))
    assert _use(session, at_window(hall, clerk), citizen).id == grant.id


def test_a_qr_code_read_at_another_window_or_requester_is_refused(session):
    hall, clerk, citizen = hall_and_holder(session)
    holder = consent.Holder.person(citizen.id)
    grant = give(session, citizen, hall, hall="H1", window="A05")
    shown = consent.present_qr(session, grant.id, holders=[holder])
    _refused(session, consent.GrantRequester,
             lambda: consent.redeem(session, requester=at_window(hall, clerk, window="A06"), token=shown.secret))
    bank = builders.create_org(session, kind="bank")
    _refused(session, consent.GrantRequester,
             lambda: consent.redeem(session, requester=consent.Requester(bank.id, window="A05"), token=shown.secret))
    _refused(session, consent.PresentationInvalid,
             lambda: consent.redeem(session, requester=at_window(hall, clerk), token="forged"))
    assert consent.redeem(session, requester=at_window(hall, clerk), token=shown.secret).id == grant.id


def test_an_expired_qr_code_is_refused(session):
    hall, clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall)
    shown = consent.present_qr(session, grant.id, holders=[consent.Holder.person(citizen.id)])
    shown.presentation.expires_at = utcnow() - dt.timedelta(seconds=1)
    _refused(session, consent.PresentationExpired,
             lambda: consent.redeem(session, requester=at_window(hall, clerk), token=shown.secret))


def test_a_new_qr_code_replaces_the_old_one(session):
    hall, clerk, citizen = hall_and_holder(session)
    holder = consent.Holder.person(citizen.id)
    grant = give(session, citizen, hall)
    first = consent.present_qr(session, grant.id, holders=[holder])
    consent.present_qr(session, grant.id, holders=[holder])
    session.refresh(first.presentation)
    _refused(session, consent.PresentationExpired,
             lambda: consent.redeem(session, requester=at_window(hall, clerk), token=first.secret))


def test_a_brute_forced_short_code_locks_after_five_tries_each_logged(session):
    hall, clerk, citizen = hall_and_holder(session)
    holder = consent.Holder.person(citizen.id)
    grant = give(session, citizen, hall)
    shown = consent.present_code(session, grant.id, holders=[holder], window="A05", hall="H1")
    assert len(shown.secret) >= 8 and shown.secret.isdigit()
    wrong = [f"{(int(shown.secret) + i) % 10**8:08d}" for i in range(1, 6)]
    reasons = []
    for guess in wrong:
        with pytest.raises(consent.Refused) as caught:
            consent.redeem(session, requester=at_window(hall, clerk), code=guess)
        reasons.append(caught.value.type)
    session.refresh(shown.presentation)
    assert shown.presentation.attempts == 5 and shown.presentation.locked_at is not None
    # The right code after the lock is refused too.
    _refused(session, consent.PresentationLocked,
             lambda: consent.redeem(session, requester=at_window(hall, clerk), code=shown.secret))
    tries = accesses(session, grant.id)
    assert len(tries) == 6 and all(t.outcome == "refused" and t.action == "redeem" for t in tries)
    assert [t.reason for t in tries] == ["presentation-invalid"] * 4 + ["presentation-locked"] * 2
    assert {t.leaf_hash for t in tries} <= ledger_leaves(session)


def test_a_short_code_works_only_at_its_window(session):
    hall, clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall)
    shown = consent.present_code(session, grant.id, holders=[consent.Holder.person(citizen.id)], window="A05")
    _refused(session, consent.PresentationInvalid,
             lambda: consent.redeem(session, requester=at_window(hall, clerk, window="A06"), code=shown.secret))
    assert consent.redeem(session, requester=at_window(hall, clerk, hall=None), code=shown.secret).id == grant.id


def test_an_sms_code_reaches_only_the_holder_and_approves_the_request(session):
    hall, clerk, _citizen = hall_and_holder(session)
    citizen_with_phone = builders.create_person(session, phone="13912345678")
    holder = consent.Holder.person(citizen_with_phone.id)
    grant = consent.request_grant(session, requester=at_window(hall, clerk), holder=holder, terms=terms())
    presentation = consent.send_sms_code(session, grant.id, requester=at_window(hall, clerk))
    assert presentation.kind == "sms" and presentation.window == "A05"
    text = helpers.sms_text(session, citizen_with_phone.id)
    code = next(word for word in text.replace("，", " ").split() if word.isdigit() and len(word) >= 8)
    assert hall.name in text
    stored = session.scalars(select(notify.Message.body).where(notify.Message.person_id == citizen_with_phone.id,
                                                                notify.Message.channel == "sms")).one()
    assert code not in stored
    assert consent.redeem(session, requester=at_window(hall, clerk), code=code).id == grant.id
    assert grant.status == "active" and grant.requester_clerk_id == clerk.id


def test_presenting_an_ended_grant_is_refused(session):
    hall, _clerk, citizen = hall_and_holder(session)
    holder = consent.Holder.person(citizen.id)
    grant = give(session, citizen, hall)
    consent.revoke(session, grant.id, holders=[holder])
    with pytest.raises(ValidationFailed):
        consent.present_qr(session, grant.id, holders=[holder])


def test_revoking_kills_live_presentations(session):
    hall, clerk, citizen = hall_and_holder(session)
    holder = consent.Holder.person(citizen.id)
    grant = give(session, citizen, hall)
    shown = consent.present_qr(session, grant.id, holders=[holder])
    consent.revoke(session, grant.id, holders=[holder])
    session.refresh(shown.presentation)
    _refused(session, consent.PresentationExpired,
             lambda: consent.redeem(session, requester=at_window(hall, clerk), token=shown.secret))


def test_expiry_marks_grants_expired_with_a_ledger_entry(session):
    hall, _clerk, citizen = hall_and_holder(session)
    grant = give(session, citizen, hall, valid_from=past(3), days=1)
    assert consent.status_of(grant) is consent.Status.EXPIRED
    assert consent.expire_due(session) >= 1
    assert grant.status == "expired" and grant.ended_leaf in ledger_leaves(session)


def test_texted_codes_are_limited_per_hour(session):
    hall, clerk, _citizen = hall_and_holder(session)
    holder = consent.Holder.person(builders.create_person(session, phone="13912345679").id)
    grant = consent.request_grant(session, requester=at_window(hall, clerk), holder=holder, terms=terms())
    for _ in range(3):
        consent.send_sms_code(session, grant.id, requester=at_window(hall, clerk))
    with pytest.raises(RateLimited):
        consent.send_sms_code(session, grant.id, requester=at_window(hall, clerk))


def test_a_refusal_survives_the_rollback_of_its_transaction(database):
    def setup(session):
        hall, clerk, citizen = hall_and_holder(session)
        return hall.id, clerk.id, citizen.id

    hall_id, clerk_id, citizen_id = helpers.committed(setup)
    with pytest.raises(consent.GrantMissing), consent.keeping_refusals() as session:
        other = builders.create_org(session)  # undone with the rest of the failed transaction
        consent.require_grant(session, requester=consent.Requester(hall_id, clerk_id=clerk_id),
                              holder=consent.Holder.person(citizen_id), resource_kind=KIND, resource_id="L1",
                              fields=["name"], purpose="service-window")
    rows = helpers.committed(lambda s: [(a.reason, bytes(a.leaf_hash)) for a in
                                        consent.history(s, consent.Holder.person(citizen_id))])
    assert [r for r, _ in rows] == ["grant-missing"]
    assert helpers.committed(lambda s: s.get(type(other), other.id)) is None
    assert rows[0][1] in helpers.committed(ledger_leaves)


def test_the_demo_gives_the_firms_periodic_grant_to_the_bank_once(session):
    from openzone import demo
    from openzone.core.identity.models import Organisation

    demo.load(session)
    demo.load(session)
    firm = session.scalar(select(Organisation).where(Organisation.name == demo.ORGS[2][1]))
    grants = consent.grants_of(session, [consent.Holder.organisation(firm.id)])
    assert len(grants) == 1 and grants[0].use_mode == "periodic" and grants[0].status == "active"


def test_declining_a_request_kills_its_texted_code(session):
    hall, clerk, _citizen = hall_and_holder(session)
    holder = consent.Holder.person(builders.create_person(session, phone="13912345670").id)
    grant = consent.request_grant(session, requester=at_window(hall, clerk), holder=holder, terms=terms())
    presentation = consent.send_sms_code(session, grant.id, requester=at_window(hall, clerk))
    consent.decline(session, grant.id, holders=[holder])
    session.refresh(presentation)
    assert presentation.expires_at <= utcnow()
