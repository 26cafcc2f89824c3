"""Trusted enterprise profile (可信画像报告), its PDF on the ledger, the AEO readiness checklist and the audit package."""

from __future__ import annotations

import hashlib
import io
import json
import statistics
import uuid
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.config import get_settings
from openzone.core import documents, ledger
from openzone.kit.errors import NotFound
from openzone.kit.time import rfc3339, utcnow
from openzone.services.trade_vault import domain, service
from openzone.services.trade_vault.models import Document, Report

REPORTED = "trade_vault.profile.issued"
# Days within which a document counts as filed on time: the export-rebate filing window (domain-rules.md §7, "within
# 15 days after claiming the export VAT rebate"), the only filing deadline in our references.
TIMELY_DAYS = 15
MAX_PROFILE_DOCUMENTS = 20_000


def _d(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"


def compute(session: Session, org_id: uuid.UUID) -> dict[str, Any]:
    """Compute the profile's figures from the firm's filed documents; each figure keeps the ids of its documents."""
    docs = list(session.scalars(select(Document).where(Document.org_id == org_id, Document.withdrawn_at.is_(None))
                                .order_by(Document.created_at).limit(MAX_PROFILE_DOCUMENTS)))
    volume: dict[tuple[str, str, str], list[Any]] = {}
    for doc in docs:
        if doc.category in ("customs_declaration", "cross_border") and doc.issued_on and doc.currency and doc.total:
            key = ("declared", doc.issued_on.strftime("%Y-%m"), doc.currency)
        elif doc.doc_type == "ubl:Invoice" and doc.issued_on and doc.currency and doc.total:
            key = ("invoiced", doc.issued_on.strftime("%Y-%m"), doc.currency)
        else:
            continue
        cell = volume.setdefault(key, [Decimal(0), []])
        cell[0] += _d(doc.total)
        cell[1].append(str(doc.id))
    counterparties: dict[str, list[str]] = defaultdict(list)
    countries: dict[str, list[str]] = defaultdict(list)
    tables = domain.code_tables()
    for doc in docs:
        if doc.counterparty:
            counterparties[doc.counterparty].append(str(doc.id))
        extra = (doc.fields or {}).get("extra", {})
        if extra.get("trade_country"):
            names = tables.country(extra["trade_country"]) or (extra["trade_country"], extra["trade_country"])
            countries[f"{extra['trade_country']} {names[0]}"].append(str(doc.id))
        elif doc.country:
            countries[doc.country].append(str(doc.id))
    dossier_rows = []
    for dossier in service.dossiers(session, org_id):
        check = service.completeness(session, dossier.id)
        dossier_rows.append({"id": str(dossier.id), "title": dossier.title, "share": check.share,
                             "missing": [c.value for c in check.missing]})
    delays = []
    for doc in docs:
        if doc.issued_on and not doc.sample:
            delays.append(((doc.created_at.date() - doc.issued_on).days, str(doc.id)))
    on_record = [str(d.id) for d in docs if ledger.entry_by_leaf_hash(session, bytes.fromhex(d.leaf_hash)) is not None]
    return {
        "generated_at": rfc3339(utcnow()), "documents": len(docs),
        "volume": [{"kind": k[0], "month": k[1], "currency": k[2], "amount": str(v[0]), "documents": v[1]}
                   for k, v in sorted(volume.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))],
        "counterparties": [{"name": n, "documents": ids} for n, ids in sorted(counterparties.items(), key=lambda kv: -len(kv[1]))],
        "countries": [{"name": n, "documents": ids} for n, ids in sorted(countries.items(), key=lambda kv: -len(kv[1]))],
        "dossiers": dossier_rows,
        "timeliness": {"dated": len(delays), "median_days": statistics.median([d for d, _ in delays]) if delays else None,
                       "within": TIMELY_DAYS, "on_time": [i for d, i in delays if d <= TIMELY_DAYS],
                       "late": [i for d, i in delays if d > TIMELY_DAYS]},
        "consistency": consistency(session, org_id),
        "on_record": {"integrated": on_record, "total": len(docs),
                      "share": round(100 * len(on_record) / len(docs)) if docs else 0},
    }


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def consistency(session: Session, org_id: uuid.UUID) -> list[dict[str, Any]]:
    """Compare each dossier's declaration with its invoice (value, buyer) and packing list (quantity)."""
    out = []
    for dossier in service.dossiers(session, org_id):
        docs = [d for d in service.dossier_documents(session, dossier.id) if d.withdrawn_at is None]
        decls = [d for d in docs if d.category in ("customs_declaration", "cross_border")]
        invoices = [d for d in docs if d.doc_type == "ubl:Invoice"]
        packing = [d for d in docs if d.category == "packing_list"]
        for decl in decls:
            if invoices:
                inv = invoices[0]
                same = inv.currency == decl.currency and _d(inv.total) == _d(decl.total)
                out.append({"check": "value", "dossier": str(dossier.id), "ok": same,
                            "detail": f"{inv.currency} {inv.total} / {decl.currency} {decl.total}",
                            "documents": [str(inv.id), str(decl.id)]})
                buyer = next((p["name"] for p in inv.fields.get("parties", []) if p["role"] == "buyer"), "")
                overseas = next((p["name"] for p in decl.fields.get("parties", []) if p["role"] == "overseas"), "")
                if buyer and overseas:
                    out.append({"check": "party", "dossier": str(dossier.id), "ok": _norm(buyer) == _norm(overseas),
                                "detail": f"{buyer} / {overseas}", "documents": [str(inv.id), str(decl.id)]})
            declared_qty = sum((_d(ln["quantity"] or "") for ln in decl.fields.get("lines", [])), Decimal(0))
            for pl in packing:
                stated = pl.fields.get("quantity")
                if stated is None:
                    lines = [ln for ln in pl.fields.get("lines", []) if ln.get("quantity")]
                    stated = str(sum((_d(ln["quantity"]) for ln in lines), Decimal(0))) if lines else None
                if stated is not None:
                    out.append({"check": "quantity", "dossier": str(dossier.id), "ok": _d(stated) == declared_qty,
                                "detail": f"{stated} / {declared_qty}", "documents": [str(pl.id), str(decl.id)]})
    return out


CHECK_LABELS = {"value": ("发票金额与报关单申报价值", "Invoice total vs declared value"),
                "party": ("发票买方与报关单境外收货人", "Invoice buyer vs declaration's overseas party"),
                "quantity": ("装箱单数量与报关单数量", "Packing-list quantity vs declared quantity")}


def _bars(rows: list[tuple[str, float, str]], title: str) -> Markup:
    """Draw a horizontal bar chart as inline SVG (presentation attributes only: the CSP forbids style attributes)."""
    if not rows:
        return Markup("")
    top = max(v for _, v, _ in rows) or 1
    height = 24 * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" viewBox="0 0 640 {height}" '
             f'width="100%" height="{height}"><title>{escape(title)}</title>']
    for i, (label, value, text) in enumerate(rows):
        y = 20 + 24 * i
        width = max(2, int(380 * value / top))
        parts.append(f'<text x="0" y="{y + 14}" font-size="12" fill="#0b0c0c">{escape(label)}</text>'
                     f'<rect x="180" y="{y}" width="{width}" height="18" fill="#1d70b8"/>'
                     f'<text x="{186 + width}" y="{y + 14}" font-size="12" fill="#0b0c0c">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text and attribute value above went through escape()


def charts(report: dict[str, Any]) -> dict[str, Markup]:
    """Draw the profile's charts: volume by month and currency, and documents per counterparty."""
    volume = [(f"{r['month']} {r['currency']} {'报关' if r['kind'] == 'declared' else '发票'}", float(Decimal(r["amount"])),
               _money(Decimal(r["amount"]))) for r in report["volume"]]
    parties = [(r["name"][:24], float(len(r["documents"])), str(len(r["documents"]))) for r in report["counterparties"][:10]]
    return {"volume": _bars(volume, "贸易额（按月份和币种） Trade volume by month and currency"),
            "counterparties": _bars(parties, "交易对手单证数 Documents per counterparty")}


def issue_report(session: Session, *, org_id: uuid.UUID, org_name: str, lang: str = "zh-CN") -> Report:
    """Render the profile as a PDF with a verification QR, store it, and put its figures' digest on the ledger."""
    figures = compute(session, org_id)
    digest = hashlib.sha256(ledger.canonical_json(_ledger_safe(figures))).hexdigest()
    recorded = ledger.record(session, REPORTED, actor_org_id=org_id, digests={"figures": f"sha256:{digest}"},
                             data={"documents": figures["documents"], "dossiers": len(figures["dossiers"])})
    leaf = recorded.leaf_hash.hex()
    pdf = documents.render_pdf("trade_vault/profile_report.html", {
        "org_name": org_name, "report": figures, "charts": charts(figures), "check_labels": CHECK_LABELS,
        "categories": {c.value: v for c, v in domain.CATEGORY_LABELS.items()}, "leaf": leaf,
        "verify_path": f"/verify?leaf={leaf}", "base_url": get_settings().base_url.rstrip("/")}, lang=lang)
    sha = service.store_blob(pdf)
    report = Report(org_id=org_id, sha256=sha, figures=figures, leaf_hash=leaf)
    session.add(report)
    session.flush()
    return report


def _ledger_safe(figures: dict[str, Any]) -> dict[str, Any]:
    # Canonical JSON admits no floats (the median may be a .5): hash the figures with numbers as text.
    return json.loads(json.dumps(figures, default=str), parse_float=str)


def reports(session: Session, org_id: uuid.UUID) -> list[Report]:
    """List a firm's issued profile reports, newest first."""
    return list(session.scalars(select(Report).where(Report.org_id == org_id).order_by(Report.created_at.desc()).limit(20)))


def report_pdf(session: Session, *, org_id: uuid.UUID, report_id: uuid.UUID) -> bytes:
    """Return a firm's stored report PDF, checked against its digest."""
    report = session.get(Report, report_id)
    if report is None or report.org_id != org_id:
        raise NotFound("未找到该报告", "No such report")
    return service.read_blob(report.sha256)


# ------------------------------------------------------------------------------------------------ AEO readiness


@cache
def checklist() -> list[dict[str, Any]]:
    """Load the AEO record-keeping checklist kept in configuration (data/aeo_checklist.json)."""
    return json.loads((domain.DATA / "aeo_checklist.json").read_text(encoding="utf-8"))["items"]


@dataclass(frozen=True)
class AeoItem:
    """Score one checklist item from the vault: passed or not, the evidence and the gap."""

    item: dict[str, Any]
    passed: bool
    evidence: str
    gap: str


def aeo_score(session: Session, org_id: uuid.UUID) -> dict[str, Any]:
    """Score the checklist from what is in the vault and list the gaps."""
    figures = compute(session, org_id)
    docs = list(session.scalars(select(Document).where(Document.org_id == org_id).limit(MAX_PROFILE_DOCUMENTS)))
    live = [d for d in docs if d.withdrawn_at is None]
    decls = [d for d in live if d.category in ("customs_declaration", "cross_border")]
    traced = [d for d in decls if d.dossier_id and service.completeness(session, d.dossier_id).complete]
    checks = figures["consistency"]
    first = min(decls, key=lambda d: d.issued_on or d.created_at.date(), default=None)
    facts = {
        "review_records": (sum(1 for d in live if d.category == "internal_control") > 0,
                           f"{sum(1 for d in live if d.category == 'internal_control')}"),
        "custody_complete": (bool(decls) and len(traced) == len(decls), f"{len(traced)}/{len(decls)}"),
        "sample_20": (len(traced) >= 20, f"{len(traced)}/20"),
        "timely_entry": (figures["timeliness"]["dated"] > 0 and not figures["timeliness"]["late"],
                         f"{len(figures['timeliness']['on_time'])}/{figures['timeliness']['dated']}"),
        "traceable": (bool(live) and figures["on_record"]["share"] == 100, f"{figures['on_record']['share']}%"),
        "retention": (all(d.retain_until >= domain.add_years(d.retention_start_on, 3) for d in docs),
                      f"{len(docs)}"),
        "flows_agree": (bool(checks) and all(c["ok"] for c in checks), f"{sum(c['ok'] for c in checks)}/{len(checks)}"),
        "first_transaction": (first is not None and first.dossier_id is not None
                              and service.completeness(session, first.dossier_id).complete,
                              first.number if first else "—"),
    }
    items = []
    for item in checklist():
        passed, evidence = facts[item["evidence"]]
        items.append(AeoItem(item, passed, evidence, "" if passed else item["gap"]))
    return {"items": items, "passed": sum(i.passed for i in items), "total": len(items),
            "percent": round(100 * sum(i.passed for i in items) / len(items)) if items else 0}


# ------------------------------------------------------------------------------------------------ audit package


def tlog_proof(session: Session, leaf_hash: str) -> bytes | None:
    """Return an integrated entry's receipt (the ledger's C2SP tlog-proof file), or None while it is pending."""
    try:
        return ledger.issue_receipt(session, bytes.fromhex(leaf_hash)).data
    except ledger.EntryNotFound:
        return None


def audit_package(session: Session, org_id: uuid.UUID, sample: int = 20) -> bytes:
    """Build the auditors' ZIP: every document, a manifest, the receipts, and up to 20 declarations traced to dossiers."""
    docs = list(session.scalars(select(Document).where(Document.org_id == org_id).order_by(Document.created_at)
                                .limit(MAX_PROFILE_DOCUMENTS)))
    buf = io.BytesIO()
    manifest = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for doc in docs:
            path = f"documents/{doc.category}/{doc.sha256[:16]}-{doc.filename}"
            archive.writestr(path, service.read_blob(doc.sha256))
            receipt = tlog_proof(session, doc.leaf_hash)
            if receipt is not None:
                archive.writestr(f"receipts/{doc.leaf_hash[:16]}.tlog-proof", receipt)
            manifest.append({"id": str(doc.id), "path": path, "sha256": doc.sha256, "category": doc.category,
                             "number": doc.number, "issued_on": doc.issued_on.isoformat() if doc.issued_on else None,
                             "dossier": str(doc.dossier_id) if doc.dossier_id else None, "filed_entry": doc.leaf_hash,
                             "receipt": f"receipts/{doc.leaf_hash[:16]}.tlog-proof" if receipt else None,
                             "retain_until": doc.retain_until.isoformat(), "retention_rule": doc.retention_rule,
                             "withdrawn": doc.withdrawn_at is not None, "sample": doc.sample})
        decls = [d for d in docs if d.category in ("customs_declaration", "cross_border") and d.withdrawn_at is None]
        # domain-rules.md §7: auditors sample about 20 declarations and often ask for the first transaction's.
        chosen = decls[:1] + [d for d in decls[1:]][: sample - 1]
        traced = []
        for decl in chosen:
            related = service.dossier_documents(session, decl.dossier_id) if decl.dossier_id else []
            check = service.completeness(session, decl.dossier_id) if decl.dossier_id else None
            traced.append({"declaration": decl.number, "document": str(decl.id), "dossier": str(decl.dossier_id) if decl.dossier_id else None,
                           "complete": bool(check and check.complete),
                           "missing": [c.value for c in check.missing] if check else [c.value for c in domain.REQUIRED_SET],
                           "documents": [{"id": str(d.id), "category": d.category, "number": d.number, "sha256": d.sha256}
                                         for d in related]})
        archive.writestr("manifest.json", json.dumps({"generated_at": rfc3339(utcnow()), "documents": manifest},
                                                     ensure_ascii=False, indent=1))
        archive.writestr("sample-declarations.json", json.dumps(traced, ensure_ascii=False, indent=1))
        archive.writestr("README.txt", "OpenZone trade vault audit package\n"
                         "documents/: the files as filed; manifest.json: digests, ledger entries, retention;\n"
                         "receipts/: C2SP tlog-proof receipts, check with `openzone verify` and the log's keys at /ledger/keys;\n"
                         "sample-declarations.json: up to 20 declarations (the first one first) traced through their dossiers.\n")
    return buf.getvalue()
