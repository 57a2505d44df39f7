"""Health for the load balancer and the orchestrator.

/healthz: the process answers (never touches the database, so a database outage does not
get every worker restarted). /readyz: this instance can serve requests: it is not being
drained, and the database answers, takes writes and has its schema at the migrations' head
(asked on a connection of its own: the page itself writes nothing).
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from app.db import get_engine
from app.ops import metrics as prometheus_metrics
from app.ops import readiness
from app.transactions import read_only

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@read_only
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
@read_only
def readyz():
    state = readiness.check(get_engine(), drain_file=current_app.config.get("DRAIN_FILE"))
    if state.ready:
        return jsonify(status="ok", **state.details)
    current_app.logger.warning(
        "readiness check: not ready", extra={"readiness": ", ".join(state.details)}
    )
    return jsonify(status="unavailable", **state.details), 503


@bp.get("/metrics")
@read_only
def metrics():
    # Not public: configured addresses or a bearer token (app/ops/metrics.py), else 404.
    return prometheus_metrics.metrics_response()
