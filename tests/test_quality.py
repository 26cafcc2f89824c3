"""Quality gates: lint, import contracts, the migration head and no drift between models and migrations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from openzone import migrate
from openzone.db import Base, get_engine
from openzone.models import load_all

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_finds_nothing():
    result = subprocess.run([BIN / "ruff", "check", "src", "tests", "migrations", "scripts", "benchmarks"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_hold():
    result = subprocess.run([BIN / "lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_current_head_file_names_the_newest_migration():
    recorded = (ROOT / "migrations" / ".current-alembic-head").read_text().strip()
    assert recorded == migrate.head()


def test_migrations_and_models_agree(database):
    load_all()
    with get_engine().connect() as conn:
        # SQLite FTS5 virtual tables and their shadow tables cannot be SQLAlchemy models (core/search/README.md).
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": migrate.include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_migration_files_form_one_numbered_line():
    names = sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    numbers = [int(n[:4]) for n in names]
    assert numbers == list(range(1, len(names) + 1))
