"""Credit use cases: record a finding, publish and end publication, repair, objections; every decision on the ledger."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import Counter

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from openzone.core import calendar, jobs, ledger
from openzone.core.credit import domain
from openzone.core.credit.domain import ObjectionOutcome, RecordClass, Status
from openzone.core.credit.models import CreditObjection, CreditRecord, CreditRepair
from openzone.core.credit.settings import get_credit_settings
from openzone.core.identity import Principal
from openzone.kit.errors import Forbidden, NotFound
from openzone.kit.time import CST, today_cst, utcnow

RECORDED = "credit.recorded"
PUBLICATION_ENDED = "credit.publication_ended"
REPAIR_APPLIED = "credit.repair_applied"
REPAIR_DECIDED = "credit.repair_decided"
OBJECTION_RECEIVED = "credit.objection_received"
OBJECTION_DECIDED = "credit.objection_decided"
END_JOB = "credit.end_publication"
DECIDERS = ("official", "supervisor")

REPAIR_COMMITMENT = ("本主体承诺：已纠正失信行为并全面履行相关义务，所提交的信用修复材料真实、准确、完整；"
                     "如违反承诺，愿意承担相应法律责任，并接受将违诺情况记入信用记录。")
REPAIR_COMMITMENT_EN = ("We commit that the breach is corrected and every obligation fully performed, that the repair "
                        "materials are true, accurate and complete, and that we accept legal liability and a credit "
                        "record if this commitment is broken.")


def current_rules_2023() -> domain.Rulebook:
    """Return the 2023 trial rulebook with its configured (recalled) periods."""
    s = get_credit_settings()
    return domain.rulebook_2023((s.rules_2023_general_repair_months, s.rules_2023_general_max_months),
                                (s.rules_2023_serious_repair_months, s.rules_2023_serious_max_months))


def rulebook_for(finding_on: dt.date, record_class: RecordClass) -> domain.Rulebook:
    """Choose the rulebook for a finding date and class."""
    return domain.rulebook_for(finding_on, record_class, rules_2023=current_rules_2023())


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _midnight_utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=CST).astimezone(dt.UTC)


def record_finding(session: Session, *, subject_name: str, source: str, record_class: RecordClass | str,
                   legal_basis: str, facts: str, finding_on: dt.date, actor_org_id: uuid.UUID | None,
                   subject_org_id: uuid.UUID | None = None, subject_person_id: uuid.UUID | None = None,
                   subject_code: str = "", reference: str = "", legal_basis_en: str = "", facts_en: str = "",
                   minor_publish_months: int = 0) -> CreditRecord:
    """Record a finding with the rulebook of its date, publish it if its class says so, and time its end."""
    if (subject_org_id is None) == (subject_person_id is None):
        raise domain.InvalidFinding("须指明一个机构或一个人", "Name exactly one organisation or one person")
    if not legal_basis.strip() or not facts.strip():
        raise domain.InvalidFinding("须写明法律依据和失信事实", "The legal basis and the facts are required",
                                    errors=[{"field": "legal_basis" if not legal_basis.strip() else "facts",
                                             "code": "required"}])
    record_class = RecordClass(record_class)
    book = rulebook_for(finding_on, record_class)
    win = domain.window(finding_on, record_class, book, minor_publish_months=minor_publish_months)
    today = today_cst()
    published = win.published and win.publish_until > today
    status = Status.PUBLISHED if published else Status.RECORDED
    if win.publish_until <= today and record_class is not RecordClass.MINOR:
        status = Status.ENDED
    record = CreditRecord(id=uuid.uuid4(), subject_org_id=subject_org_id, subject_person_id=subject_person_id,
                          subject_name=subject_name, subject_code=subject_code, source=source, reference=reference,
                          record_class=record_class.value, rulebook=book.code, legal_basis=legal_basis,
                          legal_basis_en=legal_basis_en, facts=facts, facts_en=facts_en, finding_on=finding_on,
                          decided_by_org_id=actor_org_id, published=win.published, publish_from=win.publish_from,
                          publish_until=win.publish_until, repair_from=win.repair_from, status=status.value,
                          ended_on=today if status is Status.ENDED else None, leaf_hash="")
    commitments = {}
    if subject_person_id is not None:
        commitments["subject"] = ledger.commit(session, "person_id", str(subject_person_id))
    recorded = ledger.record(session, RECORDED, actor_org_id=actor_org_id, commitments=commitments,
                             digests={"facts": _digest(facts)}, data={
                                 "record": str(record.id), "class": record_class.value, "rulebook": book.code,
                                 "source": source, "reference": reference, "legal_basis": legal_basis,
                                 "subject_org": str(subject_org_id) if subject_org_id else None,
                                 "finding_on": finding_on.isoformat(), "published": win.published,
                                 "publish_until": win.publish_until.isoformat(), "status": status.value})
    record.leaf_hash = recorded.leaf_hash.hex()
    session.add(record)
    session.flush()
    if status in domain.ACTIVE:
        jobs.enqueue(session, END_JOB, {"record": str(record.id)}, run_at=_midnight_utc(win.publish_until),
                     dedupe_key=f"credit-end-{record.id}-{win.publish_until}")
    return record


def get_record(session: Session, record_id: uuid.UUID) -> CreditRecord:
    """Return a record or raise NotFound."""
    record = session.get(CreditRecord, record_id)
    if record is None:
        raise NotFound("没有这条信用记录", "No such credit record")
    return record


def _end(session: Session, record: CreditRecord, status: Status, today: dt.date, *, actor_org_id, reason: str,
         data: dict | None = None) -> None:
    record.status = status.value
    record.ended_on = today
    ledger.record(session, PUBLICATION_ENDED, actor_org_id=actor_org_id, data={
        "record": str(record.id), "status": status.value, "reason": reason, "on": today.isoformat(), **(data or {})})


def end_due(session: Session, *, today: dt.date | None = None) -> int:
    """End every record whose maximum has been reached (publication stops automatically, §2.2); return how many."""
    today = today or today_cst()
    due = session.scalars(select(CreditRecord).where(CreditRecord.status.in_([s.value for s in domain.ACTIVE]),
                                                     CreditRecord.publish_until <= today)
                          .with_for_update()).all()
    for record in due:
        _end(session, record, Status.ENDED, today, actor_org_id=None, reason="maximum")
    session.flush()
    return len(due)


@jobs.handler(END_JOB)
def _end_publication_job(session: Session, payload: dict) -> None:
    """End one record's publication at its maximum (queued when the record was made)."""
    end_due(session)


@jobs.handler("credit.sweep", every=dt.timedelta(hours=1))
def _sweep_job(session: Session, payload: dict) -> None:
    """End any record past its maximum that a per-record job missed (e.g. a period changed by an objection)."""
    end_due(session)


def is_shown(record: CreditRecord, today: dt.date) -> bool:
    """Say whether the public page shows a record today."""
    return (record.status == Status.PUBLISHED and record.published
            and record.publish_from <= today < record.publish_until and record.subject_org_id is not None)


def published_records(session: Session, *, today: dt.date | None = None, query: str = "",
                      limit: int = 200) -> list[CreditRecord]:
    """List the records the public may see today, newest finding first; query matches name, code or basis."""
    today = today or today_cst()
    stmt = (select(CreditRecord).where(CreditRecord.status == Status.PUBLISHED, CreditRecord.published.is_(True),
                                       CreditRecord.subject_org_id.is_not(None), CreditRecord.publish_from <= today,
                                       CreditRecord.publish_until > today)
            .order_by(CreditRecord.finding_on.desc(), CreditRecord.id).limit(limit))
    if query.strip():
        like = f"%{query.strip()}%"
        stmt = stmt.where(or_(CreditRecord.subject_name.like(like), CreditRecord.subject_code == query.strip().upper(),
                              CreditRecord.legal_basis.like(like)))
    return list(session.scalars(stmt))


def records_of(session: Session, *, org_id: uuid.UUID | None = None,
               person_id: uuid.UUID | None = None) -> list[CreditRecord]:
    """List every record of an organisation or a person, newest first."""
    stmt = select(CreditRecord).order_by(CreditRecord.finding_on.desc(), CreditRecord.created_at.desc())
    stmt = stmt.where(CreditRecord.subject_org_id == org_id) if org_id else stmt.where(
        CreditRecord.subject_person_id == person_id)
    return list(session.scalars(stmt))


def active_records(session: Session, *, org_id: uuid.UUID | None = None, person_id: uuid.UUID | None = None,
                   classes: tuple[RecordClass, ...] = tuple(RecordClass), source: str | None = None,
                   today: dt.date | None = None) -> list[CreditRecord]:
    """List a subject's records still kept or published (not ended, repaired or withdrawn)."""
    today = today or today_cst()
    stmt = select(CreditRecord).where(CreditRecord.status.in_([s.value for s in domain.ACTIVE]),
                                      CreditRecord.publish_until > today,
                                      CreditRecord.record_class.in_([c.value for c in classes]))
    stmt = stmt.where(CreditRecord.subject_org_id == org_id) if org_id else stmt.where(
        CreditRecord.subject_person_id == person_id)
    if source:
        stmt = stmt.where(CreditRecord.source == source)
    return list(session.scalars(stmt))


def standing_of(session: Session, org_id: uuid.UUID, *, today: dt.date | None = None) -> domain.Standing:
    """Grade an organisation by its active records, for risk-weighted spot checks."""
    return domain.standing([RecordClass(r.record_class) for r in active_records(session, org_id=org_id, today=today)])


def standings(session: Session, org_ids: list[uuid.UUID], *, today: dt.date | None = None
              ) -> dict[uuid.UUID, domain.Standing]:
    """Grade many organisations in one query."""
    today = today or today_cst()
    rows = session.execute(select(CreditRecord.subject_org_id, CreditRecord.record_class).where(
        CreditRecord.subject_org_id.in_(org_ids), CreditRecord.status.in_([s.value for s in domain.ACTIVE]),
        CreditRecord.publish_until > today)).all()
    classes: dict[uuid.UUID, list[RecordClass]] = {o: [] for o in org_ids}
    for org, cls in rows:
        classes[org].append(RecordClass(cls))
    return {o: domain.standing(c) for o, c in classes.items()}


def _pending_repair(session: Session, record_id: uuid.UUID) -> CreditRepair | None:
    return session.scalar(select(CreditRepair).where(CreditRepair.record_id == record_id,
                                                     CreditRepair.outcome.is_(None)))


def apply_repair(session: Session, *, record_id: uuid.UUID, applicant_org_id: uuid.UUID | None,
                 obligations_fulfilled: bool, commitment_signed: bool, statement: str = "",
                 today: dt.date | None = None) -> CreditRepair:
    """Receive a repair application once the minimum period has passed and the conditions of §2.2 hold."""
    today = today or today_cst()
    record = get_record(session, record_id)
    if record.status not in domain.ACTIVE:
        raise domain.RecordNotActive()
    if _pending_repair(session, record.id):
        raise domain.AlreadyPending("这条记录已有一件待决定的修复申请", "A repair application for this record is pending")
    failed = domain.repair_failures(today=today, repair_from=record.repair_from,
                                    obligations_fulfilled=obligations_fulfilled, commitment_signed=commitment_signed)
    if "minimum" in failed:
        raise domain.RepairTooEarly(f"最短公示期至 {record.repair_from} 届满，届时方可申请",
                                    f"The minimum period ends on {record.repair_from}; apply from then",
                                    repair_from=record.repair_from.isoformat())
    if failed:
        labels = {code: (zh, en) for code, zh, en in domain.REPAIR_CONDITIONS}
        raise domain.RepairConditionsUnmet("；".join(labels[c][0] for c in failed),
                                           "; ".join(labels[c][1] for c in failed),
                                           errors=[{"field": c, "code": "unmet"} for c in failed])
    due = calendar.add_working_days(session, today, get_credit_settings().repair_working_days).day
    repair = CreditRepair(record_id=record.id, applicant_org_id=applicant_org_id, statement=statement,
                          commitment_text=REPAIR_COMMITMENT, received_on=today, due_on=due)
    session.add(repair)
    session.flush()
    ledger.record(session, REPAIR_APPLIED, actor_org_id=applicant_org_id,
                  digests={"commitment": _digest(REPAIR_COMMITMENT), "statement": _digest(statement)},
                  data={"record": str(record.id), "repair": str(repair.id), "due_on": due.isoformat()})
    return repair


def decide_repair(session: Session, *, repair_id: uuid.UUID, granted: bool, reason: str,
                  actor_org_id: uuid.UUID | None, today: dt.date | None = None) -> CreditRepair:
    """Grant a repair (publication ends early, 终止公示) or refuse it with reasons."""
    today = today or today_cst()
    repair = session.get(CreditRepair, repair_id)
    if repair is None:
        raise NotFound("没有这件修复申请", "No such repair application")
    if repair.outcome is not None:
        raise domain.AlreadyDecided()
    record = get_record(session, repair.record_id)
    repair.outcome = "granted" if granted else "refused"
    repair.reason = reason
    repair.decided_at = utcnow()
    ledger.record(session, REPAIR_DECIDED, actor_org_id=actor_org_id, digests={"reason": _digest(reason)}, data={
        "record": str(record.id), "repair": str(repair.id), "outcome": repair.outcome,
        "on_time": today <= repair.due_on})
    if granted and record.status in domain.ACTIVE:
        _end(session, record, Status.REPAIRED, today, actor_org_id=actor_org_id, reason="repaired",
             data={"repair": str(repair.id)})
    session.flush()
    return repair


def object_to(session: Session, *, record_id: uuid.UUID, applicant_org_id: uuid.UUID | None, grounds: str,
              today: dt.date | None = None) -> CreditObjection:
    """Receive an objection: mark the record disputed and set the decision date (征信业管理条例 art. 25)."""
    today = today or today_cst()
    record = get_record(session, record_id)
    if not grounds.strip():
        raise domain.InvalidFinding("请写明异议理由", "Give the grounds of the objection",
                                    errors=[{"field": "grounds", "code": "required"}])
    if record.status == Status.WITHDRAWN:
        raise domain.RecordNotActive()
    if session.scalar(select(CreditObjection.id).where(CreditObjection.record_id == record.id,
                                                       CreditObjection.outcome.is_(None))):
        raise domain.AlreadyPending("这条记录已有一件待处理的异议", "An objection to this record is pending")
    due = today + dt.timedelta(days=get_credit_settings().objection_days)
    objection = CreditObjection(record_id=record.id, applicant_org_id=applicant_org_id, grounds=grounds,
                                received_on=today, due_on=due)
    record.disputed = True
    session.add(objection)
    session.flush()
    ledger.record(session, OBJECTION_RECEIVED, actor_org_id=applicant_org_id, digests={"grounds": _digest(grounds)},
                  data={"record": str(record.id), "objection": str(objection.id), "due_on": due.isoformat()})
    return objection


def decide_objection(session: Session, *, objection_id: uuid.UUID, outcome: ObjectionOutcome | str, reason: str,
                     actor_org_id: uuid.UUID | None, new_class: RecordClass | str | None = None,
                     new_legal_basis: str | None = None, today: dt.date | None = None) -> CreditObjection:
    """Decide an objection: correct the record (class or basis, window recomputed), remove it, or confirm it."""
    today = today or today_cst()
    objection = session.get(CreditObjection, objection_id)
    if objection is None:
        raise NotFound("没有这件异议", "No such objection")
    if objection.outcome is not None:
        raise domain.AlreadyDecided()
    outcome = ObjectionOutcome(outcome)
    record = get_record(session, objection.record_id)
    data: dict = {"record": str(record.id), "objection": str(objection.id), "outcome": outcome.value,
                  "on_time": today <= objection.due_on}
    if outcome is ObjectionOutcome.CORRECTED:
        if new_class is None and not new_legal_basis:
            raise domain.InvalidFinding("更正须给出新的类别或法律依据", "A correction needs a new class or legal basis",
                                        errors=[{"field": "new_class", "code": "required"}])
        if new_legal_basis:
            record.legal_basis = new_legal_basis
            data["legal_basis"] = new_legal_basis
        if new_class is not None:
            cls = RecordClass(new_class)
            book = rulebook_for(record.finding_on, cls)
            win = domain.window(record.finding_on, cls, book)
            record.record_class, record.rulebook = cls.value, book.code
            record.published, record.publish_until, record.repair_from = win.published, win.publish_until, win.repair_from
            if record.status in domain.ACTIVE:
                record.status = (Status.PUBLISHED if win.published else Status.RECORDED).value
            data.update({"class": cls.value, "publish_until": win.publish_until.isoformat()})
    objection.outcome = outcome.value
    objection.reason = reason
    objection.decided_at = utcnow()
    record.disputed = False
    ledger.record(session, OBJECTION_DECIDED, actor_org_id=actor_org_id, digests={"reason": _digest(reason)}, data=data)
    if outcome is ObjectionOutcome.WITHDRAWN and record.status != Status.WITHDRAWN:
        _end(session, record, Status.WITHDRAWN, today, actor_org_id=actor_org_id, reason="objection",
             data={"objection": str(objection.id)})
    session.flush()
    end_due(session, today=today)
    return objection


def pending_repairs(session: Session) -> list[tuple[CreditRepair, CreditRecord]]:
    """List undecided repair applications with their records, earliest deadline first."""
    rows = session.execute(select(CreditRepair, CreditRecord).join(CreditRecord, CreditRecord.id == CreditRepair.record_id)
                           .where(CreditRepair.outcome.is_(None)).order_by(CreditRepair.due_on)).all()
    return [(a, b) for a, b in rows]


def pending_objections(session: Session) -> list[tuple[CreditObjection, CreditRecord]]:
    """List undecided objections with their records, earliest deadline first."""
    rows = session.execute(select(CreditObjection, CreditRecord)
                           .join(CreditRecord, CreditRecord.id == CreditObjection.record_id)
                           .where(CreditObjection.outcome.is_(None)).order_by(CreditObjection.due_on)).all()
    return [(a, b) for a, b in rows]


def repairs_of(session: Session, record_id: uuid.UUID) -> list[CreditRepair]:
    """List a record's repair applications, oldest first."""
    return list(session.scalars(select(CreditRepair).where(CreditRepair.record_id == record_id)
                                .order_by(CreditRepair.created_at)))


def objections_of(session: Session, record_id: uuid.UUID) -> list[CreditObjection]:
    """List a record's objections, oldest first."""
    return list(session.scalars(select(CreditObjection).where(CreditObjection.record_id == record_id)
                                .order_by(CreditObjection.created_at)))


def statistics(session: Session, *, source: str | None = None) -> dict[str, Counter]:
    """Count records by class and status, and repairs by outcome, optionally for one source."""
    stmt = select(CreditRecord.record_class, CreditRecord.status)
    rstmt = select(CreditRepair.outcome).join(CreditRecord, CreditRecord.id == CreditRepair.record_id)
    if source:
        stmt = stmt.where(CreditRecord.source == source)
        rstmt = rstmt.where(CreditRecord.source == source)
    rows = session.execute(stmt).all()
    return {"by_class": Counter(c for c, _ in rows), "by_status": Counter(s for _, s in rows),
            "repairs": Counter(o or "pending" for (o,) in session.execute(rstmt).all())}


def subject_record(session: Session, principal: Principal, record_id: uuid.UUID) -> CreditRecord:
    """Return a record its subject organisation's people may act on; others get NotFound (no leak)."""
    record = session.get(CreditRecord, record_id)
    orgs = principal.orgs_with("org_admin", "staff") if not principal.is_token else {principal.token_org_id}
    if record is None or record.subject_org_id not in orgs:
        raise NotFound("没有这条信用记录", "No such credit record")
    return record


def decider_org(principal: Principal) -> uuid.UUID:
    """Return the organisation in which the principal decides credit matters."""
    orgs = principal.orgs_with(*DECIDERS)
    if not orgs:
        raise Forbidden()
    return sorted(orgs)[0]
