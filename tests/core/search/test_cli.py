"""The `openzone search` commands, run in-process against the test database."""

from __future__ import annotations

from typer.testing import CliRunner

from openzone.cli import app
from openzone.core import search
from openzone.core.search import Document, Field, IndexSpec, Weight
from openzone.db import transaction

CLI_DOCS = [Document(key=f"c{i}", fields={"title": f"冷链物流标准第{i}部分"}) for i in range(5)]
search.register_index(IndexSpec(name="clidocs", fields=(Field("title", Weight.TITLE),), load_all=lambda _s: CLI_DOCS))


def test_reindex_rebuilds_an_index_and_query_finds_its_documents():
    runner = CliRunner()
    try:
        result = runner.invoke(app, ["search", "reindex", "clidocs"])
        assert result.exit_code == 0, result.output
        assert "indexed 5" in result.output
        result = runner.invoke(app, ["search", "query", "clidocs", "冷链"])
        assert result.exit_code == 0, result.output
        assert "5 results" in result.output
        assert "<mark>冷链</mark>" in result.output
        result = runner.invoke(app, ["search", "indexes"])
        assert "clidocs" in result.output and " 5" in result.output
    finally:
        with transaction() as session:
            search.clear_index(session, index="clidocs")


def test_an_unknown_index_or_bad_query_exits_with_a_message():
    runner = CliRunner()
    result = runner.invoke(app, ["search", "reindex", "nosuch"])
    assert result.exit_code == 1
    assert "No search index named 'nosuch'" in result.output
    result = runner.invoke(app, ["search", "query", "clidocs", '"冷链'])
    assert result.exit_code == 1
    assert "unbalanced" in result.output
