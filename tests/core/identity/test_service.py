"""Identity use cases on a real database."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from sqlalchemy import delete, select, text, update

from openzone.core.identity import service
from openzone.core.identity.models import ApiToken, Membership, Person
from openzone.db import get_engine, transaction
from openzone.kit.errors import Conflict, ValidationFailed
from openzone.kit.time import utcnow
from tests import builders
from tests.conftest import IS_POSTGRES


def test_identifiers_are_encrypted_at_rest_and_shown_masked(session):
    id_number = builders.random_id_number()
    person = builders.create_person(session, phone="13912345678", id_number=id_number)
    raw = session.execute(select(Person.phone_enc, Person.id_number_enc).where(Person.id == person.id)).one()
    assert id_number.encode() not in raw.id_number_enc and b"13912345678" not in raw.phone_enc
    masked = service.masked_identifiers(person)
    assert masked == {"phone": "139****5678", "id_number": id_number[:6] + "********" + id_number[-4:]}
    assert service.find_person_by_id_number(session, id_number.lower()).id == person.id


def test_the_same_id_number_cannot_register_twice(session):
    id_number = builders.random_id_number()
    builders.create_person(session, id_number=id_number)
    with pytest.raises(Conflict):
        builders.create_person(session, id_number=id_number)


def test_a_bad_credit_code_is_refused_with_its_reason(session):
    with pytest.raises(ValidationFailed) as err:
        builders.create_org(session, uscc="91350100M000100Y44")
    assert "校验位" in err.value.detail and err.value.errors[0]["code"] == "check"


def test_a_credit_code_is_normalised_and_unique(session):
    org = builders.create_org(session, uscc=" 91350100m000100y43 ")
    assert org.uscc == "91350100M000100Y43"
    with pytest.raises(Conflict):
        builders.create_org(session, uscc="91350100M000100Y43")


def test_repeated_failures_lock_the_account(session, settings):
    person = builders.create_person(session)
    for _ in range(settings.login_max_failures - 1):
        assert service.check_password(session, email=person.email, password="wrong-password-1").problem is service.InvalidCredentials
    assert service.check_password(session, email=person.email, password="wrong-password-1").problem is service.AccountLocked
    # Even the right password is refused while the lock lasts.
    assert service.check_password(session, email=person.email, password=builders.PASSWORD).problem is service.AccountLocked
    person.locked_until = utcnow() - dt.timedelta(seconds=1)
    assert service.check_password(session, email=person.email, password=builders.PASSWORD).person is not None


def test_unknown_email_and_wrong_password_look_the_same(session):
    person = builders.create_person(session)
    a = service.check_password(session, email="nobody@example.cn", password="x")
    b = service.check_password(session, email=person.email, password="wrong-password-1")
    assert a.problem is b.problem is service.InvalidCredentials


def test_password_change_checks_the_current_one_and_ends_sessions(session):
    person = builders.create_person(session)
    cookie = service.start_web_session(session, person, verified=True)
    with pytest.raises(ValidationFailed):
        service.change_password(session, person, current="wrong", new="new-password-42")
    with pytest.raises(ValidationFailed):
        service.change_password(session, person, current=builders.PASSWORD, new="short")
    service.change_password(session, person, current=builders.PASSWORD, new="new-password-42")
    assert service.web_session(session, cookie) is None
    assert service.check_password(session, email=person.email, password="new-password-42").person is not None


def test_totp_enrolment_and_a_code_cannot_be_replayed(session):
    person = builders.create_person(session)
    secret = service.new_totp_secret()
    with pytest.raises(service.TotpInvalid):
        service.enrol_totp(session, person, secret=secret, code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    code = pyotp.TOTP(secret).now()
    service.enrol_totp(session, person, secret=secret, code=code)
    assert not service.verify_totp(session, person, code)  # the enrolment code is spent
    assert person.totp_secret_enc and secret.encode() not in person.totp_secret_enc


def test_tokens_are_stored_hashed_expire_and_revoke(session):
    org = builders.create_org(session)
    person = builders.create_person(session, org=org, role="org_admin")
    token, secret = service.create_token(session, person=person, org_id=org.id, name="ERP", scopes=["read"], days=1)
    assert secret.startswith("oz_") and len(secret) >= 40
    assert token.token_hash != secret and secret not in token.token_hash
    assert service.resolve_token(session, secret)[0].id == token.id
    assert service.resolve_token(session, secret + "x") is None
    token.expires_at = utcnow() - dt.timedelta(seconds=1)
    assert service.resolve_token(session, secret) is None
    token.expires_at = utcnow() + dt.timedelta(days=1)
    service.revoke_token(session, token.id, allowed_orgs={org.id})
    assert service.resolve_token(session, secret) is None


def test_token_principal_reads_token_creator_and_roles_and_refuses_at_once(session):
    org, other = builders.create_org(session), builders.create_org(session)
    person = builders.create_person(session, org=org, role="org_admin")
    from openzone.core.identity.service import add_membership
    add_membership(session, person_id=person.id, org_id=org.id, role="clerk")
    add_membership(session, person_id=person.id, org_id=other.id, role="official")
    token, secret = service.create_token(session, person=person, org_id=org.id, name="t", scopes=["read", "write"])
    principal = service.token_principal(session, secret)
    assert principal == service.principal_for(session, person, token=token)
    assert principal.roles == frozenset({(org.id, "org_admin"), (org.id, "clerk")})
    session.refresh(token)
    assert token.last_used_at is not None
    assert service.token_principal(session, secret + "x") is None
    token.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.flush()
    assert service.token_principal(session, secret) is None
    token.expires_at = utcnow() + dt.timedelta(days=1)
    session.flush()
    person.active = False
    session.flush()
    assert service.token_principal(session, secret) is None
    person.active = True
    session.flush()
    service.revoke_token(session, token.id, allowed_orgs={org.id})
    session.flush()
    assert service.token_principal(session, secret) is None


def test_a_token_principal_loses_a_removed_role_at_once(session):
    org = builders.create_org(session)
    person = builders.create_person(session, org=org, role="org_admin")
    _, secret = service.create_token(session, person=person, org_id=org.id, name="t", scopes=["read"])
    session.execute(delete(Membership).where(Membership.person_id == person.id))
    principal = service.token_principal(session, secret)
    assert principal is not None and principal.roles == frozenset()


def test_role_org_name_names_the_organisation_only_when_the_role_is_held(session):
    org = builders.create_org(session, name="某政务服务中心")
    other = builders.create_org(session, name="另一中心")
    person = builders.create_person(session, org=org, role="clerk")

    def name(org_id, role):
        return session.scalar(select(service.role_org_name(person.id, org_id, role)))

    assert name(org.id, "clerk") == "某政务服务中心"
    assert name(org.id, "official") is None
    assert name(other.id, "clerk") is None
    org.active = False
    session.flush()
    assert name(org.id, "clerk") == ""  # still held, in an organisation no longer active


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": "", "scopes": ["read"]}, "name"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": ["root"]}, "scopes"),
    ({"name": "x", "scopes": ["read"], "days": 0}, "days"),
    ({"name": "x", "scopes": ["read"], "days": 400}, "days"),
])
def test_bad_token_requests_are_refused(session, kwargs, field):
    org = builders.create_org(session)
    person = builders.create_person(session, org=org, role="org_admin")
    with pytest.raises(ValidationFailed) as err:
        service.create_token(session, person=person, org_id=org.id, **kwargs)
    assert err.value.errors[0]["field"] == field


def test_a_token_principal_carries_only_the_token_org_roles(session):
    org, other = builders.create_org(session), builders.create_org(session)
    person = builders.create_person(session, org=org, role="org_admin")
    from openzone.core.identity.service import add_membership
    add_membership(session, person_id=person.id, org_id=other.id, role="clerk")
    token, _ = service.create_token(session, person=person, org_id=org.id, name="t", scopes=["read"])
    principal = service.principal_for(session, person, token=token)
    assert principal.roles == frozenset({(org.id, "org_admin")})
    assert principal.scopes == frozenset({"read"})


@pytest.mark.skipif(not IS_POSTGRES, reason="row locks are PostgreSQL's; SQLite serialises whole write transactions")
def test_a_token_in_use_by_an_open_transaction_is_not_waited_for(database):
    # A burst of requests with a fresh token: the first one's transaction holds the token row while it is updating
    # last_used_at; the others skip the update instead of queueing behind it.
    with transaction() as session:
        org = builders.create_org(session)
        person = builders.create_person(session, org=org, role="org_admin")
        token, secret = service.create_token(session, person=person, org_id=org.id, name="burst", scopes=["read"])
        token_id = token.id
    first = get_engine().connect()
    try:
        first.begin()
        first.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=None))
        with transaction() as session:
            session.execute(text("SET LOCAL lock_timeout = '3s'"))  # waiting would fail here, not hang
            principal = service.token_principal(session, secret)
        assert principal is not None and principal.token_id == token_id
    finally:
        first.rollback()
        first.close()
    with transaction() as session:
        assert service.token_principal(session, secret) is not None
        session.flush()
        assert session.get(ApiToken, token_id).last_used_at is not None
