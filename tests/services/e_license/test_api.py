"""The e-license API over HTTP: issuer tokens, public keys and status lists, the window, the holder's views."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from openzone.core import consent, ledger
from openzone.core.identity.access import CSRF_COOKIE
from openzone.core.ledger import note, receipt
from openzone.services.e_license import domain
from openzone.services.e_license.domain import StatusBits
from tests import builders, helpers

API = "/api/v1/e-license"


def _bearer(token: str) -> dict:
    return {"authorization": f"Bearer {token}", "accept": "application/json"}


def _new_id_card(site, **overrides) -> dict:
    body = {"type": "resident_id", "holder_kind": "person", "holder_id": str(site.holder_id),
            "valid_from_on": "2021-01-01", "valid_until_on": "2030-12-31",
            "fields": {"name": "李四", "sex": "女", "ethnicity": "汉", "birth_date": "1990-03-07",
                       "address": "北京市", "id_number": builders.random_id_number()}}
    body.update(overrides)
    return body


def _anonymous(client) -> dict:
    """Give an anonymous caller a matching CSRF cookie and header, so the refusal is about who, not the form."""
    client.cookies.set(CSRF_COOKIE, "c" * 43)
    return {"x-csrf-token": "c" * 43, "accept": "application/json"}


def _signed_in(app, email) -> tuple[TestClient, str]:
    c = TestClient(app, base_url="http://testserver")
    helpers.login(c, email)
    return c, helpers.csrf(c, "/")


def test_an_issuer_token_issues_and_the_vc_verifies_with_the_published_key(client, site):
    response = client.post(f"{API}/licenses", json=_new_id_card(site), headers=_bearer(site.token))
    assert response.status_code == 201, response.text
    vc = response.json()["vc"]
    doc = client.get(f"{API}/issuers/{site.issuer_id}").json()
    assert doc["verificationMethod"][0]["id"] == vc["proof"]["verificationMethod"]
    domain.verify_proof(vc, domain.public_key_from_multikey(doc["verificationMethod"][0]["publicKeyMultibase"]))
    again = client.post(f"{API}/licenses", json=_new_id_card(site, fields=response.json()["fields"]),
                        headers=_bearer(site.token))
    assert again.status_code == 409 and again.json()["type"].endswith("e-license-exists")


def test_issuing_names_every_bad_field(client, site):
    body = _new_id_card(site, holder_kind="organisation", valid_until_on="2031-05-05")
    body["fields"]["birth_date"] = "1990-02-30"
    response = client.post(f"{API}/licenses", json=body, headers=_bearer(site.token))
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} >= {"birth_date", "holder_kind", "valid_until_on"}


def test_issuing_is_refused_without_write_scope_or_as_a_non_issuer(client, site):
    assert client.post(f"{API}/licenses", json=_new_id_card(site), headers=_bearer(site.read_token)).status_code == 403
    assert client.post(f"{API}/licenses", json=_new_id_card(site), headers=_anonymous(client)).status_code == 401
    admin, org = helpers.make_user("org_admin", kind="government_agency")

    def token(session):
        from openzone.core import identity
        from openzone.core.identity.models import Person
        return identity.create_token(session, person=session.get(Person, admin.id), org_id=org.id, name="t",
                                     scopes=["write"])[1]

    other = helpers.committed(token)
    response = client.post(f"{API}/licenses", json=_new_id_card(site), headers=_bearer(other))
    assert response.status_code == 403 and response.json()["type"].endswith("e-license-not-issuer")


def test_status_changes_show_in_the_public_signed_status_list(client, site):
    path = f"{API}/licenses/{site.id_card_id}"
    lic = next(x for x in client.get(f"{API}/licenses", headers=_bearer(site.read_token)).json()
               if x["id"] == str(site.id_card_id))
    index = int(lic["vc"]["credentialStatus"][1]["statusListIndex"])
    suspended = client.post(f"{path}/suspend", json={"reason": "证件挂失"}, headers=_bearer(site.token))
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    slc = client.get(f"{API}/issuers/{site.issuer_id}/status/suspension").json()
    doc = client.get(f"{API}/issuers/{site.issuer_id}").json()
    domain.verify_proof(slc, domain.public_key_from_multikey(doc["verificationMethod"][0]["publicKeyMultibase"]))
    assert StatusBits.decode(slc["credentialSubject"]["encodedList"]).get(index)
    assert client.post(f"{path}/reinstate", json={"reason": "已找回"}, headers=_bearer(site.token)).json()["status"] == "valid"
    revoked = client.post(f"{path}/revoke", json={"reason": "已注销"}, headers=_bearer(site.token)).json()
    assert revoked["status"] == "revoked" and revoked["status_reason"] == "已注销"
    assert client.post(f"{path}/suspend", json={"reason": "x"}, headers=_bearer(site.token)).status_code == 409
    assert client.get(f"{API}/issuers/{site.issuer_id}/status/other").status_code == 404


def test_an_update_signs_a_new_version(client, site):
    response = client.patch(f"{API}/licenses/{site.id_card_id}", json={"fields": {"address": "北京市东城区"}},
                            headers=_bearer(site.token))
    assert response.status_code == 200 and response.json()["version"] == 2


def test_a_batch_is_all_or_nothing_with_a_report(client, site):
    good = _new_id_card(site)
    bad = _new_id_card(site, holder_id="nope")
    response = client.post(f"{API}/licenses/batch", json=[good, bad], headers=_bearer(site.token))
    assert response.status_code == 422
    assert response.json()["report"] == [{"row": 2, "errors": [{"field": "holder_id", "code": "uuid"}]}]
    numbers = {x["number"] for x in client.get(f"{API}/licenses", headers=_bearer(site.read_token)).json()}
    assert good["fields"]["id_number"] not in numbers
    ok = client.post(f"{API}/licenses/batch", json=[good], headers=_bearer(site.token))
    assert ok.status_code == 201 and len(ok.json()["issued"]) == 1


def test_the_catalogue_is_public(client):
    assert len(client.get(f"{API}/catalogue/types").json()) >= 30
    assert len(client.get(f"{API}/catalogue/matters").json()) >= 100


def _authorise(holder, csrf, site, matter="M007"):
    body = {"matter": matter, "hall_org_id": str(site.hall_id),
            "licenses": [{"license_id": str(site.id_card_id), "fields": ["name", "id_number"]},
                         {"license_id": str(site.marriage_id), "fields": ["number", "spouse_name"]}]}
    response = holder.post(f"{API}/me/grants", json=body, headers={"x-csrf-token": csrf})
    assert response.status_code == 201, response.text
    return response.json()


def _qr(site, grant_id) -> str:
    return helpers.committed(lambda s: consent.present_qr(s, uuid.UUID(grant_id),
                                                          holders=[consent.Holder.person(site.holder_id)]).qr_payload)


def _presented(app, site, matter: str):
    """Have the holder authorise the hall, and the clerk open an application for a matter and scan the holder's QR."""
    holder, hcsrf = _signed_in(app, site.holder_email)
    grant = _authorise(holder, hcsrf, site)
    clerk, ccsrf = _signed_in(app, site.clerk_email)
    h = {"x-csrf-token": ccsrf}
    application = clerk.post(f"{API}/applications", json={"matter": matter}, headers=h).json()
    clerk.post(f"{API}/applications/{application['id']}/presentations", json={"token": _qr(site, grant["id"])},
               headers=h)
    return holder, hcsrf, grant, clerk, h, application


def test_the_window_flow_and_the_holders_receipts_verify_offline(app, client, site):
    holder, hcsrf = _signed_in(app, site.holder_email)
    grant = _authorise(holder, hcsrf, site)
    assert grant["status"] == "active" and grant["max_uses"] == 2
    clerk, ccsrf = _signed_in(app, site.clerk_email)
    h = {"x-csrf-token": ccsrf}
    application = clerk.post(f"{API}/applications", json={"matter": "M007"}, headers=h).json()
    assert application["window"] == "W01" and application["allowed"] == []
    presented = clerk.post(f"{API}/applications/{application['id']}/presentations",
                           json={"token": _qr(site, grant["id"])}, headers=h)
    assert presented.status_code == 200, presented.text
    allowed = presented.json()["allowed"]
    assert [(a["type"], a["fields"]) for a in allowed] == [("resident_id", ["name", "id_number"]),
                                                          ("marriage_certificate", ["number", "spouse_name"])]
    for a in allowed:
        got = clerk.post(f"{API}/applications/{application['id']}/retrievals", json={"license_id": a["license_id"]},
                         headers=h)
        assert got.status_code == 201, got.text
        assert set(got.json()["data"]["fields"]) == set(a["fields"])
    detail = clerk.get(f"{API}/applications/{application['id']}").json()
    assert [m["code"] for m in detail["materials_saved"]] == ["id", "mc"]
    # The holder sees every access; once integrated each carries a receipt that verifies offline.
    while helpers.committed(lambda s: ledger.integrate(s)):
        pass
    accesses = holder.get(f"{API}/me/accesses").json()["items"]
    uses = [a for a in accesses if a["action"] == "use"]
    assert len(uses) == 2 and all(a["window"] == "W01" and a["clerk"] and a["matter"] == "M007" for a in uses)
    for a in uses:
        data = client.get(a["receipt_url"]).content
        verdict = receipt.verify_receipt(data, log_keys=[note.parse_vkey(ledger.log_vkey())], quorum=0,
                                         origin=ledger.log_origin())
        assert verdict.leaf_hash.hex() == a["leaf_hash"]
    assert holder.get(f"{API}/me/grants").json()[0]["status"] == "used"


def test_refusals_are_clear_and_logged(app, client, site):
    holder, hcsrf, grant, clerk, h, application = _presented(app, site, "M001")
    refused = clerk.post(f"{API}/applications/{application['id']}/retrievals",
                         json={"license_id": str(site.id_card_id)}, headers=h)
    assert refused.status_code == 403 and refused.json()["type"].endswith("grant-scope")
    assert refused.json()["receipts"]
    other, ocsrf = _signed_in(app, site.other_clerk_email)
    wrong = other.post(f"{API}/applications/{application['id']}/retrievals",
                       json={"license_id": str(site.id_card_id)}, headers={"x-csrf-token": ocsrf})
    assert wrong.status_code == 403 and wrong.json()["type"].endswith("e-license-wrong-window")
    assert holder.post(f"{API}/me/grants/{grant['id']}/revoke", headers={"x-csrf-token": hcsrf}).json()[
        "status"] == "revoked"
    accesses = holder.get(f"{API}/me/accesses").json()["items"]
    assert any(a["outcome"] == "refused" and a["reason"] == "grant-scope" for a in accesses)


def test_a_holder_sees_only_their_own_licenses(app, client, site):
    holder, _ = _signed_in(app, site.holder_email)
    mine = holder.get(f"{API}/me/licenses").json()
    assert {x["id"] for x in mine} == {str(site.id_card_id), str(site.marriage_id)}
    stranger, _ = helpers.make_user(None)
    other, _ = _signed_in(app, stranger.email)
    assert other.get(f"{API}/me/licenses").json() == []
    assert other.get(f"{API}/me/licenses/{site.id_card_id}").status_code == 404


def test_holder_and_clerk_routes_refuse_the_wrong_caller(app, client, site):
    assert client.get(f"{API}/me/licenses").status_code == 401
    assert client.get(f"{API}/me/accesses", headers=_bearer(site.read_token)).status_code == 403
    holder, hcsrf = _signed_in(app, site.holder_email)
    response = holder.post(f"{API}/applications", json={"matter": "M007"}, headers={"x-csrf-token": hcsrf})
    assert response.status_code == 403
    official, ocsrf = _signed_in(app, site.official_email)
    # An official of the issuer is not a clerk: the window routes are refused.
    assert official.post(f"{API}/applications", json={"matter": "M007"},
                         headers={"x-csrf-token": ocsrf}).status_code == 403
    assert official.get(f"{API}/licenses").status_code == 200
    assert client.post(f"{API}/licenses/{site.id_card_id}/revoke", json={"reason": "x"},
                       headers=_anonymous(client)).status_code == 401


def test_issuing_with_an_idempotency_key_issues_once(client, site):
    body = _new_id_card(site)
    headers = {**_bearer(site.token), "idempotency-key": f"issue-{uuid.uuid4()}"}
    first = client.post(f"{API}/licenses", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = client.post(f"{API}/licenses", json=body, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    numbers = [x["number"] for x in client.get(f"{API}/licenses", headers=_bearer(site.read_token)).json()]
    assert numbers.count(body["fields"]["id_number"]) == 1
    other = client.post(f"{API}/licenses", json=_new_id_card(site), headers=headers)
    assert other.status_code == 422 and other.json()["type"].endswith("idempotency-key-reused")
    # Without a key a second identical request is a new issue, refused as a duplicate number.
    assert client.post(f"{API}/licenses", json=body, headers=_bearer(site.token)).status_code == 409


def test_a_batch_with_an_idempotency_key_is_replayed(client, site):
    rows = [_new_id_card(site)]
    headers = {**_bearer(site.token), "idempotency-key": f"batch-{uuid.uuid4()}"}
    first = client.post(f"{API}/licenses/batch", json=rows, headers=headers)
    again = client.post(f"{API}/licenses/batch", json=rows, headers=headers)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
