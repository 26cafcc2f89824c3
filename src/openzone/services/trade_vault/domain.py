"""Pure rules of the trade vault: safe intake, UBL and DCSA parsing, the 报关单 schema, categories, retention, dossiers."""

from __future__ import annotations

import csv
import datetime as dt
import enum
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree.ElementTree import Element  # types only; parsing goes through defusedxml

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from openzone.kit.errors import problem

DATA = Path(__file__).resolve().parent / "data"

# ------------------------------------------------------------------------------------------------ problems

FileRefused = problem("trade-vault-file-refused", 422, "文件无法接收", "The file cannot be accepted")
FileTooLarge = problem("trade-vault-file-too-large", 413, "文件过大", "The file is too large")
FileTypeUnknown = problem("trade-vault-file-type", 415, "不支持的文件类型", "Unsupported file type")
XmlRefused = problem("trade-vault-xml-refused", 422, "XML 文件不安全或无法解析", "The XML file is unsafe or unreadable")
ZipRefused = problem("trade-vault-zip-refused", 422, "压缩包不安全", "The ZIP batch is unsafe")
PdfRefused = problem("trade-vault-pdf-refused", 422, "PDF 文件已损坏或超出限制", "The PDF is corrupt or over the limits")
DocumentInvalid = problem("trade-vault-document-invalid", 422, "单证不符合业务规则", "The document breaks a business rule")
DeclarationInvalid = problem("trade-vault-declaration-invalid", 422, "报关单数据不符合格式", "The customs declaration data is not valid")

# ------------------------------------------------------------------------------------------------ limits


@dataclass(frozen=True)
class Limits:
    """Bound what one upload may cost: bytes, ZIP members, expansion ratio, PDF pages and extracted text."""

    max_file_bytes: int = 20 * 1024 * 1024
    max_zip_members: int = 200
    max_zip_total_bytes: int = 200 * 1024 * 1024
    # A member that expands more than this many times its compressed size is treated as a ZIP bomb.
    max_zip_ratio: int = 100
    max_pdf_pages: int = 500
    max_text_chars: int = 200_000


LIMITS = Limits()

# ------------------------------------------------------------------------------------------------ file types


class FileKind(enum.StrEnum):
    """Name the file formats the vault accepts, told by content (magic bytes), never by name alone."""

    PDF = "pdf"
    PNG = "png"
    JPEG = "jpeg"
    XML = "xml"
    JSON = "json"
    ZIP = "zip"


MEDIA_TYPES = {FileKind.PDF: "application/pdf", FileKind.PNG: "image/png", FileKind.JPEG: "image/jpeg",
               FileKind.XML: "application/xml", FileKind.JSON: "application/json", FileKind.ZIP: "application/zip"}


def sniff(data: bytes, filename: str = "", limits: Limits = LIMITS) -> FileKind:
    """Tell a file's kind from its first bytes; refuse empty, oversized and unknown files."""
    if not data:
        raise FileRefused("文件为空", "The file is empty", errors=[{"field": "file", "code": "empty"}])
    if len(data) > limits.max_file_bytes:
        raise FileTooLarge(f"文件超过 {limits.max_file_bytes // (1024 * 1024)} MB 上限",
                           f"The file exceeds the {limits.max_file_bytes // (1024 * 1024)} MB limit",
                           errors=[{"field": "file", "code": "too_large"}])
    if data.startswith(b"%PDF-"):
        return FileKind.PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind.PNG
    if data.startswith(b"\xff\xd8\xff"):
        return FileKind.JPEG
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return FileKind.ZIP
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return FileKind.XML
    if head.startswith((b"{", b"[")):
        return FileKind.JSON
    raise FileTypeUnknown(f"无法识别文件 {filename or ''} 的类型（接受 PDF、PNG、JPEG、XML、JSON、ZIP）",
                          f"Cannot tell the type of {filename or 'the file'} (PDF, PNG, JPEG, XML, JSON and ZIP are accepted)",
                          errors=[{"field": "file", "code": "type"}])


# ------------------------------------------------------------------------------------------------ ZIP batches


@dataclass(frozen=True)
class Member:
    """Hold one file taken out of a ZIP batch."""

    name: str
    data: bytes


def safe_member_name(name: str) -> str:
    """Return a ZIP member's name if it stays inside the batch; refuse absolute, parent and drive paths."""
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        raise ZipRefused(f"压缩包内文件名不安全：{name}", f"Unsafe file name in the ZIP batch: {name}",
                         errors=[{"field": "file", "code": "path_traversal", "name": name}])
    parts = PurePosixPath(name).parts
    if any(p in ("..", ".") for p in parts) or not parts:
        raise ZipRefused(f"压缩包内文件名不安全：{name}", f"Unsafe file name in the ZIP batch: {name}",
                         errors=[{"field": "file", "code": "path_traversal", "name": name}])
    return name


def unpack_zip(data: bytes, limits: Limits = LIMITS) -> list[Member]:
    """Open a ZIP batch after checking member count, names, declared sizes and expansion ratio; read with a cap."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise ZipRefused("压缩包已损坏", "The ZIP batch is corrupt", errors=[{"field": "file", "code": "corrupt"}]) from exc
    if len(infos) > limits.max_zip_members:
        raise ZipRefused(f"压缩包内文件过多（上限 {limits.max_zip_members} 个）",
                         f"Too many files in the ZIP batch (at most {limits.max_zip_members})",
                         errors=[{"field": "file", "code": "too_many_files"}])
    total = 0
    for info in infos:
        safe_member_name(info.filename)
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_zip_ratio or info.file_size > limits.max_file_bytes:
            raise ZipRefused(f"压缩包内文件 {info.filename} 解压后过大（疑似压缩炸弹）",
                             f"{info.filename} expands too far (a ZIP bomb?)",
                             errors=[{"field": "file", "code": "zip_bomb", "name": info.filename}])
    if total > limits.max_zip_total_bytes:
        raise ZipRefused("压缩包解压后总量超过上限", "The ZIP batch expands beyond the limit",
                         errors=[{"field": "file", "code": "zip_bomb"}])
    members = []
    for info in infos:
        try:
            with archive.open(info) as handle:
                # The declared size may lie: read one byte past it and refuse if it is there.
                body = handle.read(info.file_size + 1)
        except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise ZipRefused(f"压缩包内文件 {info.filename} 无法读取", f"{info.filename} in the ZIP batch cannot be read",
                             errors=[{"field": "file", "code": "corrupt", "name": info.filename}]) from exc
        if len(body) > info.file_size:
            raise ZipRefused(f"压缩包内文件 {info.filename} 的实际大小与声明不符",
                             f"{info.filename} is larger than its ZIP header says",
                             errors=[{"field": "file", "code": "zip_bomb", "name": info.filename}])
        members.append(Member(info.filename, body))
    return members


# ------------------------------------------------------------------------------------------------ categories


class Category(enum.StrEnum):
    """Name the vault's document categories (domain-rules.md §7, "Document categories for the vault")."""

    CONTRACT = "contract"
    ORDER = "order"
    INVOICE = "invoice"
    PACKING_LIST = "packing_list"
    TRANSPORT = "transport"
    CUSTOMS_DECLARATION = "customs_declaration"
    LICENCE = "licence"
    TAX = "tax"
    EXPORT_REBATE = "export_rebate"
    CROSS_BORDER = "cross_border"
    INTERNAL_CONTROL = "internal_control"
    OTHER = "other"


CATEGORY_LABELS: Mapping[Category, tuple[str, str]] = {
    Category.CONTRACT: ("合同", "Contract"),
    Category.ORDER: ("订单", "Order"),
    Category.INVOICE: ("发票", "Invoice"),
    Category.PACKING_LIST: ("装箱单", "Packing list"),
    Category.TRANSPORT: ("提运单", "Transport document"),
    Category.CUSTOMS_DECLARATION: ("报关单", "Customs declaration"),
    Category.LICENCE: ("许可证件", "Licences and certificates"),
    Category.TAX: ("税费单证", "Tax documents"),
    Category.EXPORT_REBATE: ("出口退税单证", "Export-rebate set"),
    Category.CROSS_BORDER: ("跨境电商清单", "Cross-border e-commerce list"),
    Category.INTERNAL_CONTROL: ("内控记录", "Internal-control records"),
    Category.OTHER: ("其他", "Other"),
}

# UBL document types (root element names) to categories. FreightInvoice is an invoice and, for the rebate set, a
# transport document (§7 export-rebate (2): "domestic freight invoices, freight-forwarder invoices").
UBL_CATEGORIES: Mapping[str, Category] = {
    "Invoice": Category.INVOICE, "CreditNote": Category.INVOICE, "DebitNote": Category.INVOICE,
    "SelfBilledInvoice": Category.INVOICE, "SelfBilledCreditNote": Category.INVOICE,
    "FreightInvoice": Category.TRANSPORT,
    "Order": Category.ORDER, "OrderChange": Category.ORDER, "OrderResponse": Category.ORDER,
    "OrderResponseSimple": Category.ORDER, "OrderCancellation": Category.ORDER,
    "DespatchAdvice": Category.PACKING_LIST, "ReceiptAdvice": Category.PACKING_LIST,
    "Waybill": Category.TRANSPORT, "BillOfLading": Category.TRANSPORT, "ForwardingInstructions": Category.TRANSPORT,
    "TransportExecutionPlan": Category.TRANSPORT, "TransportExecutionPlanRequest": Category.TRANSPORT,
    "TransportationStatus": Category.TRANSPORT, "TransportProgressStatus": Category.TRANSPORT,
    "GoodsItemItinerary": Category.TRANSPORT, "PackingList": Category.PACKING_LIST,
    "CertificateOfOrigin": Category.LICENCE,
}

# Words in a file name or text that point to a category, strongest first (checked in this order).
KEYWORDS: tuple[tuple[Category, tuple[str, ...]], ...] = (
    (Category.EXPORT_REBATE, ("退税", "export rebate", "tax rebate")),
    (Category.TAX, ("缴款书", "完税", "税款", "tax payment")),
    (Category.CROSS_BORDER, ("申报清单", "跨境电商", "三单", "cross-border")),
    (Category.CUSTOMS_DECLARATION, ("报关单", "customs declaration", "declaration")),
    (Category.LICENCE, ("许可证", "原产地", "检验检疫", "certificate of origin", "licence", "license")),
    (Category.INTERNAL_CONTROL, ("内控", "审核记录", "复核", "培训记录", "内审", "internal control", "audit report")),
    (Category.PACKING_LIST, ("装箱单", "重量单", "packing list", "packing", "weight list")),
    (Category.TRANSPORT, ("提单", "运单", "bill of lading", "waybill", "b/l", "awb", "运费发票")),
    (Category.CONTRACT, ("合同", "协议", "contract", "agreement")),
    (Category.INVOICE, ("发票", "invoice")),
    (Category.ORDER, ("订单", "purchase order", "order")),
)


def classify(*, doc_type: str = "", filename: str = "", text: str = "") -> Category:
    """Choose a category from the structured type, else from words in the file name, else from the text."""
    if doc_type.startswith("ubl:"):
        found = UBL_CATEGORIES.get(doc_type[4:])
        if found is not None:
            return found
    if doc_type.startswith("dcsa:"):
        return Category.TRANSPORT
    if doc_type == "cn:customs-declaration":
        return Category.CUSTOMS_DECLARATION
    for haystack in (filename.lower(), text[:5000].lower()):
        for category, words in KEYWORDS:
            if any(w in haystack for w in words):
                return category
    return Category.OTHER


# ------------------------------------------------------------------------------------------------ retention


@dataclass(frozen=True)
class RetentionRule:
    """State one record-keeping rule: which categories it covers, for how many years, and its source."""

    code: str
    years: int
    categories: frozenset[Category]
    label: tuple[str, str]
    source: str
    # The export-rebate rule covers contracts and transport documents only when they belong to a rebate set.
    rebate_set_only: frozenset[Category] = frozenset()
    plus_supervision: bool = False


_CUSTOMS = frozenset({Category.CONTRACT, Category.ORDER, Category.INVOICE, Category.PACKING_LIST, Category.TRANSPORT,
                      Category.CUSTOMS_DECLARATION, Category.LICENCE, Category.CROSS_BORDER,
                      Category.INTERNAL_CONTROL, Category.EXPORT_REBATE})
RULES: tuple[RetentionRule, ...] = (
    RetentionRule("customs_audit", 3, _CUSTOMS, ("海关稽查：放行之日起 3 年（保税、减免税货物为监管期限加 3 年）",
                                                  "Customs audit: 3 years from release (supervision period plus 3 years for bonded or duty-reduced goods)"),
                  "海关法第四十五条；海关稽查条例第二、七条（domain-rules.md §7，VERIFIED primary）", plus_supervision=True),
    RetentionRule("tax_records", 10, frozenset({Category.INVOICE, Category.TAX}),
                  ("税收资料：10 年", "Tax records: 10 years"),
                  "税收征收管理法实施细则第二十九条（domain-rules.md §7，VERIFIED primary）"),
    RetentionRule("export_rebate", 10, frozenset({Category.EXPORT_REBATE, Category.CONTRACT, Category.TRANSPORT}),
                  ("出口退税备案单证：10 年", "Export-rebate filing set: 10 years"),
                  "国家税务总局公告 2026 年第 5 号第四十四至四十六条（domain-rules.md §7，VERIFIED secondary）",
                  rebate_set_only=frozenset({Category.CONTRACT, Category.TRANSPORT})),
)


@dataclass(frozen=True)
class Retention:
    """Say until when a document must be kept, which rule decided it, and every rule that applied."""

    until: dt.date
    rule: RetentionRule
    applied: tuple[RetentionRule, ...]


def add_years(day: dt.date, years: int) -> dt.date:
    """Add calendar years to a date; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def retention(category: Category, *, start_on: dt.date, rebate_set: bool = False,
              supervision_until: dt.date | None = None) -> Retention:
    """Apply every rule covering the category and keep the longest (domain-rules.md §7: the longest wins)."""
    applied = []
    best: tuple[dt.date, RetentionRule] | None = None
    for rule in RULES:
        if category not in rule.categories:
            continue
        if category in rule.rebate_set_only and not rebate_set:
            continue
        base = supervision_until if (rule.plus_supervision and supervision_until and supervision_until > start_on) else start_on
        until = add_years(base, rule.years)
        applied.append(rule)
        if best is None or until > best[0]:
            best = (until, rule)
    if best is None:
        # Categories no rule names (其他) are kept as long as the customs audit period, the shortest statutory one.
        rule = RULES[0]
        return Retention(add_years(start_on, rule.years), rule, (rule,))
    return Retention(best[0], best[1], tuple(applied))


# ------------------------------------------------------------------------------------------------ canonical fields


@dataclass
class Party:
    """Name one party of a document in its role (seller, buyer, consignor, carrier…), with country and ids."""

    role: str
    name: str
    country: str = ""
    ids: list[str] = field(default_factory=list)


@dataclass
class Line:
    """Hold one goods line: description, HS code, quantity with unit, and amount."""

    description: str = ""
    hs_code: str = ""
    quantity: Decimal | None = None
    unit: str = ""
    amount: Decimal | None = None


@dataclass
class Parsed:
    """Hold a structured document's canonical fields, whatever its source format."""

    doc_type: str
    number: str
    issued_on: dt.date | None = None
    currency: str = ""
    total: Decimal | None = None
    parties: list[Party] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict)
    ports: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    sample: bool = False

    @property
    def hs_codes(self) -> list[str]:
        """List the distinct HS codes of the lines."""
        return sorted({ln.hs_code for ln in self.lines if ln.hs_code})

    def to_json(self) -> dict[str, Any]:
        """Return the fields as JSON values (amounts as strings, dates ISO)."""
        def num(v: Decimal | None) -> str | None:
            return None if v is None else str(v)
        return {
            "doc_type": self.doc_type, "number": self.number,
            "issued_on": self.issued_on.isoformat() if self.issued_on else None,
            "currency": self.currency, "total": num(self.total),
            "parties": [{"role": p.role, "name": p.name, "country": p.country, "ids": p.ids} for p in self.parties],
            "lines": [{"description": ln.description, "hs_code": ln.hs_code, "quantity": num(ln.quantity),
                       "unit": ln.unit, "amount": num(ln.amount)} for ln in self.lines],
            "references": dict(self.references), "ports": dict(self.ports), "hs_codes": self.hs_codes,
            "extra": self.extra, "sample": self.sample,
        }

    def text(self) -> str:
        """Return the searchable text of the fields."""
        parts = [self.number, *self.references.values(), *self.ports.values(), *self.hs_codes]
        parts += [p.name for p in self.parties]
        parts += [ln.description for ln in self.lines]
        return " ".join(p for p in parts if p)


# Reference keys that group documents into one shipment dossier (issue 8 §2: contract, order, invoice, B/L, declaration).
DOSSIER_KEYS = ("contract", "order", "invoice", "bl", "declaration")

# ------------------------------------------------------------------------------------------------ UBL 2.x

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
UBL_ROOT = re.compile(r"^\{urn:oasis:names:specification:ubl:schema:xsd:([A-Za-z]+)-2\}([A-Za-z]+)$")


def parse_xml(data: bytes) -> Element:
    """Parse XML with defusedxml: no DTD, no entities, no external references (billion laughs and XXE refused)."""
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise XmlRefused("XML 含有文档类型定义或实体声明，已拒绝（防止外部实体与实体膨胀攻击）",
                         "The XML declares a DTD or entities and is refused (external entity and expansion attacks)",
                         errors=[{"field": "file", "code": "xml_unsafe"}]) from exc
    except SafeET.ParseError as exc:
        raise XmlRefused(f"XML 无法解析：{exc}", f"The XML cannot be parsed: {exc}",
                         errors=[{"field": "file", "code": "xml_syntax"}]) from exc


def _c(name: str) -> str:
    return f"{{{CBC}}}{name}"


def _a(name: str) -> str:
    return f"{{{CAC}}}{name}"


def _text(el: Element | None, path: str = "") -> str:
    if el is None:
        return ""
    target = el.find(path) if path else el
    return (target.text or "").strip() if target is not None else ""


def _path(*steps: str) -> str:
    """Build an ElementTree path from steps written 'cac:Name' / 'cbc:Name'."""
    out = []
    for step in steps:
        prefix, _, name = step.partition(":")
        out.append(_a(name) if prefix == "cac" else _c(name))
    return "/".join(out)


def _decimal(text: str, where: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except (InvalidOperation, AttributeError) as exc:
        raise DocumentInvalid(f"{where} 不是数字：{text!r}", f"{where} is not a number: {text!r}",
                              errors=[{"field": where, "code": "number"}]) from exc


def _amount(el: Element | None, path: str, where: str) -> Decimal | None:
    if el is None:
        return None
    text = _text(el, path)
    return _decimal(text, where) if text else None


def _date(text: str, where: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError as exc:
        raise DocumentInvalid(f"{where} 日期格式不正确：{text!r}", f"{where} is not a date: {text!r}",
                              errors=[{"field": where, "code": "date"}]) from exc


def _party(role: str, el: Element) -> Party | None:
    party = el.find(_a("Party"))
    holder = party if party is not None else el
    name = (_text(holder, _path("cac:PartyName", "cbc:Name")) or _text(holder, _path("cac:PartyLegalEntity", "cbc:RegistrationName"))
            or _text(holder, _path("cac:Contact", "cbc:Name")))
    if not name:
        return None
    country = (_text(holder, _path("cac:PostalAddress", "cac:Country", "cbc:IdentificationCode"))
               or _text(holder, _path("cac:PartyLegalEntity", "cac:RegistrationAddress", "cac:Country", "cbc:IdentificationCode")))
    ids = [t for t in (_text(holder, _path("cac:PartyIdentification", "cbc:ID")), _text(holder, _c("EndpointID"))) if t]
    return Party(role, name, country, ids)


PARTY_ROLES = {
    "AccountingSupplierParty": "seller", "AccountingCustomerParty": "buyer", "SellerSupplierParty": "seller",
    "BuyerCustomerParty": "buyer", "DespatchSupplierParty": "seller", "DeliveryCustomerParty": "buyer",
    "ConsignorParty": "consignor", "ConsigneeParty": "consignee", "CarrierParty": "carrier",
    "FreightForwarderParty": "forwarder", "NotifyParty": "notify", "PayeeParty": "payee",
    "TransportServiceProviderParty": "carrier", "TransportUserParty": "shipper", "SenderParty": "sender",
    "ReceiverParty": "receiver", "OriginatorCustomerParty": "buyer", "ProviderParty": "seller",
}
LINE_TAGS = ("InvoiceLine", "CreditNoteLine", "DebitNoteLine", "OrderLine", "DespatchLine", "ReceiptLine",
             "GoodsItem")
QTY_TAGS = ("InvoicedQuantity", "CreditedQuantity", "DebitedQuantity", "Quantity", "DeliveredQuantity",
            "ReceivedQuantity")
PORT_TAGS = {"LoadingPortLocation": "loading", "UnloadingPortLocation": "discharge", "TransshipPortLocation": "transship",
             "FirstArrivalPortLocation": "first_arrival", "LastExitPortLocation": "last_exit"}


def _lines(root: Element) -> list[tuple[Element, Line]]:
    found = []
    for tag in LINE_TAGS:
        for el in root.iter(_a(tag)):
            line_el = el.find(_a("LineItem"))
            holder = line_el if line_el is not None else el
            item = holder.find(_a("Item"))
            qty_el = next((q for q in (holder.find(_c(t)) for t in QTY_TAGS) if q is not None), None)
            hs = ""
            for code in holder.iter(_c("ItemClassificationCode")):
                if "hs" in (code.get("listID") or "").lower():
                    hs = (code.text or "").strip()
            for code in holder.iter(_c("CommodityCode")):
                if "hs" in (code.get("listID") or "").lower():
                    hs = (code.text or "").strip()
            line = Line(description=_text(item, _c("Name")) or _text(item, _c("Description")) or _text(holder, _c("Description")),
                        hs_code=hs,
                        quantity=_decimal(qty_el.text or "", tag + "/Quantity") if qty_el is not None and (qty_el.text or "").strip() else None,
                        unit=(qty_el.get("unitCode") or "") if qty_el is not None else "",
                        amount=_amount(holder, _c("LineExtensionAmount"), tag + "/LineExtensionAmount"))
            found.append((holder, line))
    return found


def parse_ubl(data: bytes | Element) -> Parsed:
    """Parse a UBL 2.x document into canonical fields and check its business rules (totals, identifiers)."""
    root = parse_xml(data) if isinstance(data, bytes) else data
    match = UBL_ROOT.match(root.tag)
    if not match or match.group(1) != match.group(2):
        raise DocumentInvalid("不是 UBL 2.x 单证（根元素的命名空间不对）", "Not a UBL 2.x document (wrong root namespace)",
                              errors=[{"field": "root", "code": "not_ubl"}])
    kind = match.group(1)
    number = _text(root, _c("ID"))
    if not number:
        raise DocumentInvalid("UBL 单证缺少编号 cbc:ID", "The UBL document has no cbc:ID",
                              errors=[{"field": "ID", "code": "required"}])
    parsed = Parsed(doc_type=f"ubl:{kind}", number=number, issued_on=_date(_text(root, _c("IssueDate")), "IssueDate"))
    parsed.extra["ubl_version"] = _text(root, _c("UBLVersionID"))
    parsed.extra["customization"] = _text(root, _c("CustomizationID"))
    for child in root:
        local = child.tag.rsplit("}", 1)[-1]
        if local in PARTY_ROLES:
            p = _party(PARTY_ROLES[local], child)
            if p:
                parsed.parties.append(p)
    for tag in ("ConsignorParty", "ConsigneeParty", "CarrierParty", "FreightForwarderParty", "NotifyParty"):
        if any(p.role == PARTY_ROLES[tag] for p in parsed.parties):
            continue
        el = next(root.iter(_a(tag)), None)
        p = _party(PARTY_ROLES[tag], el) if el is not None else None
        if p:
            parsed.parties.append(p)
    total_el = next((root.find(_a(t)) for t in ("LegalMonetaryTotal", "RequestedMonetaryTotal", "AnticipatedMonetaryTotal")
                     if root.find(_a(t)) is not None), None)
    parsed.total = _amount(total_el, _c("PayableAmount"), "PayableAmount")
    parsed.currency = _text(root, _c("DocumentCurrencyCode")) or _text(root, _c("PricingCurrencyCode"))
    if not parsed.currency and total_el is not None:
        payable = total_el.find(_c("PayableAmount"))
        parsed.currency = payable.get("currencyID", "") if payable is not None else ""
    lines = _lines(root)
    parsed.lines = [ln for _, ln in lines]
    # Own number as the dossier key of its type.
    own = {"Invoice": "invoice", "Order": "order", "Waybill": "bl", "BillOfLading": "bl"}.get(kind)
    if own:
        parsed.references[own] = number
    order_ref = _text(root, _path("cac:OrderReference", "cbc:ID"))
    if order_ref and kind != "Order":
        parsed.references["order"] = order_ref
    billed = _text(root, _path("cac:BillingReference", "cac:InvoiceDocumentReference", "cbc:ID"))
    if billed and kind != "Invoice":
        parsed.references["invoice"] = billed
    contract = _text(root, _path("cac:ContractDocumentReference", "cbc:ID"))
    if contract:
        parsed.references["contract"] = contract
    despatch = _text(root, _path("cac:DespatchDocumentReference", "cbc:ID"))
    if despatch:
        parsed.references["despatch"] = despatch
    for ref in root.iter(_a("DocumentReference")):
        doc_type = _text(ref, _c("DocumentType")).lower() + " " + _text(ref, _c("DocumentTypeCode")).lower()
        ref_id = _text(ref, _c("ID"))
        if ref_id and ("bill of lading" in doc_type or "waybill" in doc_type):
            parsed.references.setdefault("bl", ref_id)
    if kind == "ForwardingInstructions":
        shipment = _text(root, _path("cac:Shipment", "cbc:ID"))
        if shipment:
            parsed.references.setdefault("shipment", shipment)
    for tag, key in PORT_TAGS.items():
        el = next(root.iter(_a(tag)), None)
        if el is not None:
            value = _text(el, _c("ID")) or _text(el, _c("Name")) or _text(el, _c("Description"))
            if value:
                parsed.ports[key] = value
    if kind in ("Invoice", "CreditNote", "DebitNote", "SelfBilledCreditNote", "FreightInvoice"):
        check_ubl_invoice(root, parsed, lines)
    return parsed


def _violation(rule: str, zh: str, en: str) -> DocumentInvalid:
    return DocumentInvalid(zh, en, errors=[{"field": rule, "code": rule}], rule=rule)


def _close(a: Decimal, b: Decimal) -> bool:
    # Amounts are compared to the cent: EN 16931 and CEN/BII round monetary totals to two decimals.
    return abs(a - b) < Decimal("0.01")


BII = ("urn:www.cenbii.eu", "urn:cen.eu:en16931")


def check_ubl_invoice(root: Element, parsed: Parsed, lines: list[tuple[Element, Line]]) -> None:
    """Check an invoice's totals, taxes and, for CEN/BII profiles, parties and identifiers; raise the first breach."""
    total_el = next((root.find(_a(t)) for t in ("LegalMonetaryTotal", "RequestedMonetaryTotal") if root.find(_a(t)) is not None), None)
    if total_el is not None:
        line_total = _amount(total_el, _c("LineExtensionAmount"), "LineExtensionAmount")
        amounts = [ln.amount for _, ln in lines if ln.amount is not None]
        if line_total is not None and amounts and not _close(sum(amounts, Decimal(0)), line_total):
            raise _violation("line_total", f"各行金额之和 {sum(amounts, Decimal(0))} 与行合计 {line_total} 不符",
                             f"The sum of line amounts {sum(amounts, Decimal(0))} differs from the line total {line_total}")
        exclusive = _amount(total_el, _c("TaxExclusiveAmount"), "TaxExclusiveAmount")
        inclusive = _amount(total_el, _c("TaxInclusiveAmount"), "TaxInclusiveAmount")
        rounding = _amount(total_el, _c("PayableRoundingAmount"), "PayableRoundingAmount") or Decimal(0)
        tax = sum((_decimal(t.text or "0", "TaxTotal/TaxAmount") for t in
                   (tt.find(_c("TaxAmount")) for tt in root.findall(_a("TaxTotal"))) if t is not None), Decimal(0))
        # CEN/BII: total with tax = total without tax + tax total (+ rounding, which some profiles fold in).
        if (exclusive is not None and inclusive is not None and root.find(_a("TaxTotal")) is not None
                and not (_close(exclusive + tax, inclusive) or _close(exclusive + tax + rounding, inclusive))):
            raise _violation("tax_inclusive", f"含税合计 {inclusive} 不等于不含税合计 {exclusive} 加税额 {tax}",
                                 f"The total with tax {inclusive} is not the total without tax {exclusive} plus tax {tax}")
    for tax_total in root.findall(_a("TaxTotal")):
        subtotals = tax_total.findall(_a("TaxSubtotal"))
        stated = _amount(tax_total, _c("TaxAmount"), "TaxTotal/TaxAmount")
        if subtotals and stated is not None:
            summed = sum((_amount(s, _c("TaxAmount"), "TaxSubtotal/TaxAmount") or Decimal(0) for s in subtotals), Decimal(0))
            if not _close(summed, stated):
                raise _violation("tax_subtotals", f"税额合计 {stated} 与各税目小计之和 {summed} 不符",
                                 f"The tax total {stated} differs from the sum of its subtotals {summed}")
        categories = {(_text(s, _path("cac:TaxCategory", "cbc:ID")), _text(s, _path("cac:TaxCategory", "cac:TaxScheme", "cbc:ID")))
                      for s in subtotals}
        if subtotals:
            for holder, _line in lines:
                cat = holder.find(f".//{_a('ClassifiedTaxCategory')}")
                if cat is None:
                    continue
                pair = (_text(cat, _c("ID")), _text(cat, _path("cac:TaxScheme", "cbc:ID")))
                if pair[0] and pair not in categories:
                    raise _violation("tax_category", f"发票行的税目 {pair[0]}/{pair[1]} 没有对应的税额小计",
                                     f"The line tax category {pair[0]}/{pair[1]} has no tax subtotal")
    for holder, line in lines:
        price = _amount(holder, _path("cac:Price", "cbc:PriceAmount"), "PriceAmount")
        base = _amount(holder, _path("cac:Price", "cbc:BaseQuantity"), "BaseQuantity") or Decimal(1)
        if (line.quantity is not None and price is not None and line.amount is not None and base
                and holder.find(_a("AllowanceCharge")) is None
                and not _close(line.quantity * price / base, line.amount)):
            raise _violation("line_amount", f"发票行数量 {line.quantity} × 单价 {price} 与行金额 {line.amount} 不符",
                             f"Line quantity {line.quantity} × price {price} differs from the line amount {line.amount}")
    if parsed.extra.get("customization", "").startswith(BII):
        _check_bii(root, lines)


def _check_bii(root: Element, lines: list[tuple[Element, Line]]) -> None:
    """Check the CEN/BII core invoice rules that the ERR-* examples break (party addresses, VAT ids, units)."""
    supplier = root.find(_path("cac:AccountingSupplierParty", "cac:Party"))
    customer = root.find(_path("cac:AccountingCustomerParty", "cac:Party"))
    if supplier is not None and supplier.find(_a("PostalAddress")) is None:
        raise _violation("seller_address", "CEN/BII：卖方须有地址", "CEN/BII: the seller must have a postal address")
    if customer is not None:
        address = customer.find(_a("PostalAddress"))
        if address is None or not _text(address, _c("PostalZone")):
            raise _violation("buyer_postal_zone", "CEN/BII：买方地址须有邮政编码",
                             "CEN/BII: the buyer's postal address must have a postal zone")
    for role, party in (("seller", supplier), ("buyer", customer)):
        if party is None:
            continue
        country = _text(party, _path("cac:PostalAddress", "cac:Country", "cbc:IdentificationCode"))
        for scheme in party.findall(_a("PartyTaxScheme")):
            if _text(scheme, _path("cac:TaxScheme", "cbc:ID")).upper() != "VAT":
                continue
            vat = _text(scheme, _c("CompanyID"))
            if not re.match(r"^[A-Z]{2}", vat):
                raise _violation("vat_prefix", f"CEN/BII：{role} 增值税号 {vat} 须以国家代码开头",
                                 f"CEN/BII: the {role}'s VAT identifier {vat} must start with a country code")
            if country and vat[:2] != country and not (country == "GR" and vat[:2] == "EL"):
                raise _violation("vat_country", f"CEN/BII：{role} 增值税号前缀 {vat[:2]} 与所在国 {country} 不符",
                                 f"CEN/BII: the {role}'s VAT prefix {vat[:2]} does not match its country {country}")
    for holder, line in lines:
        if line.quantity is not None and not line.unit:
            raise _violation("quantity_unit", "CEN/BII：发票行数量须注明计量单位",
                             "CEN/BII: an invoiced quantity must state its unit code")
        del holder


# ------------------------------------------------------------------------------------------------ DCSA eBL 3.0

# Template placeholders the DCSA conformance toolkit fills in at run time ({CBR}, SHIPPER_LEGAL_NAME_PLACEHOLDER …).
PLACEHOLDER = re.compile(r"^\{[A-Z_]+\}$|PLACEHOLDER")


def _placeholders(value: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _placeholders(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _placeholders(v, f"{path}[{i}]")
    elif isinstance(value, str) and PLACEHOLDER.search(value):
        found.append(path)
    return found


JSON_MAX_DEPTH = 64  # trade documents nest a dozen levels; deeper is refused before anything walks it


def _json_depth(value: Any) -> int:
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _too_deep() -> FileRefused:
    return FileRefused(f"JSON 嵌套超过 {JSON_MAX_DEPTH} 层，已拒绝",
                       f"The JSON nests deeper than {JSON_MAX_DEPTH} levels and is refused",
                       errors=[{"field": "file", "code": "json_depth"}])


def parse_json(data: bytes) -> Any:
    """Parse JSON text strictly (UTF-8, no NaN or Infinity, at most JSON_MAX_DEPTH levels of nesting)."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    try:
        value = json.loads(data.decode("utf-8-sig"), parse_constant=refuse)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FileRefused(f"JSON 无法解析：{exc}", f"The JSON cannot be parsed: {exc}",
                          errors=[{"field": "file", "code": "json_syntax"}]) from exc
    except RecursionError as exc:
        raise _too_deep() from exc
    if _json_depth(value) > JSON_MAX_DEPTH:
        raise _too_deep()
    return value


def _loc(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    return str(value.get("UNLocationCode") or value.get("locationName") or "")


def _dcsa_party(role: str, value: Any) -> Party | None:
    if not isinstance(value, dict) or not value.get("partyName"):
        return None
    ids = [str(c.get("partyCode")) for c in value.get("identifyingCodes") or [] if isinstance(c, dict) and c.get("partyCode")]
    country = str((value.get("address") or {}).get("countryCode") or "") if isinstance(value.get("address"), dict) else ""
    return Party(role, str(value["partyName"]), country, ids)


def parse_dcsa(doc: Any) -> Parsed:
    """Parse a DCSA eBL 3.0 transport document or shipping instructions; refuse template placeholders."""
    if not isinstance(doc, dict):
        raise DocumentInvalid("DCSA 报文须为 JSON 对象", "A DCSA message must be a JSON object",
                              errors=[{"field": "root", "code": "type"}])
    if "document" in doc and isinstance(doc["document"], dict):
        doc = doc["document"]
    if "errors" in doc and "statusCode" in doc:
        raise DocumentInvalid("这是 DCSA 接口的错误报文，不是单证", "This is a DCSA API error message, not a document",
                              errors=[{"field": "root", "code": "error_message"}], rule="dcsa_error_message")
    holes = _placeholders(doc)
    if holes:
        raise DocumentInvalid(f"DCSA 报文含未填写的模板占位符：{', '.join(holes[:5])}",
                              f"The DCSA message holds unfilled template placeholders: {', '.join(holes[:5])}",
                              errors=[{"field": h, "code": "placeholder"} for h in holes[:20]], rule="dcsa_placeholder")
    if "transportDocumentReference" in doc:
        kind, number = "dcsa:TransportDocument", str(doc["transportDocumentReference"])
    elif "consignmentItems" in doc and "transportDocumentTypeCode" in doc:
        kind, number = "dcsa:ShippingInstructions", str(doc.get("shippingInstructionsReference") or "")
    else:
        raise DocumentInvalid("无法识别的 DCSA 报文（既非提单也非托运指示）",
                              "Not a DCSA transport document or shipping instructions",
                              errors=[{"field": "root", "code": "unknown"}], rule="dcsa_unknown")
    parsed = Parsed(doc_type=kind, number=number,
                    issued_on=_date(str(doc.get("issueDate") or doc.get("shippedOnBoardDate") or ""), "issueDate"))
    if kind == "dcsa:TransportDocument":
        parsed.references["bl"] = number
    if doc.get("serviceContractReference"):
        parsed.references["contract"] = str(doc["serviceContractReference"])
    if doc.get("declaredValue") is not None:
        parsed.total = _decimal(str(doc["declaredValue"]), "declaredValue")
        parsed.currency = str(doc.get("declaredValueCurrency") or "")
    parties = doc.get("documentParties") or {}
    for role, key in (("shipper", "shipper"), ("consignee", "consignee"), ("carrier", "issuingParty"), ("endorsee", "endorsee")):
        p = _dcsa_party(role, parties.get(key))
        if p:
            parsed.parties.append(p)
    for item in doc.get("consignmentItems") or []:
        if not isinstance(item, dict):
            continue
        booking = item.get("carrierBookingReference")
        if booking:
            parsed.references.setdefault("booking", str(booking))
        codes = [str(c) for c in item.get("HSCodes") or []]
        qty = sum((c.get("outerPackaging", {}).get("numberOfPackages", 0) for c in item.get("cargoItems") or []
                   if isinstance(c, dict) and isinstance(c.get("outerPackaging"), dict)), 0)
        parsed.lines.append(Line(description="; ".join(str(d) for d in item.get("descriptionOfGoods") or []),
                                 hs_code=codes[0] if codes else "", quantity=Decimal(qty) if qty else None,
                                 unit="packages" if qty else ""))
    transports = doc.get("transports") or {}
    for key, name in (("portOfLoading", "loading"), ("portOfDischarge", "discharge"), ("placeOfReceipt", "receipt"),
                      ("placeOfDelivery", "delivery")):
        if _loc(transports.get(key)):
            parsed.ports[name] = _loc(transports.get(key))
    if _loc(doc.get("invoicePayableAt")):
        parsed.ports.setdefault("invoice_payable_at", _loc(doc.get("invoicePayableAt")))
    parsed.extra["transport_document_type"] = str(doc.get("transportDocumentTypeCode") or "")
    parsed.extra["to_order"] = bool(doc.get("isToOrder"))
    return parsed


# ------------------------------------------------------------------------------------------------ customs codes


def _read_codes(name: str, width: int | None = None) -> dict[str, str]:
    text = (DATA / "china_customs_codes" / name).read_text(encoding="utf-8").replace("\x00", "")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return {(r[0].zfill(width) if width else r[0]): r[1].strip() for r in rows if len(r) >= 2 and r[0].strip()}


@dataclass(frozen=True)
class CodeTables:
    """Hold China Customs code tables: trade modes (2-digit), countries (3-digit), HS (8-digit), zh and en."""

    trade_modes: Mapping[str, tuple[str, str]]
    countries: Mapping[str, tuple[str, str]]
    hs: Mapping[str, tuple[str, str]]

    def trade_mode(self, code: str) -> tuple[str, str] | None:
        """Return the names of a 2-digit trade mode, or None."""
        return self.trade_modes.get(code)

    def country(self, code: str) -> tuple[str, str] | None:
        """Return the names of a 3-digit customs country/region code, or None."""
        return self.countries.get(code)

    def hs_code(self, code: str) -> tuple[str, str] | None:
        """Return the names of an HS code, using its first 8 digits (the 10-digit national code extends them)."""
        digits = re.sub(r"\D", "", code)
        return self.hs.get(digits[:8]) if len(digits) >= 8 else None


@cache
def code_tables() -> CodeTables:
    """Load the code tables shipped in the package (data/china_customs_codes, see its SOURCE.md)."""
    def pair(zh: str, en: str, width: int | None = None) -> dict[str, tuple[str, str]]:
        a, b = _read_codes(zh, width), _read_codes(en, width)
        return {k: (v, b.get(k, v)) for k, v in a.items()}
    return CodeTables(pair("zh-CustomsRegime.csv", "en-CustomsRegime.csv", 2),
                      pair("zh-TradingPartner.csv", "en-TradingPartner.csv", 3),
                      pair("zh-hs8-2023.csv", "en-hs8-2023.csv", 8))


# 监管方式 (4 digits) → names. RECALLED (not in our references): the code's last two digits are the statistical
# 贸易方式 code of the 2-digit table; the first two classify the customs supervision. Configuration, not fact.
SUPERVISION_MODES: Mapping[str, tuple[str, str]] = {
    "0110": ("一般贸易", "General trade"),
    "0214": ("来料加工", "Processing with supplied materials"),
    "0615": ("进料对口", "Processing with imported materials"),
    "0513": ("补偿贸易", "Compensation trade"),
    "1616": ("寄售代销", "Consignment sale"),
    "4019": ("边境小额", "Border petty trade"),
    "1233": ("保税仓库货物", "Bonded warehouse goods"),
    "5034": ("区内物流货物", "Logistics goods in special supervision zones"),
    "9610": ("跨境贸易电子商务", "Cross-border e-commerce"),
    "1210": ("保税跨境贸易电子商务", "Bonded cross-border e-commerce"),
    "9710": ("跨境电子商务企业对企业直接出口", "Cross-border e-commerce B2B direct export"),
    "9810": ("跨境电子商务出口海外仓", "Cross-border e-commerce export to overseas warehouses"),
    "3339": ("其他进出口免费", "Other free imports and exports"),
}
# GAC announcement 2018 No. 194 (domain-rules.md §7, RECALLED high confidence): cross-border e-commerce procedure codes.
CROSS_BORDER_MODES = frozenset({"9610", "1210", "9710", "9810"})


def trade_mode_of(supervision_mode: str) -> str:
    """Map a 4-digit 监管方式 code to its 2-digit 贸易方式 code (its last two digits, RECALLED rule)."""
    if not re.fullmatch(r"\d{4}", supervision_mode or ""):
        raise DeclarationInvalid("监管方式须为 4 位数字", "The supervision mode must be 4 digits",
                                 errors=[{"field": "supervision_mode", "code": "format"}])
    return supervision_mode[2:]


# ------------------------------------------------------------------------------------------------ 报关单 JSON schema

DECLARATION_SCHEMA_ID = "https://openzone.local/schemas/trade-vault/customs-declaration-1.json"
# A JSON Schema (draft 2020-12) for the 报关单: China publishes no machine format for it in our data, so we define
# one. Field names follow the printed form's boxes; codes are China Customs' (trade modes, countries, HS).
DECLARATION_SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": DECLARATION_SCHEMA_ID,
    "title": "中华人民共和国海关进出口货物报关单（OpenZone 交换格式 1）",
    "type": "object",
    "required": ["schema", "declaration_no", "direction", "supervision_mode", "declared_on", "domestic_party",
                 "overseas_party", "trade_country", "currency", "items"],
    "properties": {
        "schema": {"const": DECLARATION_SCHEMA_ID},
        "sample": {"type": "boolean", "description": "true: 示例数据，非真实报关单"},
        "declaration_no": {"type": "string", "pattern": "^[0-9]{18}$", "description": "海关编号（18 位）"},
        "direction": {"enum": ["export", "import"], "description": "出口 / 进口"},
        "supervision_mode": {"type": "string", "pattern": "^[0-9]{4}$", "description": "监管方式（4 位）"},
        "declared_on": {"type": "string", "format": "date", "description": "申报日期"},
        "released_on": {"type": "string", "format": "date", "description": "放行日期（稽查期限起算）"},
        "supervision_until": {"type": "string", "format": "date", "description": "保税、减免税货物监管期限届满日"},
        "customs_office": {"type": "string", "description": "申报地海关"},
        "domestic_party": {"type": "object", "required": ["name"],
                           "properties": {"name": {"type": "string"}, "uscc": {"type": "string"}},
                           "description": "境内收发货人"},
        "overseas_party": {"type": "object", "required": ["name"],
                           "properties": {"name": {"type": "string"}, "country": {"type": "string"}},
                           "description": "境外收发货人"},
        "trade_country": {"type": "string", "pattern": "^[0-9]{3}$", "description": "贸易国（地区）海关代码"},
        "destination_country": {"type": "string", "pattern": "^[0-9]{3}$", "description": "运抵国 / 启运国"},
        "port_of_loading": {"type": "string", "description": "装货港（UN/LOCODE）"},
        "port_of_discharge": {"type": "string", "description": "指运港 / 卸货港（UN/LOCODE）"},
        "transport_mode": {"type": "string", "description": "运输方式"},
        "contract_no": {"type": "string", "description": "合同协议号"},
        "invoice_no": {"type": "string"}, "order_no": {"type": "string"},
        "bl_no": {"type": "string", "description": "提运单号"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "total_value": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "description": "总价（十进制字符串）"},
        "items": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["hs_code", "name", "quantity", "unit", "value"],
            "properties": {"hs_code": {"type": "string", "pattern": "^[0-9]{8}([0-9]{2})?$"}, "name": {"type": "string"},
                           "quantity": {"type": "string"}, "unit": {"type": "string"}, "value": {"type": "string"}}}},
    },
}


def _required_str(doc: Mapping[str, Any], key: str, errors: list[dict[str, str]]) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        errors.append({"field": key, "code": "required"})
        return ""
    return value.strip()


def parse_declaration(doc: Any, tables: CodeTables | None = None) -> Parsed:
    """Validate a 报关单 against DECLARATION_SCHEMA and the code tables; return its canonical fields."""
    tables = tables or code_tables()
    if not isinstance(doc, dict):
        raise DeclarationInvalid("报关单须为 JSON 对象", "A declaration must be a JSON object", errors=[{"field": "", "code": "type"}])
    errors: list[dict[str, str]] = []
    no = _required_str(doc, "declaration_no", errors)
    if no and not re.fullmatch(r"\d{18}", no):
        errors.append({"field": "declaration_no", "code": "format"})
    direction = doc.get("direction")
    if direction not in ("export", "import"):
        errors.append({"field": "direction", "code": "enum"})
    mode = _required_str(doc, "supervision_mode", errors)
    trade_mode = ""
    if mode:
        if not re.fullmatch(r"\d{4}", mode):
            errors.append({"field": "supervision_mode", "code": "format"})
        else:
            trade_mode = trade_mode_of(mode)
            if tables.trade_mode(trade_mode) is None:
                errors.append({"field": "supervision_mode", "code": "unknown_trade_mode"})
    country = _required_str(doc, "trade_country", errors)
    if country and tables.country(country) is None:
        errors.append({"field": "trade_country", "code": "unknown_country"})
    dest = doc.get("destination_country") or ""
    if dest and tables.country(str(dest)) is None:
        errors.append({"field": "destination_country", "code": "unknown_country"})
    currency = _required_str(doc, "currency", errors)
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        errors.append({"field": "currency", "code": "format"})
    dates = {}
    for key in ("declared_on", "released_on", "supervision_until"):
        raw = doc.get(key)
        if raw in (None, "") and key != "declared_on":
            continue
        try:
            dates[key] = dt.date.fromisoformat(str(raw))
        except ValueError:
            errors.append({"field": key, "code": "date"})
    parties = []
    for key, role in (("domestic_party", "domestic"), ("overseas_party", "overseas")):
        value = doc.get(key)
        if not isinstance(value, dict) or not str(value.get("name") or "").strip():
            errors.append({"field": f"{key}.name", "code": "required"})
        else:
            parties.append(Party(role, str(value["name"]).strip(), str(value.get("country") or ""),
                                 [str(value["uscc"])] if value.get("uscc") else []))
    lines = []
    items = doc.get("items")
    if not isinstance(items, list) or not items:
        errors.append({"field": "items", "code": "required"})
        items = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append({"field": f"items[{i}]", "code": "type"})
            continue
        hs = str(item.get("hs_code") or "")
        if not re.fullmatch(r"\d{8}(\d{2})?", hs):
            errors.append({"field": f"items[{i}].hs_code", "code": "format"})
        elif tables.hs_code(hs) is None:
            errors.append({"field": f"items[{i}].hs_code", "code": "unknown_hs"})
        try:
            qty, value = Decimal(str(item.get("quantity"))), Decimal(str(item.get("value")))
        except InvalidOperation:
            errors.append({"field": f"items[{i}]", "code": "number"})
            continue
        lines.append(Line(description=str(item.get("name") or ""), hs_code=hs, quantity=qty,
                          unit=str(item.get("unit") or ""), amount=value))
    total = None
    if doc.get("total_value") not in (None, ""):
        try:
            total = Decimal(str(doc["total_value"]))
        except InvalidOperation:
            errors.append({"field": "total_value", "code": "number"})
    if total is not None and lines and not _close(sum((ln.amount or Decimal(0) for ln in lines), Decimal(0)), total):
        errors.append({"field": "total_value", "code": "sum"})
    if errors:
        raise DeclarationInvalid("报关单数据有误：" + "，".join(f"{e['field']}（{e['code']}）" for e in errors[:8]),
                                 "The declaration is not valid: " + ", ".join(f"{e['field']} ({e['code']})" for e in errors[:8]),
                                 errors=errors)
    parsed = Parsed(doc_type="cn:customs-declaration", number=no, issued_on=dates.get("declared_on"), currency=currency,
                    total=total if total is not None else sum((ln.amount or Decimal(0) for ln in lines), Decimal(0)),
                    parties=parties, lines=lines, sample=bool(doc.get("sample")))
    parsed.references["declaration"] = no
    for key, ref in (("contract_no", "contract"), ("invoice_no", "invoice"), ("bl_no", "bl"), ("order_no", "order")):
        if doc.get(key):
            parsed.references[ref] = str(doc[key])
    for key, port in (("port_of_loading", "loading"), ("port_of_discharge", "discharge")):
        if doc.get(key):
            parsed.ports[port] = str(doc[key])
    mode_names = SUPERVISION_MODES.get(mode)
    parsed.extra.update({
        "direction": direction, "supervision_mode": mode,
        "supervision_mode_name": list(mode_names) if mode_names else None,
        "trade_mode": trade_mode, "trade_mode_name": list(tables.trade_mode(trade_mode) or ("", "")),
        "trade_country": country, "trade_country_name": list(tables.country(country) or ("", "")),
        "destination_country": dest, "cross_border": mode in CROSS_BORDER_MODES,
        "released_on": dates["released_on"].isoformat() if "released_on" in dates else None,
        "supervision_until": dates["supervision_until"].isoformat() if "supervision_until" in dates else None,
        "hs_names": {ln.hs_code: list(tables.hs_code(ln.hs_code) or ("", "")) for ln in lines},
    })
    return parsed


# ------------------------------------------------------------------------------------------------ one entry point


@dataclass(frozen=True)
class Extracted:
    """Say what intake learnt from a file: its kind, structured fields (if any) and a suggested category."""

    kind: FileKind
    parsed: Parsed | None
    category: Category


def read_structured(kind: FileKind, data: bytes, filename: str = "") -> Extracted:
    """Parse an XML or JSON file into canonical fields when it is UBL, DCSA or a 报关单; classify any file."""
    parsed = None
    if kind is FileKind.XML:
        root = parse_xml(data)
        if UBL_ROOT.match(root.tag):
            parsed = parse_ubl(root)
    elif kind is FileKind.JSON:
        doc = parse_json(data)
        if isinstance(doc, dict) and doc.get("schema") == DECLARATION_SCHEMA_ID:
            parsed = parse_declaration(doc)
        elif isinstance(doc, dict) and ("transportDocumentTypeCode" in doc or "document" in doc or "statusCode" in doc):
            parsed = parse_dcsa(doc)
    category = classify(doc_type=parsed.doc_type if parsed else "", filename=filename)
    if parsed is not None and parsed.doc_type == "cn:customs-declaration" and parsed.extra.get("cross_border"):
        category = Category.CROSS_BORDER
    return Extracted(kind, parsed, category)


# ------------------------------------------------------------------------------------------------ dossiers

# The documents a shipment needs before its file is complete (domain-rules.md §7: AEO auditors trace the original,
# working and declaration documents of a declaration; the categories table names the set).
REQUIRED_SET: tuple[Category, ...] = (Category.CONTRACT, Category.INVOICE, Category.PACKING_LIST, Category.TRANSPORT,
                                      Category.CUSTOMS_DECLARATION)


def missing_categories(present: Iterable[str]) -> list[Category]:
    """List the categories of the required set that a dossier lacks."""
    have = set(present)
    return [c for c in REQUIRED_SET if c.value not in have]


def dossier_keys(references: Mapping[str, str]) -> dict[str, str]:
    """Return the normalised keys a document offers for grouping (contract, order, invoice, B/L, declaration)."""
    return {k: re.sub(r"\s+", "", v).upper() for k, v in references.items() if k in DOSSIER_KEYS and v and v.strip()}


# Reference numbers printed in a PDF or image text, as bilingual forms label them ("合同号 Contract No.: X").
TEXT_REFERENCES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("contract", re.compile(r"(?:合同号|合同协议号|Contract No\.?)[^:：\n]{0,20}[:：]\s*([A-Za-z0-9][\w\-/]{1,39})", re.I)),
    ("order", re.compile(r"(?:订单号|Order No\.?)[^:：\n]{0,20}[:：]\s*([A-Za-z0-9][\w\-/]{0,39})", re.I)),
    ("invoice", re.compile(r"(?:发票号|Invoice No\.?)[^:：\n]{0,20}[:：]\s*([A-Za-z0-9][\w\-/]{1,39})", re.I)),
    ("bl", re.compile(r"(?:提单号|提运单号|B/L No\.?)[^:：\n]{0,20}[:：]\s*([A-Za-z0-9][\w\-/]{1,39})", re.I)),
    ("declaration", re.compile(r"(?:报关单号|海关编号)[^:：\n]{0,20}[:：]\s*(\d{18})")),
)


def references_in_text(text: str) -> dict[str, str]:
    """Find labelled reference numbers (contract, order, invoice, B/L, declaration) in extracted text."""
    found: dict[str, str] = {}
    for key, pattern in TEXT_REFERENCES:
        match = pattern.search(text)
        if match:
            found[key] = match.group(1)
    return found


def packages_in_text(text: str) -> Decimal | None:
    """Find the goods quantity a packing list states ("数量 Quantity: 120"), for the consistency check."""
    match = re.search(r"(?:数量|Quantity)[^:：\n]{0,20}[:：]\s*(\d+(?:\.\d+)?)", text, re.I)
    return Decimal(match.group(1)) if match else None
