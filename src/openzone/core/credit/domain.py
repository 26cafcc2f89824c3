"""Pure credit rules: record classes, the rulebook chosen by finding date, publication windows, repair and objections.

Sources: reference/domain-rules.md §2. Figures marked VERIFIED there are facts here; RECALLED ones come from
settings (credit/settings.py) with their source noted.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import enum
from dataclasses import dataclass

from openzone.kit.errors import problem


class RecordClass(enum.StrEnum):
    """Grade a dishonesty record as the 2025 measures do (轻微 / 一般 / 严重)."""

    MINOR = "minor"
    GENERAL = "general"
    SERIOUS = "serious"


CLASS_LABELS: dict[RecordClass, tuple[str, str]] = {
    RecordClass.MINOR: ("轻微失信", "Minor"),
    RecordClass.GENERAL: ("一般失信", "General"),
    RecordClass.SERIOUS: ("严重失信", "Serious"),
}


class Status(enum.StrEnum):
    """Say where a record stands: recorded only, published, or no longer published and why."""

    RECORDED = "recorded"      # kept, not published (a minor record by default)
    PUBLISHED = "published"
    ENDED = "ended"            # publication reached its maximum and stopped automatically
    REPAIRED = "repaired"      # credit repair ended publication early (终止公示)
    WITHDRAWN = "withdrawn"    # an objection found the record wrong and it was removed


STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.RECORDED: ("仅记录，不公示", "Recorded, not published"),
    Status.PUBLISHED: ("公示中", "Published"),
    Status.ENDED: ("公示期满，已停止公示", "Publication period over"),
    Status.REPAIRED: ("已信用修复，终止公示", "Repaired; publication ended"),
    Status.WITHDRAWN: ("经异议核查已撤除", "Removed after an objection"),
}

# A record still counts against its subject while it is kept or published (国办发〔2020〕42号: until repaired
# or its publication ends).
ACTIVE = frozenset({Status.RECORDED, Status.PUBLISHED})


@dataclass(frozen=True)
class ClassRule:
    """Give one class's publication rule: published or not, minimum months before repair, maximum months."""

    published: bool
    repair_after_months: int
    max_months: int


@dataclass(frozen=True)
class Rulebook:
    """Name the rules that govern records found from a date, with their citation and reliability."""

    code: str
    title: str
    title_en: str
    citation: str
    in_force_from: dt.date
    rules: dict[RecordClass, ClassRule]
    verified: bool


# 《信用修复管理办法》 (NDRC Order 2025 No. 36), in force 2026-04-01, and 国办发〔2025〕22号 §2:
# minor not published (at most 3 months where the regulator decides), repair once obligations are met;
# general published, repair after 3 months, at most 1 year; serious published, repair after 1 year, at most 3 years.
# domain-rules.md §2.2, VERIFIED (secondary).
RULES_2025 = Rulebook(
    code="ndrc-2025-36", title="信用修复管理办法（国家发展改革委令2025年第36号）",
    title_en="Credit Repair Measures (NDRC Order 2025 No. 36)",
    citation="国家发展改革委令2025年第36号；国办发〔2025〕22号 二", in_force_from=dt.date(2026, 4, 1),
    rules={RecordClass.MINOR: ClassRule(False, 0, 3), RecordClass.GENERAL: ClassRule(True, 3, 12),
           RecordClass.SERIOUS: ClassRule(True, 12, 36)},
    verified=True)
MINOR_MAX_MONTHS = 3  # 2025 measures: a regulator may publish a minor record, for at most 3 months (§2.2)
# 2025 measures, art. 3 as reported (§2.2): publication starts from the date of the document that made the finding.
REPAIR_CONDITIONS = (
    ("minimum", "已达到最短公示期", "The minimum publication period has passed"),
    ("obligations", "已纠正失信行为并全面履行相关义务", "The breach is corrected and every obligation fully performed"),
    ("commitment", "已作出信用承诺，承诺材料真实并承担违诺责任", "A credit commitment is made: materials true, liability accepted"),
)


def rulebook_2023(general: tuple[int, int], serious: tuple[int, int]) -> Rulebook:
    """Build the 2023 trial rulebook from configured (repair-after, maximum) months; its figures are RECALLED."""
    # NDRC Order 58 (2023-05-01 to 2026-03-31); title and dates VERIFIED (secondary), the periods RECALLED with low
    # confidence (domain-rules.md §2.2), hence settings.
    return Rulebook(
        code="ndrc-2023-58", title="失信行为纠正后的信用信息修复管理办法（试行）（国家发展改革委令第58号）",
        title_en="Trial Measures on Repairing Credit Information after Correction (NDRC Order No. 58)",
        citation="国家发展改革委令第58号", in_force_from=dt.date(2023, 5, 1),
        rules={RecordClass.MINOR: ClassRule(False, 0, 3), RecordClass.GENERAL: ClassRule(True, *general),
               RecordClass.SERIOUS: ClassRule(True, *serious)},
        verified=False)


# 发改办财金〔2019〕527号: serious-breach penalty information minimum 6 months, maximum 3 years (§2.2, VERIFIED
# secondary). It gives no figures for other classes here, so only serious records found before 2023-05-01 are covered.
RULES_2019 = Rulebook(
    code="ndrc-2019-527", title="发改办财金〔2019〕527号", title_en="NDRC General Office notice 2019 No. 527",
    citation="发改办财金〔2019〕527号", in_force_from=dt.date(2019, 7, 1),
    rules={RecordClass.SERIOUS: ClassRule(True, 6, 36)}, verified=True)

NoRulebook = problem("credit-no-rulebook", 422, "该认定日期和类别没有可适用的公示规则",
                     "No publication rule applies to that finding date and class")
RepairTooEarly = problem("credit-repair-too-early", 409, "尚未达到最短公示期，不能申请信用修复",
                         "The minimum publication period has not passed; repair cannot be requested yet")
RepairConditionsUnmet = problem("credit-repair-conditions", 422, "不符合信用修复条件",
                                "The conditions for credit repair are not met")
RecordNotActive = problem("credit-record-not-active", 409, "该记录已不在公示或记录期内",
                          "The record is no longer kept or published")
AlreadyDecided = problem("credit-already-decided", 409, "该申请已作出决定", "That application has already been decided")
AlreadyPending = problem("credit-already-pending", 409, "已有一件待处理的申请", "An application is already pending")
InvalidFinding = problem("credit-invalid-finding", 422, "失信认定信息有误", "The finding is not valid")


def rulebook_for(finding_on: dt.date, record_class: RecordClass, *, rules_2023: Rulebook) -> Rulebook:
    """Choose the rulebook by the finding date (domain-rules.md §2.1) and check it covers the class."""
    if finding_on >= RULES_2025.in_force_from:
        book = RULES_2025
    elif finding_on >= rules_2023.in_force_from:
        book = rules_2023
    elif finding_on >= RULES_2019.in_force_from:
        book = RULES_2019
    else:
        book = None
    if book is None or record_class not in book.rules:
        raise NoRulebook(f"认定日期 {finding_on} 的{CLASS_LABELS[record_class][0]}记录没有可适用的公示规则",
                         f"No publication rule covers a {record_class.value} record found on {finding_on}")
    return book


def add_months(day: dt.date, n: int) -> dt.date:
    """Add calendar months, clamping to the month's end (2024-01-31 + 1 month = 2024-02-29)."""
    month0 = day.month - 1 + n
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(day.day, _cal.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Window:
    """Give a record's publication window: published or not, from, until (exclusive), and repair from."""

    published: bool
    publish_from: dt.date
    publish_until: dt.date
    repair_from: dt.date


def window(finding_on: dt.date, record_class: RecordClass, book: Rulebook, *, minor_publish_months: int = 0) -> Window:
    """Compute the publication window from the finding date; a minor record is published only if a regulator says so."""
    rule = book.rules[record_class]
    if record_class is RecordClass.MINOR:
        if not 0 <= minor_publish_months <= MINOR_MAX_MONTHS:
            raise InvalidFinding(f"轻微失信记录最多公示{MINOR_MAX_MONTHS}个月",
                                 f"A minor record may be published for at most {MINOR_MAX_MONTHS} months")
        months = minor_publish_months or rule.max_months
        return Window(minor_publish_months > 0, finding_on, add_months(finding_on, months), finding_on)
    return Window(rule.published, finding_on, add_months(finding_on, rule.max_months),
                  add_months(finding_on, rule.repair_after_months))


def repair_failures(*, today: dt.date, repair_from: dt.date, obligations_fulfilled: bool,
                    commitment_signed: bool) -> list[str]:
    """List the repair conditions (domain-rules.md §2.2, all four must hold) that are not met."""
    failed = []
    if today < repair_from:
        failed.append("minimum")
    if not obligations_fulfilled:
        failed.append("obligations")
    if not commitment_signed:
        failed.append("commitment")
    return failed


class Standing(enum.StrEnum):
    """Grade a subject's credit for risk-weighted supervision: no active record, some, or a serious one."""

    GOOD = "good"
    WATCH = "watch"
    POOR = "poor"


STANDING_LABELS: dict[Standing, tuple[str, str]] = {
    Standing.GOOD: ("信用良好", "Good"),
    Standing.WATCH: ("一般关注", "Watch"),
    Standing.POOR: ("重点关注", "Close watch"),
}


def standing(active_classes: list[RecordClass]) -> Standing:
    """Grade a subject by its active records: any serious → poor, any other → watch, none → good."""
    if RecordClass.SERIOUS in active_classes:
        return Standing.POOR
    if active_classes:
        return Standing.WATCH
    return Standing.GOOD


class ObjectionOutcome(enum.StrEnum):
    """Say how an objection ended (征信业管理条例 art. 25: correct the record or confirm it)."""

    CORRECTED = "corrected"    # class or basis corrected; publication recomputed
    WITHDRAWN = "withdrawn"    # the record was wrong and is removed
    CONFIRMED = "confirmed"    # the record stands; the disputed mark is removed


OUTCOME_LABELS: dict[ObjectionOutcome, tuple[str, str]] = {
    ObjectionOutcome.CORRECTED: ("更正记录", "Record corrected"),
    ObjectionOutcome.WITHDRAWN: ("撤除记录", "Record removed"),
    ObjectionOutcome.CONFIRMED: ("维持记录", "Record confirmed"),
}
