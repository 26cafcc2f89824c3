"""Load the trade vault demo: the demo firm's three 示例 shipments with real UBL documents, once."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from openzone.core import identity
from openzone.services.trade_vault import domain, service, sharing
from openzone.services.trade_vault.models import Document, Share

FIRM = "北京开放示范贸易有限公司（演示）"
BANK = "示范商业银行北京分行（演示）"
# Real examples live in the repository's tests/vectors (a source checkout); the 示例 files ship in the package.
VECTORS = Path(__file__).resolve().parents[4] / "tests" / "vectors"
SAMPLES = domain.DATA / "samples"
FILES: tuple[Path, ...] = (
    VECTORS / "ubl_examples/invoice/UBL-Invoice-2.1-Example.xml", SAMPLES / "SH1-contract.pdf",
    SAMPLES / "SH1-packing-list.pdf", SAMPLES / "SH1-bill-of-lading.json", SAMPLES / "SH1-declaration.json",
    VECTORS / "ubl_examples/order/UBL-Order-2.0-Example.xml", VECTORS / "ubl_examples/invoice/UBL-Invoice-2.0-Example.xml",
    VECTORS / "ubl_examples/despatchadvice/UBL-DespatchAdvice-2.0-Example.xml",
    VECTORS / "ubl_examples/waybill/UBL-Waybill-2.0-Example-International.xml", SAMPLES / "SH2-packing-list.pdf",
    SAMPLES / "SH2-declaration.json", SAMPLES / "SH3-declaration.json",
    VECTORS / "ubl_examples/order/UBL-Order-2.1-Example.xml",
    VECTORS / "ubl_examples/transportexecutionplan/UBL-TransportExecutionPlan-2.1-Example.xml",
)


def load(session: Session) -> int:
    """File the demo firm's documents that are not there yet and list its grants to the demo bank; return how many."""
    orgs = {o.name: o for o in identity.organisations(session)}
    firm, bank = orgs.get(FIRM), orgs.get(BANK)
    if firm is None:
        return 0
    have = set(session.scalars(select(Document.sha256).where(Document.org_id == firm.id)))
    filed = 0
    for path in FILES:
        if not path.exists():
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() in have:
            continue
        service.file_document(session, org_id=firm.id, filename=path.name, data=data, source="demo", own_name=firm.name)
        filed += 1
    if bank is not None:
        # The platform demo gives the firm's grant to the bank through the consent core directly; list it for the bank.
        known = set(session.scalars(select(Share.grant_id)))
        for grant in sharing.grants(session, firm.id):
            if grant.id not in known and grant.requester_org_id == bank.id:
                line = grant.scope[0]
                session.add(Share(grant_id=grant.id, org_id=firm.id, bank_org_id=bank.id, resource_kind=line["kind"],
                                  resource_id=line["id"]))
        session.flush()
    return filed
