"""Shared fixtures: a freshly migrated database (SQLite by default, PostgreSQL via OPENZONE_DATABASE_URL)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_tmp = Path(tempfile.mkdtemp(prefix="openzone-test-"))
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)  # the run's database, blobs and keys
os.environ["OPENZONE_VAR_DIR"] = str(_tmp / "var")
os.environ.setdefault("OPENZONE_ENVIRONMENT", "development")
os.environ["OPENZONE_DEMO_MODE"] = "false"
if not os.environ.get("OPENZONE_DATABASE_URL"):
    os.environ["OPENZONE_DATABASE_URL"] = f"sqlite:///{_tmp / 'test.db'}"

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from openzone import migrate  # noqa: E402
from openzone.config import get_settings  # noqa: E402
from openzone.core import calendar  # noqa: E402
from openzone.db import get_engine, transaction  # noqa: E402

DATABASE_URL = os.environ["OPENZONE_DATABASE_URL"]
IS_POSTGRES = DATABASE_URL.startswith("postgresql")


def _reset_database() -> None:
    if IS_POSTGRES:
        with get_engine().begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade()
    # As `openzone init` does: the official working-day schedule that ships with chinese-calendar.
    with transaction() as session:
        calendar.seed_from_package(session)


@pytest.fixture(scope="session", autouse=True)
def database():
    """Build the test database by migrating, once per run."""
    _reset_database()
    yield DATABASE_URL
    get_engine().dispose()


@pytest.fixture
def session(database):
    """Give a session whose work is rolled back after the test (services flush, never commit)."""
    connection = get_engine().connect()
    outer = connection.begin()
    sess = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        connection.close()


@pytest.fixture(scope="session")
def app(database):
    """Build the application once."""
    from openzone.app import create_app

    return create_app()


@pytest.fixture
def client(app):
    """Give an HTTP client for the app (requests commit for real; tests use unique data)."""
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def settings():
    """Return the test settings."""
    return get_settings()
