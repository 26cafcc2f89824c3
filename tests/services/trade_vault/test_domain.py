"""Pure rules of the trade vault: every real example against the expected-results file, hostile files, retention."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from openzone.kit.errors import Problem
from openzone.services.trade_vault import domain as d

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
SAMPLES = d.DATA / "samples"
EXPECTED = json.loads((VECTORS / "trade_vault_expected.json").read_text(encoding="utf-8"))["files"]


def _path(rel: str) -> Path:
    return SAMPLES / rel.removeprefix("samples/") if rel.startswith("samples/") else VECTORS / rel


def test_expected_file_covers_every_example():
    on_disk = {str(p.relative_to(VECTORS)) for p in (VECTORS / "ubl_examples").rglob("*.xml")}
    on_disk |= {str(p.relative_to(VECTORS)) for p in (VECTORS / "dcsa_ebl_examples").rglob("*.json")}
    on_disk |= {f"samples/{p.name}" for p in SAMPLES.glob("*.json")}
    assert on_disk == set(EXPECTED)
    # Every ERR-* invoice breaks a business rule and must be refused, each for a stated reason.
    errs = [k for k in EXPECTED if Path(k).name.startswith("ERR-")]
    assert len(errs) == 10
    assert all(EXPECTED[k]["outcome"] == "rejected" and EXPECTED[k]["why"] for k in errs)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_example_matches_expected(rel):
    data = _path(rel).read_bytes()
    want = EXPECTED[rel]
    if want["outcome"] == "rejected":
        with pytest.raises(Problem) as caught:
            d.read_structured(d.sniff(data, rel), data, rel)
        assert caught.value.type == want["problem"]
        assert (caught.value.extensions.get("rule") or caught.value.errors[0]["code"]) == want["rule"]
        return
    got = d.read_structured(d.sniff(data, rel), data, rel)
    assert got.category.value == want["category"]
    if want["doc_type"] is None:
        assert got.parsed is None
        return
    p = got.parsed
    assert (p.doc_type, p.number, p.currency) == (want["doc_type"], want["number"], want["currency"])
    assert (p.issued_on.isoformat() if p.issued_on else None) == want["issued_on"]
    assert (None if p.total is None else str(p.total)) == want["total"]
    assert p.references == want["references"]
    assert [f"{x.role}:{x.name}" for x in p.parties][:4] == want["parties"]
    assert p.ports == want["ports"] and p.hs_codes == want["hs_codes"]


def test_invoice_fields_in_detail():
    p = d.parse_ubl((VECTORS / "ubl_examples/invoice/UBL-Invoice-2.1-Example.xml").read_bytes())
    assert p.total == Decimal("729") and p.currency == "EUR"
    assert p.references == {"invoice": "TOSL108", "order": "123", "contract": "Contract321"}
    assert len(p.lines) == 5 and p.lines[0].quantity is not None


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&x;</Invoice>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>"""


@pytest.mark.parametrize("data", [XXE, LAUGHS], ids=["external-entity", "billion-laughs"])
def test_hostile_xml_is_refused(data):
    with pytest.raises(d.XmlRefused) as caught:
        d.read_structured(d.sniff(data), data)
    assert caught.value.errors[0]["code"] == "xml_unsafe"


@pytest.mark.parametrize("data", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 65 + b"]" * 65])
def test_json_nested_too_deeply_is_refused_not_a_crash(data):
    with pytest.raises(d.FileRefused) as refused:
        d.parse_json(data)
    assert refused.value.errors == [{"field": "file", "code": "json_depth"}]


def test_json_nested_to_the_limit_parses():
    nested = d.parse_json(b"[" * d.JSON_MAX_DEPTH + b"]" * d.JSON_MAX_DEPTH)
    for _ in range(d.JSON_MAX_DEPTH - 1):
        nested = nested[0]
    assert nested == []
    assert d.parse_json(b"{\"a\": [1, {\"b\": null}]}") == {"a": [1, {"b": None}]}


def test_malformed_xml_and_json_are_refused():
    with pytest.raises(d.XmlRefused):
        d.parse_xml(b"<Invoice><unclosed></Invoice>")
    with pytest.raises(d.FileRefused):
        d.parse_json(b'{"a": NaN}')


def test_sniffing_and_size():
    assert d.sniff(b"%PDF-1.7 ...") is d.FileKind.PDF
    assert d.sniff(b"\xef\xbb\xbf<?xml version='1.0'?><a/>") is d.FileKind.XML
    assert d.sniff(b' {"a": 1}') is d.FileKind.JSON
    with pytest.raises(d.FileTypeUnknown):
        d.sniff(b"MZ\x90\x00 an executable")
    with pytest.raises(d.FileRefused):
        d.sniff(b"")
    with pytest.raises(d.FileTooLarge) as caught:
        d.sniff(b"%PDF-" + b"x" * 2000, limits=d.Limits(max_file_bytes=1000))
    assert caught.value.status == 413


def _zip(members: dict[str, bytes], level: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=level) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def test_zip_batch_unpacks():
    members = d.unpack_zip(_zip({"a/invoice.xml": b"<a/>", "b.json": b"{}"}))
    assert [(m.name, m.data) for m in members] == [("a/invoice.xml", b"<a/>"), ("b.json", b"{}")]


def test_zip_bomb_is_refused_by_ratio():
    bomb = _zip({"zeros.xml": b"\0" * 5_000_000})
    with pytest.raises(d.ZipRefused) as caught:
        d.unpack_zip(bomb)
    assert caught.value.errors[0]["code"] == "zip_bomb"


def test_too_many_files_are_refused():
    with pytest.raises(d.ZipRefused) as caught:
        d.unpack_zip(_zip({f"f{i}.json": b"{}" for i in range(5)}), d.Limits(max_zip_members=4))
    assert caught.value.errors[0]["code"] == "too_many_files"


@pytest.mark.parametrize("name", ["../evil.xml", "a/../../evil.xml", "/etc/passwd", "C:/x.xml", "a\\..\\b.xml"])
def test_path_traversal_names_are_refused(name):
    with pytest.raises(d.ZipRefused) as caught:
        d.unpack_zip(_zip({name: b"{}"}))
    assert caught.value.errors[0]["code"] == "path_traversal"


def test_corrupt_zip_is_refused():
    with pytest.raises(d.ZipRefused):
        d.unpack_zip(b"PK\x03\x04 this is not really a zip")


def test_classification_from_names_and_text():
    assert d.classify(filename="出口销售合同.pdf") is d.Category.CONTRACT
    assert d.classify(filename="scan.png", text="海关专用缴款书 ...") is d.Category.TAX
    assert d.classify(filename="packing-list-0042.pdf") is d.Category.PACKING_LIST
    assert d.classify(filename="提单.jpg") is d.Category.TRANSPORT
    assert d.classify(doc_type="ubl:Waybill") is d.Category.TRANSPORT
    assert d.classify(doc_type="dcsa:TransportDocument") is d.Category.TRANSPORT
    assert d.classify(filename="holiday.png") is d.Category.OTHER


def test_retention_longest_rule_wins():
    start = dt.date(2026, 3, 4)
    decl = d.retention(d.Category.CUSTOMS_DECLARATION, start_on=start)
    assert decl.until == dt.date(2029, 3, 4) and decl.rule.code == "customs_audit"
    invoice = d.retention(d.Category.INVOICE, start_on=start)
    assert invoice.until == dt.date(2036, 3, 4) and invoice.rule.code == "tax_records"
    assert {r.code for r in invoice.applied} == {"customs_audit", "tax_records"}
    # Contracts and transport documents fall under the 10-year rebate rule only inside a rebate set.
    assert d.retention(d.Category.CONTRACT, start_on=start).until == dt.date(2029, 3, 4)
    assert d.retention(d.Category.CONTRACT, start_on=start, rebate_set=True).until == dt.date(2036, 3, 4)
    bonded = d.retention(d.Category.CUSTOMS_DECLARATION, start_on=start, supervision_until=dt.date(2031, 1, 1))
    assert bonded.until == dt.date(2034, 1, 1)
    assert d.add_years(dt.date(2024, 2, 29), 3) == dt.date(2027, 2, 28)


def test_customs_codes_resolve():
    tables = d.code_tables()
    assert tables.trade_mode("10") == ("一般贸易", "Ordinary Trade")
    assert tables.country("110")[0] == "中国香港"
    assert tables.hs_code("6403990000")[0].startswith("其他橡")
    assert d.trade_mode_of("0110") == "10" and d.trade_mode_of("9610") == "10" and d.trade_mode_of("1233") == "33"


def test_declaration_schema_and_errors():
    doc = json.loads((SAMPLES / "SH1-declaration.json").read_text(encoding="utf-8"))
    p = d.parse_declaration(doc)
    assert p.sample and p.extra["trade_mode_name"] == ["一般贸易", "Ordinary Trade"]
    assert p.extra["trade_country_name"][0] == "比利时"
    assert set(d.DECLARATION_SCHEMA["required"]) <= set(doc)
    bad = dict(doc, declaration_no="123", supervision_mode="0199", trade_country="998",
               items=[{"hs_code": "00000000", "name": "x", "quantity": "1", "unit": "件", "value": "1"}])
    with pytest.raises(d.DeclarationInvalid) as caught:
        d.parse_declaration(bad)
    codes = {(e["field"], e["code"]) for e in caught.value.errors}
    assert {("declaration_no", "format"), ("supervision_mode", "unknown_trade_mode"), ("trade_country", "unknown_country"),
            ("items[0].hs_code", "unknown_hs")} <= codes


def test_dossier_keys_and_completeness():
    assert d.dossier_keys({"invoice": " tosl 108", "booking": "X"}) == {"invoice": "TOSL108"}
    assert d.missing_categories(["invoice", "transport"]) == [d.Category.CONTRACT, d.Category.PACKING_LIST,
                                                              d.Category.CUSTOMS_DECLARATION]


def test_references_in_text():
    text = "合同号 Contract No.: Contract321\n发票号 Invoice No.: TOSL108\n提单号 B/L No.: OZSAMPLEBL0001\n数量 Quantity: 120"
    assert d.references_in_text(text) == {"contract": "Contract321", "invoice": "TOSL108", "bl": "OZSAMPLEBL0001"}
    assert d.packages_in_text(text) == Decimal("120")
