"""Identity pages as a person uses them: sign in, second factor, tokens, password, administration."""

from __future__ import annotations

import datetime as dt

import pyotp
from sqlalchemy import select

from openzone.core.identity.access import SESSION_COOKIE
from openzone.core.identity.models import Organisation
from openzone.db import transaction
from tests import builders, helpers

HTML = {"accept": "text/html"}


def test_sign_in_and_out(client):
    person, _ = helpers.make_user("staff")
    helpers.login(client, person.email)
    page = client.get("/account", headers=HTML)
    assert page.status_code == 200 and person.email in page.text
    token = helpers.csrf(client, "/account")
    out = client.post("/logout", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/account", headers=HTML, follow_redirects=False).status_code == 303


def test_a_wrong_password_keeps_the_email_and_says_what_is_wrong(client):
    person, _ = helpers.make_user("staff")
    token = helpers.csrf(client)
    page = client.post("/login", data={"email": person.email, "password": "nope-nope-1", "csrf_token": token},
                       headers=HTML)
    assert page.status_code == 401
    assert "账号或密码不正确" in page.text and f'value="{person.email}"' in page.text
    assert 'class="govuk-error-summary"' in page.text


def test_an_empty_form_names_both_fields(client):
    page = client.post("/login", data={"csrf_token": helpers.csrf(client)}, headers=HTML)
    assert page.status_code == 422
    assert 'href="#email"' in page.text and 'href="#password"' in page.text


def test_next_cannot_leave_the_site(client):
    person, _ = helpers.make_user("staff")
    token = helpers.csrf(client)
    response = client.post("/login", data={"email": person.email, "password": builders.PASSWORD,
                                           "next": "https://evil.example/", "csrf_token": token},
                           headers=HTML, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_a_clerk_must_enrol_a_second_factor_outside_demo_mode(client):
    person, _ = helpers.make_user("clerk", kind="service_hall", totp=False)
    token = helpers.csrf(client)
    response = client.post("/login", data={"email": person.email, "password": builders.PASSWORD, "csrf_token": token},
                           headers=HTML, follow_redirects=False)
    assert response.headers["location"].startswith("/login/totp-setup")
    assert client.get("/account", headers=HTML, follow_redirects=False).status_code == 303  # not signed in yet
    page = client.get("/login/totp-setup", headers=HTML)
    secret = page.text.split('name="secret" value="')[1].split('"')[0]
    bad = client.post("/login/totp-setup", data={"secret": secret, "code": "12345", "csrf_token": token}, headers=HTML)
    assert bad.status_code == 401 and "动态验证码不正确" in bad.text
    done = client.post("/login/totp-setup", data={"secret": secret, "code": pyotp.TOTP(secret).now(),
                                                  "csrf_token": token}, headers=HTML, follow_redirects=False)
    assert done.status_code == 303 and SESSION_COOKIE in done.cookies
    assert client.get("/account", headers=HTML).status_code == 200


def test_an_enrolled_person_is_asked_for_the_code(client):
    person, _ = helpers.make_user("staff")
    helpers.login(client, person.email)
    page = client.get("/account/totp", headers=HTML)
    secret = page.text.split('name="secret" value="')[1].split('"')[0]
    token = helpers.csrf(client, "/account")
    # Enrol with the code of the previous 30-second step so the next sign-in can use the current one.
    totp = pyotp.TOTP(secret)
    earlier = totp.at(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30))
    client.post("/account/totp", data={"secret": secret, "code": earlier, "csrf_token": token}, headers=HTML)
    client.post("/logout", data={"csrf_token": token}, headers=HTML)
    response = client.post("/login", data={"email": person.email, "password": builders.PASSWORD, "csrf_token": token},
                           headers=HTML, follow_redirects=False)
    assert response.headers["location"].startswith("/login/totp?")
    wrong = client.post("/login/totp", data={"code": "000000" if totp.now() != "000000" else "111111",
                                             "csrf_token": token}, headers=HTML)
    assert wrong.status_code == 401
    ok = client.post("/login/totp", data={"code": totp.now(), "csrf_token": token}, headers=HTML, follow_redirects=False)
    assert ok.status_code == 303
    assert client.get("/account", headers=HTML).status_code == 200


def test_an_org_admin_creates_a_token_that_works_once_shown(client):
    person, org = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/account")
    page = client.post("/account/tokens", data={"org_id": str(org.id), "name": "ERP 对接", "days": "30",
                                                "scopes": ["read"], "csrf_token": token}, headers=HTML)
    assert page.status_code == 200
    secret = page.text.split('id="token-secret">')[1].split("<")[0]
    me = client.get("/api/v1/me", headers={"authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["scopes"] == ["read"]
    assert secret not in client.get("/account", headers=HTML).text  # shown once only


def test_a_token_form_error_is_shown_on_the_page(client):
    person, org = helpers.make_user("org_admin")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/account")
    page = client.post("/account/tokens", data={"org_id": str(org.id), "name": "", "days": "30", "scopes": ["read"],
                                                "csrf_token": token}, headers=HTML)
    assert page.status_code == 422 and "请填写令牌名称" in page.text


def test_changing_the_password_signs_out_everywhere(client):
    person, _ = helpers.make_user("staff")
    helpers.login(client, person.email)
    token = helpers.csrf(client, "/account")
    mismatch = client.post("/account/password", data={"current": builders.PASSWORD, "new": "brand-new-pass-9",
                                                      "confirm": "other", "csrf_token": token}, headers=HTML)
    assert mismatch.status_code == 422 and "不一致" in mismatch.text
    done = client.post("/account/password", data={"current": builders.PASSWORD, "new": "brand-new-pass-9",
                                                  "confirm": "brand-new-pass-9", "csrf_token": token},
                       headers=HTML, follow_redirects=False)
    assert done.headers["location"] == "/login?changed=1"
    helpers.login(client, person.email, "brand-new-pass-9")


def test_a_platform_admin_creates_an_organisation_and_adds_a_person(client):
    admin, _ = helpers.make_user(None, platform_admin=True)
    helpers.login(client, admin.email)
    token = helpers.csrf(client, "/admin/organisations/new")
    bad = client.post("/admin/organisations/new", data={"name": "某某公司", "kind": "enterprise",
                                                        "uscc": "91350100M000100Y44", "csrf_token": token}, headers=HTML)
    assert bad.status_code == 422 and "校验位" in bad.text and 'value="某某公司"' in bad.text
    name = f"新机构{builders.unique()}"
    ok = client.post("/admin/organisations/new", data={"name": name, "kind": "bank", "csrf_token": token},
                     headers=HTML, follow_redirects=False)
    assert ok.status_code == 303
    with transaction() as session:
        org_id = session.scalar(select(Organisation.id).where(Organisation.name == name))
    email = f"{builders.unique()}@example.cn"
    added = client.post(f"/admin/organisations/{org_id}/people",
                        data={"name": "新人", "email": email, "password": "first-pass-123", "role": "staff",
                              "id_number": "11010519491231002X", "csrf_token": token}, headers=HTML)
    assert added.status_code == 200 and email in added.text
    helpers.login(client, email, "first-pass-123")


def test_an_org_admin_cannot_manage_another_organisation(client):
    person, _ = helpers.make_user("org_admin")
    _, other = helpers.make_user("staff")
    helpers.login(client, person.email)
    assert client.get(f"/admin/organisations/{other.id}", headers=HTML).status_code == 403


def test_a_platform_admin_finds_people_by_name_or_email(client):
    admin, _ = helpers.make_user(None, platform_admin=True)
    person, _ = helpers.make_user("staff")
    helpers.login(client, admin.email)
    page = client.get("/admin/people", params={"q": person.email[:8]}, headers=HTML)
    assert page.status_code == 200 and person.email in page.text
    assert "没有找到人员" in client.get("/admin/people", params={"q": "no-such-person-xyz"}, headers=HTML).text
