"""A request's transaction ends before its response is sent: a commit that fails is an error, never a success."""

from __future__ import annotations

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from openzone import db
from openzone.app import api_routes, create_app
from openzone.core import consent
from openzone.core.identity import access
from openzone.core.identity.access import CSRF_COOKIE, CSRF_HEADER
from openzone.core.search.models import SearchDocument
from openzone.db import request_session, transaction
from openzone.kit.ids import new_id
from tests import helpers
from tests.conftest import IS_POSTGRES

SESSIONS = (db.request_session, consent.request_session)


def test_every_route_takes_the_request_session_in_function_scope():
    # FastAPI's default scope for a dependency with yield ends it after the response has gone out; then the commit,
    # and any error in it, came after the client had its 200 or 201.
    wrong = []
    for route in api_routes():
        stack = list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            if dep.call in SESSIONS and dep.scope != "function":
                wrong.append(f"{sorted(route.methods)} {route.path}: {dep.call.__module__}.{dep.call.__name__}")
            stack.extend(dep.dependencies)
    assert wrong == []
    assert any(dep.call in SESSIONS for route in api_routes() for dep in route.dependant.dependencies)


def _doc(key: str) -> SearchDocument:
    return SearchDocument(id=new_id(), index_name="request-session-test", doc_key=key, fields={}, folded="")


def _client(app) -> TestClient:
    """A client of a test app that shows server errors as responses and passes the CSRF check."""
    csrf = new_id().hex
    return TestClient(app, raise_server_exceptions=False, cookies={CSRF_COOKIE: csrf}, headers={CSRF_HEADER: csrf})


def test_a_commit_that_fails_answers_a_problem_and_keeps_nothing(database):
    app = create_app()

    @app.post("/test/commit-fails", dependencies=[Depends(access.public())])
    def commit_fails(key: str, session: Session = Depends(request_session, scope="function")):
        # Not flushed here: the duplicate key fails only when the request's transaction commits.
        session.add(_doc(f"{key}-first"))
        session.add(_doc(f"{key}-dup"))
        session.add(_doc(f"{key}-dup"))
        return {"stored": True}

    @app.post("/test/commit-works", dependencies=[Depends(access.public())])
    def commit_works(key: str, session: Session = Depends(request_session, scope="function")):
        session.add(_doc(key))
        return {"stored": True}

    key = new_id().hex
    with _client(app) as client:
        failed = client.post("/test/commit-fails", params={"key": key})
        worked = client.post("/test/commit-works", params={"key": f"{key}-ok"})
    assert failed.status_code == 500
    assert failed.headers["content-type"].startswith("application/problem+json")
    assert "stored" not in failed.text
    assert worked.status_code == 200
    with transaction() as session:
        keys = set(session.scalars(select(SearchDocument.doc_key).where(SearchDocument.index_name == "request-session-test",
                                                                         SearchDocument.doc_key.startswith(key))))
        session.query(SearchDocument).filter(SearchDocument.index_name == "request-session-test").delete()
    # The row that would have been fine was rolled back with the duplicates; the other request's row is there.
    assert keys == {f"{key}-ok"}


def test_a_nul_byte_in_the_address_is_a_clear_422_not_a_database_error(client):
    # PostgreSQL's text columns cannot hold NUL: "?ccs=%00" reached the database and answered 500 there.
    for url in ("/api/v1/standards?ccs=%00", "/api/v1/standards?q=a%00b", "/standards?ccs=%00"):
        response = client.get(url)
        assert response.status_code == 422, url
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/standards?ccs=A00").status_code == 200


def test_a_nul_character_in_a_form_field_is_a_clear_422_not_a_500(client):
    # The login form's e-mail went to PostgreSQL as a query parameter, whose driver refuses NUL: a 500 until the error
    # handlers named it. SQLite takes the value, finds no such person and answers the login page's own error.
    response = client.post("/login", data={"email": "a\x00b@example.com", "password": "x", "csrf_token": helpers.csrf(client)})
    assert response.status_code != 500
    if IS_POSTGRES:
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"] == [{"field": "", "code": "nul"}]


@pytest.mark.skipif(not IS_POSTGRES, reason="a server connection that can be cut from the server side")
def test_a_connection_lost_under_a_request_answers_503_and_the_next_request_gets_a_fresh_one(database):
    app = create_app()

    @app.post("/test/lose-connection", dependencies=[Depends(access.public())])
    def lose_connection(key: str, session: Session = Depends(request_session, scope="function")):
        session.add(_doc(key))
        session.flush()
        # The server ends this connection (as a restart would) while the request is using it.
        session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return {"stored": True}

    @app.get("/test/backend", dependencies=[Depends(access.public())])
    def backend(session: Session = Depends(request_session, scope="function")):
        return {"pid": session.scalar(text("SELECT pg_backend_pid()"))}

    @app.post("/test/lose-connection-at-commit", dependencies=[Depends(access.public())])
    def lose_at_commit(key: str, session: Session = Depends(request_session, scope="function")):
        session.add(_doc(key))
        session.flush()
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        with db.get_engine().connect() as other:  # ended from outside after the last statement: COMMIT fails
            other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return {"stored": True}

    key = new_id().hex
    with _client(app) as client:
        lost = client.post("/test/lose-connection", params={"key": key})
        after = [client.get("/test/backend") for _ in range(3)]
        # Lost during COMMIT the outcome is unknown (the server may have committed): no 503 inviting a retry.
        at_commit = client.post("/test/lose-connection-at-commit", params={"key": f"{key}-c"})
        assert at_commit.status_code == 500
        assert at_commit.headers["content-type"].startswith("application/problem+json")
        assert "retry-after" not in at_commit.headers
        assert client.get("/test/backend").status_code == 200
    assert lost.status_code == 503
    assert lost.headers["content-type"].startswith("application/problem+json")
    assert lost.headers["retry-after"] == "1"
    assert lost.json()["type"].endswith("/database-unavailable")
    assert [r.status_code for r in after] == [200, 200, 200]
    with transaction() as session:  # the flushed row went with the connection
        assert session.scalar(select(SearchDocument.id).where(SearchDocument.doc_key == key)) is None
