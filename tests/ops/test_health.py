from sqlalchemy import text

from tests.conftest import make_test_app
from tests.support.servers import free_port


def test_healthz_answers_without_a_database():
    app = make_test_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ok_when_the_database_is_at_the_migrations_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["schema"] == "at head"


def test_readyz_is_503_when_the_database_is_unreachable():
    app = make_test_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_readyz_is_503_when_the_schema_is_behind(client, db):
    (revision,) = db.execute(text("SELECT version_num FROM alembic_version")).scalars()
    db.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    db.commit()
    try:
        response = client.get("/readyz")
    finally:
        db.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
        db.commit()
    assert response.status_code == 503
    assert response.get_json()["schema"] == "not at head"
