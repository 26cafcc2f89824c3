"""Travel-licensing use cases on a real database: routes, automatic approval, deadlines, obligations, sanctions."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from openzone.core import calendar, credit, ledger
from openzone.core.notify.models import Message
from openzone.kit.errors import ValidationFailed
from openzone.kit.time import CST
from openzone.services.travel_licensing import service
from tests import builders
from tests.services.travel_licensing.builders import create_application, create_firm, create_officers


def at(y, m, d, hh=10, mm=0):
    """Return an aware instant in China time."""
    return dt.datetime(y, m, d, hh, mm, tzinfo=CST)


def _commit_and_submit(session, app, now):
    service.choose_route(session, application=app, route="commitment")
    service.sign(session, application=app, read_notice=True, commit=True)
    return service.submit(session, application=app, now=now)


def test_a_firm_meeting_every_check_is_approved_automatically_with_a_licence_and_timers(session):
    _, _clerk, inspectors = create_officers(session)
    app = create_application(session)
    _commit_and_submit(session, app, at(2026, 6, 2))
    assert app.status == "approved" and app.automatic
    licence = service.licence_of(session, app.id)
    assert licence.number.startswith("L-BJ-2026-") and licence.issued_on == dt.date(2026, 6, 2)
    [deposit] = service.obligations_of(session, licence.id)
    assert (deposit.kind, deposit.amount_fen, deposit.due_on) == ("deposit", 20_000_000, dt.date(2026, 6, 5))
    [verification] = service.inspections_of(session, licence.id)
    assert verification.kind == "verification" and verification.due_on == dt.date(2026, 9, 2)
    assert verification.inspector_ids[0] in {str(p.id) for p in inspectors}
    entry = session.scalar(select(ledger.Entry).where(ledger.Entry.event_type == service.APPROVED)
                           .order_by(ledger.Entry.seq.desc()).limit(1))
    assert licence.number.encode() in entry.body and b"\xe5\xbc\xa0\xe6\xb5\x8b\xe8\xaf\x95" not in entry.body
    assert app.notice_sha256 and app.commitment_sha256


def test_the_friday_before_the_2024_national_day(session):
    create_officers(session)
    app = create_application(session)
    _commit_and_submit(session, app, at(2024, 9, 27, 10, 0))
    # Half a working day from Friday 10:00 is Friday 14:30 (one office session, core/calendar).
    assert app.decision_due_at == at(2024, 9, 27, 14, 30)
    licence = service.licence_of(session, app.id)
    [deposit] = service.obligations_of(session, licence.id)
    # 3 working days: Sunday 09-29 (make-up day), Monday 09-30, then 10-01..07 off, so Tuesday 10-08.
    assert deposit.due_on == dt.date(2024, 10, 8)
    # Verification within 3 months: 2024-12-27 is a Friday, a working day.
    assert service.inspections_of(session, licence.id)[0].due_on == dt.date(2024, 12, 27)


def test_a_licence_whose_deadlines_fall_in_a_year_without_a_calendar_is_a_clear_error(session):
    create_officers(session)
    app = create_application(session)
    with pytest.raises(calendar.CalendarDataMissing) as err:
        _commit_and_submit(session, app, at(2026, 12, 30, 10, 0))
    assert err.value.extensions["year"] == 2027


def test_an_ineligible_applicant_cannot_take_the_commitment_route_but_may_use_the_ordinary_one(session):
    _, clerk, _ = create_officers(session)
    app = create_application(session, capital={"capital_yuan": "200000"})
    with pytest.raises(service.CommitmentRouteClosed) as err:
        service.choose_route(session, application=app, route="commitment")
    assert err.value.errors[0]["code"] == "capital"
    service.choose_route(session, application=app, route="ordinary")
    service.submit(session, application=app, now=at(2026, 6, 1, 9, 30))
    assert app.status == "queued" and app.responsible_person_id is not None
    # 20 working days from Monday 2026-06-01, past the Dragon Boat holiday (06-19 Friday off): 2026-06-30, 17:30.
    assert app.decision_due_at == at(2026, 6, 30, 17, 30)
    assert app in service.queue(session)
    with pytest.raises(service.ConditionsNotMet):
        service.approve(session, application=app, actor_person_id=clerk.id, actor_org_id=clerk.id)
    service.refuse(session, application=app, reason="注册资本不足30万元", actor_person_id=clerk.id, actor_org_id=clerk.id)
    assert app.status == "refused"


def test_a_serious_credit_record_closes_the_commitment_route(session):
    org, person = create_firm(session)
    credit.record_finding(session, subject_org_id=org.id, subject_name=org.name, source="other", record_class="serious",
                          legal_basis="某法第一条", facts="严重失信", finding_on=dt.date(2026, 5, 1), actor_org_id=None)
    app = create_application(session, org, person)
    with pytest.raises(service.CommitmentRouteClosed) as err:
        service.choose_route(session, application=app, route="commitment")
    assert [e["code"] for e in err.value.errors] == ["serious_record"]


def test_only_assigned_inspectors_record_and_a_breach_feeds_credit(session):
    agency, _, inspectors = create_officers(session, inspectors=1)
    app = create_application(session)
    _commit_and_submit(session, app, at(2026, 6, 2))
    licence = service.licence_of(session, app.id)
    [inspection] = service.inspections_of(session, licence.id)
    outsider = create_officers(session, inspectors=1)[2][0]
    with pytest.raises(service.NotInspector):
        service.record_inspection(session, inspection=inspection, person_id=outsider.id, actor_org_id=agency.id,
                                  result="pass")
    service.record_inspection(session, inspection=inspection, person_id=inspectors[0].id, actor_org_id=agency.id,
                              result="breach", breach_kind="commitment_unmet", record_class="general",
                              today=dt.date(2026, 7, 1))
    [breach] = service.breaches_of(session, licence.id)
    record = credit.get_record(session, breach.credit_record_id)
    assert (record.record_class, record.published, record.legal_basis) == ("general", True, "国办发〔2020〕42号")
    assert credit.standing_of(session, app.org_id, today=dt.date(2026, 7, 2)) is credit.Standing.WATCH
    assert licence.status == "valid"


def test_a_spot_check_draw_is_recorded_and_reproducible(session):
    create_officers(session, inspectors=3)
    for _ in range(3):
        _commit_and_submit(session, create_application(session), at(2026, 6, 2))
    row = service.spot_check(session, seed=20260602, count=2, actor_person_id=None, actor_org_id=None,
                             today=dt.date(2026, 6, 3))
    assert len(row.selections) == 2 and service.redo_draw(row) == row.selections
    assert all(len(s["inspectors"]) == 2 for s in row.selections)


def test_the_full_lifecycle(session):
    """Apply → approve → deposit late → flagged and notified → rectify or revoke → publication → repair → end."""
    agency, clerk, _ = create_officers(session)
    org, person = create_firm(session)
    app = create_application(session, org, person)
    _commit_and_submit(session, app, at(2024, 9, 27, 10, 0))
    licence = service.licence_of(session, app.id)
    [deposit] = service.obligations_of(session, licence.id)
    assert service.sweep(session, today=dt.date(2024, 10, 8)) == 0
    # Late: on 10-09 the sweep flags it and tells the firm and the responsible clerk, in the inbox and by SMS.
    assert service.sweep(session, today=dt.date(2024, 10, 9)) >= 1
    assert (deposit.status, deposit.level) == ("overdue", 1)
    sent = session.execute(select(Message.person_id, Message.channel).where(
        Message.dedupe_key.like(f"travel-overdue-{deposit.id}-1-%"))).all()
    assert {(person.id, "inbox"), (person.id, "sms"), (clerk.id, "inbox"), (clerk.id, "sms")} <= set(sent)
    service.order_rectification(session, obligation=deposit, actor_org_id=agency.id, today=dt.date(2024, 10, 9))
    assert deposit.rectify_due_on == dt.date(2024, 10, 15)  # 5 working days: 10-10, 10-11, Sat 10-12, 10-14, 10-15
    service.sweep(session, today=dt.date(2024, 10, 16))
    assert deposit.level == 3
    # Not rectified: revocation under art. 48, published as serious, and the legal representative barred.
    service.apply_breach(session, licence=licence, kind="deposit_not_rectified", found_on=dt.date(2024, 10, 18),
                         actor_org_id=agency.id)
    assert licence.status == "revoked" and deposit.status == "closed"
    [breach] = service.breaches_of(session, licence.id)
    record = credit.get_record(session, breach.credit_record_id)
    assert record in credit.published_records(session, today=dt.date(2025, 1, 1))
    assert record.publish_until == dt.date(2027, 10, 18)
    again = create_application(session, org, person, legal_rep={"legal_rep_name": "张测试",
                                                                "legal_rep_id": service._legal_rep_id(app)})
    result = service.eligibility(session, again, today=dt.date(2025, 1, 1))
    assert {f.code for f in result.bars} == {"bar_head", "bar_work"} and not result.commitment_open
    # Repair after the minimum year (2023 trial rulebook, recalled periods), decided in 10 working days.
    with pytest.raises(credit.RepairTooEarly):
        credit.apply_repair(session, record_id=record.id, applicant_org_id=org.id, obligations_fulfilled=True,
                            commitment_signed=True, today=dt.date(2025, 10, 17))
    repair = credit.apply_repair(session, record_id=record.id, applicant_org_id=org.id, obligations_fulfilled=True,
                                 commitment_signed=True, today=dt.date(2025, 10, 20))
    credit.decide_repair(session, repair_id=repair.id, granted=True, reason="已履行", actor_org_id=agency.id,
                         today=dt.date(2025, 10, 28))
    assert record.status == "repaired"
    assert record not in credit.published_records(session, today=dt.date(2025, 10, 28))
    events = {e for (e,) in session.execute(select(ledger.Entry.event_type).where(ledger.Entry.event_type.in_([
        service.APPROVED, service.OBLIGATION_OVERDUE, service.RECTIFY_ORDERED, service.BREACH, service.REVOKED,
        "credit.recorded", "credit.repair_decided", "credit.publication_ended"])))}
    assert len(events) == 8


def test_a_rectified_late_deposit_is_recorded_but_not_published(session):
    agency, _, _ = create_officers(session)
    app = create_application(session)
    _commit_and_submit(session, app, at(2026, 6, 2))
    licence = service.licence_of(session, app.id)
    [deposit] = service.obligations_of(session, licence.id)
    service.sweep(session, today=dt.date(2026, 6, 8))
    service.order_rectification(session, obligation=deposit, actor_org_id=agency.id, today=dt.date(2026, 6, 8))
    service.record_deposit(session, obligation=deposit, method="guarantee", bank="示范银行", amount_fen=20_000_000,
                           paid_on=dt.date(2026, 6, 10), evidence_name="担保函.pdf", evidence=b"%PDF-1.4",
                           today=dt.date(2026, 6, 10))
    assert deposit.status == "met" and deposit.on_time is False
    [breach] = service.breaches_of(session, licence.id)
    assert (breach.record_class, breach.consequence) == ("minor", "record")
    assert licence.status == "valid"
    stats = service.statistics(session)
    assert stats["by_route"]["commitment"] >= 1 and stats["breaches"]["minor"] >= 1


def test_a_verification_limit_in_an_unimported_year_keeps_the_bare_limit_until_the_year_arrives(session):
    create_officers(session)
    app = create_application(session)
    _commit_and_submit(session, app, at(2026, 11, 27, 10, 0))
    licence = service.licence_of(session, app.id)
    [inspection] = service.inspections_of(session, licence.id)
    assert (inspection.due_on, inspection.due_adjusted) == (dt.date(2027, 2, 27), False)
    [deposit] = service.obligations_of(session, licence.id)
    assert deposit.due_on == dt.date(2026, 12, 2)


def test_a_branch_and_a_top_up_run_on_working_day_timers_and_go_on_the_ledger(session):
    agency, _, _ = create_officers(session)
    app = create_application(session)
    _commit_and_submit(session, app, at(2024, 9, 27, 10, 0))
    licence = service.licence_of(session, app.id)
    # Art. 14: RMB 50,000 per branch, 3 working days by default: 09-29 (a Sunday worked), 09-30, then 10-08.
    branch = service.add_branch(session, licence=licence, today=dt.date(2024, 9, 27))
    assert (branch.kind, branch.amount_fen, branch.due_on) == ("branch_deposit", 50_000 * 100, dt.date(2024, 10, 8))
    # Art. 18: a top-up within 5 working days of the notice: 10-10, 10-11, Sat 10-12 (worked), 10-14, 10-15.
    top_up = service.order_top_up(session, licence=licence, amount_fen=30_000 * 100, actor_org_id=agency.id,
                                  today=dt.date(2024, 10, 9))
    assert (top_up.kind, top_up.due_on) == ("top_up", dt.date(2024, 10, 15))
    service.record_deposit(session, obligation=branch, method="deposit", bank="示范银行", amount_fen=50_000 * 100,
                           paid_on=dt.date(2024, 10, 8), evidence_name="回单.pdf", evidence=b"%PDF",
                           today=dt.date(2024, 10, 8))
    assert branch.status == "met" and branch.on_time
    service.sweep(session, today=dt.date(2024, 10, 16))
    assert top_up.status == "overdue"
    rows = session.execute(select(ledger.Entry.event_type, ledger.Entry.body).where(ledger.Entry.event_type.in_([
        service.BRANCH_ADDED, service.TOP_UP_ORDERED]))).all()
    ours = sorted(e for e, b in rows if str(branch.id).encode() in b or str(top_up.id).encode() in b)
    assert ours == [service.BRANCH_ADDED, service.TOP_UP_ORDERED]


def test_no_branch_or_top_up_on_a_revoked_licence_and_no_empty_top_up(session):
    agency, _, _ = create_officers(session)
    app = create_application(session)
    _commit_and_submit(session, app, at(2024, 9, 27, 10, 0))
    licence = service.licence_of(session, app.id)
    with pytest.raises(service.ValidationFailed):
        service.order_top_up(session, licence=licence, amount_fen=0, actor_org_id=agency.id, today=dt.date(2024, 10, 9))
    service.apply_breach(session, licence=licence, kind="deposit_not_rectified", found_on=dt.date(2024, 10, 18),
                         actor_org_id=agency.id)
    with pytest.raises(service.WrongState):
        service.add_branch(session, licence=licence, today=dt.date(2024, 10, 21))
    with pytest.raises(service.WrongState):
        service.order_top_up(session, licence=licence, amount_fen=100, actor_org_id=agency.id,
                             today=dt.date(2024, 10, 21))


def test_the_draft_is_pre_filled_with_the_firms_registered_name_and_code_and_only_that_code_is_taken(session):
    org, person = create_firm(session)
    app = service.start_application(session, org_id=org.id, person_id=person.id)
    assert (app.answers["name"], app.answers["uscc"]) == (org.name, org.uscc)
    other = builders.create_org(session, kind="enterprise")
    with pytest.raises(ValidationFailed) as refused:
        service.save_step(session, application=app, step="enterprise", form={"name": org.name, "uscc": other.uscc})
    assert refused.value.errors[0]["field"] == "uscc" and org.uscc in refused.value.detail
    service.save_step(session, application=app, step="enterprise", form={"name": org.name, "uscc": org.uscc.lower()})
    assert app.answers["uscc"] == org.uscc
