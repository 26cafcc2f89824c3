"""Consented sharing with banks: resource kinds and purposes in the consent core, grants, gated pulls with receipts."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.core import consent, identity, ledger
from openzone.kit.errors import Forbidden, NotFound, ValidationFailed
from openzone.kit.time import utcnow
from openzone.services.trade_vault import domain, service
from openzone.services.trade_vault.models import Document, Dossier, Pull, Share

DOSSIER = "trade_dossier"
DOCUMENT = "trade_document"
PROFILE = "trade_profile"
KINDS = (DOSSIER, DOCUMENT, PROFILE)
PULLED = "trade_vault.shared.pulled"

# Fields of a dossier grant, each releasing the documents of some categories (None: every document's fields).
DOSSIER_FIELDS: dict[str, tuple[tuple[str, str], frozenset[str] | None]] = {
    "documents": (("单证清单及结构化字段", "Document list with structured fields"), None),
    "customs_declarations": (("报关单", "Customs declarations"), frozenset({"customs_declaration", "cross_border"})),
    "invoices": (("发票", "Invoices"), frozenset({"invoice"})),
    "transport": (("提运单", "Transport documents"), frozenset({"transport"})),
    "contracts": (("合同与订单", "Contracts and orders"), frozenset({"contract", "order"})),
}
DOCUMENT_FIELDS = {"fields": ("结构化字段", "Structured fields"), "file": ("原始文件", "The original file")}
PROFILE_FIELDS = {"figures": ("画像指标", "Profile figures"), "consistency": ("一致性核查", "Consistency checks")}

# Purposes of trade finance the firm can choose, besides the consent core's own catalogue (trade-finance, …).
PURPOSES = {
    "summary-tax-guarantee": ("汇总征税保函", "Guarantee for summary duty payment (汇总征税保函)"),
    "duty-guarantee-insurance": ("税信保（关税保证保险）", "Customs duty guarantee insurance (税信保)"),
    "export-credit": ("出口信用融资", "Export credit financing"),
}


def _dossier_preview(session: Session, holder: consent.Holder, resource_id: str, fields: Sequence[str]) -> list[tuple[str, str]]:
    if resource_id == consent.ANY:
        count = len(service.dossiers(session, holder.id))
        rows = [("业务档案 Dossiers", f"全部 {count} 个 / all {count}")]
    else:
        try:
            dossier = service.get_dossier(session, holder.id, uuid.UUID(resource_id))
        except (ValueError, NotFound):
            return [("业务档案 Dossier", "不存在 / not found")]
        docs = service.dossier_documents(session, dossier.id)
        rows = [("业务档案 Dossier", dossier.title), ("单证数 Documents", str(len(docs)))]
    for f in fields:
        rows.append((DOSSIER_FIELDS[f][0][0] + " " + DOSSIER_FIELDS[f][0][1], "✓"))
    return rows


def _document_preview(session: Session, holder: consent.Holder, resource_id: str, fields: Sequence[str]) -> list[tuple[str, str]]:
    if resource_id == consent.ANY:
        return [("单证 Documents", "全部 / all")] + [(DOCUMENT_FIELDS[f][0], "✓") for f in fields]
    try:
        doc = service.get_document(session, holder.id, uuid.UUID(resource_id))
    except (ValueError, NotFound):
        return [("单证 Document", "不存在 / not found")]
    return [("单证 Document", f"{doc.filename} {doc.number}")] + [(DOCUMENT_FIELDS[f][0], "✓") for f in fields]


def _profile_preview(session: Session, holder: consent.Holder, resource_id: str, fields: Sequence[str]) -> list[tuple[str, str]]:
    return [("可信画像报告 Trusted profile", "按拉取时计算 / computed at each pull")] + [(PROFILE_FIELDS[f][0], "✓") for f in fields]


def register() -> None:
    """Register the vault's resource kinds and purposes with the consent core (at import, idempotent)."""
    consent.register_kind(DOSSIER, label=("业务档案", "Shipment dossier"),
                          fields={k: v[0] for k, v in DOSSIER_FIELDS.items()}, preview=_dossier_preview)
    consent.register_kind(DOCUMENT, label=("贸易单证", "Trade document"), fields=DOCUMENT_FIELDS, preview=_document_preview)
    consent.register_kind(PROFILE, label=("可信画像报告", "Trusted enterprise profile"), fields=PROFILE_FIELDS,
                          preview=_profile_preview)
    for code, label in PURPOSES.items():
        consent.register_purpose(code, label)


register()


def grant_to_bank(session: Session, *, org_id: uuid.UUID, bank_org_id: uuid.UUID, kind: str, resource_id: str,
                  fields: Sequence[str], purpose: str, days: int, periodic: bool, by_person: uuid.UUID | None) -> consent.Grant:
    """Give a bank a grant over a dossier, a document or the profile, for a purpose and a validity, once or periodically."""
    bank = identity.organisation(session, bank_org_id)
    if bank is None or bank.kind != "bank":
        raise ValidationFailed("请选择一家银行", "Choose a bank", errors=[{"field": "bank", "code": "not_bank"}])
    if kind == DOSSIER and resource_id != consent.ANY:
        service.get_dossier(session, org_id, uuid.UUID(resource_id))
    if kind == DOCUMENT and resource_id != consent.ANY:
        service.get_document(session, org_id, uuid.UUID(resource_id))
    if kind == PROFILE:
        resource_id = str(org_id)
    now = utcnow()
    terms = consent.check_terms(
        scope=[{"kind": kind, "id": resource_id, "fields": list(fields)}], purpose=purpose,
        valid_from=now, days=days, use_mode="periodic" if periodic else "single",
        frequency="day" if periodic else None, frequency_uses=20 if periodic else None, now=now)
    grant = consent.give_grant(session, holder=consent.Holder.organisation(org_id),
                               requester=consent.Binding(bank_org_id), terms=terms, by_person=by_person)
    session.add(Share(grant_id=grant.id, org_id=org_id, bank_org_id=bank_org_id, resource_kind=kind,
                      resource_id=resource_id))
    session.flush()
    return grant


def grants(session: Session, org_id: uuid.UUID) -> list[consent.Grant]:
    """List a firm's grants over vault resources, newest first."""
    return [g for g in consent.grants_of(session, [consent.Holder.organisation(org_id)])
            if any(line.get("kind") in KINDS for line in (g.scope or []))]


def grants_to_bank(session: Session, bank_org_id: uuid.UUID) -> list[tuple[Share, consent.Grant]]:
    """List the grants firms gave a bank through the vault, newest first, each with its share record."""
    shares = session.scalars(select(Share).where(Share.bank_org_id == bank_org_id).order_by(Share.created_at.desc()))
    return [(s, consent.grant_for_holder(session, s.grant_id, holders=[consent.Holder.organisation(s.org_id)]))
            for s in shares]


def revoke(session: Session, *, org_id: uuid.UUID, grant_id: uuid.UUID) -> consent.Grant:
    """Revoke a firm's grant at once."""
    return consent.revoke(session, grant_id, holders=[consent.Holder.organisation(org_id)])


@dataclass(frozen=True)
class Pulled:
    """Hold what a bank received in one pull, the pull record and its ledger leaf hash."""

    payload: dict[str, Any]
    pull: Pull


def _doc_out(doc: Document, *, with_fields: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(doc.id), "category": doc.category, "doc_type": doc.doc_type, "number": doc.number,
                           "issued_on": doc.issued_on.isoformat() if doc.issued_on else None, "currency": doc.currency,
                           "total": doc.total, "sha256": doc.sha256, "filed_entry": doc.leaf_hash,
                           "withdrawn": doc.withdrawn_at is not None, "sample": doc.sample}
    if with_fields:
        out["fields"] = doc.fields
    return out


def _record_pull(session: Session, *, org_id: uuid.UUID, bank_org_id: uuid.UUID, grant: consent.Grant, kind: str,
                 resource_id: str, fields: Sequence[str], digests: Sequence[str]) -> Pull:
    # One digest over the released documents' digests, in order: a pull of 500 documents fits the entry's limit
    # of 32 digests, and the firm can recompute it from the list the pull returned.
    manifest = hashlib.sha256("\n".join(digests).encode()).hexdigest()
    recorded = ledger.record(session, PULLED, actor_org_id=bank_org_id, digests={"released": f"sha256:{manifest}"}, data={
        "grant": str(grant.id), "kind": kind, "resource": resource_id, "fields": sorted(fields),
        "holder_org": str(org_id), "documents": len(digests)})
    pull = Pull(org_id=org_id, bank_org_id=bank_org_id, grant_id=grant.id, resource_kind=kind, resource_id=resource_id,
                fields=sorted(fields), documents=len(digests), leaf_hash=recorded.leaf_hash.hex())
    session.add(pull)
    session.flush()
    return pull


def _requester(bank_org_id: uuid.UUID, token_id: uuid.UUID | None) -> consent.Requester:
    return consent.Requester(org_id=bank_org_id, client_id=token_id)


def pull_dossier(session: Session, *, bank_org_id: uuid.UUID, token_id: uuid.UUID | None, dossier_id: uuid.UUID,
                 fields: Sequence[str], purpose: str) -> Pulled:
    """Release a dossier's documents to a bank under the firm's grant; the gate, the ledger and the firm see it."""
    dossier = session.get(Dossier, dossier_id)
    if dossier is None:
        raise NotFound("未找到该业务档案", "No such dossier")
    unknown = [f for f in fields if f not in DOSSIER_FIELDS]
    if not fields or unknown:
        raise ValidationFailed("请选择有效的字段", "Choose valid fields", errors=[{"field": "fields", "code": "enum"}])
    grant = consent.require_grant(session, requester=_requester(bank_org_id, token_id),
                                  holder=consent.Holder.organisation(dossier.org_id), resource_kind=DOSSIER,
                                  resource_id=str(dossier.id), fields=fields, purpose=purpose)
    docs = [d for d in service.dossier_documents(session, dossier.id)]
    every = "documents" in fields
    wanted = set().union(*(DOSSIER_FIELDS[f][1] or set() for f in fields))
    released = [d for d in docs if every or d.category in wanted]
    pull = _record_pull(session, org_id=dossier.org_id, bank_org_id=bank_org_id, grant=grant, kind=DOSSIER,
                        resource_id=str(dossier.id), fields=fields, digests=[d.sha256 for d in released])
    check = service.completeness(session, dossier.id)
    payload = {"dossier": {"id": str(dossier.id), "title": dossier.title, "complete": check.complete,
                           "missing": [c.value for c in check.missing]},
               "documents": [_doc_out(d, with_fields=True) for d in released],
               "pull": {"id": str(pull.id), "leaf_hash": pull.leaf_hash, "grant": str(grant.id),
                        "receipt": f"/ledger/receipts/{pull.leaf_hash}.txt"}}
    return Pulled(payload, pull)


def pull_document(session: Session, *, bank_org_id: uuid.UUID, token_id: uuid.UUID | None, document_id: uuid.UUID,
                  fields: Sequence[str], purpose: str) -> tuple[Pulled, bytes | None]:
    """Release one document's fields (and its file when granted) to a bank under the firm's grant."""
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFound("未找到该单证", "No such document")
    if not fields or any(f not in DOCUMENT_FIELDS for f in fields):
        raise ValidationFailed("请选择有效的字段", "Choose valid fields", errors=[{"field": "fields", "code": "enum"}])
    grant = consent.require_grant(session, requester=_requester(bank_org_id, token_id),
                                  holder=consent.Holder.organisation(doc.org_id), resource_kind=DOCUMENT,
                                  resource_id=str(doc.id), fields=fields, purpose=purpose)
    pull = _record_pull(session, org_id=doc.org_id, bank_org_id=bank_org_id, grant=grant, kind=DOCUMENT,
                        resource_id=str(doc.id), fields=fields, digests=[doc.sha256])
    data = service.read_blob(doc.sha256) if "file" in fields else None
    payload = {"document": _doc_out(doc, with_fields="fields" in fields),
               "pull": {"id": str(pull.id), "leaf_hash": pull.leaf_hash, "grant": str(grant.id),
                        "receipt": f"/ledger/receipts/{pull.leaf_hash}.txt"}}
    return Pulled(payload, pull), data


def pull_profile(session: Session, *, bank_org_id: uuid.UUID, token_id: uuid.UUID | None, org_id: uuid.UUID,
                 fields: Sequence[str], purpose: str, figures: Callable[[], dict[str, Any]]) -> Pulled:
    """Release a firm's profile figures to a bank under the firm's grant."""
    if not fields or any(f not in PROFILE_FIELDS for f in fields):
        raise ValidationFailed("请选择有效的字段", "Choose valid fields", errors=[{"field": "fields", "code": "enum"}])
    grant = consent.require_grant(session, requester=_requester(bank_org_id, token_id),
                                  holder=consent.Holder.organisation(org_id), resource_kind=PROFILE,
                                  resource_id=str(org_id), fields=fields, purpose=purpose)
    # Figures are computed only once the gate allowed the pull.
    released = {k: v for k, v in figures().items() if ("consistency" in fields and k == "consistency")
                or ("figures" in fields and k != "consistency")}
    digest = hashlib.sha256(ledger.canonical_json(released)).hexdigest()
    pull = _record_pull(session, org_id=org_id, bank_org_id=bank_org_id, grant=grant, kind=PROFILE,
                        resource_id=str(org_id), fields=fields, digests=[digest])
    return Pulled({"profile": released, "pull": {"id": str(pull.id), "leaf_hash": pull.leaf_hash, "grant": str(grant.id),
                                                 "receipt": f"/ledger/receipts/{pull.leaf_hash}.txt"}}, pull)


def pulls_of(session: Session, org_id: uuid.UUID, limit: int = 200) -> list[Pull]:
    """List the pulls banks made of a firm's data, newest first."""
    return list(session.scalars(select(Pull).where(Pull.org_id == org_id).order_by(Pull.created_at.desc()).limit(limit)))


def pulls_by(session: Session, bank_org_id: uuid.UUID, limit: int = 200) -> list[Pull]:
    """List the pulls a bank made, newest first."""
    return list(session.scalars(select(Pull).where(Pull.bank_org_id == bank_org_id)
                                .order_by(Pull.created_at.desc()).limit(limit)))


def banks(session: Session) -> list[identity.OrgEntry]:
    """List the banks a firm may grant to."""
    return [o for o in identity.organisations(session) if o.kind == "bank"]


def org_of(session: Session, principal: identity.Principal, kind: str) -> uuid.UUID:
    """Return the organisation of the given kind the caller acts for (a token's, or the person's membership)."""
    if principal.is_token:
        candidates = [principal.token_org_id] if principal.token_org_id else []
    else:
        candidates = sorted({org for org, _ in principal.roles})
    for org_id in candidates:
        entry = identity.organisation(session, org_id)
        if entry is not None and entry.kind == kind:
            return org_id
    label = {"enterprise": ("企业", "a firm"), "bank": ("银行", "a bank")}[kind]
    raise Forbidden(f"此功能仅供{label[0]}使用", f"This is for {label[1]} only")


def organisation_name(session: Session, org_id: uuid.UUID) -> str:
    """Return an organisation's name, or an empty string."""
    entry = identity.organisation(session, org_id)
    return entry.name if entry else ""


def days_left(grant: consent.Grant) -> int:
    """Count the whole days left in a grant's validity (0 when it has ended)."""
    return max(0, (grant.valid_until - utcnow()) // dt.timedelta(days=1)) if grant.valid_until else 0


def category_label(code: str) -> tuple[str, str]:
    """Return a category's names."""
    return domain.CATEGORY_LABELS[domain.Category(code)]
