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
    _migrate(url, lambda cfg: command.upgrade(cfg, revision))


def downgrade(revision: str, url: str | None = None) -> None:
    """Migrate the configured (or given) database down to a revision."""
    _migrate(url, lambda cfg: command.downgrade(cfg, revision))


def _migrate(url: str | None, run) -> None:
    cfg = alembic_config()
    with get_engine(url).connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.driver_connection if sqlite else None
        if raw is not None:
            # A batch migration rebuilds a table by copy, drop and rename; with foreign keys on, dropping a parent
            # table deletes its children's rows (ON DELETE CASCADE). SQLite's own recipe (sqlite.org/lang_altertable.html
            # §7): keys off outside the transaction, then foreign_key_check before commit.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                run(cfg)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def head() -> str:
    """Return the newest revision in the migrations folder."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Tell Alembic's comparison to ignore search_fts*: the SQLite FTS5 table and its facets table, which only migrations make."""
    return not (type_ == "table" and reflected and compare_to is None and name.startswith("search_fts"))
