"""Pure standards rules: local standard numbers, statuses with dates, and the stages of 3+X joint drafting."""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openzone.kit.errors import problem

InvalidStandardNumber = problem("standards-number", 422, "标准编号格式不正确", "The standard number is not valid")
InvalidStandardDates = problem("standards-dates", 422, "标准日期不一致", "The standard's dates do not agree")
StageConflict = problem("standards-stage", 409, "当前阶段不能执行此操作", "This cannot be done at the draft's current stage")


class Region(enum.StrEnum):
    """Name the three regions of the 京津冀 mechanism by their administrative division prefix."""

    BEIJING = "11"
    TIANJIN = "12"
    HEBEI = "13"


REGION_LABELS: dict[Region, tuple[str, str]] = {
    Region.BEIJING: ("北京", "Beijing"),
    Region.TIANJIN: ("天津", "Tianjin"),
    Region.HEBEI: ("河北", "Hebei"),
}

# GB/T 2260 provincial-level division codes (RECALLED; configuration, domain-rules §8 verifies only the "DB" +
# two-digit rule and 11, 12, 13). A local standard's issuer code is "DB" + one of these, or + a four-digit city code
# that starts with one of these.
PROVINCE_CODES: frozenset[str] = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43",
    "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
})
# Issuers whose engineering-construction standards carry "(J)", e.g. DB13(J)/T 8xxx—20xx (RECALLED, domain-rules §8).
ENGINEERING_ISSUERS: frozenset[str] = frozenset({"DB13"})
# The 京津冀 convention: the same sequence number under each code, starting at 3001 (VERIFIED, domain-rules §8).
JOINT_SEQUENCE_START = 3001
JOINT_SEQUENCE_END = 3999
EARLIEST_YEAR = 1949
LATEST_YEAR = 2099

# Dashes people type between sequence and year; the official form is the em dash (domain-rules §8).
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_NUMBER_RE = re.compile(
    r"^DB(?P<issuer>\d+)\s*(?P<eng>\(J\))?\s*(?P<rec>/\s*T)?\s*(?P<seq>\d+(?:\.\d+)?)\s*(?P<dash>[" + _DASHES
    + r"]+)?\s*(?P<year>\d+)?$")


@dataclass(frozen=True, order=True)
class StandardNumber:
    """Hold one local standard number: issuer code, engineering mark, recommended mark, sequence and year."""

    issuer: str  # "DB11", or "DB1101" for a city
    sequence: str
    year: int
    recommended: bool = True
    engineering: bool = False

    @property
    def region(self) -> str:
        """Return the two-digit provincial division code of the issuer."""
        return self.issuer[2:4]

    @property
    def code(self) -> str:
        """Return the code part, e.g. DB11/T or DB13(J)/T or DB11."""
        return self.issuer + ("(J)" if self.engineering else "") + ("/T" if self.recommended else "")

    @property
    def text(self) -> str:
        """Return the normalised number as officially typeset, e.g. DB11/T 3022—2019 (mandatory: DB11/1740—2020)."""
        if self.recommended:
            return f"{self.code} {self.sequence}\u2014{self.year}"
        return f"{self.code}/{self.sequence}\u2014{self.year}"

    @property
    def ascii(self) -> str:
        """Return the number with a hyphen instead of the em dash, for file names and URLs."""
        return self.text.replace("\u2014", "-")

    @property
    def joint_sequence(self) -> bool:
        """Say whether the sequence number is in the 京津冀 joint 3xxx range."""
        return self.sequence.isdigit() and JOINT_SEQUENCE_START <= int(self.sequence) <= JOINT_SEQUENCE_END

    def __str__(self) -> str:
        return self.text


def _fail(zh: str, en: str, text: str, code: str) -> InvalidStandardNumber:
    return InvalidStandardNumber(f"“{text}”不是有效的地方标准编号：{zh}", f"{text!r} is not a valid local standard number: {en}",
                                 errors=[{"field": "number", "code": code, "message": zh, "message_en": en}])


def _prepare(text: str) -> str:
    # NFKC folds full-width letters, digits, slash and brackets (ＤＢ１１／Ｔ, （Ｊ）) to ASCII; the em dash survives NFKC.
    folded = unicodedata.normalize("NFKC", text).strip().upper()
    return re.sub(r"\s+", " ", folded)


def parse_number(text: str) -> StandardNumber:
    """Parse a local standard number strictly, accepting em dash, en dash or hyphen and spacing variants."""
    if not isinstance(text, str) or not text.strip():
        raise _fail("未填写编号", "the number is empty", str(text or ""), "required")
    original = text.strip()
    if len(original) > 40:
        raise _fail("编号过长", "the number is too long", original[:40] + "…", "length")
    prepared = _prepare(original)
    if not prepared.startswith("DB"):
        raise _fail("地方标准编号以“DB”开头", "a local standard number starts with \"DB\"", original, "prefix")
    # The mandatory form writes the sequence after a slash: DB11/1740-2020.
    mandatory = re.match(r"^DB(\d+)\s*(\(J\))?\s*/\s*(\d+(?:\.\d+)?)\s*([" + _DASHES + r"]+)?\s*(\d+)?$", prepared)
    m = _NUMBER_RE.match(prepared)
    if mandatory and not (m and m.group("rec")):
        issuer, eng, seq, dash, year = mandatory.groups()
        recommended = False
    elif m:
        issuer, eng, seq, dash, year = m.group("issuer", "eng", "seq", "dash", "year")
        recommended = bool(m.group("rec"))
        if not recommended:
            raise _fail("代号与顺序号之间缺少“/T”（推荐性）或“/”（强制性）", "\"/T\" (recommended) or \"/\" (mandatory) "
                        "must follow the issuer code", original, "separator")
    else:
        raise _fail("应为“DB11/T 3022—2019”这样的格式", "expected a form like \"DB11/T 3022—2019\"", original, "format")
    if len(issuer) not in (2, 4):
        raise _fail("“DB”后应为省级（2位）或设区市（4位）行政区划代码", "\"DB\" is followed by a 2-digit provincial or "
                    "4-digit city division code", original, "issuer")
    if issuer[:2] not in PROVINCE_CODES or (len(issuer) == 4 and issuer[2:] == "00"):
        raise _fail(f"行政区划代码“{issuer}”不存在", f"there is no division code {issuer}", original, "issuer")
    if eng and f"DB{issuer}" not in ENGINEERING_ISSUERS:
        raise _fail(f"“DB{issuer}”不使用工程建设标准代号“(J)”", f"DB{issuer} does not use the engineering mark (J)",
                    original, "engineering")
    if seq.split(".")[0].startswith("0"):
        raise _fail("顺序号不能以 0 开头", "the sequence number cannot start with 0", original, "sequence")
    if not dash:
        raise _fail("顺序号与年号之间应有“—”或“-”", "a dash must separate the sequence number and the year", original,
                    "dash")
    if len(dash) > 1:
        raise _fail("顺序号与年号之间只能有一个连接号", "only one dash may separate the sequence number and the year",
                    original, "dash")
    if not year or len(year) != 4:
        raise _fail("年号应为4位数字", "the year must have four digits", original, "year")
    if not EARLIEST_YEAR <= int(year) <= LATEST_YEAR:
        raise _fail(f"年号应在 {EARLIEST_YEAR}—{LATEST_YEAR} 之间", f"the year must be {EARLIEST_YEAR}–{LATEST_YEAR}",
                    original, "year")
    return StandardNumber(issuer=f"DB{issuer}", sequence=seq, year=int(year), recommended=recommended,
                          engineering=bool(eng))


def normalise_number(text: str) -> str:
    """Return the officially typeset form of a number, or raise InvalidStandardNumber."""
    return parse_number(text).text


def region_of(number: StandardNumber) -> Region | None:
    """Return which of the three regions issued a number, or None for another province."""
    try:
        return Region(number.region)
    except ValueError:
        return None


@dataclass(frozen=True)
class JointCheck:
    """Report how a set of numbers fits the 京津冀 convention: which regions, same sequence, 3xxx range."""

    regions: tuple[str, ...]
    same_sequence: bool
    in_joint_range: bool

    @property
    def follows_convention(self) -> bool:
        """Say whether the numbers share one sequence number in the 3xxx range."""
        return self.same_sequence and self.in_joint_range


def check_numbers(numbers: Sequence[StandardNumber]) -> JointCheck:
    """Check that one standard's numbers come from different issuers; report the joint convention without enforcing it."""
    if not numbers:
        raise InvalidStandardNumber("一项标准至少有一个编号", "A standard has at least one number",
                                    errors=[{"field": "numbers", "code": "required"}])
    issuers = [n.issuer for n in numbers]
    if len(set(issuers)) != len(issuers):
        raise InvalidStandardNumber("同一发布机关的编号只能有一个", "A standard has at most one number per issuer",
                                    errors=[{"field": "numbers", "code": "duplicate_issuer"}])
    # domain-rules §8: the sequence numbers usually match but the record must allow them to differ.
    return JointCheck(regions=tuple(n.region for n in numbers),
                      same_sequence=len({n.sequence for n in numbers}) == 1,
                      in_joint_range=all(n.joint_sequence for n in numbers))


# ------------------------------------------------------------------------------------------- statuses


class Status(enum.StrEnum):
    """List a standard's statuses (标准状态)."""

    CURRENT = "current"
    UPCOMING = "upcoming"
    ABOLISHED = "abolished"
    REPLACED = "replaced"


STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.CURRENT: ("现行", "In force"),
    Status.UPCOMING: ("即将实施", "Not yet in force"),
    Status.ABOLISHED: ("废止", "Abolished"),
    Status.REPLACED: ("被代替", "Replaced"),
}


def status_label(status: str) -> tuple[str, str]:
    """Return the Chinese and English labels of a status value."""
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return status, status


def check_dates(*, issued_on: dt.date | None, effective_on: dt.date | None, withdrawn_on: dt.date | None) -> None:
    """Refuse dates out of order: issue, then implementation, then abolition or replacement."""
    if issued_on and effective_on and effective_on < issued_on:
        raise InvalidStandardDates("实施日期不能早于发布日期", "The implementation date cannot be before the issue date",
                                   errors=[{"field": "effective_on", "code": "order"}])
    if withdrawn_on and (effective_on or issued_on) and withdrawn_on < (effective_on or issued_on):
        raise InvalidStandardDates("废止或被代替日期不能早于实施日期", "The withdrawal date cannot be before the implementation date",
                                   errors=[{"field": "withdrawn_on", "code": "order"}])


def status_on(day: dt.date, *, effective_on: dt.date | None, withdrawn_on: dt.date | None,
              replaced: bool = False) -> Status:
    """Derive a standard's status on a civil day from its dates and whether a successor replaced it."""
    if withdrawn_on is not None and withdrawn_on <= day:
        return Status.REPLACED if replaced else Status.ABOLISHED
    if effective_on is not None and effective_on > day:
        return Status.UPCOMING
    return Status.CURRENT


# ------------------------------------------------------------------------------- 3+X joint drafting


class Stage(enum.StrEnum):
    """List the stages of a 3+X joint regional standard, in order (分别立项、统一制定、共商发布、协同实施)."""

    PROPOSAL = "proposal"
    JOINT_APPROVAL = "joint_approval"
    DRAFTING = "drafting"
    PUBLIC_COMMENT = "public_comment"
    TECHNICAL_REVIEW = "technical_review"
    FINAL_APPROVAL = "final_approval"
    NUMBERING = "numbering"
    PUBLICATION = "publication"
    FEEDBACK = "feedback"
    REJECTED = "rejected"


STAGE_LABELS: dict[Stage, tuple[str, str]] = {
    Stage.PROPOSAL: ("立项提议", "Proposal"),
    Stage.JOINT_APPROVAL: ("联合立项审批", "Joint approval"),
    Stage.DRAFTING: ("起草", "Drafting"),
    Stage.PUBLIC_COMMENT: ("征求意见", "Public comment"),
    Stage.TECHNICAL_REVIEW: ("技术审查", "Technical review"),
    Stage.FINAL_APPROVAL: ("三地批准", "Approval by all three"),
    Stage.NUMBERING: ("统一编号", "Numbering"),
    Stage.PUBLICATION: ("发布", "Publication"),
    Stage.FEEDBACK: ("实施反馈", "Implementation feedback"),
    Stage.REJECTED: ("未立项或终止", "Rejected"),
}

WORKFLOW: tuple[Stage, ...] = (Stage.PROPOSAL, Stage.JOINT_APPROVAL, Stage.DRAFTING, Stage.PUBLIC_COMMENT,
                               Stage.TECHNICAL_REVIEW, Stage.FINAL_APPROVAL, Stage.NUMBERING, Stage.PUBLICATION,
                               Stage.FEEDBACK)

# 地方标准管理办法 (SAMR Order 26, 2020): public comment lasts at least 30 days (peers.md §10, secondary).
MIN_COMMENT_DAYS = 30
# 推进国家标准公开工作实施方案 (2017): texts published within 20 working days (peers.md §10); we count from the
# last region's approval, which is when the text is final.
PUBLICATION_WORKING_DAYS = 20
# Configuration, not a rule in the sources: how long the three regulators have to decide on a proposal and on the
# final text, in working days.
DECISION_WORKING_DAYS = 20


class Decision(enum.StrEnum):
    """List what a regulator can decide at a stage that needs all three."""

    APPROVE = "approve"
    REJECT = "reject"


def stage_label(stage: str) -> tuple[str, str]:
    """Return the Chinese and English labels of a stage value."""
    try:
        return STAGE_LABELS[Stage(stage)]
    except ValueError:
        return stage, stage


def next_stage(stage: Stage) -> Stage:
    """Return the stage after this one in the workflow."""
    if stage not in WORKFLOW or stage is Stage.FEEDBACK:
        raise StageConflict(f"“{STAGE_LABELS[stage][0]}”之后没有下一阶段", f"No stage follows {STAGE_LABELS[stage][1]}")
    return WORKFLOW[WORKFLOW.index(stage) + 1]


def all_regions_decided(decisions: Iterable[tuple[str, str]]) -> bool:
    """Say whether each of the three regions has approved, given (region, decision) pairs."""
    approved = {region for region, decision in decisions if decision == Decision.APPROVE}
    return approved >= {r.value for r in Region}


def comment_period_error(start: dt.date, end: dt.date) -> str | None:
    """Return why a public comment period is too short (fewer than 30 days), or None."""
    if (end - start).days < MIN_COMMENT_DAYS:
        return "short"
    return None


def propose_numbers(sequence: int, year: int) -> dict[str, StandardNumber]:
    """Propose the three regions' numbers for a joint standard with one shared sequence number."""
    if not JOINT_SEQUENCE_START <= sequence <= JOINT_SEQUENCE_END:
        raise InvalidStandardNumber(f"联合标准顺序号应在 {JOINT_SEQUENCE_START}—{JOINT_SEQUENCE_END} 之间",
                                    f"A joint sequence number is between {JOINT_SEQUENCE_START} and {JOINT_SEQUENCE_END}",
                                    errors=[{"field": "sequence", "code": "range"}])
    return {r.value: StandardNumber(issuer=f"DB{r.value}", sequence=str(sequence), year=year) for r in Region}


# Words that carry no topic in a standard's scope (本标准规定了…适用于…), left out of a duplicate-check query.
SCOPE_STOPWORDS: frozenset[str] = frozenset({
    "本标准", "标准", "规定", "适用", "适用于", "本文件", "文件", "要求", "规范", "技术", "以及", "和", "的", "与", "及",
    "等", "中", "对", "了", "在", "为", "其他", "有关", "相关", "可", "参照", "执行", "进行",
})


# ------------------------------------------------------------------------------------- bibliographic records


@dataclass(frozen=True)
class StandardInput:
    """Hold one standard's bibliographic record as imported or entered, numbers already parsed."""

    numbers: tuple[StandardNumber, ...]
    title_zh: str
    title_en: str = ""
    issued_on: dt.date | None = None
    effective_on: dt.date | None = None
    withdrawn_on: dt.date | None = None
    ics: str = ""
    ccs: str = ""
    department: str = ""
    drafters: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    scope: str = ""
    body: str = ""
    body_source: str = ""
    replaces: tuple[StandardNumber, ...] = ()
    amendments: tuple[tuple[dt.date, str], ...] = ()
    joint: bool | None = None  # None: decided from the numbers (two or more of the three regions)
    sample: bool = False
    note: str = ""

    @property
    def is_joint(self) -> bool:
        """Say whether this is a 京津冀 jointly made standard."""
        if self.joint is not None:
            return self.joint
        return len({n.region for n in self.numbers} & {r.value for r in Region}) >= 2


IMPORT_COLUMNS = ("numbers", "title_zh", "title_en", "issued_on", "effective_on", "withdrawn_on", "ics", "ccs",
                  "department", "drafters", "keywords", "scope", "body", "body_source", "replaces", "amendments",
                  "joint", "sample", "note")
MAX_IMPORT_ROWS = 20_000
_LIST_SPLIT = re.compile(r"[;；\n]")
_ICS_RE = re.compile(r"^\d{2}(\.\d{3}(\.\d{2})?)?$")
_CCS_RE = re.compile(r"^[A-Z]\d{2}$")
_LIMITS = {"title_zh": 300, "title_en": 500, "department": 200, "body_source": 300}


@dataclass(frozen=True)
class RowError:
    """Describe what is wrong with one field of one imported row (rows count from 1, after any header)."""

    row: int
    field: str
    message: str
    message_en: str

    def as_dict(self) -> dict[str, object]:
        """Return the error as a problem+json errors[] member."""
        return {"row": self.row, "field": self.field, "message": self.message, "message_en": self.message_en}


def _list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in _LIST_SPLIT.split(str(value)) if v.strip()]


def _date(value: object) -> dt.date | None:
    if value is None or str(value).strip() == "":
        return None
    return dt.date.fromisoformat(str(value).strip())


def _flag(value: object) -> bool | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "是"):
        return True
    if text in ("0", "false", "no", "n", "否"):
        return False
    raise ValueError(text)


def parse_record(raw: dict[str, object], row: int) -> tuple[StandardInput | None, list[RowError]]:
    """Turn one imported row (CSV or JSON) into a StandardInput, or list every field that is wrong."""
    errors: list[RowError] = []

    def err(field: str, zh: str, en: str) -> None:
        errors.append(RowError(row, field, zh, en))

    unknown = sorted(set(raw) - set(IMPORT_COLUMNS))
    if unknown:
        err(unknown[0], f"未知的列：{'、'.join(unknown)}", f"unknown columns: {', '.join(unknown)}")
    numbers: list[StandardNumber] = []
    for text in _list(raw.get("numbers")):
        try:
            numbers.append(parse_number(text))
        except InvalidStandardNumber as exc:
            err("numbers", exc.detail or "", exc.detail_en or "")
    if not numbers and not any(e.field == "numbers" for e in errors):
        err("numbers", "至少填写一个标准编号", "give at least one standard number")
    if numbers:
        try:
            check_numbers(numbers)
        except InvalidStandardNumber as exc:
            err("numbers", exc.detail or "", exc.detail_en or "")
    replaces: list[StandardNumber] = []
    for text in _list(raw.get("replaces")):
        try:
            replaces.append(parse_number(text))
        except InvalidStandardNumber as exc:
            err("replaces", exc.detail or "", exc.detail_en or "")
    title = str(raw.get("title_zh") or "").strip()
    if not title:
        err("title_zh", "请填写中文标准名称", "the Chinese title is required")
    for name, limit in _LIMITS.items():
        if len(str(raw.get(name) or "")) > limit:
            err(name, f"超过 {limit} 个字符", f"longer than {limit} characters")
    dates: dict[str, dt.date | None] = {}
    for name in ("issued_on", "effective_on", "withdrawn_on"):
        try:
            dates[name] = _date(raw.get(name))
        except ValueError:
            err(name, "日期应为 YYYY-MM-DD", "dates are YYYY-MM-DD")
            dates[name] = None
    try:
        check_dates(**dates)
    except InvalidStandardDates as exc:
        err(exc.errors[0]["field"], exc.detail or "", exc.detail_en or "")
    ics = str(raw.get("ics") or "").strip()
    if ics and not _ICS_RE.match(ics):
        err("ics", "ICS 分类号应为“03.220.20”这样的格式", "an ICS code looks like 03.220.20")
    ccs = str(raw.get("ccs") or "").strip().upper()
    if ccs and not _CCS_RE.match(ccs):
        err("ccs", "CCS 分类号应为一个字母加两位数字，如“R85”", "a CCS code is a letter and two digits, such as R85")
    amendments: list[tuple[dt.date, str]] = []
    for item in _list(raw.get("amendments")):
        day, _, summary = item.partition(" ")
        try:
            amendments.append((dt.date.fromisoformat(day), summary.strip()))
        except ValueError:
            err("amendments", "修改单应写作“YYYY-MM-DD 说明”", "an amendment is written \"YYYY-MM-DD summary\"")
    flags: dict[str, bool | None] = {}
    for name in ("joint", "sample"):
        try:
            flags[name] = _flag(raw.get(name))
        except ValueError:
            err(name, "应为“是”或“否”", "use true or false")
            flags[name] = None
    if errors:
        return None, errors
    return StandardInput(
        numbers=tuple(numbers), title_zh=title, title_en=str(raw.get("title_en") or "").strip(), **dates,
        ics=ics, ccs=ccs, department=str(raw.get("department") or "").strip(),
        drafters=tuple(_list(raw.get("drafters"))), keywords=tuple(_list(raw.get("keywords"))),
        scope=str(raw.get("scope") or "").strip(), body=str(raw.get("body") or "").strip(),
        body_source=str(raw.get("body_source") or "").strip(), replaces=tuple(replaces), amendments=tuple(amendments),
        joint=flags["joint"], sample=bool(flags["sample"]), note=str(raw.get("note") or "").strip(),
    ), []
