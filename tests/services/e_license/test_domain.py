"""Catalogues, the W3C eddsa-jcs-2022 test vector, Multikey, VC building and Bitstring Status List, as pure functions."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from pathlib import Path

import pytest

from openzone.services.e_license import domain
from openzone.services.e_license.domain import HolderKind, ProofInvalid, StatusBits, StatusPurpose

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "vc_di_eddsa"


def _vector():
    keys = json.loads((VECTORS / "keyPair.json").read_text())
    signed = json.loads((VECTORS / "signedJCS.json").read_text())
    return keys, signed


def test_catalogue_has_thirty_types_and_a_hundred_matters():
    cat = domain.catalogue()
    assert len(cat.types) >= 30
    assert len(cat.matters) >= 100
    for name in ("居民身份证", "居民户口簿", "居住证", "机动车驾驶证", "结婚证", "营业执照", "食品经营许可证",
                 "旅行社业务经营许可证", "不动产权证书"):
        assert any(t.zh == name for t in cat.types.values()), name
    assert cat.types["business_licence"].holder_kinds == (HolderKind.ORGANISATION,)
    assert cat.types["resident_id"].field("id_number").type == "id_number"


def test_every_matter_can_save_paper_and_names_known_types():
    cat = domain.catalogue()
    for matter in cat.matters.values():
        assert matter.license_types, matter.code
        assert set(matter.license_types) <= set(cat.types)


def test_every_license_type_replaces_some_material():
    cat = domain.catalogue()
    used = {t for m in cat.matters.values() for t in m.license_types}
    assert set(cat.types) == used


def test_catalogue_refuses_unknown_license_type_in_a_matter():
    types = domain.catalogue().types
    doc = {"version": 1, "matters": [{"code": "M001", "zh": "x", "en": "x", "department": "d", "department_en": "d",
                                      "applicant_kind": "person",
                                      "materials": [{"code": "id", "zh": "x", "en": "x", "replaced_by": ["nope"]}]}]}
    with pytest.raises(domain.CatalogueInvalid, match="unknown license type nope"):
        domain.parse_matters(doc, types)


def test_catalogue_refuses_duplicate_type_and_bad_field_type():
    raw = json.loads((domain.DATA / "license_types.json").read_text("utf-8"))
    dup = {"version": 1, "types": raw["types"] + [raw["types"][0]]}
    with pytest.raises(domain.CatalogueInvalid, match="appears twice"):
        domain.parse_license_types(dup)
    bad = json.loads(json.dumps(raw))
    bad["types"][0]["fields"][0]["type"] = "colour"
    with pytest.raises(domain.CatalogueInvalid, match="unknown type"):
        domain.parse_license_types(bad)


def test_field_errors_name_every_problem():
    ltype = domain.catalogue().types["marriage_certificate"]
    errors = domain.field_errors(ltype, {"name": "张三", "registered_on": "2020-13-01", "shoe_size": "42"})
    assert {"field": "shoe_size", "code": "unknown"} in errors
    assert {"field": "registered_on", "code": "date"} in errors
    assert {"field": "number", "code": "required"} in errors


def test_validity_rules():
    types = domain.catalogue().types
    start = dt.date(2024, 2, 29)
    food = types["food_business_licence"]  # five years fixed
    assert domain.validity_error(food, start, dt.date(2029, 2, 27)) is None
    assert domain.validity_error(food, start, dt.date(2029, 2, 28)) is None
    assert domain.validity_error(food, start, dt.date(2030, 2, 28)) == "term"
    assert domain.validity_error(food, start, None) == "long_term_not_allowed"
    idcard = types["resident_id"]
    assert domain.validity_error(idcard, dt.date(2020, 5, 1), None) is None
    assert domain.validity_error(idcard, dt.date(2020, 5, 1), dt.date(2040, 4, 30)) is None
    assert domain.validity_error(idcard, dt.date(2020, 5, 1), dt.date(2020, 4, 30)) == "order"
    water = types["water_abstraction_permit"]  # at most ten years
    assert domain.validity_error(water, dt.date(2020, 1, 1), dt.date(2027, 6, 30)) is None
    assert domain.validity_error(water, dt.date(2020, 1, 1), dt.date(2031, 1, 1)) == "term"


def test_released_fields_keep_only_the_grant():
    ltype = domain.catalogue().types["business_licence"]
    fields = {"uscc": "91110000100000000A", "org_name": "甲公司", "address": "北京"}
    assert domain.released_fields(ltype, fields, ["org_name"]) == {"org_name": "甲公司"}
    assert domain.released_fields(ltype, fields, ["*"]) == {"uscc": "91110000100000000A", "org_name": "甲公司",
                                                            "address": "北京"}


@pytest.mark.parametrize(("raw", "text"), [
    # draft-msporny-base58-03 §5 test vectors.
    (b"Hello World!", "2NEpo7TZRRrLZSi2U"),
    (b"The quick brown fox jumps over the lazy dog.", "USm3fpXnKG5EUBx2ndxBDMPVciP5hGey2Jh4NDv6gmeo1LkMeiKrLJUUBk6Z"),
    (bytes.fromhex("0000287fb4cd"), "11233QC4"),
    (b"", ""),
])
def test_base58btc(raw, text):
    assert domain.b58encode(raw) == text
    assert domain.b58decode(text) == raw


def test_base58_refuses_foreign_characters():
    with pytest.raises(domain.MultibaseInvalid):
        domain.b58decode("0OIl")
    with pytest.raises(domain.MultibaseInvalid):
        domain.from_multibase_b58("uAAA")


def test_multikey_round_trip_matches_the_spec_key():
    keys, _ = _vector()
    private = domain.private_key_from_multikey(keys["privateKeyMultibase"])
    assert domain.public_multikey(private.public_key()) == keys["publicKeyMultibase"]
    assert domain.secret_multikey(private) == keys["privateKeyMultibase"]
    assert keys["publicKeyMultibase"].startswith("z6Mk")


def test_eddsa_jcs_2022_reproduces_the_w3c_test_vector():
    keys, signed = _vector()
    private = domain.private_key_from_multikey(keys["privateKeyMultibase"])
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    made = domain.add_proof(unsigned, private, verification_method=signed["proof"]["verificationMethod"],
                            created=signed["proof"]["created"])
    assert made == signed
    sig = domain.from_multibase_b58(made["proof"]["proofValue"])
    assert sig.hex() == (VECTORS / "sigHexJCS.txt").read_text().strip()


def test_eddsa_jcs_2022_verifies_the_vector_and_detects_tampering():
    keys, signed = _vector()
    public = domain.public_key_from_multikey(keys["publicKeyMultibase"])
    domain.verify_proof(signed, public)
    tampered = json.loads(json.dumps(signed))
    tampered["credentialSubject"]["alumniOf"] = "Another School"
    with pytest.raises(ProofInvalid, match="does not verify"):
        domain.verify_proof(tampered, public)
    moved = json.loads(json.dumps(signed))
    moved["proof"]["created"] = "2024-01-01T00:00:00Z"
    with pytest.raises(ProofInvalid):
        domain.verify_proof(moved, public)
    ctx = json.loads(json.dumps(signed))
    ctx["@context"] = ["https://www.w3.org/ns/credentials/v2"]
    with pytest.raises(ProofInvalid, match="@context"):
        domain.verify_proof(ctx, public)
    with pytest.raises(ProofInvalid, match="no proof"):
        domain.verify_proof({k: v for k, v in signed.items() if k != "proof"}, public)


def test_status_bits_follow_the_spec_bit_order_and_encoding():
    bits = StatusBits()
    assert bits.size == 131_072
    bits.set(0, True)
    bits.set(9, True)
    assert bits.bits[0] == 0x80 and bits.bits[1] == 0x40
    encoded = bits.encode()
    assert encoded.startswith("u") and "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) == 16_384 and raw[0] == 0x80
    back = StatusBits.decode(encoded)
    assert back.get(0) and back.get(9) and not back.get(1)
    bits.set(9, False)
    assert not bits.get(9)
    with pytest.raises(IndexError):
        bits.get(131_072)
    with pytest.raises(ValueError):
        StatusBits(1024)


def test_credential_and_status_list_credential_shapes():
    keys, _ = _vector()
    private = domain.private_key_from_multikey(keys["privateKeyMultibase"])
    ltype = domain.catalogue().types["marriage_certificate"]
    status = [domain.status_entry("https://x.example/sl/r", 7, StatusPurpose.REVOCATION),
              domain.status_entry("https://x.example/sl/s", 7, StatusPurpose.SUSPENSION)]
    vc = domain.build_credential(credential_id="urn:uuid:1", ltype=ltype, issuer_id="https://x.example/i",
                                 issuer_name="民政局", subject_id="urn:uuid:2",
                                 fields={"number": "J1", "name": "张三"}, valid_from=dt.date(2024, 1, 1),
                                 valid_until=dt.date(2024, 12, 31), status=status, version=1)
    assert vc["validFrom"] == "2023-12-31T16:00:00Z"
    assert vc["validUntil"] == "2024-12-31T15:59:59Z"
    assert vc["credentialStatus"][0]["statusListIndex"] == "7"
    signed = domain.add_proof(vc, private, verification_method="https://x.example/i#k",
                              created=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    domain.verify_proof(signed, private.public_key())
    slc = domain.status_list_credential(list_url="https://x.example/sl/r", issuer_id="https://x.example/i",
                                        purpose=StatusPurpose.REVOCATION, bits=StatusBits(),
                                        valid_from=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert slc["credentialSubject"]["type"] == "BitstringStatusList"
    assert StatusBits.decode(slc["credentialSubject"]["encodedList"]).size == 131_072
    doc = domain.controller_document(controller="https://x.example/i", key_id="https://x.example/i#k",
                                     multikey=keys["publicKeyMultibase"])
    assert doc["assertionMethod"] == ["https://x.example/i#k"]


HEADER = "type,holder_kind,holder_id,valid_from_on,valid_until_on,field.name,field.address"


@pytest.mark.parametrize(("text", "message"), [
    # An unquoted comma in an address: one cell more than the header. DictReader filed it under None and the
    # license was issued with the address cut short.
    (HEADER + "\nresident_id,person,x,2021-01-01,,李四,北京市,朝阳区示例路1号\n", "line 2 has 8 cells"),
    (HEADER + "\nresident_id,person,x,2021-01-01,,李四\n", "line 2 has 6 cells"),
    (HEADER + ",field.name\n", "repeats: field.name"),
    (HEADER + ",\n", "empty column name"),
    ("type,holder_kind\n", "lacks: holder_id"),
    (HEADER + "\n" + 'resident_id,person,x,2021-01-01,,"' + "长" * 200_000 + '",a\n', "not valid CSV"),
])
def test_a_csv_whose_rows_do_not_match_its_header_is_refused_whole(text, message):
    with pytest.raises(domain.ImportFileInvalid, match=message):
        domain.parse_import("licenses.csv", text.encode())


def test_csv_rows_keep_quoted_commas_and_skip_blank_lines():
    text = HEADER + '\n\nresident_id,person,x,2021-01-01,,李四,"北京市,朝阳区示例路1号"\n'
    assert domain.parse_import("a.CSV", text.encode()) == [
        {"type": "resident_id", "holder_kind": "person", "holder_id": "x", "valid_from_on": "2021-01-01",
         "valid_until_on": "", "field.name": "李四", "field.address": "北京市,朝阳区示例路1号"}]


def test_json_nested_beyond_the_parser_is_an_invalid_file():
    with pytest.raises(domain.ImportFileInvalid, match="nests too deeply"):
        domain.parse_import("licenses.json", b"[" * 100_000 + b"]" * 100_000)
