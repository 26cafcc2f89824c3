"""The 3+X joint drafting workflow on a real database: stages, deadlines, ledger entries, notifications, access."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from openzone.core import ledger, notify
from openzone.kit.errors import Conflict, Forbidden, ValidationFailed
from openzone.services.standards import domain, service, workflow
from openzone.services.standards.domain import StageConflict
from tests.builders import create_org, create_person
from tests.services.standards.builders import create_standard

D = dt.date


def _actors(session, regulators):
    return {region: workflow.actor_for(session, person.id) for region, (person, _) in regulators.items()}


def _draft(session, actors, **kw):
    values = {"title_zh": "京津冀冷链物流温控技术规范（示例草案）", "scope": "规定冷链物流运输和仓储的温度控制要求。"}
    values.update(kw)
    return workflow.propose(session, actor=actors["11"], today=D(2026, 3, 2), **values)


def _sequence(session):
    while True:
        seq = random.randint(3100, 3999)
        if all(service.find_by_number(session, f"DB{r}/T {seq}-2026") is None for r in (11, 12, 13)):
            return seq


def test_a_joint_draft_goes_from_proposal_to_feedback(session, regulators):
    actors = _actors(session, regulators)
    assert actors["12"].is_regulator and actors["12"].region == "12"
    entries_before = session.scalar(select(func.count()).select_from(ledger.Entry)) or 0
    draft = _draft(session, actors)
    assert draft.stage == "joint_approval"
    # 20 working days after Monday 2 March 2026 (no holidays in between): Monday 30 March.
    assert draft.due_on == D(2026, 3, 30)
    for region in ("11", "12", "13"):
        workflow.decide(session, actor=actors[region], draft_id=draft.id, decision="approve", today=D(2026, 3, 10))
    assert draft.stage == "drafting"
    firm = create_org(session, kind="enterprise")
    workflow.add_participant(session, actor=actors["12"], draft_id=draft.id, org_id=firm.id, org_name=firm.name)
    workflow.open_comment(session, actor=actors["13"], draft_id=draft.id, body="1 范围\n2 温度控制要求",
                          start_on=D(2026, 4, 1), end_on=D(2026, 5, 1))
    assert draft.stage == "public_comment" and draft.due_on == D(2026, 5, 1)
    staff = create_person(session, org=firm, role="staff")
    comment = workflow.add_comment(session, actor=workflow.actor_for(session, staff.id), draft_id=draft.id,
                                   clause="2", text="建议明确冷藏温度范围。", today=D(2026, 4, 2))
    with pytest.raises(StageConflict):
        workflow.close_comment(session, actor=actors["11"], draft_id=draft.id, today=D(2026, 5, 1))
    with pytest.raises(StageConflict):
        workflow.close_comment(session, actor=actors["11"], draft_id=draft.id, today=D(2026, 5, 2))
    workflow.answer_comment(session, actor=actors["11"], draft_id=draft.id, comment_id=comment.id, answer="已采纳。")
    workflow.close_comment(session, actor=actors["11"], draft_id=draft.id, today=D(2026, 5, 2))
    workflow.review(session, actor=actors["12"], draft_id=draft.id, passed=True, note="审查通过", today=D(2026, 5, 6))
    assert draft.stage == "final_approval"
    for region in ("11", "12", "13"):
        workflow.decide(session, actor=actors[region], draft_id=draft.id, decision="approve", today=D(2026, 5, 11))
    assert draft.stage == "numbering" and draft.approved_on == D(2026, 5, 11)
    # Publication within 20 working days of approval: Monday 11 May 2026 + 20 working days = Monday 8 June.
    assert draft.due_on == D(2026, 6, 8)
    seq = _sequence(session)
    workflow.propose_sequence(session, actor=actors["11"], draft_id=draft.id, sequence=seq, year=2026)
    workflow.confirm_number(session, actor=actors["11"], draft_id=draft.id)
    workflow.confirm_number(session, actor=actors["12"], draft_id=draft.id)
    # Hebei gives its own number: the record allows the three to differ (domain-rules §8).
    hebei = f"DB13/T {seq + 2000}-2026"
    workflow.confirm_number(session, actor=actors["13"], draft_id=draft.id, number=hebei)
    assert draft.stage == "publication"
    assert [n.number for n in workflow.draft_numbers(session, draft.id)] == [
        f"DB11/T {seq}—2026", f"DB12/T {seq}—2026", f"DB13/T {seq + 2000}—2026"]
    for region in ("11", "12", "13"):
        workflow.publish(session, actor=actors[region], draft_id=draft.id, issued_on=D(2026, 6, 1),
                         effective_on=D(2026, 9, 1))
    assert draft.stage == "feedback"
    standard = service.get_standard(session, draft.standard_id)
    assert standard.joint and firm.name in standard.drafters
    assert len(service.numbers_of(session, standard.id)) == 3
    workflow.add_feedback(session, actor=actors["12"], draft_id=draft.id, text="实施情况良好。")
    recorded = workflow.decisions(session, draft.id)
    assert len(recorded) >= 14 and all(len(d.leaf_hash) == 64 for d in recorded)
    entries_after = session.scalar(select(func.count()).select_from(ledger.Entry))
    assert entries_after - entries_before == len(recorded)
    assert notify.unread_count(session, regulators["13"][0].id) >= len(recorded)


def test_ledger_entries_carry_no_personal_data(session, regulators):
    actors = _actors(session, regulators)
    draft = _draft(session, actors)
    workflow.decide(session, actor=actors["12"], draft_id=draft.id, decision="reject", note="与现行标准重复，不予立项")
    entries = list(session.scalars(select(ledger.Entry).order_by(ledger.Entry.seq.desc()).limit(2)))
    for entry in entries:
        body = ledger.entry_bytes(entry).decode()
        assert "standards.stage_decided" in body and str(draft.id) in body
        assert "不予立项" not in body and regulators["12"][0].name not in body and str(actors["12"].person_id) not in body
    assert draft.stage == "rejected"


def test_only_regulators_decide_and_each_region_decides_once(session, regulators):
    actors = _actors(session, regulators)
    draft = _draft(session, actors)
    staff = create_person(session, org=create_org(session, kind="enterprise"), role="official")
    outsider = workflow.actor_for(session, staff.id)
    with pytest.raises(Forbidden):
        workflow.decide(session, actor=outsider, draft_id=draft.id, decision="approve")
    with pytest.raises(Forbidden):
        workflow.propose(session, actor=outsider, title_zh="企业提议", scope="范围")
    workflow.decide(session, actor=actors["11"], draft_id=draft.id, decision="approve")
    with pytest.raises(Conflict):
        workflow.decide(session, actor=actors["11"], draft_id=draft.id, decision="approve")
    with pytest.raises(ValidationFailed):
        workflow.decide(session, actor=actors["12"], draft_id=draft.id, decision="maybe")


def test_a_sector_department_may_propose(session, regulators):
    actors = _actors(session, regulators)
    agency = create_org(session, kind="government_agency")
    person = create_person(session, org=agency, role="official")
    draft = workflow.propose(session, actor=workflow.actor_for(session, person.id), title_zh="行业提议（示例）",
                             scope="规定示例内容。", today=D(2026, 3, 2))
    assert draft.proposer_org_id == agency.id
    assert {p.role for p in workflow.participants(session, draft.id)} == {"regulator", "proposer"}
    assert actors["11"].org_id in {p.org_id for p in workflow.participants(session, draft.id)}


def _to_comment(session, actors, start=D(2026, 4, 1), end=D(2026, 5, 1)):
    draft = _draft(session, actors)
    for region in ("11", "12", "13"):
        workflow.decide(session, actor=actors[region], draft_id=draft.id, decision="approve", today=D(2026, 3, 3))
    return draft, workflow.open_comment(session, actor=actors["11"], draft_id=draft.id, body="正文", start_on=start,
                                        end_on=end)


def test_public_comment_lasts_30_days_and_only_participants_comment(session, regulators):
    actors = _actors(session, regulators)
    draft = _draft(session, actors)
    for region in ("11", "12", "13"):
        workflow.decide(session, actor=actors[region], draft_id=draft.id, decision="approve", today=D(2026, 3, 3))
    with pytest.raises(ValidationFailed):
        workflow.open_comment(session, actor=actors["11"], draft_id=draft.id, body="正文", start_on=D(2026, 4, 1),
                              end_on=D(2026, 4, 30))
    workflow.open_comment(session, actor=actors["11"], draft_id=draft.id, body="正文", start_on=D(2026, 4, 1),
                          end_on=D(2026, 5, 1))
    stranger = create_person(session, org=create_org(session), role="staff")
    with pytest.raises(Forbidden):
        workflow.add_comment(session, actor=workflow.actor_for(session, stranger.id), draft_id=draft.id, text="意见",
                             today=D(2026, 4, 2))
    with pytest.raises(StageConflict):
        workflow.add_comment(session, actor=actors["12"], draft_id=draft.id, text="过期意见", today=D(2026, 5, 2))


def test_a_refused_final_text_goes_back_to_drafting_and_a_failed_review_too(session, regulators):
    actors = _actors(session, regulators)
    draft, _ = _to_comment(session, actors)
    workflow.close_comment(session, actor=actors["11"], draft_id=draft.id, today=D(2026, 5, 2))
    workflow.review(session, actor=actors["11"], draft_id=draft.id, passed=False, today=D(2026, 5, 6))
    assert draft.stage == "drafting"
    with pytest.raises(StageConflict):
        workflow.decide(session, actor=actors["11"], draft_id=draft.id, decision="approve")


def test_numbers_must_be_free_and_a_region_confirms_only_its_own(session, regulators):
    actors = _actors(session, regulators)
    draft, _ = _to_comment(session, actors)
    workflow.close_comment(session, actor=actors["11"], draft_id=draft.id, today=D(2026, 5, 2))
    workflow.review(session, actor=actors["11"], draft_id=draft.id, passed=True, today=D(2026, 5, 6))
    for region in ("11", "12", "13"):
        workflow.decide(session, actor=actors[region], draft_id=draft.id, decision="approve", today=D(2026, 5, 11))
    seq = _sequence(session)
    create_standard(session, numbers=(f"DB12/T {seq}-2026",))
    with pytest.raises(Conflict):
        workflow.propose_sequence(session, actor=actors["11"], draft_id=draft.id, sequence=seq, year=2026)
    with pytest.raises(domain.InvalidStandardNumber):
        workflow.propose_sequence(session, actor=actors["11"], draft_id=draft.id, sequence=22, year=2026)
    with pytest.raises(StageConflict):
        workflow.confirm_number(session, actor=actors["11"], draft_id=draft.id)
    seq = _sequence(session)
    workflow.propose_sequence(session, actor=actors["11"], draft_id=draft.id, sequence=seq, year=2026)
    with pytest.raises(domain.InvalidStandardNumber):
        workflow.confirm_number(session, actor=actors["12"], draft_id=draft.id, number=f"DB11/T {seq}-2026")
    with pytest.raises(StageConflict):
        workflow.publish(session, actor=actors["11"], draft_id=draft.id, issued_on=D(2026, 6, 1), effective_on=D(2026, 7, 1))


def test_a_notice_reaches_the_other_regions_and_records_who_read_it(session, regulators):
    actors = _actors(session, regulators)
    before = notify.unread_count(session, regulators["12"][0].id)
    notice = workflow.publish_notice(session, actor=actors["11"], kind="plan", title="2026年京津冀区域协同地方标准立项计划（示例）",
                                     body="计划内容（示例）。")
    assert notify.unread_count(session, regulators["12"][0].id) == before + 1
    assert notify.unread_count(session, regulators["11"][0].id) == notify.unread_count(session, regulators["11"][0].id)
    assert [when for _, when in workflow.receipts(session, notice.id)] == [None, None]
    workflow.mark_read(session, actor=actors["12"], notice_id=notice.id)
    workflow.mark_read(session, actor=actors["12"], notice_id=notice.id)
    assert workflow.mark_read(session, actor=actors["11"], notice_id=notice.id) is None
    read = {reg.region: when for reg, when in workflow.receipts(session, notice.id)}
    assert read["12"] is not None and read["13"] is None and "11" not in read
    with pytest.raises(ValidationFailed):
        workflow.publish_notice(session, actor=actors["11"], kind="gossip", title="x", body="y")
    outsider = create_person(session, org=create_org(session), role="official")
    with pytest.raises(Forbidden):
        workflow.publish_notice(session, actor=workflow.actor_for(session, outsider.id), kind="plan", title="x", body="y")


def test_a_second_regulator_for_a_region_is_refused(session, regulators):
    other = create_org(session, kind="government_agency")
    with pytest.raises(Conflict):
        workflow.register_regulator(session, org_id=other.id, region="11", name=other.name)


def test_an_overdue_stage_reminds_the_regulators_once(session, regulators):
    actors = _actors(session, regulators)
    draft = _draft(session, actors)
    person = regulators["12"][0].id
    before = notify.unread_count(session, person)
    assert draft.id in [d.id for d in workflow.overdue(session, today=D(2026, 3, 31))]
    assert draft.id not in [d.id for d in workflow.overdue(session, today=D(2026, 3, 30))]
    workflow.remind_overdue(session, today=D(2026, 3, 31))
    workflow.remind_overdue(session, today=D(2026, 4, 1))
    assert notify.unread_count(session, person) - before >= 1
    subjects = [m.subject for m in notify.inbox(session, person, limit=200).items if m.subject.startswith("已逾期")
                and draft.title_zh[:10] in m.subject]
    assert len(subjects) == 1
