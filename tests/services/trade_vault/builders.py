"""Builders for trade vault tests: the 示例 shipments filed with their real documents."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from openzone.services.trade_vault import domain, service
from openzone.services.trade_vault.models import Document

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
SAMPLES = domain.DATA / "samples"

SHIPMENTS: dict[str, tuple[Path, ...]] = {
    "SH1": (VECTORS / "ubl_examples/invoice/UBL-Invoice-2.1-Example.xml", SAMPLES / "SH1-contract.pdf",
            SAMPLES / "SH1-packing-list.pdf", SAMPLES / "SH1-bill-of-lading.json", SAMPLES / "SH1-declaration.json"),
    "SH2": (VECTORS / "ubl_examples/order/UBL-Order-2.0-Example.xml", VECTORS / "ubl_examples/invoice/UBL-Invoice-2.0-Example.xml",
            VECTORS / "ubl_examples/despatchadvice/UBL-DespatchAdvice-2.0-Example.xml",
            VECTORS / "ubl_examples/waybill/UBL-Waybill-2.0-Example-International.xml",
            SAMPLES / "SH2-packing-list.pdf", SAMPLES / "SH2-declaration.json"),
    "SH3": (SAMPLES / "SH3-declaration.json",),
}


def file_shipment(session: Session, org_id: uuid.UUID, name: str, *, own_name: str = "") -> list[Document]:
    """File one shipment's documents for a firm and return them."""
    return [service.file_document(session, org_id=org_id, filename=p.name, data=p.read_bytes(), own_name=own_name).document
            for p in SHIPMENTS[name]]
