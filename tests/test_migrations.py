"""The migrations are linear and build exactly the schema the models describe."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from app.models import Base
from tests.support.databases import alembic_config, postgres_url, prepare_postgres


def test_there_is_one_head(database_url):
    script = ScriptDirectory.from_config(alembic_config(database_url))
    assert len(script.get_heads()) == 1


# SQLite cannot reflect expression indexes (lower(name)); PostgreSQL checks those.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_the_models_match_the_migrated_schema(database_url):
    problems, revision = _schema_problems(database_url)
    assert problems == []
    assert revision == ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def _schema_problems(url: str) -> tuple[list, str | None]:
    """What differs between the models and the database's schema, and its revision."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata), context.get_current_revision()
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_every_migration_goes_down_and_up_again(database_url, tmp_path):
    """Ops can step back a release (docs/operations.md): each downgrade runs, on a database
    of this test's own, and the upgrade after it builds the same schema again."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'round-trip.sqlite3'}"
    else:
        suite = make_url(postgres_url())
        url = suite.set(database=f"{suite.database}_round_trip").render_as_string(
            hide_password=False
        )
        prepare_postgres(url)
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert left == set()
    command.upgrade(config, "head")
    assert _schema_problems(url)[0] == []
