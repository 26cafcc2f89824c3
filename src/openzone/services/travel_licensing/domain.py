"""Pure travel-agency licensing rules: the application, conditions (§1.1), credit checks, bars, breaches, spot checks.

Sources: reference/domain-rules.md §1 (旅行社条例, 旅游法, 国办发〔2020〕42号) and §2. Verified figures are facts here;
recalled or case-specific ones are settings (travel_licensing/settings.py).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import random
import uuid
from dataclasses import dataclass, field

from openzone.kit.errors import problem

FEN = 100
# 旅行社条例 art. 6: registered capital of at least RMB 300,000.
MIN_CAPITAL_FEN = 300_000 * FEN
# 旅行社条例 art. 13: RMB 200,000 for domestic + inbound business, within 3 working days of the licence.
DEPOSIT_FEN = 200_000 * FEN
DEPOSIT_WORKING_DAYS = 3
# 旅行社条例 art. 14: each branch adds RMB 50,000 (domestic/inbound).
BRANCH_DEPOSIT_FEN = 50_000 * FEN
# 旅行社条例 art. 18: top up within 5 working days of the notice.
TOP_UP_WORKING_DAYS = 5
# 旅行社条例 art. 7: the ordinary decision within 20 working days of acceptance.
ORDINARY_WORKING_DAYS = 20
# 实施细则 as given by local guides (VERIFIED secondary, §1.1): lease of at least 1 year, 2 or more fixed lines,
# guides at least 20% of staff and at least 3.
MIN_LEASE_MONTHS = 12
MIN_PHONE_LINES = 2
MIN_GUIDES = 3
GUIDE_SHARE_PERCENT = 20
# Personal bars after a revocation (§1.4).
HEAD_BAR_YEARS = 5   # 旅行社条例 art. 64: may not be 主要负责人 of any travel agency
WORK_BAR_YEARS = 3   # 旅游法 art. 103: may not work in travel-agency business

BUSINESS_SCOPE = ("domestic", "inbound")
SCOPE_LABELS = {"domestic": ("国内旅游业务", "Domestic travel"), "inbound": ("入境旅游业务", "Inbound travel")}


class Route(enum.StrEnum):
    """Choose how the application is decided: on the commitment (告知承诺) or with full proofs (一般程序)."""

    COMMITMENT = "commitment"
    ORDINARY = "ordinary"


ROUTE_LABELS = {Route.COMMITMENT: ("告知承诺", "By commitment"), Route.ORDINARY: ("一般程序", "Ordinary route")}


class Tenure(enum.StrEnum):
    """Say whether the premises are owned or leased."""

    OWNED = "owned"
    LEASED = "leased"


@dataclass(frozen=True)
class Manager:
    """Name one manager or tour planner (计调) with travel-agency or related experience."""

    name: str
    role: str
    experience_years: int


@dataclass(frozen=True)
class ApplicationData:
    """Hold everything the applicant declares (the firm's part of the file; identifiers are validated by the caller)."""

    name: str
    uscc: str
    legal_rep_name: str
    premises_address: str
    tenure: Tenure
    lease_months: int
    phone_lines: int
    has_fax: bool
    has_copier: bool
    has_computer: bool
    capital_fen: int
    staff_count: int
    guide_count: int
    managers: tuple[Manager, ...]
    business_scope: tuple[str, ...] = BUSINESS_SCOPE
    branches: int = 0


@dataclass(frozen=True)
class Failure:
    """Name one unmet condition with its citation, in Chinese and English."""

    code: str
    zh: str
    en: str
    citation: str


def min_guides(staff_count: int) -> int:
    """Return the guides needed: at least 20% of staff and at least 3 (§1.1)."""
    return max(MIN_GUIDES, math.ceil(staff_count * GUIDE_SHARE_PERCENT / 100))


def condition_failures(app: ApplicationData) -> list[Failure]:
    """List the conditions of domain-rules.md §1.1 that the declared data do not meet."""
    out = []
    if app.capital_fen < MIN_CAPITAL_FEN:
        out.append(Failure("capital", "注册资本不少于30万元", "Registered capital of at least RMB 300,000",
                           "旅行社条例第六条"))
    if not app.premises_address.strip() or (app.tenure is Tenure.LEASED and app.lease_months < MIN_LEASE_MONTHS):
        out.append(Failure("premises", "有自有或租期不少于1年的固定经营场所", "Own premises or a lease of at least 1 year",
                           "旅游法第二十八条（一）；旅行社条例实施细则"))
    if app.phone_lines < MIN_PHONE_LINES or not (app.has_fax and app.has_copier and app.has_computer):
        out.append(Failure("facilities", "有2部以上直线固定电话、传真机、复印机和可联网的计算机",
                           "Two or more direct fixed lines, a fax, a copier and a networked computer",
                           "旅游法第二十八条（二）；旅行社条例实施细则"))
    if not app.managers or any(m.experience_years < 1 or not m.name.strip() for m in app.managers):
        out.append(Failure("managers", "有具备旅行社或相关行业从业经历的经营管理人员和计调人员",
                           "Managers and tour planners with travel-agency or related experience",
                           "旅游法第二十八条（四）"))
    if app.guide_count < min_guides(app.staff_count) or app.guide_count > app.staff_count:
        out.append(Failure("guides", f"持证导游不少于员工总数的20%且不少于3人（本单位需{min_guides(app.staff_count)}人）",
                           f"Licensed guides at least 20% of staff and at least 3 ({min_guides(app.staff_count)} here)",
                           "旅游法第二十八条（四）；旅发〔2013〕280号"))
    if set(app.business_scope) != set(BUSINESS_SCOPE):
        out.append(Failure("scope", "本事项只许可国内旅游和入境旅游业务（出境旅游须经营满2年另行申请）",
                           "This licence covers domestic and inbound travel only (outbound needs 2 years' operation)",
                           "旅行社条例第八条；旅游法第二十九条"))
    return out


@dataclass(frozen=True)
class CreditFacts:
    """Summarise what the credit core and this service know about the firm and its legal representative."""

    serious_record: bool = False
    false_commitment: bool = False
    last_serious_breach_on: dt.date | None = None


def commitment_failures(facts: CreditFacts, *, today: dt.date, bar_years: int) -> list[Failure]:
    """List the credit reasons that send the applicant to the ordinary route (国办发〔2020〕42号 and the case)."""
    out = []
    if facts.serious_record:
        out.append(Failure("serious_record", "企业或法定代表人有尚未修复且仍在公示期内的严重失信记录",
                           "The firm or its legal representative has a serious dishonesty record not yet repaired or ended",
                           "国办发〔2020〕42号"))
    if facts.false_commitment:
        out.append(Failure("false_commitment", "曾作出虚假承诺，信用修复前不适用告知承诺",
                           "An earlier false commitment: the commitment route is closed until the credit is repaired",
                           "国办发〔2020〕42号"))
    if facts.last_serious_breach_on and today < add_years(facts.last_serious_breach_on, bar_years):
        out.append(Failure("serious_breach_bar", f"严重违反承诺后{bar_years}年内不适用告知承诺",
                           f"Within {bar_years} years of a serious breach of commitment the commitment route is closed",
                           "北京市告知承诺制试点案例（可配置）"))
    return out


class BarKind(enum.StrEnum):
    """Distinguish the two personal bars after a revocation (§1.4)."""

    HEAD = "head"  # 旅行社条例 art. 64: 5 years, may not be the principal responsible person of any agency
    WORK = "work"  # 旅游法 art. 103: 3 years, may not work in travel-agency business


BAR_RULES: dict[BarKind, tuple[int, str, str, str]] = {
    BarKind.HEAD: (HEAD_BAR_YEARS, "旅行社条例第六十四条", "自吊销之日起5年内不得担任任何旅行社的主要负责人",
                   "For 5 years from revocation, may not head any travel agency"),
    BarKind.WORK: (WORK_BAR_YEARS, "旅游法第一百零三条", "自处罚之日起3年内不得从事旅行社业务",
                   "For 3 years from the penalty, may not work in travel-agency business"),
}


def bar_until(kind: BarKind, from_on: dt.date) -> dt.date:
    """Return the first day a bar no longer applies."""
    return add_years(from_on, BAR_RULES[kind][0])


def add_years(day: dt.date, years: int) -> dt.date:
    """Add whole years; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class BreachKind(enum.StrEnum):
    """List the breaches this service grades, each with its article (旅行社条例 unless noted)."""

    DEPOSIT_LATE = "deposit_late"
    DEPOSIT_NOT_RECTIFIED = "deposit_not_rectified"
    COMMITMENT_UNMET = "commitment_unmet"
    FALSE_COMMITMENT = "false_commitment"
    NO_INSURANCE = "no_insurance"
    LICENCE_LENT = "licence_lent"
    LATE_FILING = "late_filing"
    CONTRACT = "contract"
    ITINERARY = "itinerary"


class RecordClass(enum.StrEnum):
    """Mirror the credit classes (the service passes the value to core/credit)."""

    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"


@dataclass(frozen=True)
class BreachRule:
    """Give a breach its legal basis, the classes an inspector may choose and the default."""

    zh: str
    en: str
    basis: str
    basis_en: str
    default: RecordClass
    allowed: tuple[RecordClass, ...]


M, G, S = RecordClass.MINOR, RecordClass.GENERAL, RecordClass.SERIOUS
BREACHES: dict[BreachKind, BreachRule] = {
    BreachKind.DEPOSIT_LATE: BreachRule("未按期缴存质量保证金（已责令改正）", "Quality deposit late (ordered to rectify)",
                                        "旅行社条例第四十八条", "Travel Agency Regulations art. 48", M, (M, G)),
    BreachKind.DEPOSIT_NOT_RECTIFIED: BreachRule("责令改正后仍未缴存质量保证金", "Quality deposit not made after an order",
                                                 "旅行社条例第四十八条", "Travel Agency Regulations art. 48", S, (S,)),
    BreachKind.COMMITMENT_UNMET: BreachRule("核查发现不符合承诺条件，限期整改", "Verification found conditions unmet",
                                            "国办发〔2020〕42号", "State Council Office 2020 No. 42", G, (M, G)),
    BreachKind.FALSE_COMMITMENT: BreachRule("虚假承诺", "False commitment", "国办发〔2020〕42号；旅游法第一百零八条",
                                            "State Council Office 2020 No. 42; Tourism Law art. 108", S, (S,)),
    BreachKind.NO_INSURANCE: BreachRule("未投保旅行社责任险", "No travel-agency liability insurance",
                                        "旅行社条例第四十九条", "Travel Agency Regulations art. 49", G, (G, S)),
    BreachKind.LICENCE_LENT: BreachRule("转让、出租、出借许可证", "Licence transferred, leased or lent",
                                        "旅行社条例第四十七条", "Travel Agency Regulations art. 47", G, (G, S)),
    BreachKind.LATE_FILING: BreachRule("未按期备案变更、分社或报送统计", "Late filing of changes, branches or statistics",
                                       "旅行社条例第五十条", "Travel Agency Regulations art. 50", M, (M,)),
    BreachKind.CONTRACT: BreachRule("未订立合同或合同缺少法定事项", "No contract, or one missing required items",
                                    "旅行社条例第五十五条", "Travel Agency Regulations art. 55", G, (G,)),
    BreachKind.ITINERARY: BreachRule("拒绝履行合同、擅自变更行程或强迫购物", "Refusal to perform, itinerary changed, forced shopping",
                                     "旅行社条例第五十九条；旅游法第一百条", "Travel Agency Regulations art. 59; Tourism Law art. 100",
                                     G, (G, S)),
}


class Consequence(enum.StrEnum):
    """Say what follows from a graded breach (issue 6 §2)."""

    RECORD = "record"    # minor: recorded, not published
    PUBLISH = "publish"  # general: published
    REVOKE = "revoke"    # serious: licence revoked, published, firm and people barred


CONSEQUENCE_LABELS = {Consequence.RECORD: ("记录，不公示", "Recorded, not published"),
                      Consequence.PUBLISH: ("记录并公示", "Recorded and published"),
                      Consequence.REVOKE: ("吊销或撤销许可、公示并限制", "Licence revoked, published, bars applied")}
CLASS_CONSEQUENCE = {M: Consequence.RECORD, G: Consequence.PUBLISH, S: Consequence.REVOKE}

InvalidGrade = problem("travel-licensing-invalid-grade", 422, "该违法行为不能定为所选等级",
                       "That breach cannot be graded so")


def grade(kind: BreachKind | str, record_class: RecordClass | str | None = None) -> tuple[BreachRule, RecordClass,
                                                                                            Consequence]:
    """Grade a breach: the inspector's class if the rule allows it, else the default; return its consequence."""
    rule = BREACHES[BreachKind(kind)]
    cls = RecordClass(record_class) if record_class else rule.default
    if cls not in rule.allowed:
        raise InvalidGrade(f"“{rule.zh}”只能定为：{'、'.join(c.value for c in rule.allowed)}",
                           f"“{rule.en}” may be graded only {', '.join(c.value for c in rule.allowed)}")
    return rule, cls, CLASS_CONSEQUENCE[cls]


NotEnoughInspectors = problem("travel-licensing-inspectors", 409, "检查人员不足", "Not enough inspectors")


@dataclass(frozen=True)
class Selection:
    """Give one drawn firm and its inspectors."""

    org_id: uuid.UUID
    standing: str
    inspectors: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class DrawResult:
    """Give a reproducible 双随机 draw: the seed, the weights used and the selections."""

    seed: int
    weights: dict[str, int]
    selections: tuple[Selection, ...] = field(default_factory=tuple)


def draw(seed: int, firms: list[tuple[uuid.UUID, str]], inspectors: list[uuid.UUID], *, count: int,
         weights: dict[str, int], per_check: int = 2) -> DrawResult:
    """Draw firms weighted by credit standing and inspectors at random, reproducibly from the seed.

    Firms are sampled without replacement by Efraimidis–Spirakis keys u^(1/w) over the id-sorted list, so the same seed,
    firms and weights give the same draw on any machine; each firm gets `per_check` distinct inspectors.
    """
    if per_check > len(inspectors):
        raise NotEnoughInspectors(f"至少需要{per_check}名检查人员", f"At least {per_check} inspectors are needed")
    rng = random.Random(seed)
    ordered = sorted(firms, key=lambda f: str(f[0]))
    keyed = sorted(((rng.random() ** (1 / max(weights.get(s, 1), 1)), org, s) for org, s in ordered), reverse=True)
    pool = sorted(inspectors, key=str)
    selections = tuple(Selection(org, s, tuple(rng.sample(pool, per_check))) for _, org, s in keyed[:count])
    return DrawResult(seed, dict(weights), selections)


APPLICATION_STATUS_LABELS = {"draft": ("草稿", "Draft"), "queued": ("待审查", "Awaiting review"),
                             "approved": ("已批准", "Approved"), "refused": ("不予许可", "Refused")}
OBLIGATION_LABELS = {"deposit": ("质量保证金", "Quality deposit"), "branch_deposit": ("分社质量保证金", "Branch deposit"),
                     "top_up": ("补足质量保证金", "Deposit top-up")}
OBLIGATION_STATUS_LABELS = {"open": ("待履行", "Open"), "met": ("已履行", "Met"), "overdue": ("已逾期", "Overdue"),
                            "closed": ("已终结", "Closed")}
