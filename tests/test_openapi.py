"""Fuzz the JSON API from its own OpenAPI document with schemathesis: no input may cause a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from openzone.core.identity.models import Person
from openzone.core.identity.service import create_token
from openzone.db import transaction
from tests import helpers

FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def api_schema(app):
    """Load the schema the app serves at /api/openapi.json."""
    return schemathesis.openapi.from_asgi("/api/openapi.json", app)


@pytest.fixture(scope="module")
def admin_token():
    person, org = helpers.make_user("org_admin")
    with transaction() as session:
        _, secret = create_token(session, person=session.get(Person, person.id), org_id=org.id, name="fuzz",
                                 scopes=["read", "write", "admin"])
    return secret


def _fuzz(api_schema, headers: dict[str, str]) -> int:
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @FUZZ
        def run(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        run()
        operations += 1
    return operations


def _operation_count(client) -> int:
    paths = client.get("/api/openapi.json").json()["paths"]
    return sum(1 for item in paths.values() for method in item if method in {"get", "post", "put", "patch", "delete"})


def test_anonymous_fuzzing_finds_no_server_error(api_schema, client):
    assert _fuzz(api_schema, {}) == _operation_count(client)


def test_authenticated_fuzzing_finds_no_server_error(api_schema, admin_token, client):
    assert _fuzz(api_schema, {"authorization": f"Bearer {admin_token}"}) == _operation_count(client)


def test_the_schema_serves_and_documents_problem_responses(client):
    doc = client.get("/api/openapi.json").json()
    assert doc["info"]["title"] == "OpenZone API"
    # The JSON API lives under /api/v1; the public ledger keeps the C2SP paths under /ledger.
    assert all(p.startswith(("/api/v1/", "/ledger/")) for p in doc["paths"])
