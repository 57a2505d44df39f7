"""The readiness probe's migration head, read without importing alembic, is alembic's."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from app.ops import migrations


def test_head_revisions_agree_with_alembic():
    expected = frozenset(ScriptDirectory(str(migrations.MIGRATIONS_DIR)).get_heads())
    assert migrations.head_revisions() == expected


def test_a_revision_that_is_revised_is_not_a_head(tmp_path, monkeypatch):
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a1"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision: str = "b2"\ndown_revision: str | None = "a1"\n')
    (versions / "c.py").write_text('revision = "c3"\ndown_revision = ("a1",)\n')
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", tmp_path)
    migrations.head_revisions.cache_clear()
    try:
        assert migrations.head_revisions() == {"b2", "c3"}
    finally:
        migrations.head_revisions.cache_clear()
