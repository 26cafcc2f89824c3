"""Travel-licensing use cases: apply, decide (automatically or by a clerk), issue, obligations, inspections, sanctions."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import statistics as stats
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import calendar, credit, documents, identity, jobs, ledger, notify
from openzone.kit import crypto
from openzone.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed, problem
from openzone.kit.time import CST, today_cst, utcnow
from openzone.services.travel_licensing import domain
from openzone.services.travel_licensing.domain import BarKind, Consequence, Route
from openzone.services.travel_licensing.models import (
    Application,
    Bar,
    Breach,
    Draw,
    Inspection,
    Licence,
    Obligation,
    Officer,
)
from openzone.services.travel_licensing.settings import TravelSettings, get_travel_settings

SOURCE = "travel_licensing"
documents.add_template_dir(Path(__file__).parent / "templates")

CommitmentRouteClosed = problem("travel-licensing-commitment-closed", 403, "不能选择告知承诺方式",
                                "The commitment route is not open to this applicant")
ApplicationIncomplete = problem("travel-licensing-incomplete", 422, "申请信息不完整", "The application is incomplete")
WrongState = problem("travel-licensing-state", 409, "当前状态下不能这样操作", "Not possible in the current state")
PersonBarred = problem("travel-licensing-barred", 409, "法定代表人处于从业限制期内", "The legal representative is barred")
ConditionsNotMet = problem("travel-licensing-conditions", 409, "不符合许可条件，不能批准",
                           "The conditions are not met; the licence cannot be granted")
NotInspector = problem("travel-licensing-not-inspector", 403, "只有被指派的检查人员可以记录检查结果",
                       "Only the assigned inspectors may record this inspection")

STEPS = ("enterprise", "legal_rep", "premises", "facilities", "capital", "staff", "managers", "branches")
STEP_LABELS = {"enterprise": ("企业信息", "Enterprise"), "legal_rep": ("法定代表人", "Legal representative"),
               "premises": ("经营场所", "Premises"), "facilities": ("营业设施", "Facilities"),
               "capital": ("注册资本", "Registered capital"), "staff": ("员工与导游", "Staff and guides"),
               "managers": ("经营管理人员", "Managers"), "branches": ("分社", "Branches")}

APPROVED = "travel_licensing.approved"
QUEUED = "travel_licensing.queued"
REFUSED = "travel_licensing.refused"
OBLIGATION_MET = "travel_licensing.obligation_met"
OBLIGATION_OVERDUE = "travel_licensing.obligation_overdue"
RECTIFY_ORDERED = "travel_licensing.rectification_ordered"
BREACH = "travel_licensing.breach"
REVOKED = "travel_licensing.revoked"
INSPECTED = "travel_licensing.inspected"
DRAWN = "travel_licensing.spot_check_drawn"
SWEEP = "travel_licensing.sweep"
BRANCH_ADDED = "travel_licensing.branch_added"
TOP_UP_ORDERED = "travel_licensing.top_up_ordered"
E_LICENSE_JOB = "travel_licensing.e_license"
E_LICENSE_ISSUED = "travel_licensing.e_license_issued"
# The e-license catalogue's code for 旅行社业务经营许可证 (services/e_license/data/license_types.json).
E_LICENSE_TYPE = "travel_agency_licence"
E_LICENSE_ISSUE_PATH = "/api/v1/e-license/licenses"
E_LICENSE_REVOKE_PATH = "/api/v1/e-license/licenses/{id}/revoke"
E_LICENSE_REVOKE_JOB = "travel_licensing.e_license_revoke"
E_LICENSE_REVOKED = "travel_licensing.e_license_revoked"


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()


def _index_key() -> bytes:
    return get_settings().secret("index")


def person_index(id_number: str) -> str:
    """Return the blind index of a resident ID number, to match bars without keeping the number in clear."""
    return crypto.blind_index(_index_key(), id_number, context="travel_licensing.person")


# --- applying -------------------------------------------------------------------------------------------------------

def start_application(session: Session, *, org_id: uuid.UUID, person_id: uuid.UUID) -> Application:
    """Open a draft pre-filled from the firm's organisation record."""
    org = identity.organisation(session, org_id)
    if org is None or org.kind != "enterprise":
        raise Forbidden("只有企业可以申请旅行社业务经营许可", "Only an enterprise may apply")
    last = session.scalar(select(Application).where(Application.org_id == org_id)
                          .order_by(Application.created_at.desc()).limit(1))
    answers = {"name": org.name, "business_scope": list(domain.BUSINESS_SCOPE)}
    if org.uscc:
        answers["uscc"] = org.uscc
    if last is not None:
        # Pre-fill from the firm's last application, as ATOL renewals do (peers.md §4); the ID number is re-entered.
        answers |= {k: v for k, v in last.answers.items() if k != "legal_rep_id_masked"}
    app = Application(org_id=org_id, applicant_person_id=person_id, answers=answers, status="draft")
    session.add(app)
    session.flush()
    return app


def get_application(session: Session, application_id: uuid.UUID, *, org_ids: set[uuid.UUID] | None = None
                    ) -> Application:
    """Return an application; with org_ids, only one of those organisations' (others look absent)."""
    app = session.get(Application, application_id)
    if app is None or (org_ids is not None and app.org_id not in org_ids):
        raise NotFound("没有这件申请", "No such application")
    return app


def _int(form: dict, name: str, *, minimum: int = 0, maximum: int = 10**9) -> int:
    raw = str(form.get(name, "")).strip().replace(",", "")
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise ValidationFailed("请填写有效的整数", "Enter a whole number",
                               errors=[{"field": name, "code": "number", "message": "请填写有效的整数",
                                        "message_en": "Enter a whole number"}])
    return value


def _text(form: dict, name: str, zh: str, en: str, *, max_len: int = 200) -> str:
    value = str(form.get(name, "")).strip()
    if not value or len(value) > max_len:
        raise ValidationFailed(zh, en, errors=[{"field": name, "code": "required", "message": zh, "message_en": en}])
    return value


def save_step(session: Session, *, application: Application, step: str, form: dict) -> Application:
    """Validate and keep one page's answer (one question per page); errors name the field."""
    if application.status != "draft":
        raise WrongState("申请已提交，不能修改", "The application has been submitted")
    a = dict(application.answers)
    if step == "enterprise":
        a["name"] = _text(form, "name", "请填写企业名称", "Enter the enterprise name")
        try:
            a["uscc"] = identity.validate_uscc(str(form.get("uscc", "")))
        except ValidationFailed as exc:
            exc.errors = [{"field": "uscc", "code": "uscc", "message": exc.detail, "message_en": exc.detail_en}]
            raise
        registered = identity.organisation(session, application.org_id)
        if registered is not None and registered.uscc and a["uscc"] != registered.uscc:
            # A firm applies under its own registered code only (the credit checks and the licence use it).
            zh = f"统一社会信用代码须与本企业登记的一致：{registered.uscc}"
            en = f"The code must be the one registered for this enterprise: {registered.uscc}"
            raise ValidationFailed(zh, en, errors=[{"field": "uscc", "code": "registered", "message": zh,
                                                   "message_en": en}])
    elif step == "legal_rep":
        a["legal_rep_name"] = _text(form, "legal_rep_name", "请填写法定代表人姓名", "Enter the legal representative's name",
                                    max_len=50)
        try:
            number = identity.validate_id_number(str(form.get("legal_rep_id", "")))
        except ValidationFailed as exc:
            exc.errors = [{"field": "legal_rep_id", "code": "id", "message": exc.detail, "message_en": exc.detail_en}]
            raise
        application.legal_rep_id_enc = crypto.encrypt(get_settings().secret("data"), number,
                                                      context="travel_licensing_application.legal_rep")
        application.legal_rep_index = person_index(number)
        a["legal_rep_id_masked"] = identity.mask(number)
    elif step == "premises":
        a["premises_address"] = _text(form, "premises_address", "请填写经营场所地址", "Enter the premises address")
        tenure = str(form.get("tenure", ""))
        if tenure not in {t.value for t in domain.Tenure}:
            raise ValidationFailed("请选择产权或租赁", "Choose owned or leased", errors=[
                {"field": "tenure", "code": "required", "message": "请选择产权或租赁", "message_en": "Choose owned or leased"}])
        a["tenure"] = tenure
        a["lease_months"] = _int(form, "lease_months", maximum=1200) if tenure == "leased" else 0
    elif step == "facilities":
        a["phone_lines"] = _int(form, "phone_lines", maximum=1000)
        for item in ("has_fax", "has_copier", "has_computer"):
            a[item] = form.get(item) == "yes" or item in (form.get("equipment") or [])
    elif step == "capital":
        a["capital_yuan"] = _int(form, "capital_yuan", maximum=10**11)
    elif step == "staff":
        a["staff_count"] = _int(form, "staff_count", minimum=1, maximum=100_000)
        a["guide_count"] = _int(form, "guide_count", maximum=100_000)
    elif step == "managers":
        rows = []
        for line in str(form.get("managers", "")).splitlines():
            parts = [p.strip() for p in line.replace("，", ",").split(",")]
            if not any(parts):
                continue
            if len(parts) != 3 or not parts[0] or not parts[2].isdigit():
                raise ValidationFailed("每行写一人：姓名,职务,从业年限", "One person a line: name, role, years",
                                       errors=[{"field": "managers", "code": "format", "message": "每行写一人：姓名,职务,从业年限",
                                                "message_en": "One person a line: name, role, years"}])
            rows.append({"name": parts[0], "role": parts[1], "years": int(parts[2])})
        if not rows:
            raise ValidationFailed("至少填写一名经营管理人员", "Name at least one manager", errors=[
                {"field": "managers", "code": "required", "message": "至少填写一名经营管理人员", "message_en": "Name at least one manager"}])
        a["managers"] = rows
    elif step == "branches":
        a["branches"] = _int(form, "branches", maximum=100)
    else:
        raise NotFound("没有这一步", "No such step")
    application.answers = a
    session.flush()
    return application


def next_step(application: Application) -> str | None:
    """Return the first page not yet answered, or None when the answers are complete."""
    need = {"enterprise": "uscc", "legal_rep": "legal_rep_name", "premises": "tenure", "facilities": "phone_lines",
            "capital": "capital_yuan", "staff": "staff_count", "managers": "managers", "branches": "branches"}
    for step in STEPS:
        if need[step] not in application.answers or (step == "legal_rep" and not application.legal_rep_index):
            return step
    return None


def application_data(application: Application) -> domain.ApplicationData:
    """Turn complete answers into the domain's application data."""
    if next_step(application) is not None:
        raise ApplicationIncomplete("请先回答所有问题", "Answer every question first")
    a = application.answers
    return domain.ApplicationData(
        name=a["name"], uscc=a["uscc"], legal_rep_name=a["legal_rep_name"], premises_address=a["premises_address"],
        tenure=domain.Tenure(a["tenure"]), lease_months=a["lease_months"], phone_lines=a["phone_lines"],
        has_fax=a["has_fax"], has_copier=a["has_copier"], has_computer=a["has_computer"],
        capital_fen=a["capital_yuan"] * domain.FEN, staff_count=a["staff_count"], guide_count=a["guide_count"],
        managers=tuple(domain.Manager(m["name"], m["role"], m["years"]) for m in a["managers"]),
        business_scope=tuple(a.get("business_scope", domain.BUSINESS_SCOPE)), branches=a["branches"])


@dataclass(frozen=True)
class Eligibility:
    """Give every check's result: conditions (§1.1), credit (42号), and personal bars (§1.4)."""

    conditions: list[domain.Failure]
    credit: list[domain.Failure]
    bars: list[domain.Failure]

    @property
    def commitment_open(self) -> bool:
        """Say whether the commitment route may be chosen."""
        return not (self.conditions or self.credit or self.bars)

    def as_dict(self) -> dict[str, list[dict[str, str]]]:
        """Return the checks as JSON for the case file."""
        return {k: [{"code": f.code, "zh": f.zh, "en": f.en, "citation": f.citation} for f in v]
                for k, v in (("conditions", self.conditions), ("credit", self.credit), ("bars", self.bars))}


def _active_bars(session: Session, index: str | None, today: dt.date) -> list[Bar]:
    if not index:
        return []
    return list(session.scalars(select(Bar).where(Bar.person_index == index, Bar.until_on > today)))


def credit_facts(session: Session, *, org_id: uuid.UUID, legal_rep_id: str | None, today: dt.date) -> domain.CreditFacts:
    """Gather the credit facts of the firm and its legal representative from core/credit and this service's breaches."""
    serious = credit.active_records(session, org_id=org_id, classes=(credit.RecordClass.SERIOUS,), today=today)
    false = [r for r in credit.active_records(session, org_id=org_id, source=SOURCE, today=today)
             if r.reference.startswith("false_commitment:")]
    if legal_rep_id:
        person = identity.find_person_by_id_number(session, legal_rep_id)
        if person is not None:
            serious += credit.active_records(session, person_id=person.id, classes=(credit.RecordClass.SERIOUS,),
                                             today=today)
    last = session.scalar(select(func.max(Breach.found_on)).where(Breach.org_id == org_id,
                                                                  Breach.record_class == "serious"))
    return domain.CreditFacts(serious_record=bool(serious), false_commitment=bool(false), last_serious_breach_on=last)


def _legal_rep_id(application: Application) -> str | None:
    if application.legal_rep_id_enc is None:
        return None
    return crypto.decrypt(get_settings().secret("data"), application.legal_rep_id_enc,
                          context="travel_licensing_application.legal_rep")


def eligibility(session: Session, application: Application, *, today: dt.date | None = None) -> Eligibility:
    """Run every check on an application with complete answers."""
    today = today or today_cst()
    data = application_data(application)
    facts = credit_facts(session, org_id=application.org_id, legal_rep_id=_legal_rep_id(application), today=today)
    bars = []
    for bar in _active_bars(session, application.legal_rep_index, today):
        _years, citation, zh, en = domain.BAR_RULES[BarKind(bar.kind)]
        bars.append(domain.Failure(f"bar_{bar.kind}", f"法定代表人{zh}（至 {bar.until_on}）", f"The legal representative: {en} "
                                   f"(until {bar.until_on})", citation))
    return Eligibility(domain.condition_failures(data),
                       domain.commitment_failures(facts, today=today,
                                                  bar_years=get_travel_settings().serious_breach_bar_years), bars)


def choose_route(session: Session, *, application: Application, route: Route | str) -> Eligibility:
    """Choose the route; the commitment route is refused unless every check passes (国办发〔2020〕42号)."""
    if application.status != "draft":
        raise WrongState()
    route = Route(route)
    result = eligibility(session, application)
    if route is Route.COMMITMENT and not result.commitment_open:
        failed = result.conditions + result.credit + result.bars
        raise CommitmentRouteClosed("；".join(f.zh for f in failed), "; ".join(f.en for f in failed),
                                    errors=[{"field": "route", "code": f.code, "message": f.zh, "message_en": f.en}
                                            for f in failed])
    application.route = route.value
    application.checks = result.as_dict()
    application.notice_sha256 = application.commitment_sha256 = application.signed_at = None
    session.flush()
    return result


def doc_context(application: Application) -> dict:
    a = application.answers
    return {"a": a, "scope": [domain.SCOPE_LABELS[s] for s in a.get("business_scope", domain.BUSINESS_SCOPE)],
            "deposit_yuan": domain.DEPOSIT_FEN // domain.FEN, "deposit_days": domain.DEPOSIT_WORKING_DAYS,
            "verification_months": get_travel_settings().verification_months, "min_guides": domain.min_guides(
                a.get("staff_count", 0)), "application_id": str(application.id)}


def notice_html(application: Application, *, lang: str = "zh-CN") -> str:
    """Render the notice of conditions and liabilities (告知书) from its template."""
    return documents.render_html("travel_licensing/documents/notice.html", doc_context(application), lang=lang)


def commitment_html(application: Application, *, lang: str = "zh-CN") -> str:
    """Render the commitment (承诺书) from its template, with the applicant's own particulars."""
    return documents.render_html("travel_licensing/documents/commitment.html", doc_context(application), lang=lang)


def sign(session: Session, *, application: Application, read_notice: bool, commit: bool) -> Application:
    """Sign the commitment: the applicant confirms reading the notice and commits; the texts' digests are kept."""
    if application.status != "draft" or application.route != Route.COMMITMENT:
        raise WrongState("只有选择告知承诺方式的申请需要签署承诺书", "Only a commitment-route application is signed")
    if not (read_notice and commit):
        raise ValidationFailed("请确认已阅读告知书并作出承诺", "Confirm you have read the notice and make the commitment",
                               errors=[{"field": "read_notice" if not read_notice else "commit", "code": "required",
                                        "message": "请确认已阅读告知书并作出承诺",
                                        "message_en": "Confirm you have read the notice and make the commitment"}])
    application.notice_sha256 = _sha(notice_html(application))
    application.commitment_sha256 = _sha(commitment_html(application))
    application.signed_at = utcnow()
    session.flush()
    return application


def _officers(session: Session, duty: str) -> list[Officer]:
    return list(session.scalars(select(Officer).where(Officer.duty == duty, Officer.active.is_(True))
                                .order_by(Officer.created_at)))


def register_officer(session: Session, *, person_id: uuid.UUID, org_id: uuid.UUID, duty: str) -> Officer:
    """Put a person on duty as a clerk (case queue) or an inspector (inspections and draws); idempotent."""
    if duty not in {"clerk", "inspector"}:
        raise ValidationFailed("职责只能是 clerk 或 inspector", "Duty is clerk or inspector")
    row = session.scalar(select(Officer).where(Officer.person_id == person_id, Officer.duty == duty))
    if row is None:
        row = Officer(person_id=person_id, org_id=org_id, duty=duty)
        session.add(row)
        session.flush()
    row.active = True
    return row


def _responsible_clerk(session: Session) -> Officer | None:
    """Pick the on-duty clerk with the fewest open cases (ties: longest on duty)."""
    clerks = _officers(session, "clerk")
    if not clerks:
        return None
    load = Counter(session.scalars(select(Application.responsible_person_id).where(Application.status == "queued")))
    return min(clerks, key=lambda c: (load[c.person_id], c.created_at))


def decision_due(session: Session, application: Application, submitted_at: dt.datetime) -> dt.datetime:
    """Compute the decision limit: half a working day on the commitment route, else 20 working days (art. 7).

    Half a working day is one office session of core/calendar (上午 09:00–12:00 or 下午 13:30–17:30, China time):
    from a submission inside a session the limit is the same offset into the next session; from outside office hours
    it is the close of the next session. The ordinary limit ends at 17:30 on the 20th working day after acceptance.
    """
    if application.route == Route.COMMITMENT:
        return calendar.add_half_working_days(session, submitted_at, get_travel_settings().decision_half_days).at
    day = calendar.add_working_days(session, submitted_at.astimezone(CST).date(), domain.ORDINARY_WORKING_DAYS).day
    close = calendar.office_hours().sessions(day)[-1][1]
    return close.astimezone(dt.UTC)


def submit(session: Session, *, application: Application, now: dt.datetime | None = None) -> Application:
    """Submit: on the commitment route with every check passing, approve at once; otherwise queue for a clerk."""
    now = now or utcnow()
    if application.status != "draft" or application.route is None:
        raise WrongState("请先选择办理方式", "Choose a route first")
    if application.route == Route.COMMITMENT and application.signed_at is None:
        raise ApplicationIncomplete("请先签署承诺书", "Sign the commitment first")
    result = eligibility(session, application, today=now.astimezone(CST).date())
    application.checks = result.as_dict()
    application.submitted_at = now
    application.decision_due_at = decision_due(session, application, now)
    if application.route == Route.COMMITMENT and result.commitment_open:
        return _approve(session, application, now=now, automatic=True, actor_person_id=None, actor_org_id=None)
    application.status = "queued"
    clerk = _responsible_clerk(session)
    application.responsible_person_id = clerk.person_id if clerk else None
    recorded = ledger.record(session, QUEUED, actor_org_id=application.org_id, data={
        "application": str(application.id), "route": application.route,
        "due_at": application.decision_due_at.isoformat(), "checks_failed": sorted(
            f["code"] for v in application.checks.values() for f in v)})
    application.leaf_hash = recorded.leaf_hash.hex()
    if clerk:
        notify.send(session, person_id=clerk.person_id, subject="新的旅行社许可申请待审查",
                    body=f"{application.answers['name']}：决定期限 {_local(application.decision_due_at)}。\n"
                         f"/travel-licensing/clerk/{application.id}",
                    subject_en="A travel-agency application awaits review",
                    body_en=f"Decision due {_local(application.decision_due_at)}.\n/travel-licensing/clerk/{application.id}")
    session.flush()
    return application


def _local(at: dt.datetime) -> str:
    return at.astimezone(CST).strftime("%Y-%m-%d %H:%M")


def approve(session: Session, *, application: Application, actor_person_id: uuid.UUID,
            actor_org_id: uuid.UUID, now: dt.datetime | None = None) -> Application:
    """Approve a queued application by a clerk's decision; a barred legal representative cannot be approved."""
    if application.status != "queued":
        raise WrongState()
    now = now or utcnow()
    if _active_bars(session, application.legal_rep_index, now.astimezone(CST).date()):
        raise PersonBarred("法定代表人处于吊销许可后的从业限制期内，不能批准（旅行社条例第六十四条；旅游法第一百零三条）",
                           "The legal representative is barred after a revocation (Regulations art. 64; Tourism Law art. 103)")
    failed = domain.condition_failures(application_data(application))
    if failed:
        # 旅行社条例 art. 7: a licence is granted only when the conditions are met; otherwise refuse with reasons.
        raise ConditionsNotMet("；".join(f.zh for f in failed), "; ".join(f.en for f in failed),
                               errors=[{"field": "decision", "code": f.code, "message": f.zh, "message_en": f.en}
                                       for f in failed])
    return _approve(session, application, now=now, automatic=False, actor_person_id=actor_person_id,
                    actor_org_id=actor_org_id)


def refuse(session: Session, *, application: Application, reason: str, actor_person_id: uuid.UUID,
           actor_org_id: uuid.UUID) -> Application:
    """Refuse a queued application in writing with reasons (旅行社条例 art. 7)."""
    if application.status != "queued":
        raise WrongState()
    if not reason.strip():
        raise ValidationFailed("请写明不予许可的理由", "Give the reasons for refusal",
                               errors=[{"field": "reason", "code": "required", "message": "请写明不予许可的理由",
                                        "message_en": "Give the reasons for refusal"}])
    application.status = "refused"
    application.refusal_reason = reason
    application.decided_at = utcnow()
    application.decided_by = actor_person_id
    ledger.record(session, REFUSED, actor_org_id=actor_org_id, digests={"reason": "sha256:" + _sha(reason)},
                  data={"application": str(application.id), "route": application.route,
                        "on_time": application.decided_at <= application.decision_due_at})
    notify.send(session, person_id=application.applicant_person_id, subject="旅行社许可申请未获批准",
                body=f"理由：{reason}\n/travel-licensing/applications/{application.id}",
                subject_en="Travel-agency application refused", body_en=f"/travel-licensing/applications/{application.id}")
    session.flush()
    return application


def _licence_number(session: Session, year: int) -> str:
    # L-BJ-<year>-<5-digit sequence>: this system's numbering; the ministry's national format is not in the sources.
    prefix = f"L-BJ-{year}-"
    count = session.scalar(select(func.count()).select_from(Licence).where(Licence.number.like(prefix + "%"))) or 0
    return f"{prefix}{count + 1:05d}"


def licence_content(licence: Licence, application: Application) -> dict:
    """Return the canonical content of a licence, whose SHA-256 the ledger keeps and the PDF presents."""
    a = application.answers
    return {"number": licence.number, "name": a["name"], "uscc": a["uscc"], "legal_rep": a["legal_rep_name"],
            "premises": a["premises_address"], "scope": list(a.get("business_scope", domain.BUSINESS_SCOPE)),
            "issued_on": licence.issued_on.isoformat(), "route": licence.route}


def _approve(session: Session, application: Application, *, now: dt.datetime, automatic: bool,
             actor_person_id: uuid.UUID | None, actor_org_id: uuid.UUID | None) -> Application:
    issued_on = now.astimezone(CST).date()
    application.status = "approved"
    application.decided_at = now
    application.decided_by = actor_person_id
    application.automatic = automatic
    if application.responsible_person_id is None:
        clerk = _responsible_clerk(session)
        application.responsible_person_id = clerk.person_id if clerk else None
    licence = Licence(id=uuid.uuid4(), application_id=application.id, org_id=application.org_id,
                      number=_licence_number(session, issued_on.year), route=application.route, issued_on=issued_on,
                      responsible_person_id=application.responsible_person_id, pdf_sha256="", leaf_hash="")
    content = json.dumps(licence_content(licence, application), ensure_ascii=False, sort_keys=True)
    licence.pdf_sha256 = _sha(content)
    recorded = ledger.record(session, APPROVED, actor_org_id=actor_org_id,
                             digests={"licence": "sha256:" + licence.pdf_sha256,
                                      **({"commitment": "sha256:" + application.commitment_sha256}
                                         if application.commitment_sha256 else {})},
                             data={"application": str(application.id), "licence": licence.number,
                                   "route": application.route, "automatic": automatic,
                                   "decision_ms": int((now - application.submitted_at).total_seconds() * 1000)})
    licence.leaf_hash = application.leaf_hash = recorded.leaf_hash.hex()
    session.add(licence)
    session.flush()
    deposit_due = calendar.add_working_days(session, issued_on, domain.DEPOSIT_WORKING_DAYS).day
    _add_obligation(session, licence, "deposit", domain.DEPOSIT_FEN, issued_on, deposit_due)
    for _ in range(application.answers.get("branches", 0)):
        due = calendar.add_working_days(session, issued_on, get_travel_settings().branch_deposit_working_days).day
        _add_obligation(session, licence, "branch_deposit", domain.BRANCH_DEPOSIT_FEN, issued_on, due)
    _schedule_verification(session, licence)
    queue_e_license(session, licence, get_travel_settings())
    notify.send(session, person_id=application.applicant_person_id, subject=f"旅行社业务经营许可证已核发：{licence.number}",
                body=f"请于 {deposit_due} 前缴存旅游服务质量保证金20万元或提交等额银行担保（旅行社条例第十三条）。\n"
                     f"/travel-licensing/applications/{application.id}",
                subject_en=f"Travel-agency licence issued: {licence.number}",
                body_en=f"Deposit RMB 200,000 or file a bank guarantee by {deposit_due} (art. 13).\n"
                        f"/travel-licensing/applications/{application.id}")
    return application


def queue_e_license(session: Session, licence: Licence, settings: TravelSettings) -> bool:
    """Queue the e-license issue of a licence in the caller's transaction when configured; say whether it was queued."""
    if not settings.e_license_enabled:
        return False
    # Same transaction as the approval: the job exists exactly when the licence does; a failing call only retries.
    return jobs.enqueue(session, E_LICENSE_JOB, {"licence_id": str(licence.id)},
                        dedupe_key=f"travel-licensing-el-{licence.id}",
                        max_attempts=settings.e_license_max_attempts) is not None


def e_license_request(licence: Licence, application: Application) -> dict:
    """Map a licence to the issuer API's body: the firm as holder, fields of the catalogue's travel_agency_licence."""
    content = licence_content(licence, application)
    scope = "、".join(domain.SCOPE_LABELS[x][0] for x in content["scope"])
    # The catalogue's type is long-term (validity long_term, 《旅行社条例》第七条): no end date.
    return {"type": E_LICENSE_TYPE, "holder_kind": "organisation", "holder_id": str(licence.org_id),
            "fields": {"number": content["number"], "org_name": content["name"], "uscc": content["uscc"],
                       "legal_representative": content["legal_rep"], "address": content["premises"], "scope": scope},
            "valid_from_on": content["issued_on"], "valid_until_on": None}


class ELicenseCallFailed(Exception):
    """Signal that the issuer API did not issue, so the job mechanism retries later."""


def post_e_license(http: httpx.Client, *, token: str, number: str, body: dict) -> dict:
    """POST one licence to the e-license issuer API and return the issued e-license, or raise so the job retries."""
    # Idempotency-Key = the licence number: a repeated call (a retry after a lost answer) gets the first response.
    response = http.post(E_LICENSE_ISSUE_PATH, json=body, headers={
        "authorization": f"Bearer {token}", "accept": "application/json", "idempotency-key": number})
    if response.status_code != 201:
        raise ELicenseCallFailed(f"e-license issuer API answered {response.status_code}: {response.text[:500]}")
    return response.json()


def store_e_license(session: Session, *, licence_id: uuid.UUID, issued: dict) -> Licence:
    """Keep the id of the e-license issued for a licence and put its VC digest on the ledger."""
    licence = get_licence(session, licence_id)
    if licence.e_license_id is None:
        licence.e_license_id = uuid.UUID(issued["id"])
        ledger.record(session, E_LICENSE_ISSUED, actor_org_id=None, digests={"vc": "sha256:" + issued["vc_digest"]},
                      data={"licence": licence.number, "e_license": str(licence.e_license_id)})
        session.flush()
    return licence


def deliver_e_license(transaction: Callable, *, licence_id: uuid.UUID, http: httpx.Client,
                      token: str) -> uuid.UUID | None:
    """Issue a licence as an e-license unless it was issued or revoked already; return the e-license id.

    No transaction is held during the call, so an e-license service on the same SQLite file can write meanwhile.
    """
    with transaction() as session:
        licence = get_licence(session, licence_id)
        if licence.e_license_id is not None or licence.status == "revoked":
            # A licence revoked before its e-license went out is never issued as one.
            return licence.e_license_id
        number = licence.number
        body = e_license_request(licence, session.get(Application, licence.application_id))
    issued = post_e_license(http, token=token, number=number, body=body)
    with transaction() as session:
        return store_e_license(session, licence_id=licence_id, issued=issued).e_license_id


@jobs.handler(E_LICENSE_JOB, calls_out=True)
def _e_license_job(transaction: Callable, payload: dict) -> None:
    settings = get_travel_settings()
    if not settings.e_license_enabled:
        return
    with httpx.Client(base_url=settings.e_license_url, timeout=30) as http:
        deliver_e_license(transaction, licence_id=uuid.UUID(payload["licence_id"]), http=http,
                          token=settings.e_license_secret())


def queue_e_license_revocation(session: Session, licence: Licence, *, reason: str,
                               settings: TravelSettings) -> bool:
    """Queue the revocation of a revoked licence's e-license in the revoking transaction when configured."""
    if not settings.e_license_enabled:
        return False
    jobs.enqueue(session, E_LICENSE_REVOKE_JOB, {"licence_id": str(licence.id), "reason": reason[:500]},
                 dedupe_key=f"travel-licensing-el-revoke-{licence.id}", max_attempts=settings.e_license_max_attempts)
    return True


def post_e_license_revocation(http: httpx.Client, *, token: str, e_license_id: uuid.UUID, number: str,
                              reason: str) -> dict | None:
    """POST a revocation to the issuer API; return the revoked e-license, None if it was revoked already, or raise."""
    response = http.post(E_LICENSE_REVOKE_PATH.format(id=e_license_id), json={"reason": reason}, headers={
        "authorization": f"Bearer {token}", "accept": "application/json", "idempotency-key": f"revoke-{number}"})
    if response.status_code == 409:
        # The issuer API refuses a revocation only when the e-license is revoked already (revocation is final).
        return None
    if response.status_code != 200:
        raise ELicenseCallFailed(f"e-license issuer API answered {response.status_code}: {response.text[:500]}")
    return response.json()


def revoke_e_license(transaction: Callable, *, licence_id: uuid.UUID, reason: str, http: httpx.Client,
                     token: str) -> bool:
    """Revoke the e-license of a revoked licence; return False when no e-license was issued for it.

    Raises while the licence's issue job may still deliver one, so the job retries after it.
    """
    with transaction() as session:
        # The issue job's status is read before the licence: an issue job seen finished stored its id before.
        issuing = jobs.status(session, f"travel-licensing-el-{licence_id}")
        licence = get_licence(session, licence_id)
        if licence.e_license_id is None:
            if issuing in ("pending", "running"):
                raise ELicenseCallFailed("the e-license of this licence is still being issued; revoking after it")
            return False
        e_license_id, number = licence.e_license_id, licence.number
    revoked = post_e_license_revocation(http, token=token, e_license_id=e_license_id, number=number, reason=reason)
    with transaction() as session:
        ledger.record(session, E_LICENSE_REVOKED, actor_org_id=None,
                      digests={"vc": "sha256:" + revoked["vc_digest"]} if revoked else {},
                      data={"licence": number, "e_license": str(e_license_id), "already": revoked is None})
    return True


@jobs.handler(E_LICENSE_REVOKE_JOB, calls_out=True)
def _e_license_revoke_job(transaction: Callable, payload: dict) -> None:
    settings = get_travel_settings()
    if not settings.e_license_enabled:
        return
    with httpx.Client(base_url=settings.e_license_url, timeout=30) as http:
        revoke_e_license(transaction, licence_id=uuid.UUID(payload["licence_id"]), reason=payload["reason"],
                         http=http, token=settings.e_license_secret())


def e_license_url(licence: Licence) -> str | None:
    """Return the holder's page of the licence's e-license (relative when the service shares this host)."""
    if licence.e_license_id is None:
        return None
    return f"{get_travel_settings().e_license_url.rstrip('/')}/e-license/my/{licence.e_license_id}"


def _add_obligation(session: Session, licence: Licence, kind: str, amount_fen: int, start_on: dt.date,
                    due_on: dt.date) -> Obligation:
    ob = Obligation(licence_id=licence.id, org_id=licence.org_id, kind=kind, amount_fen=amount_fen, start_on=start_on,
                    due_on=due_on)
    session.add(ob)
    session.flush()
    jobs.enqueue(session, SWEEP, {}, run_at=dt.datetime.combine(due_on + dt.timedelta(days=1), dt.time(0, 5),
                                                                 tzinfo=CST).astimezone(dt.UTC),
                 dedupe_key=f"travel-licensing-due-{ob.id}")
    return ob


def last_working_day_on_or_before(session: Session, day: dt.date) -> dt.date:
    """Return day if it is a working day, else the working day before it (so a 'within N months' visit fits)."""
    while not calendar.is_workday(session, day):
        day -= dt.timedelta(days=1)
    return day


def _inspectors_by_load(session: Session) -> list[Officer]:
    load = Counter()
    for ids in session.scalars(select(Inspection.inspector_ids).where(Inspection.status == "open")):
        load.update(ids)
    return sorted(_officers(session, "inspector"), key=lambda o: (load[str(o.person_id)], o.created_at))


def verification_due(session: Session, issued_on: dt.date) -> tuple[dt.date, bool]:
    """Return the verification date and whether it is on the calendar: the last working day within N months.

    When that year's calendar is missing, the bare limit is kept (never later than the working-day date, so no
    guess can make the visit late) and marked unadjusted; the sweep moves it once the year is imported.
    """
    limit = calendar.add_months(issued_on, get_travel_settings().verification_months)
    try:
        return last_working_day_on_or_before(session, limit), True
    except calendar.CalendarDataMissing:
        return limit, False


def _schedule_verification(session: Session, licence: Licence) -> Inspection:
    due, adjusted = verification_due(session, licence.issued_on)
    inspector = next(iter(_inspectors_by_load(session)), None)
    inspection = Inspection(licence_id=licence.id, org_id=licence.org_id, kind="verification", due_on=due,
                            due_adjusted=adjusted, inspector_ids=[str(inspector.person_id)] if inspector else [])
    session.add(inspection)
    session.flush()
    if inspector:
        notify.send(session, person_id=inspector.person_id, subject=f"承诺核查任务：{licence.number}",
                    body=f"请于 {due} 前完成对告知承诺的核查。\n/travel-licensing/inspector",
                    subject_en=f"Commitment verification: {licence.number}", body_en=f"Due {due}.\n/travel-licensing/inspector")
    return inspection


# --- obligations ------------------------------------------------------------------------------------------------------

def record_deposit(session: Session, *, obligation: Obligation, method: str, bank: str, amount_fen: int,
                   paid_on: dt.date, evidence_name: str, evidence: bytes, today: dt.date | None = None) -> Obligation:
    """Record the firm's deposit or bank guarantee with its evidence; the obligation is met if the amount suffices."""
    errors = []
    if method not in {"deposit", "guarantee"}:
        errors.append({"field": "method", "code": "required", "message": "请选择现金存款或银行担保",
                       "message_en": "Choose a deposit or a bank guarantee"})
    if not bank.strip():
        errors.append({"field": "bank", "code": "required", "message": "请填写银行", "message_en": "Enter the bank"})
    if amount_fen < obligation.amount_fen:
        errors.append({"field": "amount_yuan", "code": "amount", "message": f"金额不少于{obligation.amount_fen // 100}元",
                       "message_en": f"At least RMB {obligation.amount_fen // 100}"})
    today = today or today_cst()
    if paid_on > today:
        errors.append({"field": "paid_on", "code": "future", "message": "日期不能晚于今天",
                       "message_en": "The date cannot be in the future"})
    if not evidence:
        errors.append({"field": "evidence", "code": "required", "message": "请上传凭证", "message_en": "Upload the evidence"})
    if errors:
        raise ValidationFailed(errors[0]["message"], errors[0]["message_en"], errors=errors)
    if obligation.status not in {"open", "overdue"}:
        raise WrongState("该义务已履行或已终结", "That obligation is already closed")
    obligation.method, obligation.bank, obligation.paid_fen = method, bank.strip(), amount_fen
    obligation.evidence_name, obligation.evidence_sha256 = evidence_name[:200], _sha(evidence)
    obligation.met_on = paid_on
    obligation.on_time = paid_on <= obligation.due_on
    obligation.status = "met"
    licence = session.get(Licence, obligation.licence_id)
    ledger.record(session, OBLIGATION_MET, actor_org_id=obligation.org_id,
                  digests={"evidence": "sha256:" + obligation.evidence_sha256},
                  data={"licence": licence.number, "obligation": str(obligation.id), "kind": obligation.kind,
                        "method": method, "amount_fen": amount_fen, "on_time": obligation.on_time,
                        "level": obligation.level})
    if not obligation.on_time and obligation.level >= 2:
        # Rectified after an order under art. 48: the late deposit is recorded (minor by default), not revoked.
        apply_breach(session, licence=licence, kind=domain.BreachKind.DEPOSIT_LATE, found_on=today,
                     actor_org_id=None, reference=f"obligation:{obligation.id}")
    session.flush()
    return obligation


def _notify_overdue(session: Session, ob: Obligation, licence: Licence, zh: str, en: str) -> None:
    app = session.get(Application, licence.application_id)
    people = {app.applicant_person_id}
    if licence.responsible_person_id:
        people.add(licence.responsible_person_id)
    for person in sorted(people, key=str):
        for channel in ("inbox", "sms"):
            notify.send(session, person_id=person, channel=channel, subject=f"{licence.number}：{zh}"[:200],
                        body=f"{zh}（{ob.kind}，期限 {ob.due_on}）。/travel-licensing/applications/{app.id}",
                        subject_en=f"{licence.number}: {en}", body_en=f"{en} ({ob.kind}, due {ob.due_on}).",
                        dedupe_key=f"travel-overdue-{ob.id}-{ob.level}-{person}-{channel}")


def sweep(session: Session, *, today: dt.date | None = None) -> int:
    """Flag overdue obligations and expired rectification orders, notifying the firm and the responsible clerk."""
    today = today or today_cst()
    changed = 0
    for insp in session.scalars(select(Inspection).where(Inspection.due_adjusted.is_(False),
                                                         Inspection.status == "open")):
        licence = session.get(Licence, insp.licence_id)
        insp.due_on, insp.due_adjusted = verification_due(session, licence.issued_on)
    open_late = session.scalars(select(Obligation).where(Obligation.status == "open", Obligation.due_on < today)).all()
    for ob in open_late:
        licence = session.get(Licence, ob.licence_id)
        if licence.status != "valid":
            continue
        ob.status, ob.level = "overdue", 1
        ledger.record(session, OBLIGATION_OVERDUE, actor_org_id=None, data={
            "licence": licence.number, "obligation": str(ob.id), "kind": ob.kind, "due_on": ob.due_on.isoformat(),
            "level": 1, "basis": "旅行社条例第四十八条"})
        _notify_overdue(session, ob, licence, "逾期未缴存质量保证金", "Quality deposit overdue")
        changed += 1
    expired = session.scalars(select(Obligation).where(Obligation.status == "overdue", Obligation.level == 2,
                                                       Obligation.rectify_due_on < today)).all()
    for ob in expired:
        licence = session.get(Licence, ob.licence_id)
        ob.level = 3  # not rectified: the case goes to revocation (art. 48), which an official decides
        ledger.record(session, OBLIGATION_OVERDUE, actor_org_id=None, data={
            "licence": licence.number, "obligation": str(ob.id), "kind": ob.kind, "level": 3,
            "rectify_due_on": ob.rectify_due_on.isoformat(), "basis": "旅行社条例第四十八条"})
        _notify_overdue(session, ob, licence, "责令改正期满仍未缴存，拟吊销许可", "Not rectified: revocation proposed")
        changed += 1
    session.flush()
    return changed


@jobs.handler(SWEEP, every=dt.timedelta(hours=1))
def _sweep_job(session: Session, payload: dict) -> None:
    """Run the overdue sweep (also queued for the day after each deadline)."""
    sweep(session)


def order_rectification(session: Session, *, obligation: Obligation, actor_org_id: uuid.UUID | None,
                        today: dt.date | None = None) -> Obligation:
    """Order the firm to rectify an overdue obligation within the configured working days (art. 48)."""
    if obligation.status != "overdue" or obligation.level != 1:
        raise WrongState("只能对已逾期且未责令改正的义务责令改正", "Only an overdue obligation not yet ordered can be")
    obligation.level = 2
    obligation.rectify_due_on = calendar.add_working_days(session, today or today_cst(),
                                                          get_travel_settings().rectify_working_days).day
    licence = session.get(Licence, obligation.licence_id)
    ledger.record(session, RECTIFY_ORDERED, actor_org_id=actor_org_id, data={
        "licence": licence.number, "obligation": str(obligation.id), "rectify_due_on": obligation.rectify_due_on.isoformat(),
        "basis": "旅行社条例第四十八条"})
    _notify_overdue(session, obligation, licence, f"责令于 {obligation.rectify_due_on} 前改正",
                    f"Ordered to rectify by {obligation.rectify_due_on}")
    jobs.enqueue(session, SWEEP, {}, run_at=dt.datetime.combine(obligation.rectify_due_on + dt.timedelta(days=1),
                                                                 dt.time(0, 5), tzinfo=CST).astimezone(dt.UTC),
                 dedupe_key=f"travel-licensing-rectify-{obligation.id}")
    session.flush()
    return obligation


def _require_valid(licence: Licence) -> None:
    if licence.status != "valid":
        raise WrongState("许可证已吊销，不能再增设义务", "The licence is revoked; no obligation can be added")


def order_top_up(session: Session, *, licence: Licence, amount_fen: int, actor_org_id: uuid.UUID,
                 today: dt.date | None = None) -> Obligation:
    """Notify a top-up of the deposit, due within 5 working days of the notice (旅行社条例 art. 18)."""
    if amount_fen <= 0:
        raise ValidationFailed("金额须大于零", "The amount must be positive", errors=[
            {"field": "amount_yuan", "code": "amount", "message": "金额须大于零", "message_en": "The amount must be positive"}])
    _require_valid(licence)
    today = today or today_cst()
    ob = _add_obligation(session, licence, "top_up", amount_fen, today,
                         calendar.add_working_days(session, today, domain.TOP_UP_WORKING_DAYS).day)
    ledger.record(session, TOP_UP_ORDERED, actor_org_id=actor_org_id, data={
        "licence": licence.number, "obligation": str(ob.id), "amount_fen": amount_fen, "due_on": ob.due_on.isoformat(),
        "basis": "旅行社条例第十八条"})
    app = session.get(Application, licence.application_id)
    notify.send(session, person_id=app.applicant_person_id, subject=f"{licence.number}：请补足质量保证金",
                body=f"请于 {ob.due_on} 前补足 {amount_fen // 100} 元（旅行社条例第十八条）。"
                     f"/travel-licensing/applications/{app.id}",
                subject_en=f"{licence.number}: top up the deposit", body_en=f"Top up RMB {amount_fen // 100} by {ob.due_on}.")
    return ob


def add_branch(session: Session, *, licence: Licence, actor_org_id: uuid.UUID | None = None,
               today: dt.date | None = None) -> Obligation:
    """Add the deposit for a new branch (RMB 50,000, art. 14), due in the configured working days."""
    _require_valid(licence)
    today = today or today_cst()
    ob = _add_obligation(session, licence, "branch_deposit", domain.BRANCH_DEPOSIT_FEN, today,
                         calendar.add_working_days(session, today, get_travel_settings().branch_deposit_working_days).day)
    ledger.record(session, BRANCH_ADDED, actor_org_id=actor_org_id or licence.org_id, data={
        "licence": licence.number, "obligation": str(ob.id), "amount_fen": ob.amount_fen, "due_on": ob.due_on.isoformat(),
        "basis": "旅行社条例第十四条"})
    return ob


# --- breaches, revocation, bars ---------------------------------------------------------------------------------------

def apply_breach(session: Session, *, licence: Licence, kind: domain.BreachKind | str, found_on: dt.date,
                 actor_org_id: uuid.UUID | None, record_class: str | None = None, reference: str = "") -> Breach:
    """Grade a breach, make its credit record (published or not by class), and revoke on a serious one."""
    rule, cls, consequence = domain.grade(kind, record_class)
    app = session.get(Application, licence.application_id)
    kind = domain.BreachKind(kind)
    ref = f"{kind.value}:{licence.number}" + (f":{reference}" if reference else "")
    record = credit.record_finding(session, subject_org_id=licence.org_id, subject_name=app.answers["name"],
                                   subject_code=app.answers["uscc"], source=SOURCE, reference=ref,
                                   record_class=cls.value, legal_basis=rule.basis, legal_basis_en=rule.basis_en,
                                   facts=rule.zh, facts_en=rule.en, finding_on=found_on, actor_org_id=actor_org_id)
    breach = Breach(licence_id=licence.id, org_id=licence.org_id, kind=kind.value, record_class=cls.value,
                    consequence=consequence.value, legal_basis=rule.basis, found_on=found_on, credit_record_id=record.id)
    session.add(breach)
    session.flush()
    ledger.record(session, BREACH, actor_org_id=actor_org_id, data={
        "licence": licence.number, "breach": str(breach.id), "kind": kind.value, "class": cls.value,
        "consequence": consequence.value, "basis": rule.basis, "credit_record": str(record.id)})
    if consequence is Consequence.REVOKE and licence.status == "valid":
        revoke(session, licence=licence, found_on=found_on, actor_org_id=actor_org_id, basis=rule.basis)
    return breach


def revoke(session: Session, *, licence: Licence, found_on: dt.date, actor_org_id: uuid.UUID | None,
           basis: str) -> Licence:
    """Revoke a licence and bar its legal representative (旅行社条例 art. 64: 5 years; 旅游法 art. 103: 3 years)."""
    licence.status = "revoked"
    licence.revoked_on = found_on
    app = session.get(Application, licence.application_id)
    for kind in BarKind:
        if app.legal_rep_index:
            session.add(Bar(person_index=app.legal_rep_index, kind=kind.value, from_on=found_on,
                            until_on=domain.bar_until(kind, found_on), licence_id=licence.id))
    for ob in session.scalars(select(Obligation).where(Obligation.licence_id == licence.id,
                                                       Obligation.status.in_(["open", "overdue"]))):
        ob.status = "closed"
    for insp in session.scalars(select(Inspection).where(Inspection.licence_id == licence.id,
                                                         Inspection.status == "open")):
        insp.status = "cancelled"
    commitments = {}
    legal_rep_id = _legal_rep_id(app)
    if legal_rep_id:
        commitments["legal_rep"] = ledger.commit(session, "id_number", legal_rep_id)
        person = identity.find_person_by_id_number(session, legal_rep_id)
        if person is not None:
            # 文化和旅游市场信用管理规定 interpretation: when a licence is revoked the legal representative is listed too.
            credit.record_finding(session, subject_person_id=person.id, subject_name=identity.mask(app.answers["legal_rep_name"], head=1, tail=0),
                                  source=SOURCE, reference=f"revoked:{licence.number}", record_class="serious",
                                  legal_basis=basis, facts="所任法定代表人的旅行社被吊销许可", finding_on=found_on,
                                  actor_org_id=actor_org_id)
    ledger.record(session, REVOKED, actor_org_id=actor_org_id, commitments=commitments, data={
        "licence": licence.number, "on": found_on.isoformat(), "basis": basis,
        "bars": [{"kind": k.value, "until": domain.bar_until(k, found_on).isoformat(), "citation": domain.BAR_RULES[k][1]}
                 for k in BarKind]})
    # The e-license issued for the licence is revoked too, over the issuer API, once this transaction commits.
    queue_e_license_revocation(session, licence, reason=f"许可已吊销（{licence.number}），依据：{basis}",
                               settings=get_travel_settings())
    notify.send(session, person_id=app.applicant_person_id, subject=f"{licence.number}：许可已被吊销",
                body=f"依据：{basis}。/travel-licensing/applications/{app.id}",
                subject_en=f"{licence.number}: licence revoked", body_en=f"Basis: {basis}.")
    session.flush()
    return licence


# --- inspections ------------------------------------------------------------------------------------------------------

def record_inspection(session: Session, *, inspection: Inspection, person_id: uuid.UUID, actor_org_id: uuid.UUID,
                      result: str, notes: str = "", breach_kind: str | None = None,
                      record_class: str | None = None, today: dt.date | None = None) -> Inspection:
    """Record an inspection's result; only an assigned inspector may, and a breach found is graded and applied."""
    if str(person_id) not in inspection.inspector_ids:
        raise NotInspector()
    if inspection.status != "open":
        raise WrongState("该检查已结束", "That inspection is closed")
    if result not in {"pass", "breach"}:
        raise ValidationFailed("请选择检查结论", "Choose a result", errors=[
            {"field": "result", "code": "required", "message": "请选择检查结论", "message_en": "Choose a result"}])
    today = today or today_cst()
    licence = session.get(Licence, inspection.licence_id)
    inspection.status, inspection.result = "done", result
    inspection.notes, inspection.recorded_by, inspection.recorded_at = notes, person_id, utcnow()
    ledger.record(session, INSPECTED, actor_org_id=actor_org_id, digests={"notes": "sha256:" + _sha(notes)}, data={
        "licence": licence.number, "inspection": str(inspection.id), "kind": inspection.kind, "result": result,
        "on_time": today <= inspection.due_on, "draw": str(inspection.draw_id) if inspection.draw_id else None})
    if result == "breach":
        if not breach_kind:
            raise ValidationFailed("请选择违法行为", "Choose the breach", errors=[
                {"field": "breach_kind", "code": "required", "message": "请选择违法行为", "message_en": "Choose the breach"}])
        breach = apply_breach(session, licence=licence, kind=breach_kind, record_class=record_class,
                              found_on=today, actor_org_id=actor_org_id, reference=f"inspection:{inspection.id}")
        inspection.breach_id = breach.id
    session.flush()
    return inspection


def spot_check(session: Session, *, seed: int, count: int, actor_person_id: uuid.UUID | None,
               actor_org_id: uuid.UUID | None, today: dt.date | None = None) -> Draw:
    """Draw firms (weighted by credit standing) and inspectors at random from a recorded seed; open their inspections."""
    today = today or today_cst()
    s = get_travel_settings()
    licences = list(session.scalars(select(Licence).where(Licence.status == "valid").order_by(Licence.id)))
    by_org = {lic.org_id: lic for lic in licences}
    standing = credit.standings(session, list(by_org), today=today)
    candidates = sorted(((org, standing[org].value) for org in by_org), key=lambda c: str(c[0]))
    inspectors = [o.person_id for o in _officers(session, "inspector")]
    weights = {"good": s.weight_good, "watch": s.weight_watch, "poor": s.weight_poor}
    result = domain.draw(seed, candidates, inspectors, count=min(count, len(candidates)), weights=weights,
                         per_check=s.inspectors_per_check)
    selections = [{"org": str(sel.org_id), "standing": sel.standing, "inspectors": [str(i) for i in sel.inspectors]}
                  for sel in result.selections]
    recorded = ledger.record(session, DRAWN, actor_org_id=actor_org_id, data={
        "seed": seed, "count": count, "weights": weights, "candidates": len(candidates), "selections": selections})
    row = Draw(seed=seed, count=count, weights=weights, candidates=[[str(o), st] for o, st in candidates],
               inspectors=[str(i) for i in inspectors], selections=selections, drawn_by=actor_person_id,
               leaf_hash=recorded.leaf_hash.hex())
    session.add(row)
    session.flush()
    due = calendar.add_working_days(session, today, 20).day
    for sel in result.selections:
        lic = by_org[sel.org_id]
        session.add(Inspection(licence_id=lic.id, org_id=lic.org_id, kind="spot", draw_id=row.id, due_on=due,
                               inspector_ids=[str(i) for i in sel.inspectors]))
        for person in sel.inspectors:
            notify.send(session, person_id=person, subject=f"双随机抽查任务：{lic.number}",
                        body=f"请于 {due} 前完成抽查。/travel-licensing/inspector",
                        subject_en=f"Random inspection: {lic.number}", body_en=f"Due {due}.")
    session.flush()
    return row


def redo_draw(draw_row: Draw) -> list[dict]:
    """Recompute a recorded draw from its seed, candidates and weights (anyone can check it)."""
    result = domain.draw(draw_row.seed, [(uuid.UUID(o), st) for o, st in draw_row.candidates],
                         [uuid.UUID(i) for i in draw_row.inspectors], count=min(draw_row.count, len(draw_row.candidates)),
                         weights=draw_row.weights, per_check=len(draw_row.selections[0]["inspectors"])
                         if draw_row.selections else 1)
    return [{"org": str(s.org_id), "standing": s.standing, "inspectors": [str(i) for i in s.inspectors]}
            for s in result.selections]


# --- reading ----------------------------------------------------------------------------------------------------------

def applications_of(session: Session, org_ids: set[uuid.UUID]) -> list[Application]:
    """List the applications of the given organisations, newest first."""
    if not org_ids:
        return []
    return list(session.scalars(select(Application).where(Application.org_id.in_(org_ids))
                                .order_by(Application.created_at.desc())))


def licence_of(session: Session, application_id: uuid.UUID) -> Licence | None:
    """Return the licence issued on an application, if any."""
    return session.scalar(select(Licence).where(Licence.application_id == application_id))


def licence_by_number(session: Session, number: str) -> Licence | None:
    """Return a licence by its number."""
    return session.scalar(select(Licence).where(Licence.number == number))


def obligations_of(session: Session, licence_id: uuid.UUID) -> list[Obligation]:
    """List a licence's obligations by deadline."""
    return list(session.scalars(select(Obligation).where(Obligation.licence_id == licence_id)
                                .order_by(Obligation.due_on, Obligation.created_at)))


def inspections_of(session: Session, licence_id: uuid.UUID) -> list[Inspection]:
    """List a licence's inspections by deadline."""
    return list(session.scalars(select(Inspection).where(Inspection.licence_id == licence_id)
                                .order_by(Inspection.due_on)))


def breaches_of(session: Session, licence_id: uuid.UUID) -> list[Breach]:
    """List a licence's breaches."""
    return list(session.scalars(select(Breach).where(Breach.licence_id == licence_id).order_by(Breach.created_at)))


def queue(session: Session) -> list[Application]:
    """List applications waiting for a clerk, earliest limit first."""
    return list(session.scalars(select(Application).where(Application.status == "queued")
                                .order_by(Application.decision_due_at)))


def remaining(session: Session, application: Application, *, now: dt.datetime | None = None) -> dict:
    """Describe the time left to decide: working days on the ordinary route, office hours on the commitment route."""
    now = now or utcnow()
    due = application.decision_due_at
    if due is None:
        return {"overdue": False, "text": ("—", "—")}
    if now >= due:
        return {"overdue": True, "text": ("已超期", "Overdue")}
    days = calendar.working_days_between(session, now.astimezone(CST).date(), due.astimezone(CST).date()).days
    if days >= 1:
        return {"overdue": False, "text": (f"剩余 {days} 个工作日", f"{days} working days left")}
    minutes = int((due - now).total_seconds() // 60)
    return {"overdue": False, "text": (f"剩余 {minutes // 60} 小时 {minutes % 60} 分", f"{minutes // 60} h {minutes % 60} min left")}


def open_obligations(session: Session) -> list[tuple[Obligation, Licence]]:
    """List overdue obligations with their licences, for the clerk's escalation list."""
    rows = session.execute(select(Obligation, Licence).join(Licence, Licence.id == Obligation.licence_id)
                           .where(Obligation.status == "overdue").order_by(Obligation.due_on)).all()
    return [(o, lic) for o, lic in rows]


def inspections_for(session: Session, person_id: uuid.UUID) -> list[tuple[Inspection, Licence]]:
    """List the open inspections assigned to an inspector, earliest first."""
    rows = session.execute(select(Inspection, Licence).join(Licence, Licence.id == Inspection.licence_id)
                           .where(Inspection.status == "open").order_by(Inspection.due_on)).all()
    return [(i, lic) for i, lic in rows if str(person_id) in i.inspector_ids]


def draws(session: Session, limit: int = 20) -> list[Draw]:
    """List recent draws, newest first."""
    return list(session.scalars(select(Draw).order_by(Draw.created_at.desc()).limit(limit)))


def statistics(session: Session) -> dict:
    """Count the case's figures: licences by route, on-time deposits by route, breaches by class, repairs, decision time."""
    licences = session.execute(select(Licence.id, Licence.route)).all()
    route_of = dict(licences)
    by_route = Counter(r for _, r in licences)
    deposits: dict[str, Counter] = defaultdict(Counter)
    for licence_id, on_time, status in session.execute(select(Obligation.licence_id, Obligation.on_time,
                                                              Obligation.status).where(Obligation.kind == "deposit")):
        route = route_of.get(licence_id, "?")
        if status == "met":
            deposits[route]["on_time" if on_time else "late"] += 1
        elif status in {"overdue", "closed"}:
            deposits[route]["late"] += 1
    times: dict[str, list[float]] = defaultdict(list)
    for route, sub, dec in session.execute(select(Application.route, Application.submitted_at, Application.decided_at)
                                           .where(Application.decided_at.is_not(None))):
        times[route].append((dec - sub).total_seconds())
    credit_stats = credit.statistics(session, source=SOURCE)
    breaches = Counter(session.scalars(select(Breach.record_class)))
    return {
        "by_route": {r.value: by_route.get(r.value, 0) for r in Route},
        "deposits": {r.value: {"on_time": deposits[r.value]["on_time"], "late": deposits[r.value]["late"],
                               "rate": (deposits[r.value]["on_time"] * 100 // max(1, sum(deposits[r.value].values())))}
                     for r in Route},
        "breaches": {c: breaches.get(c, 0) for c in ("minor", "general", "serious")},
        "repairs": dict(credit_stats["repairs"]),
        "decision_seconds": {r.value: (int(stats.median(times[r.value])) if times[r.value] else None) for r in Route},
        "revoked": session.scalar(select(func.count()).select_from(Licence).where(Licence.status == "revoked")) or 0,
    }


def require_firm_member(principal_orgs: set[uuid.UUID], application: Application) -> None:
    """Refuse an application of another firm as if it did not exist."""
    if application.org_id not in principal_orgs:
        raise NotFound("没有这件申请", "No such application")


def open_application(session: Session, org_id: uuid.UUID) -> Application | None:
    """Return the firm's application in draft or awaiting review, if any."""
    return session.scalar(select(Application).where(Application.org_id == org_id,
                                                    Application.status.in_(["draft", "queued"])).limit(1))


def ensure_unique_open(session: Session, org_id: uuid.UUID) -> None:
    """Refuse a second open application while one is queued or in draft."""
    if session.scalar(select(Application.id).where(Application.org_id == org_id,
                                                   Application.status.in_(["draft", "queued"]))):
        raise Conflict("本企业已有一件未完成的申请", "The firm already has an application in progress")


def verify_path(licence: Licence) -> str:
    """Return the public verification page of a licence (the PDF's QR code points here)."""
    return f"/travel-licensing/licences/{licence.number}"


def licence_pdf(session: Session, licence: Licence, *, lang: str = "zh-CN") -> bytes:
    """Render the licence as a PDF with a verification QR code; its content digest is the one on the ledger."""
    app = session.get(Application, licence.application_id)
    content = licence_content(licence, app)
    status = {"valid": "有效", "revoked": "已吊销"}.get(licence.status, licence.status)
    return documents.render_pdf("travel_licensing/documents/licence.html", {
        "c": content, "scope": [domain.SCOPE_LABELS[s] for s in content["scope"]], "digest": licence.pdf_sha256,
        "status": status, "verify_path": verify_path(licence)}, lang=lang)


def licence_application_id(session: Session, licence_id: uuid.UUID) -> uuid.UUID:
    """Return the application a licence was issued on."""
    return session.get(Licence, licence_id).application_id


def get_licence(session: Session, licence_id: uuid.UUID) -> Licence:
    """Return a licence or raise NotFound."""
    licence = session.get(Licence, licence_id)
    if licence is None:
        raise NotFound("没有这个许可证", "No such licence")
    return licence


def on_duty(session: Session, person_id: uuid.UUID, duty: str) -> bool:
    """Say whether a person is on duty as clerk or inspector."""
    return session.scalar(select(Officer.id).where(Officer.person_id == person_id, Officer.duty == duty,
                                                   Officer.active.is_(True))) is not None
