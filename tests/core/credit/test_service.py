"""Credit use cases on a real database: recording, publication, automatic end, repair, objections, the ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from openzone.core import calendar, credit, ledger
from openzone.core.credit.models import CreditRecord
from openzone.core.jobs.models import Job
from tests import builders

FOUND = dt.date(2026, 5, 11)


def _record(session, org, cls="general", found=FOUND, **kw):
    return credit.record_finding(session, subject_org_id=org.id, subject_name=org.name, subject_code=org.uscc or "",
                                 source="test", reference="case-1", record_class=cls,
                                 legal_basis="旅行社条例第四十八条", facts="未按期缴存质量保证金", finding_on=found,
                                 actor_org_id=None, **kw)


def test_a_general_record_is_published_with_its_window_a_ledger_entry_and_a_timed_end(session):
    org = builders.create_org(session)
    record = _record(session, org)
    assert (record.status, record.published) == ("published", True)
    assert (record.repair_from, record.publish_until) == (dt.date(2026, 8, 11), dt.date(2027, 5, 11))
    entry = session.scalar(select(ledger.Entry).where(ledger.Entry.event_type == "credit.recorded").order_by(
        ledger.Entry.seq.desc()).limit(1))
    assert str(record.id).encode() in entry.body and org.name.encode() not in entry.body
    job = session.scalar(select(Job).where(Job.kind == "credit.end_publication", Job.dedupe_key.like(f"%{record.id}%")))
    assert job is not None
    assert record in credit.published_records(session, today=dt.date(2026, 12, 1))
    assert credit.standing_of(session, org.id, today=dt.date(2026, 12, 1)) is credit.Standing.WATCH


def test_a_minor_record_is_kept_but_not_published(session):
    org = builders.create_org(session)
    record = _record(session, org, cls="minor")
    assert record.status == "recorded"
    assert record not in credit.published_records(session, today=dt.date(2026, 6, 1))


def test_a_person_record_keeps_the_person_out_of_the_ledger_and_off_the_public_page(session):
    person = builders.create_person(session)
    record = credit.record_finding(session, subject_person_id=person.id, subject_name="张**", source="test",
                                   record_class="serious", legal_basis="旅行社条例第六十四条", facts="吊销许可",
                                   finding_on=FOUND, actor_org_id=None)
    assert record not in credit.published_records(session, today=dt.date(2026, 12, 1))
    assert credit.active_records(session, person_id=person.id, today=dt.date(2026, 12, 1)) == [record]
    entry = session.scalar(select(ledger.Entry).where(ledger.Entry.event_type == "credit.recorded").order_by(
        ledger.Entry.seq.desc()).limit(1))
    assert str(person.id).encode() not in entry.body and b'"subject":"c1:' in entry.body


def test_publication_ends_automatically_at_the_maximum(session):
    org = builders.create_org(session)
    record = _record(session, org)
    credit.end_due(session, today=dt.date(2027, 5, 10))
    assert record.status == "published"
    assert credit.end_due(session, today=dt.date(2027, 5, 11)) >= 1
    assert record.status == "ended" and record.ended_on == dt.date(2027, 5, 11)
    assert record not in credit.published_records(session, today=dt.date(2027, 5, 11))


def test_repair_is_refused_before_the_minimum_and_without_the_conditions(session):
    org = builders.create_org(session)
    record = _record(session, org)
    with pytest.raises(credit.RepairTooEarly):
        credit.apply_repair(session, record_id=record.id, applicant_org_id=org.id, obligations_fulfilled=True,
                            commitment_signed=True, today=dt.date(2026, 8, 10))
    with pytest.raises(credit.RepairConditionsUnmet) as err:
        credit.apply_repair(session, record_id=record.id, applicant_org_id=org.id, obligations_fulfilled=False,
                            commitment_signed=True, today=dt.date(2026, 8, 11))
    assert err.value.errors == [{"field": "obligations", "code": "unmet"}]


def test_granted_repair_ends_publication_early_and_is_decided_within_10_working_days(session):
    org = builders.create_org(session)
    record = _record(session, org)
    repair = credit.apply_repair(session, record_id=record.id, applicant_org_id=org.id, obligations_fulfilled=True,
                                 commitment_signed=True, today=dt.date(2026, 9, 24))
    # 2026 National Day: 09-25..27 and 10-01..07 off, 09-20 and 10-10 (Saturday) worked (domain-rules.md §3).
    assert repair.due_on == dt.date(2026, 10, 15)  # 09-28..30, 10-08, 10-09, Sat 10-10, 10-12..15
    with pytest.raises(credit.AlreadyPending):
        credit.apply_repair(session, record_id=record.id, applicant_org_id=org.id, obligations_fulfilled=True,
                            commitment_signed=True, today=dt.date(2026, 9, 24))
    credit.decide_repair(session, repair_id=repair.id, granted=True, reason="已履行", actor_org_id=None,
                         today=dt.date(2026, 10, 9))
    assert record.status == "repaired" and record.ended_on == dt.date(2026, 10, 9)
    assert record not in credit.published_records(session, today=dt.date(2026, 10, 9))
    with pytest.raises(credit.AlreadyDecided):
        credit.decide_repair(session, repair_id=repair.id, granted=False, reason="x", actor_org_id=None)


def test_ten_working_days_across_the_2024_national_day_on_the_real_calendar(session):
    # 2024: 10-01..07 off; Sunday 09-29 and Saturday 10-12 worked.
    assert calendar.add_working_days(session, dt.date(2024, 9, 27), 10).day == dt.date(2024, 10, 16)


def test_a_repair_deadline_in_a_year_without_a_calendar_is_a_clear_error(session):
    org = builders.create_org(session)
    record = _record(session, org, found=dt.date(2026, 4, 1))
    with pytest.raises(calendar.CalendarDataMissing) as err:
        credit.apply_repair(session, record_id=record.id, applicant_org_id=org.id, obligations_fulfilled=True,
                            commitment_signed=True, today=dt.date(2026, 12, 28))
    assert err.value.extensions["year"] == 2027
    assert credit.repairs_of(session, record.id) == []


def test_an_objection_marks_the_record_disputed_until_confirmed(session):
    org = builders.create_org(session)
    record = _record(session, org)
    objection = credit.object_to(session, record_id=record.id, applicant_org_id=org.id, grounds="已按期缴存",
                                 today=dt.date(2026, 6, 1))
    assert record.disputed and objection.due_on == dt.date(2026, 6, 21)
    credit.decide_objection(session, objection_id=objection.id, outcome="confirmed", reason="核实无误",
                            actor_org_id=None, today=dt.date(2026, 6, 10))
    assert not record.disputed and record.status == "published"


def test_a_corrected_objection_recomputes_the_window_and_a_withdrawn_one_removes_the_record(session):
    org = builders.create_org(session)
    record = _record(session, org, cls="serious")
    objection = credit.object_to(session, record_id=record.id, applicant_org_id=org.id, grounds="定级过重",
                                 today=dt.date(2026, 6, 1))
    credit.decide_objection(session, objection_id=objection.id, outcome="corrected", reason="改为一般",
                            new_class="general", actor_org_id=None, today=dt.date(2026, 6, 2))
    assert (record.record_class, record.publish_until, record.repair_from) == (
        "general", dt.date(2027, 5, 11), dt.date(2026, 8, 11))
    second = credit.object_to(session, record_id=record.id, applicant_org_id=org.id, grounds="主体错误",
                              today=dt.date(2026, 6, 3))
    credit.decide_objection(session, objection_id=second.id, outcome="withdrawn", reason="认定主体有误",
                            actor_org_id=None, today=dt.date(2026, 6, 4))
    assert record.status == "withdrawn"
    assert session.get(CreditRecord, record.id) not in credit.published_records(session, today=dt.date(2026, 6, 4))
