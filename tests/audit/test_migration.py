"""Migration 0006 chains the audit entries that exist already, with the key the app will
use, so `flask audit verify` passes on an upgraded database."""

from __future__ import annotations

from alembic import command
from sqlalchemy import create_engine, text

from tests.conftest import make_test_app
from tests.support.databases import alembic_config


def test_existing_entries_are_chained_by_the_migration(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    command.upgrade(alembic_config(url), "0002")
    engine = create_engine(url)
    with engine.begin() as conn:
        for action in ("sign_in", "view_request", "sign_out"):
            conn.execute(
                text("INSERT INTO audit_events (action, detail) VALUES (:a, 'before 0006')"),
                {"a": action},
            )
    engine.dispose()
    # The app's key comes from SECRET_KEY (no AUDIT_HASH_KEY): the migration uses the same.
    monkeypatch.delenv("AUDIT_HASH_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY", "testing-only-not-secret")
    command.upgrade(alembic_config(url), "head")

    app = make_test_app(url)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "3 entries checked" in result.output
