"""Health for the load balancer and the orchestrator.

/healthz: the process answers (never touches the database, so a database outage does not
get every worker restarted). /readyz: this instance can serve requests: the database
answers and its schema is at the migrations' head.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.db import get_engine

from . import migrations

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    expected = migrations.head_revisions()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
            current = migrations.current_revisions(conn)
    except SQLAlchemyError:
        current_app.logger.warning("readiness check: database unreachable")
        return jsonify(status="unavailable", database="unreachable"), 503
    if current != expected:
        current_app.logger.warning("readiness check: schema is not at the migrations' head")
        return jsonify(status="unavailable", database="ok", schema="not at head"), 503
    return jsonify(status="ok", database="ok", schema="at head")
