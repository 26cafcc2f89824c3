"""Bring a database to the newest schema with Alembic, and report the head revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from openzone.db import get_engine

ROOT = Path(__file__).resolve().parents[2]


def alembic_config() -> Config:
    """Return the Alembic configuration of the source tree."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrate the configured (or given) database to a revision, head by default."""
    cfg = alembic_config()
    with get_engine(url).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def head() -> str:
    """Return the newest revision in the migrations folder."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Tell Alembic's comparison to ignore SQLite FTS5 tables, which migrations create and no model can describe."""
    return not (type_ == "table" and reflected and compare_to is None and name.startswith("search_fts"))
