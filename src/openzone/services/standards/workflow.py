"""3+X joint drafting and sharing between the three regions: regulators, drafts, stage decisions, comments, notices."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.core import calendar, identity, jobs, ledger, notify
from openzone.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from openzone.kit.time import today_cst, utcnow
from openzone.services.standards import domain, service
from openzone.services.standards.domain import Decision as Verdict
from openzone.services.standards.domain import Region, Stage, StageConflict, StandardInput
from openzone.services.standards.models import (
    Comment,
    Decision,
    Draft,
    DraftNumber,
    Feedback,
    Notice,
    Participant,
    Receipt,
    Regulator,
)

STAGE_DECIDED = "standards.stage_decided"
# Roles that may act for a regulator; staff and clerks read but do not decide.
DECIDING_ROLES = frozenset({"official", "org_admin"})
NOTICE_KINDS: dict[str, tuple[str, str]] = {
    "plan": ("立项计划", "Project plan"),
    "work_point": ("工作要点", "Work points"),
    "policy": ("政策文件", "Policy document"),
    "notice": ("通知公告", "Notice"),
}


# ------------------------------------------------------------------------------------------ regulators


def register_regulator(session: Session, *, org_id: uuid.UUID, region: Region | str, name: str,
                       contact_person_ids: Iterable[uuid.UUID] = ()) -> Regulator:
    """Mark an organisation as a region's standardisation regulator (one per region), or update its contacts."""
    region = Region(region).value
    existing = session.scalar(select(Regulator).where(Regulator.region == region))
    if existing is not None and existing.org_id != org_id:
        raise Conflict(f"{domain.REGION_LABELS[Region(region)][0]}已有标准化主管部门",
                       f"{domain.REGION_LABELS[Region(region)][1]} already has a regulator")
    reg = existing or session.scalar(select(Regulator).where(Regulator.org_id == org_id))
    if reg is None:
        reg = Regulator(org_id=org_id, region=region, name=name)
        session.add(reg)
    reg.region, reg.name = region, name
    reg.contact_person_ids = sorted({*(reg.contact_person_ids or ()), *(str(p) for p in contact_person_ids)})
    session.flush()
    return reg


def regulators(session: Session) -> list[Regulator]:
    """List the registered regulators by region."""
    return list(session.scalars(select(Regulator).order_by(Regulator.region)))


@dataclass(frozen=True)
class Actor:
    """Describe who acts in the workflow: a person, the organisation they act for, and its region if a regulator."""

    person_id: uuid.UUID
    org_id: uuid.UUID
    org_name: str
    org_kind: str
    region: str | None
    can_decide: bool

    @property
    def is_regulator(self) -> bool:
        """Say whether the actor may decide for a region's regulator."""
        return self.region is not None and self.can_decide


def actor_for(session: Session, person_id: uuid.UUID, *, org_id: uuid.UUID | None = None) -> Actor:
    """Find the organisation a person acts for (only org_id when given, as for an API token): a regulator where
    they may decide first, else their first organisation."""
    regs = {r.org_id: r for r in regulators(session)}
    options = []
    for membership, org in identity.memberships(session, person_id):
        if org_id is not None and org.id != org_id:
            continue
        reg = regs.get(org.id)
        deciding = membership.role in DECIDING_ROLES
        rank = 0 if reg is not None and deciding else 1 if reg is not None else 2
        options.append((rank, org.name, Actor(person_id, org.id, org.name, org.kind,
                                               reg.region if reg is not None else None, deciding)))
    if not options:
        raise Forbidden("须以机构身份参与标准制定", "You must belong to an organisation to take part")
    return min(options, key=lambda o: (o[0], o[1]))[2]


def _require_regulator(actor: Actor) -> str:
    if not actor.is_regulator:
        raise Forbidden("只有三地标准化主管部门可以执行此操作", "Only the three regions' regulators can do this")
    return actor.region or ""


# -------------------------------------------------------------------------------------------- drafts


def get_draft(session: Session, draft_id: uuid.UUID) -> Draft:
    """Return a draft, or raise NotFound."""
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise NotFound("没有这项联合标准草案", "No such joint draft")
    return draft


def list_drafts(session: Session) -> list[Draft]:
    """List drafts, newest first."""
    return list(session.scalars(select(Draft).order_by(Draft.created_at.desc(), Draft.id.desc())))


def participants(session: Session, draft_id: uuid.UUID) -> list[Participant]:
    """List a draft's participating organisations."""
    return list(session.scalars(select(Participant).where(Participant.draft_id == draft_id)
                                .order_by(Participant.created_at, Participant.org_name)))


def is_participant(session: Session, draft_id: uuid.UUID, org_id: uuid.UUID) -> bool:
    """Say whether an organisation takes part in a draft."""
    return session.scalar(select(Participant.id).where(Participant.draft_id == draft_id,
                                                       Participant.org_id == org_id)) is not None


def decisions(session: Session, draft_id: uuid.UUID) -> list[Decision]:
    """List a draft's recorded decisions, oldest first."""
    return list(session.scalars(select(Decision).where(Decision.draft_id == draft_id)
                                .order_by(Decision.created_at, Decision.id)))


def comments(session: Session, draft_id: uuid.UUID) -> list[Comment]:
    """List a draft's comments, oldest first."""
    return list(session.scalars(select(Comment).where(Comment.draft_id == draft_id)
                                .order_by(Comment.created_at, Comment.id)))


def draft_numbers(session: Session, draft_id: uuid.UUID) -> list[DraftNumber]:
    """List the regions' numbers of a draft, Beijing first."""
    return list(session.scalars(select(DraftNumber).where(DraftNumber.draft_id == draft_id)
                                .order_by(DraftNumber.region)))


def feedback_of(session: Session, draft_id: uuid.UUID) -> list[Feedback]:
    """List implementation feedback on a draft, oldest first."""
    return list(session.scalars(select(Feedback).where(Feedback.draft_id == draft_id)
                                .order_by(Feedback.created_at, Feedback.id)))


def _text(value: str, field: str, zh: str, en: str, *, limit: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise ValidationFailed(f"{zh}（{limit} 字以内）", f"{en} (at most {limit} characters)",
                               errors=[{"field": field, "code": "required", "message": f"{zh}（{limit} 字以内）",
                                        "message_en": f"{en} (at most {limit} characters)"}])
    return value


def _expect(draft: Draft, *stages: Stage) -> None:
    if draft.stage not in stages:
        now = domain.stage_label(draft.stage)
        raise StageConflict(f"草案处于“{now[0]}”阶段，不能执行此操作", f"The draft is at {now[1]}; this cannot be done now",
                            stage=draft.stage)


def _deadline(session: Session, start: dt.date, days: int) -> calendar.Deadline:
    return calendar.add_working_days(session, start, days)


def _set_due(draft: Draft, deadline: calendar.Deadline | None, day: dt.date | None = None) -> None:
    draft.due_on = deadline.day if deadline is not None else day
    draft.due_provisional = bool(deadline and deadline.provisional)


def _record(session: Session, draft: Draft, actor: Actor, decision: str, *, note: str = "",
            data: dict | None = None, stage: str | None = None) -> Decision:
    stage = stage or draft.stage
    # The ledger gets ids, stage and outcome, and only a digest of the free-text note: no names, no personal data.
    digests = {"note": "sha256:" + hashlib.sha256(note.encode()).hexdigest()} if note else {}
    recorded = ledger.record(session, STAGE_DECIDED, actor_org_id=actor.org_id, digests=digests, data={
        "draft": str(draft.id), "stage": stage, "decision": decision, "region": actor.region or "", **(data or {})})
    row = Decision(draft_id=draft.id, stage=stage, org_id=actor.org_id, org_name=actor.org_name,
                   person_id=actor.person_id, region=actor.region or "", decision=decision, note=note,
                   leaf_hash=recorded.leaf_hash.hex())
    session.add(row)
    draft.updated_at = utcnow()
    session.flush()
    _notify(session, draft, decision, stage)
    return row


def _notify(session: Session, draft: Draft, decision: str, stage: str) -> None:
    people: set[str] = set()
    for reg in regulators(session):
        people.update(reg.contact_person_ids or [])
    people.update(str(p) for p in session.scalars(select(Decision.person_id).where(Decision.draft_id == draft.id)))
    people.update(str(p) for p in session.scalars(select(Comment.person_id).where(Comment.draft_id == draft.id)))
    zh_stage, en_stage = domain.stage_label(stage)
    for person in sorted(people):
        notify.send(session, person_id=uuid.UUID(person),
                    subject=f"联合标准草案《{draft.title_zh[:80]}》：{zh_stage}",
                    body=f"“{zh_stage}”阶段记录了新的决定（{decision}）。\n/standards/drafts/{draft.id}",
                    subject_en=f"Joint draft: {en_stage}",
                    body_en=f"A decision ({decision}) was recorded at {en_stage}.\n/standards/drafts/{draft.id}")


def propose(session: Session, *, actor: Actor, title_zh: str, scope: str, title_en: str = "",
            today: dt.date | None = None) -> Draft:
    """Propose a joint regional standard (a regulator or a sector department); it goes to the three for approval."""
    if not actor.is_regulator and actor.org_kind != identity.OrgKind.GOVERNMENT_AGENCY:
        raise Forbidden("立项提议须由三地标准化主管部门或行业主管部门提出",
                        "A proposal comes from a regional regulator or a sector department")
    today = today or today_cst()
    draft = Draft(title_zh=_text(title_zh, "title_zh", "请填写标准名称", "Enter the title", limit=300),
                  title_en=(title_en or "").strip()[:500],
                  scope=_text(scope, "scope", "请填写范围", "Enter the scope", limit=4000),
                  proposer_org_id=actor.org_id, proposer_name=actor.org_name, stage=Stage.PROPOSAL.value, drafters=[])
    session.add(draft)
    session.flush()
    for reg in regulators(session):
        session.add(Participant(draft_id=draft.id, org_id=reg.org_id, org_name=reg.name, role="regulator"))
    if not is_participant(session, draft.id, actor.org_id):
        session.add(Participant(draft_id=draft.id, org_id=actor.org_id, org_name=actor.org_name, role="proposer"))
    session.flush()
    # 地方标准管理办法 (2020): a local standard must not duplicate or conflict with existing ones; the check is
    # recorded with the proposal so the three regulators decide knowing what it found.
    similar = service.similar_standards(session, title=draft.title_zh, scope=draft.scope, limit=5)
    numbers = service.numbers_for(session, [s.id for s, _ in similar])
    found = [n for s, _ in similar for n in numbers.get(s.id, [])[:1]]
    _record(session, draft, actor, "proposed", data={"similar": found})
    draft.stage = Stage.JOINT_APPROVAL.value
    _set_due(draft, _deadline(session, today, domain.DECISION_WORKING_DAYS))
    session.flush()
    return draft


def duplicates(session: Session, draft: Draft, *, limit: int = 5) -> list[tuple[object, float, list[str]]]:
    """List existing standards close to a draft's title and scope, with their numbers (the duplicate check)."""
    similar = service.similar_standards(session, title=draft.title_zh, scope=draft.scope, limit=limit)
    numbers = service.numbers_for(session, [s.id for s, _ in similar])
    return [(s, score, numbers.get(s.id, [])) for s, score in similar]


def decide(session: Session, *, actor: Actor, draft_id: uuid.UUID, decision: Verdict | str, note: str = "",
           today: dt.date | None = None) -> Draft:
    """Record one regulator's approval or rejection at joint approval or final approval; move on once all three agree."""
    region = _require_regulator(actor)
    draft = get_draft(session, draft_id)
    _expect(draft, Stage.JOINT_APPROVAL, Stage.FINAL_APPROVAL)
    try:
        verdict = Verdict(decision)
    except ValueError as exc:
        raise ValidationFailed("请选择同意或不同意", "Choose approve or reject",
                               errors=[{"field": "decision", "code": "choice"}]) from exc
    taken = [(d.region, d.decision) for d in decisions(session, draft.id)
             if d.stage == draft.stage and d.decision in (Verdict.APPROVE, Verdict.REJECT)]
    if any(r == region for r, _ in taken):
        raise Conflict("本地区已就此阶段作出决定", "Your region has already decided at this stage")
    today = today or today_cst()
    _record(session, draft, actor, verdict.value, note=note.strip())
    taken.append((region, verdict.value))
    if verdict is Verdict.REJECT:
        # A proposal the three do not all accept ends; a final text one region refuses goes back to drafting.
        draft.stage = (Stage.REJECTED if draft.stage == Stage.JOINT_APPROVAL else Stage.DRAFTING).value
        _set_due(draft, None)
    elif domain.all_regions_decided(taken):
        if draft.stage == Stage.JOINT_APPROVAL:
            draft.stage = Stage.DRAFTING.value
            _set_due(draft, None)
        else:
            draft.stage = Stage.NUMBERING.value
            draft.approved_on = today
            _set_due(draft, _deadline(session, today, domain.PUBLICATION_WORKING_DAYS))
    session.flush()
    return draft


def add_participant(session: Session, *, actor: Actor, draft_id: uuid.UUID, org_id: uuid.UUID, org_name: str,
                    drafter: bool = True) -> Participant:
    """Add an organisation (a sector department, institute or firm: the X of 3+X) to the drafting group."""
    _require_regulator(actor)
    draft = get_draft(session, draft_id)
    _expect(draft, Stage.DRAFTING, Stage.PUBLIC_COMMENT)
    name = _text(org_name, "org_name", "请填写机构名称", "Enter the organisation's name", limit=200)
    if is_participant(session, draft.id, org_id):
        raise Conflict("该机构已参与此草案", "The organisation already takes part")
    row = Participant(draft_id=draft.id, org_id=org_id, org_name=name, role="drafter")
    session.add(row)
    if drafter and name not in draft.drafters:
        draft.drafters = [*draft.drafters, name]
    _record(session, draft, actor, "participant_added", data={"org": str(org_id)})
    return row


def open_comment(session: Session, *, actor: Actor, draft_id: uuid.UUID, body: str, start_on: dt.date,
                 end_on: dt.date) -> Draft:
    """Publish the draft text for public comment for at least 30 days (地方标准管理办法)."""
    _require_regulator(actor)
    draft = get_draft(session, draft_id)
    _expect(draft, Stage.DRAFTING)
    text = _text(body, "body", "请填写征求意见稿正文", "Enter the text for comment", limit=200_000)
    if domain.comment_period_error(start_on, end_on):
        raise ValidationFailed(f"征求意见期限不少于 {domain.MIN_COMMENT_DAYS} 日",
                               f"Public comment lasts at least {domain.MIN_COMMENT_DAYS} days",
                               errors=[{"field": "end_on", "code": "short",
                                        "message": f"征求意见期限不少于 {domain.MIN_COMMENT_DAYS} 日",
                                        "message_en": f"Public comment lasts at least {domain.MIN_COMMENT_DAYS} days"}])
    draft.body = text
    draft.comment_start_on, draft.comment_end_on = start_on, end_on
    _record(session, draft, actor, "comment_opened", data={"start": start_on.isoformat(), "end": end_on.isoformat()})
    draft.stage = Stage.PUBLIC_COMMENT.value
    _set_due(draft, None, end_on)
    session.flush()
    return draft


def add_comment(session: Session, *, actor: Actor, draft_id: uuid.UUID, text: str, clause: str = "",
                today: dt.date | None = None) -> Comment:
    """Record a participant's comment during the comment period."""
    draft = get_draft(session, draft_id)
    if not is_participant(session, draft.id, actor.org_id):
        raise Forbidden("只有参与制定的机构可以提出意见", "Only participating organisations can comment")
    _expect(draft, Stage.PUBLIC_COMMENT)
    today = today or today_cst()
    if not (draft.comment_start_on and draft.comment_end_on and draft.comment_start_on <= today <= draft.comment_end_on):
        raise StageConflict("不在征求意见期内", "The comment period is not open")
    row = Comment(draft_id=draft.id, org_id=actor.org_id, org_name=actor.org_name, person_id=actor.person_id,
                  clause=(clause or "").strip()[:100],
                  text=_text(text, "text", "请填写意见", "Enter the comment", limit=10_000))
    session.add(row)
    session.flush()
    return row


def answer_comment(session: Session, *, actor: Actor, draft_id: uuid.UUID, comment_id: uuid.UUID, answer: str) -> Comment:
    """Record the drafting group's answer to a comment (a regulator or the proposer)."""
    draft = get_draft(session, draft_id)
    if not actor.is_regulator and actor.org_id != draft.proposer_org_id:
        raise Forbidden("只有主管部门或起草牵头单位可以答复意见", "Only a regulator or the lead drafter answers comments")
    _expect(draft, Stage.PUBLIC_COMMENT)
    row = session.get(Comment, comment_id)
    if row is None or row.draft_id != draft.id:
        raise NotFound("没有这条意见", "No such comment")
    row.answer = _text(answer, "answer", "请填写答复", "Enter the answer", limit=10_000)
    row.answered_by, row.answered_at = actor.org_name, utcnow()
    session.flush()
    return row


def close_comment(session: Session, *, actor: Actor, draft_id: uuid.UUID, today: dt.date | None = None) -> Draft:
    """End public comment once its period is over and every comment is answered; go to technical review."""
    _require_regulator(actor)
    draft = get_draft(session, draft_id)
    _expect(draft, Stage.PUBLIC_COMMENT)
    today = today or today_cst()
    if draft.comment_end_on is None or today <= draft.comment_end_on:
        raise StageConflict(f"征求意见期至 {draft.comment_end_on} 结束，之后才能进入技术审查",
                            f"Public comment runs until {draft.comment_end_on}; review starts after that")
    open_ones = [c for c in comments(session, draft.id) if not c.answer]
    if open_ones:
        raise StageConflict(f"还有 {len(open_ones)} 条意见未答复", f"{len(open_ones)} comments are not answered yet")
    total = len(comments(session, draft.id))
    _record(session, draft, actor, "comment_closed", data={"comments": total})
    draft.stage = Stage.TECHNICAL_REVIEW.value
    _set_due(draft, None)
    session.flush()
    return draft


def review(session: Session, *, actor: Actor, draft_id: uuid.UUID, passed: bool, note: str = "",
           today: dt.date | None = None) -> Draft:
    """Record the technical review: passed goes to approval by all three, failed goes back to drafting."""
    _require_regulator(actor)
    draft = get_draft(session, draft_id)
    _expect(draft, Stage.TECHNICAL_REVIEW)
    _record(session, draft, actor, "review_passed" if passed else "review_failed", note=note.strip())
    if passed:
        draft.stage = Stage.FINAL_APPROVAL.value
        _set_due(draft, _deadline(session, today or today_cst(), domain.DECISION_WORKING_DAYS))
    else:
        draft.stage = Stage.DRAFTING.value
        _set_due(draft, None)
    session.flush()
    return draft


def propose_sequence(session: Session, *, actor: Actor, draft_id: uuid.UUID, sequence: int, year: int) -> list[DraftNumber]:
    """Propose the shared 3xxx sequence number; each region then confirms its own number."""
    _require_regulator(actor)
    draft = get_draft(session, draft_id)
    _expect(draft, Stage.NUMBERING)
    proposed = domain.propose_numbers(sequence, year)
    taken = [n.text for n in proposed.values() if service.find_by_number(session, n) is not None]
    if taken:
        raise Conflict(f"编号已被使用：{'、'.join(taken)}", f"Numbers already in use: {', '.join(taken)}",
                       errors=[{"field": "sequence", "code": "taken"}])
    for row in draft_numbers(session, draft.id):
        session.delete(row)
    session.flush()
    rows = [DraftNumber(draft_id=draft.id, region=region, number=n.text) for region, n in proposed.items()]
    session.add_all(rows)
    draft.shared_sequence = sequence
    _record(session, draft, actor, "sequence_proposed", data={"sequence": sequence, "year": year})
    return rows


def confirm_number(session: Session, *, actor: Actor, draft_id: uuid.UUID, number: str = "") -> DraftNumber:
    """Confirm the actor's region's number, keeping the proposal or giving its own (they may differ, domain-rules §8)."""
    region = _require_regulator(actor)
    draft = get_draft(session, draft_id)
    _expect(draft, Stage.NUMBERING)
    row = next((r for r in draft_numbers(session, draft.id) if r.region == region), None)
    if row is None:
        raise StageConflict("尚未提出统一顺序号", "No shared sequence number has been proposed yet")
    if row.confirmed_at is not None:
        raise Conflict("本地区已确认编号", "Your region has already confirmed its number")
    if number.strip():
        parsed = domain.parse_number(number)
        if parsed.issuer != f"DB{region}":
            raise domain.InvalidStandardNumber(f"本地区的编号应以 DB{region} 开头", f"Your region's number starts with DB{region}",
                                               errors=[{"field": "number", "code": "issuer"}])
        if service.find_by_number(session, parsed) is not None:
            raise Conflict(f"编号 {parsed.text} 已被使用", f"Number {parsed.text} is already in use",
                           errors=[{"field": "number", "code": "taken"}])
        row.number = parsed.text
    row.confirmed_at = utcnow()
    _record(session, draft, actor, "number_confirmed", data={"number": row.number})
    if all(r.confirmed_at is not None for r in draft_numbers(session, draft.id)):
        draft.stage = Stage.PUBLICATION.value
    session.flush()
    return row


def publish(session: Session, *, actor: Actor, draft_id: uuid.UUID, issued_on: dt.date, effective_on: dt.date) -> Draft:
    """Publish the standard under the actor's region's number; it joins the library, and after all three, feedback opens."""
    region = _require_regulator(actor)
    draft = get_draft(session, draft_id)
    _expect(draft, Stage.PUBLICATION)
    domain.check_dates(issued_on=issued_on, effective_on=effective_on, withdrawn_on=None)
    rows = draft_numbers(session, draft.id)
    mine = next(r for r in rows if r.region == region)
    if mine.published_on is not None:
        raise Conflict("本地区已发布", "Your region has already published")
    mine.published_on = issued_on
    published = [r for r in rows if r.published_on is not None]
    record = StandardInput(numbers=tuple(domain.parse_number(r.number) for r in published), title_zh=draft.title_zh,
                           title_en=draft.title_en, issued_on=min(r.published_on for r in published),
                           effective_on=effective_on, drafters=tuple(draft.drafters or ()), scope=draft.scope,
                           body=draft.body, body_source="3+X 联合制定", joint=True)
    result = service.upsert_standard(session, record=record)
    draft.standard_id = result.standard.id
    late = bool(draft.due_on and issued_on > draft.due_on)
    _record(session, draft, actor, "published", data={"number": mine.number, "late": late})
    if all(r.published_on is not None for r in rows):
        draft.stage = Stage.FEEDBACK.value
        _set_due(draft, None)
    session.flush()
    return draft


def add_feedback(session: Session, *, actor: Actor, draft_id: uuid.UUID, text: str) -> Feedback:
    """Record implementation feedback from any organisation once the standard is published."""
    draft = get_draft(session, draft_id)
    _expect(draft, Stage.FEEDBACK)
    row = Feedback(draft_id=draft.id, org_id=actor.org_id, org_name=actor.org_name,
                   text=_text(text, "text", "请填写反馈内容", "Enter the feedback", limit=10_000))
    session.add(row)
    session.flush()
    return row


def overdue(session: Session, *, today: dt.date | None = None) -> list[Draft]:
    """List drafts past their stage deadline."""
    today = today or today_cst()
    return list(session.scalars(select(Draft).where(Draft.due_on.is_not(None), Draft.due_on < today,
                                                    Draft.stage.not_in([Stage.REJECTED.value, Stage.FEEDBACK.value]))))


@jobs.handler("standards.remind_overdue", every=dt.timedelta(days=1))
def _remind_job(session: Session, payload: dict) -> None:
    remind_overdue(session)


def remind_overdue(session: Session, *, today: dt.date | None = None) -> int:
    """Tell the regulators' contacts once about each draft whose stage deadline has passed; return how many drafts."""
    late = overdue(session, today=today)
    for draft in late:
        zh, en = domain.stage_label(draft.stage)
        for reg in regulators(session):
            for person in reg.contact_person_ids or []:
                notify.send(session, person_id=uuid.UUID(person), subject=f"已逾期：《{draft.title_zh[:80]}》{zh}",
                            body=f"“{zh}”阶段期限为 {draft.due_on}，已逾期。\n/standards/drafts/{draft.id}",
                            subject_en=f"Overdue: {en}", body_en=f"{en} was due on {draft.due_on}.\n/standards/drafts/{draft.id}",
                            dedupe_key=f"standards-overdue-{draft.id}-{draft.stage}-{draft.due_on}-{person}")
    return len(late)


# ------------------------------------------------------------------------------- sharing between regions


def publish_notice(session: Session, *, actor: Actor, kind: str, title: str, body: str) -> Notice:
    """Publish a plan, work point, policy or notice for the other two regions and notify their contacts."""
    region = _require_regulator(actor)
    if kind not in NOTICE_KINDS:
        raise ValidationFailed("请选择类别", "Choose a kind", errors=[{"field": "kind", "code": "choice",
                                                                      "message": "请选择类别", "message_en": "Choose a kind"}])
    notice = Notice(kind=kind, region=region, org_id=actor.org_id, org_name=actor.org_name,
                    title=_text(title, "title", "请填写标题", "Enter the title", limit=300),
                    body=_text(body, "body", "请填写正文", "Enter the text", limit=100_000))
    session.add(notice)
    session.flush()
    label_zh, label_en = NOTICE_KINDS[kind]
    for reg in regulators(session):
        if reg.org_id == actor.org_id:
            continue
        for person in reg.contact_person_ids or []:
            for channel in ("inbox", "email"):
                notify.send(session, person_id=uuid.UUID(person), channel=channel,
                            subject=f"{actor.org_name}发布{label_zh}：{notice.title[:100]}",
                            body=f"{notice.title}\n/standards/notices/{notice.id}",
                            subject_en=f"{label_en} shared by another region", body_en=f"/standards/notices/{notice.id}",
                            dedupe_key=f"standards-notice-{notice.id}-{person}-{channel}")
    return notice


def notices(session: Session, *, limit: int = 100) -> list[Notice]:
    """List shared notices, newest first."""
    return list(session.scalars(select(Notice).order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit)))


def get_notice(session: Session, notice_id: uuid.UUID) -> Notice:
    """Return a notice, or raise NotFound."""
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("没有这条通知", "No such notice")
    return notice


def mark_read(session: Session, *, actor: Actor, notice_id: uuid.UUID) -> Receipt | None:
    """Record that a person of another regulator has read a notice (once); others leave no receipt."""
    notice = get_notice(session, notice_id)
    if actor.region is None or actor.org_id == notice.org_id:
        return None
    existing = session.scalar(select(Receipt).where(Receipt.notice_id == notice.id, Receipt.person_id == actor.person_id))
    if existing is not None:
        return existing
    receipt = Receipt(notice_id=notice.id, org_id=actor.org_id, person_id=actor.person_id)
    session.add(receipt)
    session.flush()
    return receipt


def receipts(session: Session, notice_id: uuid.UUID) -> list[tuple[Regulator, dt.datetime | None]]:
    """Say, for each other regulator, when someone there first read a notice (None: not yet)."""
    notice = get_notice(session, notice_id)
    first: dict[uuid.UUID, dt.datetime] = {}
    for r in session.scalars(select(Receipt).where(Receipt.notice_id == notice.id).order_by(Receipt.read_at)):
        first.setdefault(r.org_id, r.read_at)
    return [(reg, first.get(reg.org_id)) for reg in regulators(session) if reg.org_id != notice.org_id]
