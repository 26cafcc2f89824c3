"""Use cases of the e-license service: issuing and status, windows and clerks, applications and retrieval under consent."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from openzone.config import get_settings
from openzone.core import consent, identity, ledger
from openzone.db import stage
from openzone.kit.errors import Conflict, NotFound, ValidationFailed, problem
from openzone.kit.time import CST, utcnow
from openzone.services.e_license import domain
from openzone.services.e_license.domain import HolderKind, LicenseStatus, LicenseType, StatusBits, StatusPurpose
from openzone.services.e_license.models import Application, Attachment, Clerk, Issuer, License, StatusList, Window

KIND = "e-license"
PURPOSE_PREFIX = "el-"
STATUS_LIST_BITS = domain.STATUS_LIST_MIN_BITS

NotAnIssuer = problem("e-license-not-issuer", 403, "本机构不是证照签发机构", "This organisation does not issue e-licenses")
TypeNotIssued = problem("e-license-type-not-issued", 403, "本机构无权签发该类证照",
                        "This organisation may not issue this license type")
UnknownType = problem("e-license-unknown-type", 422, "证照类型不在目录中", "The license type is not in the catalogue")
UnknownMatter = problem("e-license-unknown-matter", 422, "事项不在目录中", "The matter is not in the catalogue")
LicenseInvalid = problem("e-license-invalid", 422, "证照信息有误", "The license data is not valid")
LicenseExists = problem("e-license-exists", 409, "该证照编号已签发", "A license with this number was already issued")
LicenseNotFound = problem("e-license-not-found", 404, "证照不存在", "No such e-license")
StatusChangeInvalid = problem("e-license-status-change", 409, "证照当前状态不允许此操作",
                              "The license's current status does not allow this change")
StatusListFull = problem("e-license-status-list-full", 409, "状态列表已满", "The issuer's status list is full")
NotAccredited = problem("e-license-not-accredited", 403, "您不是经认证的窗口工作人员",
                        "You are not an accredited window clerk")
WrongWindow = problem("e-license-wrong-window", 403, "该办件不属于您的窗口", "This application belongs to another window")
ApplicationNotFound = problem("e-license-application-not-found", 404, "办件不存在", "No such application")
NoGrant = problem("e-license-no-grant", 409, "办件尚未关联授权", "The application has no grant yet")
OtherApplicant = problem("e-license-other-applicant", 409, "本办件已属于另一位持证人，请为其新建办件",
                         "The application belongs to another holder; start a new application for this one")
HallInvalid = problem("e-license-hall", 422, "服务大厅或窗口有误", "The hall or window is not valid")

EVENT_ISSUED = "e_license.license.issued"
EVENT_UPDATED = "e_license.license.updated"
EVENT_SUSPENDED = "e_license.license.suspended"
EVENT_REINSTATED = "e_license.license.reinstated"
EVENT_REVOKED = "e_license.license.revoked"
EVENT_ATTACHED = "e_license.application.attached"
EVENT_CLERK = "e_license.clerk.accredited"
# Fields that name a license uniquely within its type, in order of preference.
NUMBER_FIELDS = ("number", "card_number", "uscc", "plate_number", "id_number")


# --- URLs, keys and documents published for verifiers -----------------------------------------------------------


def issuer_url(issuer_id: uuid.UUID) -> str:
    """Return the issuer's stable URL, which serves its controller document with the Multikey."""
    return f"{get_settings().base_url.rstrip('/')}/api/v1/e-license/issuers/{issuer_id}"


def key_id(issuer: Issuer) -> str:
    """Return the verification method id of the issuer's key (controller URL # Multikey)."""
    return f"{issuer_url(issuer.id)}#{issuer.public_multikey}"


def status_list_url(issuer_id: uuid.UUID, purpose: StatusPurpose) -> str:
    """Return the stable URL of the issuer's status list credential for a purpose."""
    return f"{issuer_url(issuer_id)}/status/{purpose.value}"


def credential_url(license_id: uuid.UUID) -> str:
    """Return the id given to a license's credential."""
    return f"urn:uuid:{license_id}"


_keys: dict[tuple[str, uuid.UUID], Ed25519PrivateKey] = {}


def _signing_key(issuer_id: uuid.UUID) -> Ed25519PrivateKey:
    settings = get_settings()
    cache_key = (str(settings.var_dir.resolve()), issuer_id)
    key = _keys.get(cache_key)
    if key is None:
        # The private key stays in var/secrets (mode 0600), as the ledger's signing key does; rows hold the public key.
        text = settings.secret_file(f"e-license-issuer-{issuer_id}.multikey",
                                    lambda: domain.secret_multikey(Ed25519PrivateKey.generate()))
        key = _keys.setdefault(cache_key, domain.private_key_from_multikey(text))
    return key


def controller_document(session: Session, issuer_id: uuid.UUID) -> dict[str, Any]:
    """Return the issuer's controller document (Controlled Identifiers v1.0) publishing its Multikey."""
    issuer = _issuer(session, issuer_id)
    return domain.controller_document(controller=issuer_url(issuer.id), key_id=key_id(issuer),
                                      multikey=issuer.public_multikey)


def status_list_credential(session: Session, issuer_id: uuid.UUID, purpose: str) -> dict[str, Any]:
    """Return the issuer's status list for a purpose as a signed BitstringStatusListCredential."""
    try:
        sp = StatusPurpose(purpose)
    except ValueError as exc:
        raise NotFound("没有这种状态列表", "No such status list") from exc
    issuer = _issuer(session, issuer_id)
    row = _status_list(session, issuer.id, sp)
    vc = domain.status_list_credential(list_url=status_list_url(issuer.id, sp), issuer_id=issuer_url(issuer.id),
                                       purpose=sp, bits=StatusBits(row.size, bytes(row.bits)),
                                       valid_from=row.updated_at)
    # Signing at the list's last change makes the same bytes for every fetch until the next change.
    return domain.add_proof(vc, _signing_key(issuer.id), verification_method=key_id(issuer), created=row.updated_at)


# --- issuers ----------------------------------------------------------------------------------------------------


def _issuer(session: Session, issuer_id: uuid.UUID) -> Issuer:
    issuer = session.get(Issuer, issuer_id)
    if issuer is None:
        raise NotFound("签发机构不存在", "No such issuer")
    return issuer


def issuer_for_org(session: Session, org_id: uuid.UUID) -> Issuer:
    """Return the issuer record of an organisation, or raise NotAnIssuer."""
    issuer = session.scalar(select(Issuer).where(Issuer.org_id == org_id))
    if issuer is None:
        raise NotAnIssuer("本机构尚未登记为证照签发机构", "This organisation is not registered as an issuer")
    return issuer


def issuers(session: Session) -> list[Issuer]:
    """List the issuers by name."""
    return list(session.scalars(select(Issuer).order_by(Issuer.name)))


def create_issuer(session: Session, *, org_id: uuid.UUID, license_types: Sequence[str]) -> Issuer:
    """Register an organisation as the issuer of some license types, with a new Ed25519 key and empty status lists."""
    org = identity.organisation(session, org_id)
    if org is None:
        raise NotFound("机构不存在", "No such organisation")
    types = domain.catalogue().types
    unknown = [t for t in license_types if t not in types]
    if unknown or not license_types:
        raise UnknownType(f"未知证照类型：{', '.join(unknown) or '（空）'}", f"Unknown license types: {unknown or '(none)'}")
    existing = session.scalar(select(Issuer).where(Issuer.org_id == org_id))
    if existing is not None:
        existing.license_types = sorted(set(existing.license_types) | set(license_types))
        session.flush()
        return existing
    issuer = Issuer(id=uuid.uuid4(), org_id=org_id, name=org.name, license_types=sorted(set(license_types)),
                    public_multikey="")
    issuer.public_multikey = domain.public_multikey(_signing_key(issuer.id).public_key())
    session.add(issuer)
    session.flush()
    for sp in StatusPurpose:
        session.add(StatusList(issuer_id=issuer.id, purpose=sp.value, size=STATUS_LIST_BITS,
                               bits=bytes(STATUS_LIST_BITS // 8)))
    session.flush()
    return issuer


def _status_list(session: Session, issuer_id: uuid.UUID, purpose: StatusPurpose, *, lock: bool = False) -> StatusList:
    stmt = select(StatusList).where(StatusList.issuer_id == issuer_id, StatusList.purpose == purpose.value)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one()


def _free_index(session: Session, issuer_id: uuid.UUID) -> int:
    # Bitstring Status List §6.4 (privacy): indexes are chosen at random so an index reveals nothing about order.
    used = session.scalar(select(func.count()).select_from(License).where(License.issuer_id == issuer_id)) or 0
    if used >= STATUS_LIST_BITS:
        raise StatusListFull()
    for _ in range(64):
        index = secrets.randbelow(STATUS_LIST_BITS)
        if session.scalar(select(License.id).where(License.issuer_id == issuer_id,
                                                   License.status_index == index)) is None:
            return index
    taken = set(session.scalars(select(License.status_index).where(License.issuer_id == issuer_id)))
    return next(i for i in range(STATUS_LIST_BITS) if i not in taken)


# --- licenses ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LicenseInput:
    """Hold what an issuer sends to issue one license."""

    type_code: str
    holder_kind: str
    holder_id: uuid.UUID
    fields: Mapping[str, Any]
    valid_from_on: dt.date
    valid_until_on: dt.date | None = None


def license_type(code: str) -> LicenseType:
    """Return a license type of the catalogue or raise UnknownType."""
    ltype = domain.catalogue().types.get(code)
    if ltype is None:
        raise UnknownType(f"证照类型 {code} 不在目录中", f"License type {code} is not in the catalogue",
                          errors=[{"field": "type", "code": "unknown"}])
    return ltype


def check_input(session: Session, item: LicenseInput) -> tuple[LicenseType, dict[str, Any], str]:
    """Validate a license input; return its type, normalised fields and number, or raise LicenseInvalid with every error."""
    ltype = license_type(item.type_code)
    errors = list(domain.field_errors(ltype, item.fields))
    fields = {k: (v.strip() if isinstance(v, str) else v) for k, v in item.fields.items()
              if v is not None and not (isinstance(v, str) and not v.strip())}
    for spec in ltype.fields:
        value = fields.get(spec.code)
        if not isinstance(value, str) or any(e["field"] == spec.code for e in errors):
            continue
        try:
            if spec.type == "id_number":
                fields[spec.code] = identity.validate_id_number(value)
            elif spec.type == "uscc":
                fields[spec.code] = identity.validate_uscc(value)
        except ValidationFailed as exc:
            errors.append({"field": spec.code, "code": exc.errors[0]["code"] if exc.errors else "invalid"})
    try:
        kind = HolderKind(item.holder_kind)
    except ValueError:
        errors.append({"field": "holder_kind", "code": "choice"})
        kind = None
    if kind is not None and kind not in ltype.holder_kinds:
        errors.append({"field": "holder_kind", "code": "not_for_type"})
    if kind is HolderKind.ORGANISATION and identity.organisation(session, item.holder_id) is None:
        errors.append({"field": "holder_id", "code": "unknown"})
    if kind is HolderKind.PERSON:
        try:
            identity.contact_for(session, item.holder_id)
        except NotFound:
            errors.append({"field": "holder_id", "code": "unknown"})
    out_of_range = domain.term_errors(item.valid_from_on, item.valid_until_on)
    errors += out_of_range
    why = None if out_of_range else domain.validity_error(ltype, item.valid_from_on, item.valid_until_on)
    if why:
        errors.append({"field": "valid_until_on", "code": why})
    number_field = next((f for f in (*NUMBER_FIELDS, *ltype.field_codes) if f in fields), None)
    if number_field and len(str(fields[number_field])) > domain.MAX_NUMBER_CHARS and not any(
            e["field"] == number_field for e in errors):
        errors.append({"field": number_field, "code": "too_long"})
    if errors:
        raise LicenseInvalid("证照信息有误：" + "，".join(f"{e['field']}（{e['code']}）" for e in errors),
                             "The license data is not valid: " + ", ".join(f"{e['field']} ({e['code']})" for e in errors),
                             errors=errors)
    return ltype, fields, str(fields[number_field])


def _sign(session: Session, issuer: Issuer, lic: License, ltype: LicenseType) -> None:
    status = [domain.status_entry(status_list_url(issuer.id, sp), lic.status_index, sp) for sp in StatusPurpose]
    subject = f"urn:uuid:{lic.holder_id}"
    vc = domain.build_credential(credential_id=credential_url(lic.id), ltype=ltype, issuer_id=issuer_url(issuer.id),
                                 issuer_name=issuer.name, subject_id=subject, fields=lic.fields,
                                 valid_from=lic.valid_from_on, valid_until=lic.valid_until_on, status=status,
                                 version=lic.version)
    lic.vc = domain.add_proof(vc, _signing_key(issuer.id), verification_method=key_id(issuer), created=utcnow())
    lic.vc_digest = domain.digest(lic.vc)


def _record(session: Session, event: str, issuer: Issuer, lic: License, **data: Any) -> ledger.Recorded:
    holder = consent.holder_value(consent.Holder(consent.HolderKind(lic.holder_kind), lic.holder_id))
    return ledger.record(session, event, actor_org_id=issuer.org_id, digests={"vc": "sha256:" + lic.vc_digest},
                         commitments={"holder": ledger.commit(session, "holder", holder)},
                         data={"license": str(lic.id), "type": lic.type_code, "version": lic.version,
                               "status": lic.status, **data})


def issue(session: Session, *, issuer_org_id: uuid.UUID, item: LicenseInput) -> License:
    """Issue a license as a signed VC with status entries, and record its digest on the ledger."""
    issuer = issuer_for_org(session, issuer_org_id)
    ltype, fields, number = check_input(session, item)
    if ltype.code not in issuer.license_types:
        raise TypeNotIssued(f"本机构无权签发{ltype.zh}", f"This organisation may not issue {ltype.en}")
    def exists() -> bool:
        return session.scalar(select(License.id).where(License.issuer_id == issuer.id, License.type_code == ltype.code,
                                                       License.number == number)) is not None

    for attempt in range(3):
        if exists():
            raise LicenseExists(f"{ltype.zh}编号 {number} 已签发", f"{ltype.en} number {number} was already issued")
        lic = License(id=uuid.uuid4(), issuer_id=issuer.id, type_code=ltype.code, number=number,
                      holder_kind=item.holder_kind, holder_id=item.holder_id, fields=fields,
                      valid_from_on=item.valid_from_on, valid_until_on=item.valid_until_on,
                      status=LicenseStatus.VALID.value, status_reason="",
                      status_index=_free_index(session, issuer.id), version=1, updated_at=utcnow())
        _sign(session, issuer, lic, ltype)
        # Another transaction may issue the same number (or take the same status index) between the check and the
        # insert: the unique constraints decide, and the loop looks again.
        try:
            with session.begin_nested():
                session.add(lic)
                session.flush()
            break
        except IntegrityError:
            if attempt == 2:
                raise
    _record(session, EVENT_ISSUED, issuer, lic)
    return lic


def _own_license(session: Session, issuer: Issuer, license_id: uuid.UUID, *, lock: bool = False) -> License:
    stmt = select(License).where(License.id == license_id, License.issuer_id == issuer.id)
    lic = session.scalar(stmt.with_for_update() if lock else stmt)
    if lic is None:
        raise LicenseNotFound()
    return lic


def get_license(session: Session, license_id: uuid.UUID) -> License:
    """Return a license by id or raise LicenseNotFound."""
    lic = session.get(License, license_id)
    if lic is None:
        raise LicenseNotFound()
    return lic


def issued_by(session: Session, issuer_org_id: uuid.UUID, *, limit: int = 200) -> list[License]:
    """List the licenses an issuer organisation issued, newest first."""
    issuer = issuer_for_org(session, issuer_org_id)
    return list(session.scalars(select(License).where(License.issuer_id == issuer.id)
                                .order_by(License.created_at.desc()).limit(limit)))


def update(session: Session, *, issuer_org_id: uuid.UUID, license_id: uuid.UUID, fields: Mapping[str, Any],
           valid_until_on: dt.date | None, keep_term: bool = False) -> License:
    """Change a license's fields (and term), sign a new version, and record it; a revoked license stays revoked."""
    issuer = issuer_for_org(session, issuer_org_id)
    lic = _own_license(session, issuer, license_id, lock=True)
    if lic.status == LicenseStatus.REVOKED:
        raise StatusChangeInvalid("已撤销的证照不能变更", "A revoked license cannot be changed")
    merged = {**lic.fields, **fields}
    until = lic.valid_until_on if keep_term else valid_until_on
    ltype, clean, number = check_input(session, LicenseInput(lic.type_code, lic.holder_kind, lic.holder_id, merged,
                                                              lic.valid_from_on, until))
    if number != lic.number:
        raise LicenseInvalid("证照编号不能变更，请撤销后重新签发", "The number cannot change; revoke and issue again",
                             errors=[{"field": "number", "code": "immutable"}])
    lic.fields = clean
    lic.valid_until_on = until
    lic.version += 1
    lic.updated_at = utcnow()
    _sign(session, issuer, lic, ltype)
    session.flush()
    _record(session, EVENT_UPDATED, issuer, lic)
    return lic


def _set_bit(session: Session, issuer: Issuer, purpose: StatusPurpose, index: int, value: bool) -> None:
    row = _status_list(session, issuer.id, purpose, lock=True)
    bits = StatusBits(row.size, bytes(row.bits))
    bits.set(index, value)
    row.bits = bytes(bits.bits)
    row.updated_at = utcnow()


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationFailed("请填写原因（不超过500字）", "Give a reason (at most 500 characters)",
                               errors=[{"field": "reason", "code": "required"}])
    if "\x00" in reason:
        raise ValidationFailed("原因含有无效字符", "The reason holds an invalid character",
                               errors=[{"field": "reason", "code": "control"}])
    return reason


def change_status(session: Session, *, issuer_org_id: uuid.UUID, license_id: uuid.UUID, action: str,
                  reason: str) -> License:
    """Suspend, reinstate or revoke a license, flipping its status-list bits and recording the change."""
    issuer = issuer_for_org(session, issuer_org_id)
    lic = _own_license(session, issuer, license_id, lock=True)
    reason = _reason(reason)
    current = LicenseStatus(lic.status)
    if action == "suspend" and current is LicenseStatus.VALID:
        _set_bit(session, issuer, StatusPurpose.SUSPENSION, lic.status_index, True)
        new, event = LicenseStatus.SUSPENDED, EVENT_SUSPENDED
    elif action == "reinstate" and current is LicenseStatus.SUSPENDED:
        _set_bit(session, issuer, StatusPurpose.SUSPENSION, lic.status_index, False)
        new, event = LicenseStatus.VALID, EVENT_REINSTATED
    elif action == "revoke" and current is not LicenseStatus.REVOKED:
        # Revocation is final (Bitstring Status List §2.1: a revocation bit is never cleared).
        _set_bit(session, issuer, StatusPurpose.REVOCATION, lic.status_index, True)
        new, event = LicenseStatus.REVOKED, EVENT_REVOKED
    else:
        raise StatusChangeInvalid(f"证照状态为“{domain.STATUS_LABELS[current][0]}”，不能执行此操作",
                                  f"The license is {domain.STATUS_LABELS[current][1].lower()}; this change is not allowed")
    lic.status = new.value
    lic.status_reason = reason
    lic.status_changed_at = utcnow()
    lic.updated_at = lic.status_changed_at
    session.flush()
    _record(session, event, issuer, lic, reason_digest=domain.digest({"reason": reason}))
    return lic


def check_credential(session: Session, lic: License) -> tuple[bool, dict[str, bool]]:
    """Verify a license's proof with the issuer's published key and read its bits from the status lists."""
    issuer = _issuer(session, lic.issuer_id)
    try:
        domain.verify_proof(lic.vc, domain.public_key_from_multikey(issuer.public_multikey))
        ok = True
    except domain.ProofInvalid:
        ok = False
    bits = {sp.value: StatusBits(row.size, bytes(row.bits)).get(lic.status_index)
            for sp in StatusPurpose for row in [_status_list(session, issuer.id, sp)]}
    return ok, bits


def licenses_of(session: Session, holder: consent.Holder) -> list[License]:
    """List a holder's licenses, by type and newest first."""
    return list(session.scalars(select(License).where(License.holder_kind == holder.kind.value,
                                                      License.holder_id == holder.id)
                                .order_by(License.type_code, License.created_at.desc())))


# --- batch import -----------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """Report a batch import: rows read, licenses issued, and each bad row's errors."""

    rows: int = 0
    issued: list[uuid.UUID] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


ImportInvalid = problem("e-license-import-invalid", 422, "导入文件有错误，未导入任何证照",
                        "The import file has errors; nothing was imported")


def parse_rows(rows: Iterable[Mapping[str, Any]]) -> list[tuple[int, LicenseInput | None, list[dict[str, Any]]]]:
    """Turn raw rows (CSV dicts or JSON objects) into inputs, noting per row what cannot be parsed."""
    out = []
    for n, raw in enumerate(rows, 1):
        errors: list[dict[str, Any]] = []
        fields = raw.get("fields")
        if fields is None:
            fields = {k[len("field."):]: v for k, v in raw.items() if isinstance(k, str) and k.startswith("field.")}
        if not isinstance(fields, Mapping):
            errors.append({"field": "fields", "code": "type"})
            fields = {}
        try:
            holder_id = uuid.UUID(str(raw.get("holder_id", "")))
        except ValueError:
            errors.append({"field": "holder_id", "code": "uuid"})
            holder_id = uuid.UUID(int=0)
        dates: dict[str, dt.date | None] = {}
        for key in ("valid_from_on", "valid_until_on"):
            value = raw.get(key) or None
            try:
                dates[key] = dt.date.fromisoformat(str(value)) if value else None
            except ValueError:
                errors.append({"field": key, "code": "date"})
                dates[key] = None
        if dates["valid_from_on"] is None and not any(e["field"] == "valid_from_on" for e in errors):
            errors.append({"field": "valid_from_on", "code": "required"})
        item = None if errors else LicenseInput(str(raw.get("type", "")), str(raw.get("holder_kind", "")), holder_id,
                                                dict(fields), dates["valid_from_on"], dates["valid_until_on"])
        out.append((n, item, errors))
    return out


def import_rows(session: Session, *, issuer_org_id: uuid.UUID, rows: Iterable[Mapping[str, Any]],
                progress=None) -> ImportReport:
    """Issue every row or none: each row is checked in a savepoint, and any bad row raises ImportInvalid with the report."""
    report = ImportReport()
    parsed = parse_rows(rows)
    report.rows = len(parsed)
    for n, item, errors in parsed:
        if item is not None:
            try:
                with session.begin_nested():
                    report.issued.append(issue(session, issuer_org_id=issuer_org_id, item=item).id)
            except LicenseExists:
                # Issued earlier, or by an earlier row of this file (rows are issued in order).
                errors.append({"field": "number", "code": "duplicate"})
            except (LicenseInvalid, UnknownType, TypeNotIssued) as exc:
                errors.extend(exc.errors or [{"field": "row", "code": exc.type}])
        if errors:
            report.errors.append({"row": n, "errors": errors})
        if progress is not None:
            progress(n)
    if report.errors:
        raise ImportInvalid(f"{len(report.errors)} 行有错误，未导入任何证照",
                            f"{len(report.errors)} rows have errors; nothing was imported", report=report.errors,
                            rows=report.rows)
    return report


# --- windows and clerks -----------------------------------------------------------------------------------------


def create_window(session: Session, *, hall_org_id: uuid.UUID, hall_code: str, code: str, name: str,
                  online: bool = False) -> Window:
    """Open a window of a service hall (or the hall's online desk), named by codes consent can bind to."""
    org = identity.organisation(session, hall_org_id)
    if org is None or org.kind != identity.OrgKind.SERVICE_HALL:
        raise HallInvalid("须为政务服务大厅", "The organisation must be a service hall")
    if not (domain.PLACE_RE.match(hall_code or "") and domain.PLACE_RE.match(code or "")):
        raise HallInvalid("大厅和窗口代码须为字母、数字、点、下划线或连字符",
                          "Hall and window codes are letters, digits, dots, underscores or hyphens")
    existing = session.scalar(select(Window).where(Window.hall_org_id == hall_org_id, Window.code == code))
    if existing is not None:
        return existing
    window = Window(hall_org_id=hall_org_id, hall_code=hall_code, code=code, name=name, online=online)
    session.add(window)
    session.flush()
    return window


def windows(session: Session, hall_org_id: uuid.UUID | None = None) -> list[Window]:
    """List windows (of one hall, or all)."""
    stmt = select(Window).order_by(Window.hall_code, Window.code)
    if hall_org_id is not None:
        stmt = stmt.where(Window.hall_org_id == hall_org_id)
    return list(session.scalars(stmt))


def accredit_clerk(session: Session, *, person_id: uuid.UUID, window_id: uuid.UUID,
                   by_person: uuid.UUID | None) -> Clerk:
    """Accredit a clerk of the hall at one window; moving a clerk replaces the earlier window and is recorded."""
    window = session.get(Window, window_id)
    if window is None:
        raise NotFound("窗口不存在", "No such window")
    if not any(m.org_id == window.hall_org_id and m.role == identity.Role.CLERK
               for m, _ in identity.memberships(session, person_id)):
        raise NotAccredited("只能认证本大厅的窗口工作人员", "Only a clerk of this hall can be accredited here")
    clerk = session.scalar(select(Clerk).where(Clerk.person_id == person_id))
    if clerk is None:
        clerk = Clerk(person_id=person_id, window_id=window.id, accredited_by=by_person)
        session.add(clerk)
    else:
        clerk.window_id = window.id
        clerk.accredited_by = by_person
    session.flush()
    session.info.pop(_DESKS, None)  # desk_of's memo must not outlive a change of window
    ledger.record(session, EVENT_CLERK, actor_org_id=window.hall_org_id,
                  commitments={"clerk": ledger.commit(session, "clerk", str(person_id))},
                  data={"hall": window.hall_code, "window": window.code})
    return clerk


def clerks_at(session: Session, window_id: uuid.UUID) -> int:
    """Count the clerks accredited at a window."""
    return session.scalar(select(func.count()).select_from(Clerk).where(Clerk.window_id == window_id)) or 0


@dataclass(frozen=True)
class Desk:
    """Hold where an accredited clerk works: the window and the consent requester it acts as."""

    clerk: Clerk
    window: Window
    requester: consent.Requester
    hall_name: str


# The clerk's window, and the hall's name while the clerk still holds the clerk role there, in one statement.
_HALL_NAME = identity.role_org_name(Clerk.person_id, Window.hall_org_id, identity.Role.CLERK)
_DESK = (select(Clerk, Window, _HALL_NAME)
         .join(Window, Window.id == Clerk.window_id).where(Clerk.person_id == bindparam("person_id")))


_DESKS = "e_license.desks"  # session.info: desk_of's memo, person id -> Desk


def desk_of(session: Session, person_id: uuid.UUID) -> Desk:
    """Return the accredited clerk's window and requester, or raise NotAccredited (checked once per transaction)."""
    memo = session.info.get(_DESKS)
    if memo is not None and person_id in memo:
        return memo[person_id]
    found = session.execute(_DESK, {"person_id": person_id}).first()
    if found is None:
        raise NotAccredited()
    return _remember_desk(session, person_id, *found)


def _remember_desk(session: Session, person_id: uuid.UUID, clerk: Clerk, window: Window, hall_name: str | None) -> Desk:
    # From desk_of's statement, or from the retrieval's read, which joins the same rows and reads _HALL_NAME too.
    if hall_name is None:
        raise NotAccredited("您已不是该大厅的窗口工作人员", "You are no longer a clerk of this hall")
    desk = Desk(clerk, window, consent.Requester(org_id=window.hall_org_id, hall=window.hall_code,
                                                 window=window.code, clerk_id=person_id), hall_name)
    session.info.setdefault(_DESKS, {})[person_id] = desk
    return desk


# --- consent: the resource kind, purposes and the holder's authorisation ----------------------------------------


def purpose_of(matter_code: str) -> str:
    """Return the consent purpose code of a matter."""
    return PURPOSE_PREFIX + matter_code.lower()


def matter(code: str) -> domain.Matter:
    """Return a matter of the catalogue or raise UnknownMatter."""
    found = domain.catalogue().matters.get(code)
    if found is None:
        raise UnknownMatter(f"事项 {code} 不在目录中", f"Matter {code} is not in the catalogue")
    return found


def _preview(session: Session, holder: consent.Holder, resource_id: str, fields: tuple[str, ...]) -> list[tuple[str, str]]:
    try:
        lic = session.get(License, uuid.UUID(resource_id))
    except ValueError:
        lic = None
    if lic is None or lic.holder_kind != holder.kind.value or lic.holder_id != holder.id:
        return [("证照", "不存在或不属于您")]
    ltype = domain.catalogue().types[lic.type_code]
    rows = [("证照", ltype.zh), ("状态", domain.STATUS_LABELS[LicenseStatus(lic.status)][0])]
    for code in fields:
        spec = ltype.field(code)
        if spec is not None:
            rows.append((spec.zh, str(lic.fields.get(code, ""))))
    return rows


def register() -> None:
    """Register the e-license resource kind and one consent purpose per matter (idempotent)."""
    cat = domain.catalogue()
    labels: dict[str, tuple[str, str]] = {}
    for ltype in cat.types.values():
        for spec in ltype.fields:
            labels.setdefault(spec.code, (spec.zh, spec.en))
    consent.register_kind(KIND, label=("电子证照", "E-license"), fields=labels, preview=_preview)
    for m in cat.matters.values():
        consent.register_purpose(purpose_of(m.code), (f"办理：{m.zh}", f"Matter: {m.en}"))


register()


@dataclass(frozen=True)
class Choice:
    """Name one license and the fields a holder chose to release for a matter."""

    license_id: uuid.UUID
    fields: tuple[str, ...]


def usable_for(session: Session, holder: consent.Holder, matter_code: str) -> list[tuple[License, list[str]]]:
    """List the holder's licenses a matter can use, each with the materials it replaces."""
    m = matter(matter_code)
    out = []
    for lic in licenses_of(session, holder):
        materials = [mat.code for mat in m.materials if lic.type_code in mat.replaced_by]
        if materials:
            out.append((lic, materials))
    return out


def authorise(session: Session, *, holder: consent.Holder, by_person: uuid.UUID, matter_code: str,
              hall_org_id: uuid.UUID, choices: Sequence[Choice], minutes: int = 60,
              data_life_days: int = 30, window: Window | None = None) -> consent.Grant:
    """Give a grant to a hall (or one of its windows) for a matter: the chosen licenses and fields, once each."""
    m = matter(matter_code)
    hall = identity.organisation(session, hall_org_id)
    if hall is None or hall.kind != identity.OrgKind.SERVICE_HALL:
        raise HallInvalid("请选择政务服务大厅", "Choose a service hall")
    if not choices:
        raise ValidationFailed("请至少选择一项证照", "Choose at least one license",
                               errors=[{"field": "licenses", "code": "required"}])
    if len({c.license_id for c in choices}) != len(choices):
        # One scope line per license: a second line for the same license would add a use it could never spend.
        raise ValidationFailed("同一证照只能选择一次", "Choose each license once",
                               errors=[{"field": "licenses", "code": "duplicate"}])
    usable = {lic.id: lic for lic, _ in usable_for(session, holder, m.code)}
    lines = []
    for choice in choices:
        lic = usable.get(choice.license_id)
        if lic is None:
            raise ValidationFailed("所选证照不属于您或不适用于该事项", "A chosen license is not yours or not for this matter",
                                   errors=[{"field": "licenses", "code": "not_usable"}])
        ltype = domain.catalogue().types[lic.type_code]
        fields = tuple(f for f in ltype.field_codes if f in set(choice.fields))
        if not fields:
            raise ValidationFailed(f"请为{ltype.zh}至少选择一个字段", f"Choose at least one field of {ltype.en}",
                                   errors=[{"field": "fields", "code": "required"}])
        lines.append(consent.ScopeLine(KIND, str(lic.id), fields))
    now = utcnow()
    terms = consent.check_terms(scope=lines, purpose=purpose_of(m.code), purpose_text=m.zh,
                                valid_from=now, valid_until=now + dt.timedelta(minutes=minutes),
                                use_mode="count", max_uses=len(lines), data_life_days=data_life_days)
    binding = consent.Binding(org_id=hall_org_id, hall=window.hall_code if window else None,
                              window=window.code if window else None)
    return consent.give_grant(session, holder=holder, requester=binding, terms=terms, by_person=by_person)


def online_windows(session: Session) -> list[Window]:
    """List the online halls' desks."""
    return list(session.scalars(select(Window).where(Window.online.is_(True)).order_by(Window.hall_code)))


def apply_online(session: Session, *, holder: consent.Holder, by_person: uuid.UUID, matter_code: str,
                 window_id: uuid.UUID, choices: Sequence[Choice], data_life_days: int = 30) -> Application:
    """Apply in the online hall: grant the hall's online desk the chosen licenses, then retrieve each under the gate."""
    window = session.get(Window, window_id)
    if window is None or not window.online:
        raise HallInvalid("请选择网上办事大厅", "Choose an online service hall")
    grant = authorise(session, holder=holder, by_person=by_person, matter_code=matter_code,
                      hall_org_id=window.hall_org_id, choices=choices, minutes=10, data_life_days=data_life_days,
                      window=window)
    app = Application(matter_code=matter(matter_code).code, window_id=window.id, hall_org_id=window.hall_org_id,
                      clerk_person_id=None, applicant_kind=holder.kind.value, applicant_id=holder.id,
                      grant_id=grant.id, channel="online")
    session.add(app)
    session.flush()
    # The online desk is a system of the hall, not a person: the requester names the hall and its online window.
    requester = consent.Requester(org_id=window.hall_org_id, hall=window.hall_code, window=window.code)
    for choice in choices:
        _, fresh_grant, lic, attached = _retrieval_read(session, app.id, choice.license_id, lock=False)
        _retrieve(session, app, requester, choice.license_id, fresh_grant, lic, attached)
    return app


def holder_application(session: Session, application_id: uuid.UUID, holders: Sequence[consent.Holder]) -> Application:
    """Return an application made by one of the holders (the online hall's result page)."""
    app = session.get(Application, application_id)
    if app is None or not any(app.applicant_kind == h.kind.value and app.applicant_id == h.id for h in holders):
        raise ApplicationNotFound()
    return app


def halls(session: Session, *, online: bool = False) -> list[tuple[uuid.UUID, str]]:
    """List the halls that have counter windows (or online desks), by name."""
    ids = {w.hall_org_id for w in windows(session) if w.online == online}
    return [(o.id, o.name) for o in identity.organisations(session, ids)]


# --- applications and retrieval ---------------------------------------------------------------------------------


def start_application(session: Session, *, clerk_person_id: uuid.UUID, matter_code: str) -> Application:
    """Open an application for a matter at the clerk's window."""
    desk = desk_of(session, clerk_person_id)
    m = matter(matter_code)
    app = Application(matter_code=m.code, window_id=desk.window.id, hall_org_id=desk.window.hall_org_id,
                      clerk_person_id=clerk_person_id, channel="online" if desk.window.online else "window")
    session.add(app)
    session.flush()
    return app


def application_for_clerk(session: Session, application_id: uuid.UUID, clerk_person_id: uuid.UUID,
                          *, lock: bool = False) -> tuple[Application, Desk]:
    """Return an application of the clerk's own window, refusing another window's (the clerk acts for one window)."""
    desk = desk_of(session, clerk_person_id)
    stmt = select(Application).where(Application.id == application_id)
    app = session.scalar(stmt.with_for_update() if lock else stmt)
    if app is None:
        raise ApplicationNotFound()
    if app.window_id != desk.window.id:
        raise WrongWindow()
    return app, desk


def applications_at(session: Session, clerk_person_id: uuid.UUID, *, limit: int = 50) -> list[Application]:
    """List the latest applications of the clerk's window."""
    desk = desk_of(session, clerk_person_id)
    return list(session.scalars(select(Application).where(Application.window_id == desk.window.id)
                                .order_by(Application.created_at.desc()).limit(limit)))


def accept_presentation(session: Session, *, clerk_person_id: uuid.UUID, application_id: uuid.UUID,
                        token: str | None = None, code: str | None = None) -> Application:
    """Redeem the holder's QR token or code at the clerk's window and tie the grant to the application."""
    app, desk = application_for_clerk(session, application_id, clerk_person_id, lock=True)
    grant = consent.redeem(session, requester=desk.requester, token=token or None, code=code or None)
    if app.applicant_id is not None and (app.applicant_kind, app.applicant_id) != (grant.holder_kind,
                                                                                   grant.holder_id):
        # The licenses attached so far are the first holder's: one application, one applicant.
        raise OtherApplicant()
    app.grant_id = grant.id
    app.applicant_kind = grant.holder_kind
    app.applicant_id = grant.holder_id
    session.flush()
    return app


@dataclass(frozen=True)
class AllowedItem:
    """Describe one license a grant allows: its type, fields, materials it replaces and its status."""

    license: License
    ltype: LicenseType
    fields: tuple[str, ...]
    materials: tuple[str, ...]
    attached: bool


def _line_license_id(line: Mapping[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(line["id"])
    except ValueError:
        return None


def allowed_items(session: Session, app: Application) -> list[AllowedItem]:
    """List what the application's grant allows, as the clerk sees it before retrieving."""
    if app.grant_id is None:
        return []
    grant = session.get(consent.Grant, app.grant_id)
    if grant is None:
        return []
    m = matter(app.matter_code)
    attached = set(session.scalars(select(Attachment.license_id).where(Attachment.application_id == app.id)))
    # Once the grant is revoked, spent or expired, the clerk sees only what was retrieved under it: not the status
    # (or the issuer's reason) of the holder's other licenses.
    active = consent.status_of(grant) is consent.Status.ACTIVE
    out = []
    for line in grant.scope:
        license_id = _line_license_id(line) if line["kind"] == KIND else None
        if license_id is None or not (active or license_id in attached):
            continue
        lic = session.get(License, license_id)
        if lic is None:
            continue
        materials = tuple(mat.code for mat in m.materials if lic.type_code in mat.replaced_by)
        ltype = domain.catalogue().types[lic.type_code]
        wanted = set(line["fields"])
        out.append(AllowedItem(lic, ltype, tuple(f for f in ltype.field_codes if f in wanted), materials,
                               lic.id in attached))
    return out


def _allowed_item(app: Application, grant: consent.Grant | None, lic: License | None) -> AllowedItem | None:
    # The one scope line naming this license (not every line's license: a retrieval reads one record).
    line = next((x for x in (grant.scope if grant else []) if x["kind"] == KIND and x["id"] == str(lic.id)),
                None) if lic else None
    if lic is None or line is None:
        return None
    ltype = domain.catalogue().types[lic.type_code]
    wanted = set(line["fields"])
    materials = tuple(mat.code for mat in matter(app.matter_code).materials if lic.type_code in mat.replaced_by)
    return AllowedItem(lic, ltype, tuple(f for f in ltype.field_codes if f in wanted), materials, False)


def _retrieval_read(session: Session, application_id: uuid.UUID, license_id: uuid.UUID, *, lock: bool):
    # One round trip for what a retrieval checks before the gate: the application, its grant's scope, the license,
    # and whether it is attached already. Locked (lock=True), the application and its grant are locked together for
    # the gate (consent.with_locked_grant), so that two windows cannot attach one license twice nor count one use
    # twice; the row is then (application, license, attached, grant, salt kept), and None also for an application
    # without a grant. Unlocked it is (application, grant, license, attached), the grant None when there is none. The
    # license's signed credential is not read: the response carries its digest.
    return session.execute(_RETRIEVAL_READS[lock], {"application_id": application_id, "license_id": license_id}).first()


def _retrieval_statement(lock: bool, desk: bool = False):
    attached = (select(Attachment.id).where(Attachment.application_id == Application.id,
                                            Attachment.license_id == bindparam("license_id")).exists())
    if lock:
        stmt = (select(Application, License, attached)
                .outerjoin_from(Application, License, License.id == bindparam("license_id"))
                .where(Application.id == bindparam("application_id"))
                .options(defer(License.vc)))
        if desk:
            # The clerk's desk as desk_of reads it, in the same round trip, and only for a clerk still accredited
            # with the role in the hall: otherwise no row comes back, so nothing is locked for them.
            stmt = (stmt.add_columns(Clerk, Window, _HALL_NAME)
                    .join_from(Application, Clerk, Clerk.person_id == bindparam("person_id"))
                    .join(Window, Window.id == Clerk.window_id)
                    .where(_HALL_NAME.is_not(None)))
        # Rows already in the session take the values read under the lock, not those of an earlier read.
        return consent.with_locked_grant(stmt, Application.grant_id, of=[Application])
    return (select(Application, consent.Grant, License, attached)
            .outerjoin(consent.Grant, consent.Grant.id == Application.grant_id)
            .outerjoin(License, License.id == bindparam("license_id"))
            .where(Application.id == bindparam("application_id"))
            .options(defer(License.vc)))


# Built once (a statement object keeps its cache key; building it cost more than running it).
_RETRIEVAL_READS = {lock: _retrieval_statement(lock) for lock in (False, True)}
_RETRIEVAL_WITH_DESK = _retrieval_statement(True, desk=True)


def retrieve(session: Session, *, clerk_person_id: uuid.UUID, application_id: uuid.UUID,
             license_id: uuid.UUID) -> Attachment:
    """Retrieve one license under the grant through consent's gate, keep a copy and attach it to the application."""
    memo = session.info.get(_DESKS)
    if memo is not None and clerk_person_id in memo:
        desk = memo[clerk_person_id]
        row = _retrieval_read(session, application_id, license_id, lock=True)
    else:
        # The desk is read with the application, the license and the grant: one round trip fewer per retrieval.
        found = session.execute(_RETRIEVAL_WITH_DESK, {"application_id": application_id, "license_id": license_id,
                                                       "person_id": clerk_person_id}).first()
        if found is None:
            # Not accredited, or no such application, or one without a grant: the desk alone says which comes first,
            # as when it was read before the application.
            desk = desk_of(session, clerk_person_id)
            row = None
        else:
            desk = _remember_desk(session, clerk_person_id, *found[3:6])
            row = (*found[:3], *found[6:])
    if row is None:
        # No such application, or one without a grant: read it unlocked to say which (nothing is written).
        unlocked = _retrieval_read(session, application_id, license_id, lock=False)
        if unlocked is None:
            raise ApplicationNotFound()
        if unlocked[0].window_id != desk.window.id:
            raise WrongWindow()
        raise NoGrant()
    app, lic, attached, grant, kept = row
    if app.window_id != desk.window.id:
        raise WrongWindow()
    return _retrieve(session, app, desk.requester, license_id, grant, lic, attached, locked=(grant, kept))


def _retrieve(session: Session, app: Application, requester: consent.Requester, license_id: uuid.UUID,
              grant: consent.Grant | None, lic: License | None, attached: bool,
              locked: tuple[consent.Grant, bool] | None = None) -> Attachment:
    item = _allowed_item(app, grant, lic)
    fields = item.fields if item else ()
    if attached:
        # Checked before the gate so that asking twice does not spend one of the grant's uses.
        raise Conflict("该证照已附入办件", "This license is already attached to the application")
    holder = (consent.Holder(consent.HolderKind(app.applicant_kind), app.applicant_id)
              if app.applicant_kind and app.applicant_id else None)
    # The gate decides, records the access on the ledger (allowed or refused) and counts the use.
    permit = consent.gate(session, requester=requester, holder=holder, resource_kind=KIND,
                          resource_id=str(license_id), fields=fields or ("*",), purpose=purpose_of(app.matter_code),
                          grant_id=app.grant_id, locked=locked)
    if lic is None or item is None:
        raise LicenseNotFound()
    released = domain.released_fields(item.ltype, lic.fields, fields)
    payload = {"license": str(lic.id), "type": lic.type_code, "fields": released, "status": lic.status,
               "status_reason": lic.status_reason, "vc_digest": lic.vc_digest, "version": lic.version}
    copy = None
    if permit.grant.data_life_days > 0:
        copy = consent.keep_copy(session, grant=permit.grant, requester=requester, resource_kind=KIND, payload=payload,
                                 access=permit.access)
    att = Attachment(application_id=app.id, license_id=lic.id, type_code=lic.type_code, fields=list(fields),
                     materials=list(item.materials) if lic.status == LicenseStatus.VALID else [],
                     copy_id=copy.id if copy else None, access_id=permit.access.id, leaf_hash=permit.access.leaf_hash,
                     license_status=lic.status, status_reason=lic.status_reason, retrieved_at=utcnow())
    # Written with the access record and the copy in one statement at the next query or the commit (db.stage); the
    # caller only reads it, so once written it stays outside the session (a query of the application's attachments
    # loads them afresh).
    stage(session, att, join=False)
    ledger.record(session, EVENT_ATTACHED, actor_org_id=app.hall_org_id, digests={"vc": "sha256:" + lic.vc_digest},
                  data={"application": str(app.id), "matter": app.matter_code, "access": str(permit.access.id),
                        "license_status": lic.status, "materials": list(att.materials)})
    return att


def attachments(session: Session, app: Application) -> list[Attachment]:
    """List an application's attachments in retrieval order."""
    return list(session.scalars(select(Attachment).where(Attachment.application_id == app.id)
                                .order_by(Attachment.retrieved_at)))


def attachment_payload(session: Session, att: Attachment, requester: consent.Requester) -> dict[str, Any] | None:
    """Return the released data of an attachment from its consent copy, or None once the copy's data-life ended."""
    if att.copy_id is None:
        return None
    try:
        return consent.read_copy(session, att.copy_id, requester=requester)
    except NotFound:
        return None


@dataclass(frozen=True)
class MaterialsView:
    """Say, for an application, which materials the retrieved licenses replace and which paper is still needed."""

    saved: list[domain.Material]
    still_needed: list[domain.Material]


def materials_view(session: Session, app: Application) -> MaterialsView:
    """Split the matter's materials into saved (a valid license attached) and still needed on paper."""
    m = matter(app.matter_code)
    saved_codes = {c for att in attachments(session, app) for c in att.materials}
    return MaterialsView([mat for mat in m.materials if mat.code in saved_codes],
                         [mat for mat in m.materials if mat.code not in saved_codes])


# --- the holder's view ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessLine:
    """Show one access to the holder: who, where, which matter and license, when, outcome, and its receipt."""

    access: consent.Access
    org_name: str
    matter: domain.Matter | None
    license: License | None


def access_history(session: Session, holders: Sequence[consent.Holder], *,
                   cursor: str | None = None, limit: int = 100) -> tuple[list[AccessLine], str | None]:
    """Return a page of the gate calls on the holders' e-licenses, newest first as consent recorded them, and the
    cursor of the next page (None on the last)."""
    page = consent.history_page(session, holders, resource_kind=KIND, cursor=cursor, limit=limit)
    rows = page.items
    orgs = {o.id: o.name for o in identity.organisations(session, {a.requester_org_id for a in rows})}
    matters = domain.catalogue().matters
    out = []
    for a in rows:
        code = (a.purpose_code or "")[len(PURPOSE_PREFIX):].upper() if (a.purpose_code or "").startswith(
            PURPOSE_PREFIX) else ""
        lic = None
        if a.resource_id:
            try:
                lic = session.get(License, uuid.UUID(a.resource_id))
            except ValueError:
                lic = None
        out.append(AccessLine(a, orgs.get(a.requester_org_id, ""), matters.get(code), lic))
    return out, page.next_cursor


# --- statistics -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statistics:
    """Hold the figures the case reports: types usable, matters supported, retrievals and materials saved."""

    license_types: int
    license_types_issued: int
    matters: int
    licenses: int
    retrievals: int
    materials_saved: int
    applications: int
    per_hall: list[tuple[str, int, int]]
    per_month: list[tuple[str, int, int]]


def statistics(session: Session) -> Statistics:
    """Count catalogue coverage, retrievals and materials saved, per hall and per month (CST)."""
    cat = domain.catalogue()
    issued_types = session.scalar(select(func.count(func.distinct(License.type_code)))) or 0
    licenses = session.scalar(select(func.count()).select_from(License)) or 0
    apps = session.scalar(select(func.count()).select_from(Application)) or 0
    rows = session.execute(select(Attachment.retrieved_at, Attachment.materials, Application.hall_org_id)
                           .join(Application, Application.id == Attachment.application_id)).all()
    halls = {o.id: o.name for o in identity.organisations(session, {r[2] for r in rows})}
    hall_ret: Counter[str] = Counter()
    hall_mat: Counter[str] = Counter()
    month_ret: Counter[str] = Counter()
    month_mat: Counter[str] = Counter()
    for at, materials, hall in rows:
        name = halls.get(hall, str(hall))
        month = at.astimezone(CST).strftime("%Y-%m") if at.tzinfo else at.replace(tzinfo=dt.UTC).astimezone(
            CST).strftime("%Y-%m")
        hall_ret[name] += 1
        hall_mat[name] += len(materials)
        month_ret[month] += 1
        month_mat[month] += len(materials)
    return Statistics(len(cat.types), issued_types, len(cat.matters), licenses, len(rows),
                      sum(hall_mat.values()), apps,
                      sorted(((h, hall_ret[h], hall_mat[h]) for h in hall_ret), key=lambda r: -r[1]),
                      sorted((m, month_ret[m], month_mat[m]) for m in month_ret))


def e_license_grants(session: Session, holder: consent.Holder) -> list[consent.Grant]:
    """List the holder's grants that name e-licenses, newest first."""
    return [g for g in consent.grants_of(session, [holder]) if any(line["kind"] == KIND for line in g.scope)]
