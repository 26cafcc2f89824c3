"""Issuing, status lists, windows and clerks, applications and retrieval under consent, on a real database."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, event, select, text

from openzone.core import consent, ledger
from openzone.core.identity.models import Membership
from openzone.core.ledger import merkle
from openzone.core.ledger.models import Entry
from openzone.db import new_session, transaction, write_staged
from openzone.kit.errors import Conflict, ValidationFailed
from openzone.services.e_license import domain, service
from openzone.services.e_license.domain import StatusBits
from openzone.services.e_license.models import Attachment
from tests import builders
from tests.conftest import IS_POSTGRES
from tests.services.e_license.builders import authorise, build_world, id_card_fields


def _leaves(session) -> set[bytes]:
    return {merkle.leaf_hash(bytes(body)) for body in session.scalars(select(ledger.Entry.body))}


def _entries(session, event: str) -> list[dict]:
    import json
    return [json.loads(bytes(b)) for b in session.scalars(select(ledger.Entry.body)
                                                          .where(ledger.Entry.event_type == event))]


def _at_window(session, world):
    """Have the holder authorise, show a QR code and the clerk accept it into a new application."""
    grant = authorise(session, world)
    shown = consent.present_qr(session, grant.id, holders=[world.holder_ref])
    app = service.start_application(session, clerk_person_id=world.clerk.id, matter_code="M007")
    service.accept_presentation(session, clerk_person_id=world.clerk.id, application_id=app.id,
                                token=shown.qr_payload)
    return grant, app


def test_an_issued_license_is_a_vc_that_verifies_with_the_published_key(session):
    world = build_world(session)
    lic = world.id_card
    doc = service.controller_document(session, lic.issuer_id)
    method = doc["verificationMethod"][0]
    assert method["type"] == "Multikey" and method["publicKeyMultibase"].startswith("z6Mk")
    assert lic.vc["proof"]["verificationMethod"] == method["id"]
    domain.verify_proof(lic.vc, domain.public_key_from_multikey(method["publicKeyMultibase"]))
    assert lic.vc["credentialSubject"]["id_number"] == lic.fields["id_number"]
    assert {s["statusPurpose"] for s in lic.vc["credentialStatus"]} == {"revocation", "suspension"}
    issued = [e for e in _entries(session, service.EVENT_ISSUED) if e["data"]["license"] == str(lic.id)]
    assert issued and issued[0]["digests"]["vc"] == "sha256:" + lic.vc_digest
    # The ledger entry holds a commitment to the holder, never the ID number in clear.
    assert lic.fields["id_number"] not in str(issued[0])


def test_issuing_refuses_bad_data_naming_every_field(session):
    world = build_world(session)
    item = service.LicenseInput("resident_id", "organisation", world.holder.id,
                                {**id_card_fields(world.holder), "id_number": "110101199003070000",
                                 "birth_date": "1990-02-30"}, dt.date(2020, 5, 1), dt.date(2031, 1, 1))
    with pytest.raises(service.LicenseInvalid) as exc:
        service.issue(session, issuer_org_id=world.issuer_org.id, item=item)
    fields = {e["field"] for e in exc.value.errors}
    assert {"id_number", "birth_date", "holder_kind", "valid_until_on"} <= fields


def test_an_issuer_issues_only_its_types_and_numbers_are_unique(session):
    world = build_world(session)
    item = service.LicenseInput("marriage_certificate", "person", world.holder.id, dict(world.marriage.fields),
                                dt.date(2018, 10, 1), None)
    with pytest.raises(service.TypeNotIssued):
        service.issue(session, issuer_org_id=world.issuer_org.id, item=item)
    with pytest.raises(service.LicenseExists):
        service.issue(session, issuer_org_id=world.civil_org.id, item=item)
    with pytest.raises(service.NotAnIssuer):
        service.issue(session, issuer_org_id=world.hall.id, item=item)


def test_suspend_reinstate_and_revoke_flip_the_published_bits(session):
    world = build_world(session)
    lic = world.id_card

    def bit(purpose):
        slc = service.status_list_credential(session, lic.issuer_id, purpose)
        issuer = session.get(service.Issuer, lic.issuer_id)
        domain.verify_proof(slc, domain.public_key_from_multikey(issuer.public_multikey))
        return StatusBits.decode(slc["credentialSubject"]["encodedList"]).get(lic.status_index)

    assert not bit("suspension") and not bit("revocation")
    service.change_status(session, issuer_org_id=world.issuer_org.id, license_id=lic.id, action="suspend",
                          reason="证件挂失")
    assert lic.status == "suspended" and bit("suspension")
    service.change_status(session, issuer_org_id=world.issuer_org.id, license_id=lic.id, action="reinstate",
                          reason="已找回")
    assert lic.status == "valid" and not bit("suspension")
    service.change_status(session, issuer_org_id=world.issuer_org.id, license_id=lic.id, action="revoke",
                          reason="已换领新证")
    assert lic.status == "revoked" and lic.status_reason == "已换领新证" and bit("revocation")
    with pytest.raises(service.StatusChangeInvalid):
        service.change_status(session, issuer_org_id=world.issuer_org.id, license_id=lic.id, action="reinstate",
                              reason="x")
    with pytest.raises(ValidationFailed):
        service.change_status(session, issuer_org_id=world.civil_org.id, license_id=world.marriage.id,
                              action="suspend", reason=" ")
    events = {e["data"]["license"]: e for e in _entries(session, service.EVENT_REVOKED)}
    assert events[str(lic.id)]["digests"]["vc"] == "sha256:" + lic.vc_digest


def test_another_issuer_cannot_touch_a_license(session):
    world = build_world(session)
    with pytest.raises(service.LicenseNotFound):
        service.change_status(session, issuer_org_id=world.civil_org.id, license_id=world.id_card.id,
                              action="revoke", reason="x")


def test_an_update_signs_a_new_version(session):
    world = build_world(session)
    lic = world.id_card
    old = lic.vc_digest
    service.update(session, issuer_org_id=world.issuer_org.id, license_id=lic.id,
                   fields={"address": "北京市东城区新地址3号"}, valid_until_on=None, keep_term=True)
    assert lic.version == 2 and lic.vc_digest != old
    assert lic.vc["credentialSubject"]["address"] == "北京市东城区新地址3号"
    ok, bits = service.check_credential(session, lic)
    assert ok and bits == {"revocation": False, "suspension": False}


def test_the_preview_shows_exactly_the_chosen_fields(session):
    world = build_world(session)
    line = consent.ScopeLine(service.KIND, str(world.id_card.id), ("name", "id_number"))
    items = consent.preview(session, holder=world.holder_ref, scope=[line])
    assert items[0].rows == [("证照", "居民身份证"), ("状态", "有效"), ("姓名", world.holder.name),
                             ("公民身份号码", world.id_card.fields["id_number"])]
    stranger = consent.Holder.person(uuid.uuid4())
    assert consent.preview(session, holder=stranger, scope=[line])[0].rows == [("证照", "不存在或不属于您")]


def test_the_window_flow_retrieves_exactly_the_grant_and_saves_paper(session):
    world = build_world(session)
    grant, app = _at_window(session, world)
    assert grant.requester_window == "W01" and grant.requester_clerk_id == world.clerk.id
    items = service.allowed_items(session, app)
    assert [(i.license.id, i.fields) for i in items] == [(world.id_card.id, ("name", "id_number")),
                                                          (world.marriage.id, ("number", "name", "spouse_name",
                                                                               "registered_on"))]
    desk = service.desk_of(session, world.clerk.id)
    for item in items:
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=item.license.id)
    atts = service.attachments(session, app)
    assert [a.license_id for a in atts] == [world.id_card.id, world.marriage.id]
    payload = service.attachment_payload(session, atts[0], desk.requester)
    assert payload["fields"] == {"name": world.holder.name, "id_number": world.id_card.fields["id_number"]}
    assert "address" not in payload["fields"]
    view = service.materials_view(session, app)
    assert [m.code for m in view.saved] == ["id", "mc"]
    assert [m.code for m in view.still_needed] == ["hh", "re", "form"]
    assert grant.status == "used"
    assert all(a.leaf_hash in _leaves(session) for a in atts)


def test_the_holders_history_equals_the_retrievals_on_the_ledger(session):
    world = build_world(session)
    _, app = _at_window(session, world)
    for item in service.allowed_items(session, app):
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=item.license.id)
    history, _ = service.access_history(session, [world.holder_ref])
    uses = {line.access.leaf_hash for line in history if line.access.action == "use"}
    holder_value = consent.holder_value(world.holder_ref)
    on_ledger = set()
    for body in session.scalars(select(ledger.Entry.body).where(ledger.Entry.event_type.in_(
            ["consent.grant.used", "consent.grant.refused"]))):
        import json
        entry = json.loads(bytes(body))
        commitment = entry["commitments"].get("holder")
        if entry["data"].get("kind") == service.KIND and commitment and ledger.open_commitment(
                session, commitment, holder_value):
            on_ledger.add(merkle.leaf_hash(bytes(body)))
    assert uses == on_ledger and len(uses) == 2
    line = next(x for x in history if x.access.action == "use")
    assert line.access.hall and line.access.window == "W01" and line.access.clerk_id == world.clerk.id
    assert line.matter.code == "M007" and line.org_name == world.hall.name


def test_a_clerk_cannot_act_for_another_window(session):
    world = build_world(session)
    _, app = _at_window(session, world)
    with pytest.raises(service.WrongWindow):
        service.retrieve(session, clerk_person_id=world.other_clerk.id, application_id=app.id,
                         license_id=world.id_card.id)
    other = service.desk_of(session, world.other_clerk.id)
    with pytest.raises(consent.GrantRequester):
        consent.require_grant(session, requester=other.requester, holder=world.holder_ref, resource_kind=service.KIND,
                              resource_id=str(world.id_card.id), fields=["name"], purpose=service.purpose_of("M007"),
                              grant_id=app.grant_id)
    refused = [a for a in consent.history(session, world.holder_ref) if a.outcome == "refused"]
    assert refused and refused[0].window == "W02"


def test_another_matter_is_refused_as_out_of_scope(session):
    world = build_world(session)
    grant = authorise(session, world, "M007")
    shown = consent.present_qr(session, grant.id, holders=[world.holder_ref])
    app = service.start_application(session, clerk_person_id=world.clerk.id, matter_code="M026")
    service.accept_presentation(session, clerk_person_id=world.clerk.id, application_id=app.id, token=shown.qr_payload)
    with pytest.raises(consent.GrantScope):
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=world.id_card.id)


def test_fields_and_licenses_outside_the_grant_are_refused(session):
    world = build_world(session)
    _, app = _at_window(session, world)
    with pytest.raises(consent.GrantScope):
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id,
                         license_id=world.business.id)
    assert service.attachments(session, app) == []


def test_a_used_or_revoked_grant_is_refused(session):
    world = build_world(session)
    grant, app = _at_window(session, world)
    service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=world.id_card.id)
    with pytest.raises(Conflict):
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=world.id_card.id)
    assert grant.uses == 1
    consent.revoke(session, grant.id, holders=[world.holder_ref])
    with pytest.raises(consent.GrantRevoked):
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id,
                         license_id=world.marriage.id)


def test_a_spent_grant_is_refused_as_used(session):
    world = build_world(session)
    grant, app = _at_window(session, world)
    for item in service.allowed_items(session, app):
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=item.license.id)
    desk = service.desk_of(session, world.clerk.id)
    with pytest.raises(consent.GrantUsed):
        consent.require_grant(session, requester=desk.requester, holder=world.holder_ref, resource_kind=service.KIND,
                              resource_id=str(world.id_card.id), fields=["name"], purpose=service.purpose_of("M007"),
                              grant_id=grant.id)


def test_a_revoked_license_is_shown_as_such_with_the_issuers_reason(session):
    world = build_world(session)
    _, app = _at_window(session, world)
    service.change_status(session, issuer_org_id=world.issuer_org.id, license_id=world.id_card.id, action="revoke",
                          reason="证件已作废")
    att = service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id,
                           license_id=world.id_card.id)
    assert att.license_status == "revoked" and att.status_reason == "证件已作废"
    assert att.materials == []
    assert "id" not in [m.code for m in service.materials_view(session, app).saved]


def test_copies_keep_the_grants_data_life(session):
    world = build_world(session)
    grant, app = _at_window(session, world)
    att = service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id,
                           license_id=world.id_card.id)
    copy = session.get(consent.Copy, att.copy_id)
    assert copy.delete_after - grant.created_at >= dt.timedelta(days=29)
    consent.delete_expired_copies(session, now=copy.delete_after + dt.timedelta(seconds=1))
    desk = service.desk_of(session, world.clerk.id)
    assert service.attachment_payload(session, att, desk.requester) is None


def test_only_a_clerk_of_the_hall_can_be_accredited(session):
    world = build_world(session)
    outsider = builders.create_person(session)
    with pytest.raises(service.NotAccredited):
        service.accredit_clerk(session, person_id=outsider.id, window_id=world.window.id, by_person=None)
    with pytest.raises(service.NotAccredited):
        service.start_application(session, clerk_person_id=outsider.id, matter_code="M007")


@contextmanager
def _statements(session):
    """Collect the SQL the session's connection sends meanwhile, whitespace folded."""
    statements: list[str] = []

    def listen(conn, cursor, statement, *rest):
        statements.append(" ".join(statement.split()))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def test_a_retrieval_locks_the_application_and_its_grant_in_one_read(session):
    world = build_world(session)
    grant, app = _at_window(session, world)
    session.flush()
    with _statements(session) as statements:
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=world.id_card.id)
    grant_reads = [s for s in statements if s.startswith("SELECT") and "FROM consent_grant" in s.replace(
        "JOIN consent_grant", "FROM consent_grant")]
    # The gate took the grant locked with the application: no read of its own.
    assert len(grant_reads) == 1 and "e_license_application" in grant_reads[0]
    if session.get_bind().dialect.name == "postgresql":
        assert "FOR UPDATE OF e_license_application, consent_grant" in grant_reads[0]
    assert grant.uses == 1


def test_a_retrievals_new_rows_go_in_together_and_are_all_there(session):
    world = build_world(session)
    grant, app = _at_window(session, world)
    session.flush()
    att = service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=world.id_card.id)
    with _statements(session) as statements:
        write_staged(session)
    tables = ("consent_access", "consent_copy", "e_license_attachment", "ledger_salt", "ledger_entry")
    if session.get_bind().dialect.name == "postgresql":
        # Access record, copy, attachment, the holder's salts and the ledger entries: one statement.
        assert len(statements) == 1 and all(f"INSERT INTO {t} " in statements[0] for t in tables)
    # Every row is there, and tied together as the ORM would have written them.
    found = session.execute(select(Attachment, consent.Access, consent.Copy)
                            .join(consent.Access, consent.Access.id == Attachment.access_id)
                            .join(consent.Copy, consent.Copy.id == Attachment.copy_id)
                            .where(Attachment.application_id == app.id)).one()
    # The attachment stays outside the session once written (stage(join=False)): the query loads it afresh.
    assert found[0] is not att and (found[0].id, found[0].access_id, found[0].copy_id, found[0].materials) == (
        att.id, att.access_id, att.copy_id, att.materials)
    assert found[1].grant_id == grant.id and found[2].access_id == found[1].id
    assert found[1].leaf_hash == att.leaf_hash and sorted(found[1].fields) == sorted(att.fields)
    assert session.scalar(select(Entry.seq).where(Entry.leaf_hash == att.leaf_hash)) is not None  # not yet integrated
    assert service.attachment_payload(session, att, service.desk_of(session, world.clerk.id).requester)["fields"]


def test_the_desk_names_the_hall_and_refuses_a_clerk_whose_role_was_taken_away(session):
    world = build_world(session)
    desk = service.desk_of(session, world.clerk.id)
    assert desk.hall_name == world.hall.name and desk.window.id == world.window.id
    world.hall.active = False
    session.flush()
    session.info.pop("e_license.desks", None)  # the desk is read once per transaction
    assert service.desk_of(session, world.clerk.id).hall_name == ""
    session.execute(delete(Membership).where(Membership.person_id == world.clerk.id, Membership.role == "clerk"))
    session.info.pop("e_license.desks", None)
    with pytest.raises(service.NotAccredited) as refused:
        service.desk_of(session, world.clerk.id)
    assert refused.value.detail_en == "You are no longer a clerk of this hall"
    with pytest.raises(service.NotAccredited):
        service.start_application(session, clerk_person_id=world.clerk.id, matter_code="M007")


def test_a_retrieval_reads_the_desk_itself_and_refuses_a_clerk_whose_role_was_taken_away(session):
    # As a retrieval request does: a new transaction, so the desk is not in the memo and is read with the application.
    world = build_world(session)
    _grant, app = _at_window(session, world)
    session.info.pop("e_license.desks", None)
    service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=world.id_card.id)
    desk = service.desk_of(session, world.clerk.id)  # from the memo the retrieval's read filled
    assert (desk.hall_name, desk.window.id, desk.requester.window) == (world.hall.name, world.window.id,
                                                                       world.window.code)
    session.execute(delete(Membership).where(Membership.person_id == world.clerk.id, Membership.role == "clerk"))
    session.info.pop("e_license.desks", None)
    with pytest.raises(service.NotAccredited) as refused:
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=world.id_card.id)
    assert refused.value.detail_en == "You are no longer a clerk of this hall"
    session.info.pop("e_license.desks", None)
    with pytest.raises(service.NotAccredited):  # said before "no such application", as before
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=uuid.uuid4(),
                         license_id=world.id_card.id)


@pytest.mark.skipif(not IS_POSTGRES, reason="row locks held by another connection")
def test_a_clerk_who_is_not_accredited_takes_no_lock_on_the_application(database):
    with transaction() as setup:  # committed, so that the other connections see it
        world = build_world(setup)
        _grant, app = _at_window(setup, world)
        setup.execute(delete(Membership).where(Membership.person_id == world.clerk.id, Membership.role == "clerk"))
    with new_session() as holder_of_lock, new_session() as other:
        locked = holder_of_lock.execute(text("SELECT id FROM e_license_application WHERE id = :id FOR UPDATE"),
                                        {"id": app.id}).all()
        assert len(locked) == 1
        other.execute(text("SET LOCAL lock_timeout = '2s'"))
        started = time.monotonic()
        with pytest.raises(service.NotAccredited):
            service.retrieve(other, clerk_person_id=world.clerk.id, application_id=app.id,
                             license_id=world.id_card.id)
        assert time.monotonic() - started < 1.5  # refused at once, not after waiting for the lock
        holder_of_lock.rollback()


def test_a_batch_import_is_all_or_nothing_with_a_report_per_row(session):
    world = build_world(session)
    good = {"type": "resident_id", "holder_kind": "person", "holder_id": str(world.holder.id),
            "valid_from_on": "2021-01-01", "valid_until_on": "2031-01-01", "fields": id_card_fields(world.holder)}
    bad = {**good, "holder_id": "nope", "valid_from_on": "2021-13-01"}
    dup = {**good}
    before = session.scalar(select(service.License.id).where(service.License.number == good["fields"]["id_number"]))
    assert before is None
    with pytest.raises(service.ImportInvalid) as exc, session.begin_nested():
        service.import_rows(session, issuer_org_id=world.issuer_org.id, rows=[good, bad, dup])
    report = exc.value.extensions["report"]
    assert [r["row"] for r in report] == [2, 3]
    assert {e["field"] for e in report[0]["errors"]} == {"holder_id", "valid_from_on"}
    assert session.scalar(select(service.License.id).where(service.License.number == good["fields"]["id_number"])) is None
    done = service.import_rows(session, issuer_org_id=world.issuer_org.id, rows=[good])
    assert len(done.issued) == 1


def test_statistics_count_retrievals_and_materials(session):
    world = build_world(session)
    _, app = _at_window(session, world)
    for item in service.allowed_items(session, app):
        service.retrieve(session, clerk_person_id=world.clerk.id, application_id=app.id, license_id=item.license.id)
    stats = service.statistics(session)
    assert stats.license_types >= 30 and stats.matters >= 100
    row = next(r for r in stats.per_hall if r[0] == world.hall.name)
    assert row[1:] == (2, 2)
