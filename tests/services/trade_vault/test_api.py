"""Trade vault API: uploads with the firm's token, and bank pulls that exist only under a grant, provably."""

from __future__ import annotations

import io
import zipfile

from openzone.core import ledger
from openzone.core.identity.models import Person
from openzone.core.identity.service import create_token
from openzone.core.ledger import receipt
from openzone.db import transaction
from openzone.services.trade_vault import sharing
from openzone.services.trade_vault.models import Pull
from tests import helpers
from tests.services.trade_vault.builders import SAMPLES, SHIPMENTS, VECTORS

INVOICE = VECTORS / "ubl_examples/invoice/UBL-Invoice-2.1-Example.xml"


def _token(person_id, org_id, scopes=("write", "read")):
    with transaction() as session:
        _, secret = create_token(session, person=session.get(Person, person_id), org_id=org_id, name="t",
                                 scopes=list(scopes))
    return {"authorization": f"Bearer {secret}", "accept": "application/json"}


def _firm():
    person, org = helpers.make_user("org_admin")
    return person, org, _token(person.id, org.id)


def _bank():
    person, org = helpers.make_user("org_admin", kind="bank")
    return person, org, _token(person.id, org.id, scopes=("read",))


def _upload(client, headers, path, name=None):
    return client.post("/api/v1/trade-vault/documents", headers=headers,
                       files={"file": (name or path.name, path.read_bytes())})


def _file_shipment(client, headers, name):
    out = []
    for path in SHIPMENTS[name]:
        response = _upload(client, headers, path)
        assert response.status_code == 201, response.text
        out.append(response.json())
    return out


def test_erp_uploads_a_document_and_reads_it_back(client):
    _, _, headers = _firm()
    made = _upload(client, headers, INVOICE)
    assert made.status_code == 201, made.text
    doc = made.json()
    assert doc["category"] == "invoice" and doc["number"] == "TOSL108" and doc["fields"]["references"]["order"] == "123"
    assert doc["receipt"] == f"/ledger/receipts/{doc['leaf_hash']}.txt"
    assert client.get(f"/api/v1/trade-vault/documents/{doc['id']}", headers=headers).json()["sha256"] == doc["sha256"]
    assert client.get(f"/api/v1/trade-vault/documents/{doc['id']}/file", headers=headers).content == INVOICE.read_bytes()
    listed = client.get("/api/v1/trade-vault/documents", params={"q": "TOSL108"}, headers=headers).json()
    assert doc["id"] in [d["id"] for d in listed["items"]]
    again = _upload(client, headers, INVOICE)
    assert again.status_code == 409 and again.json()["type"] == "/problems/trade-vault-document-exists"


def test_hostile_and_invalid_uploads_get_clear_problems(client):
    _, _, headers = _firm()
    xxe = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    bad = client.post("/api/v1/trade-vault/documents", headers=headers, files={"file": ("x.xml", xxe)})
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/trade-vault-xml-refused"
    err = _upload(client, headers, VECTORS / "ubl_examples/invoice/ERR-10_BII04_minimal_VAT_invoice_example_01.xml")
    assert err.status_code == 422 and err.json()["rule"] == "tax_subtotals"
    exe = client.post("/api/v1/trade-vault/documents", headers=headers, files={"file": ("a.exe", b"MZ\x90\x00")})
    assert exe.status_code == 415
    assert client.get("/api/v1/trade-vault/documents", headers=headers).json()["total"] == 0


def test_batch_reports_each_file(client):
    _, _, headers = _firm()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("SH3-declaration.json", (SAMPLES / "SH3-declaration.json").read_bytes())
        archive.writestr("pint.json", (VECTORS / "dcsa_ebl_examples/transport_documents/pint-3.0.0-transport-document.json").read_bytes())
    made = client.post("/api/v1/trade-vault/batches", headers=headers, files={"file": ("b.zip", buf.getvalue())})
    assert made.status_code == 201, made.text
    body = made.json()
    assert [d["category"] for d in body["filed"]] == ["cross_border"]
    assert body["refused"][0]["name"] == "pint.json" and body["refused"][0]["type"].endswith("trade-vault-document-invalid")
    traversal = io.BytesIO()
    with zipfile.ZipFile(traversal, "w") as archive:
        archive.writestr("../../evil.json", b"{}")
    refused = client.post("/api/v1/trade-vault/batches", headers=headers, files={"file": ("t.zip", traversal.getvalue())})
    assert refused.status_code == 422 and refused.json()["errors"][0]["code"] == "path_traversal"


def test_a_bank_pulls_only_what_was_granted_and_the_firm_sees_every_pull(client):
    person, firm, firm_headers = _firm()
    _, bank, bank_headers = _bank()
    docs = _file_shipment(client, firm_headers, "SH1")
    dossier_id = docs[0]["dossier_id"]
    url = f"/api/v1/trade-vault/shared/dossiers/{dossier_id}"
    # No access without a grant, and the refusal is kept on the ledger.
    refused = client.get(url, params={"purpose": "trade-finance", "fields": ["invoices"]}, headers=bank_headers)
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/grant-missing"
    assert refused.json()["receipts"]
    # A firm cannot pull, and the bank cannot read the firm's vault directly.
    assert client.get(url, params={"purpose": "trade-finance"}, headers=firm_headers).status_code == 403
    assert client.get(f"/api/v1/trade-vault/documents/{docs[0]['id']}", headers=bank_headers).status_code == 403
    with transaction() as session:
        grant = sharing.grant_to_bank(session, org_id=firm.id, bank_org_id=bank.id, kind=sharing.DOSSIER,
                                      resource_id=dossier_id, fields=["invoices", "customs_declarations"],
                                      purpose="summary-tax-guarantee", days=30, periodic=True, by_person=person.id)
    pulled = client.get(url, params={"purpose": "summary-tax-guarantee", "fields": ["invoices"]}, headers=bank_headers)
    assert pulled.status_code == 200, pulled.text
    body = pulled.json()
    assert {d["category"] for d in body["documents"]} == {"invoice"} and body["dossier"]["complete"]
    # Scope is respected: fields, purpose and other dossiers outside the grant are refused.
    assert client.get(url, params={"purpose": "summary-tax-guarantee", "fields": ["transport"]},
                      headers=bank_headers).json()["type"] == "/problems/grant-scope"
    assert client.get(url, params={"purpose": "credit-assessment", "fields": ["invoices"]},
                      headers=bank_headers).status_code == 403
    other = _file_shipment(client, firm_headers, "SH3")[0]["dossier_id"]
    assert client.get(f"/api/v1/trade-vault/shared/dossiers/{other}", params={"purpose": "summary-tax-guarantee",
                      "fields": ["invoices"]}, headers=bank_headers).status_code == 403
    # Every pull is visible to the firm, and every receipt verifies offline.
    with transaction() as session:
        pulls = sharing.pulls_of(session, firm.id)
        assert [p.leaf_hash for p in pulls] == [body["pull"]["leaf_hash"]]
        ledger.integrate(session)
    text = client.get(body["pull"]["receipt"]).content
    verdict = receipt.verify_receipt(text, log_keys=[ledger.log_signer().verifier()], quorum=0)
    assert verdict.fields.type == sharing.PULLED and verdict.fields.data["grant"] == str(grant.id)
    for doc in docs:
        filed = client.get(f"/ledger/receipts/{doc['leaf_hash']}.txt").content
        assert receipt.verify_receipt(filed, log_keys=[ledger.log_signer().verifier()], quorum=0).fields.digests[
            "document"] == f"sha256:{doc['sha256']}"
    # Revocation takes effect at once.
    with transaction() as session:
        sharing.revoke(session, org_id=firm.id, grant_id=grant.id)
    gone = client.get(url, params={"purpose": "summary-tax-guarantee", "fields": ["invoices"]}, headers=bank_headers)
    assert gone.status_code == 403 and gone.json()["type"] == "/problems/grant-revoked"
    with transaction() as session:
        assert session.query(Pull).filter(Pull.org_id == firm.id).count() == 1


def test_document_file_and_profile_pulls(client):
    person, firm, firm_headers = _firm()
    _, bank, bank_headers = _bank()
    docs = _file_shipment(client, firm_headers, "SH2")
    doc = docs[1]
    with transaction() as session:
        sharing.grant_to_bank(session, org_id=firm.id, bank_org_id=bank.id, kind=sharing.DOCUMENT, resource_id=doc["id"],
                              fields=["fields", "file"], purpose="trade-finance", days=7, periodic=False, by_person=person.id)
        sharing.grant_to_bank(session, org_id=firm.id, bank_org_id=bank.id, kind=sharing.PROFILE, resource_id="*",
                              fields=["consistency"], purpose="duty-guarantee-insurance", days=7, periodic=True,
                              by_person=person.id)
    file = client.get(f"/api/v1/trade-vault/shared/documents/{doc['id']}/file", params={"purpose": "trade-finance"},
                      headers=bank_headers)
    assert file.status_code == 200 and file.content == (SHIPMENTS["SH2"][1]).read_bytes() and file.headers["x-ledger-leaf"]
    # The single-use grant is spent.
    again = client.get(f"/api/v1/trade-vault/shared/documents/{doc['id']}", params={"purpose": "trade-finance"},
                       headers=bank_headers)
    assert again.status_code == 403 and again.json()["type"] == "/problems/grant-used"
    prof = client.get(f"/api/v1/trade-vault/shared/profiles/{firm.id}",
                      params={"purpose": "duty-guarantee-insurance", "fields": ["consistency"]}, headers=bank_headers)
    assert prof.status_code == 200, prof.text
    checks = prof.json()["profile"]["consistency"]
    assert {c["check"]: c["ok"] for c in checks} == {"value": False, "party": True, "quantity": False}
    assert "volume" not in prof.json()["profile"]
    assert client.get(f"/api/v1/trade-vault/shared/profiles/{firm.id}", params={"purpose": "duty-guarantee-insurance",
                      "fields": ["figures"]}, headers=bank_headers).status_code == 403


def test_another_firm_sees_nothing(client):
    _, _, headers = _firm()
    doc = _upload(client, headers, INVOICE).json()
    _, _, other = _firm()
    assert client.get(f"/api/v1/trade-vault/documents/{doc['id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/trade-vault/documents/{doc['id']}/file", headers=other).status_code == 404
    assert client.get("/api/v1/trade-vault/documents", params={"q": "TOSL108"}, headers=other).json()["total"] == 0
    read_only = {**headers}
    assert client.get("/api/v1/trade-vault/dossiers", headers=read_only).status_code == 200


def test_idempotency_key_replays_an_upload_and_refuses_reuse(client):
    _, _, headers = _firm()
    keyed = {**headers, "idempotency-key": "erp-upload-0001"}
    first = client.post("/api/v1/trade-vault/documents", headers=keyed, files={"file": ("inv.xml", INVOICE.read_bytes())})
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/trade-vault/documents", headers=keyed, files={"file": ("inv.xml", INVOICE.read_bytes())})
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = client.post("/api/v1/trade-vault/documents", headers=keyed,
                        files={"file": ("decl.json", (SAMPLES / "SH3-declaration.json").read_bytes())})
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    assert client.get("/api/v1/trade-vault/documents", headers=headers).json()["total"] == 1
    # Without a key, the same file again is a duplicate, not a replay.
    assert _upload(client, headers, INVOICE).status_code == 409
