"""Receipt pages: download a receipt as text or PDF, publish the verifier keys, and check a receipt at /verify."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.orm import Session

from openzone.core import documents, identity
from openzone.core.ledger import receipt, receipt_service, service
from openzone.core.ledger.receipt import ReceiptError, Verdict
from openzone.db import request_session
from openzone.kit import i18n
from openzone.kit.routing import Router
from openzone.kit.time import CST
from openzone.web import add_template_dir, render

TEMPLATES = Path(__file__).parent / "templates"
add_template_dir(TEMPLATES)
documents.add_template_dir(TEMPLATES)
# Text, PDF and pages, not JSON: kept out of the OpenAPI document, which describes /api/v1 (tests/test_openapi.py).
router = Router(include_in_schema=False)

HEX_HASH_RE = re.compile(r"[0-9a-fA-F]{64}")
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"
# A receipt moves to a newer final checkpoint as the log grows; keep copies fresh.
RECEIPT_CACHE = "public, max-age=60"
KEYS_CACHE = "public, max-age=300"
CERTIFICATE = "ledger/receipt_certificate.html"


def _leaf_hash(text: str) -> bytes:
    if not HEX_HASH_RE.fullmatch(text):
        raise service.InvalidProofRequest("叶哈希须为64位十六进制数", "The leaf hash is 64 hexadecimal digits",
                                          errors=[{"field": "leaf_hash_hex", "code": "format"}])
    return bytes.fromhex(text)


@router.get("/ledger/receipts/{leaf_hash_hex}.txt")
def receipt_text(leaf_hash_hex: str, _=Depends(identity.public()), session: Session = Depends(request_session, scope="function")):
    """Download the receipt of an integrated entry: a C2SP tlog-proof whose extra data is the entry."""
    issued = receipt_service.issue(session, _leaf_hash(leaf_hash_hex))
    return Response(issued.data, media_type=TEXT_MEDIA_TYPE, headers={
        "cache-control": RECEIPT_CACHE, "content-disposition": f'attachment; filename="{issued.filename}"'})


@router.get("/ledger/receipts/{leaf_hash_hex}.pdf")
def receipt_pdf(leaf_hash_hex: str, _=Depends(identity.public()), session: Session = Depends(request_session, scope="function")):
    """Download the receipt of an integrated entry as a bilingual PDF certificate with a QR code to /verify."""
    issued = receipt_service.issue(session, _leaf_hash(leaf_hash_hex))
    pdf = documents.render_pdf(CERTIFICATE, certificate_context(issued))
    name = issued.filename.removesuffix(receipt.RECEIPT_SUFFIX) + ".pdf"
    return Response(pdf, media_type="application/pdf", headers={
        "cache-control": RECEIPT_CACHE, "content-disposition": f'attachment; filename="{name}"'})


@router.get("/ledger/keys")
def keys(_=Depends(identity.public()), session: Session = Depends(request_session, scope="function")):
    """Publish the log's verifier key and the active witnesses' keys, one vkey a line, for pinning."""
    return Response(receipt_service.published_keys(session).text(), media_type=TEXT_MEDIA_TYPE,
                    headers={"cache-control": KEYS_CACHE})


def _english(message: str) -> str:
    return i18n.catalogue("en").get(message, message)


def _cst(value: dt.datetime) -> str:
    return value.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def _entry_time(text: str) -> str:
    try:
        instant = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return ""
    return _cst(instant)


def verdict_view(verdict: Verdict) -> dict[str, Any]:
    """Return what a page or certificate shows of a checked receipt: the entry's members and the proof's facts."""
    fields = verdict.fields
    return {
        "event_type": fields.type,
        "time": fields.time,
        "time_cst": _entry_time(fields.time),
        "actor": fields.actor,
        "digests": sorted(fields.digests.items()),
        "commitments": sorted(fields.commitments.items()),
        "data": json.dumps(fields.data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) if fields.data else "",
        "leaf_hash": verdict.leaf_hash.hex(),
        "index": verdict.index,
        "size": verdict.size,
        "root": verdict.root.hex(),
        "origin": verdict.origin,
        "log_key": verdict.log_key,
        "cosigners": [{"name": c.name, "time": _cst(c.time)} for c in verdict.cosigners],
        "quorum": verdict.quorum,
        "witnesses": verdict.witnesses,
    }


def certificate_context(issued: receipt_service.IssuedReceipt) -> dict[str, Any]:
    """Return the context of the PDF certificate: the verdict, the tree now, and the /verify link for the QR code."""
    view = verdict_view(issued.verdict)
    return {**view, "tree_size": issued.tree_size, "quorum": issued.quorum, "final": issued.final, "en": _english,
            "verify_path": f"/verify?leaf={view['leaf_hash']}", "filename": issued.filename}


def _page(request: Request, *, status_code: int = 200, **context: Any):
    base = {"form": {"receipt": ""}, "errors": [], "verdict": None, "lookup": None, "lookup_error": None}
    return render(request, "ledger/verify.html", base | context, status_code=status_code)


@router.get("/verify", dependencies=[Depends(identity.public())])
def verify_form(request: Request, leaf: str = "", session: Session = Depends(request_session, scope="function")):
    """Show the receipt check form; with ?leaf=<hex>, look the entry up and show its inclusion in the log."""
    if not leaf:
        return _page(request)
    if not HEX_HASH_RE.fullmatch(leaf):
        return _page(request, status_code=422, lookup_error=i18n.gettext("叶哈希须为64位十六进制数。"))
    try:
        issued = receipt_service.issue(session, bytes.fromhex(leaf))
    except service.EntryNotFound:
        return _page(request, status_code=404,
                     lookup_error=i18n.gettext("账本中没有叶哈希为此值的已入账条目。刚记录的条目要等下一个检查点才会入账。"))
    return _page(request, lookup=verdict_view(issued.verdict) | {"tree_size": issued.tree_size, "quorum": issued.quorum,
                                                                 "final": issued.final})


def _submitted(text: str, upload: UploadFile | None) -> tuple[bytes | None, str | None]:
    has_file = upload is not None and bool(upload.filename)
    if has_file and text.strip():
        return None, i18n.gettext("请只粘贴收据或只上传文件，不要两者都提供")
    if has_file:
        data = upload.file.read(receipt.MAX_RECEIPT_BYTES + 1)
    elif text.strip():
        # HTML form submission turns every line break of a textarea into CRLF (WHATWG HTML "form data set"); undo
        # that, and restore the final newline that copying from a page tends to drop. Uploaded files stay as they are.
        data = text.replace("\r\n", "\n").encode("utf-8")
        data = data if data.endswith(b"\n") else data + b"\n"
    else:
        return None, i18n.gettext("请粘贴收据内容或上传收据文件")
    if len(data) > receipt.MAX_RECEIPT_BYTES:
        return None, i18n.gettext("收据文件过大，不是本平台的收据")
    return data, None


@router.post("/verify", dependencies=[Depends(identity.public())])
def verify_submit(request: Request, receipt_text: str = Form("", alias="receipt"),
                  receipt_file: UploadFile | None = File(None), session: Session = Depends(request_session, scope="function")):
    """Check a pasted or uploaded receipt against the keys this deployment publishes, never keys inside it."""
    # The verdict is rendered straight away rather than POST → 303 → GET: checking changes nothing, and the receipt
    # (up to 64 KiB) is not kept anywhere to redirect to.
    form = {"receipt": receipt_text}
    data, problem = _submitted(receipt_text, receipt_file)
    if problem is not None:
        return _page(request, status_code=422, form=form, errors=[{"field": "receipt", "message": problem}])
    try:
        verdict = receipt_service.verify(session, data)
    except ReceiptError as exc:
        message = i18n.gettext("收据无效：%(reason)s") % {"reason": i18n.pick(exc.zh, exc.en)}
        return _page(request, status_code=422, form=form, errors=[{"field": "receipt", "message": message}])
    return _page(request, form=form, verdict=verdict_view(verdict))
