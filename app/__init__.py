"""The intake application; its factory is app/factory.py.

This file imports nothing of the application: the gunicorn master imports the worker classes
(app/ops/gunicorn_workers.py, app/ops/worker.py), which makes Python run this file and
app/ops/__init__.py, and whatever those import would stay in the master. A worker forked after
a code deploy (``kill -HUP``) would then run the old code. tests/ops/test_gunicorn_master.py
keeps the master clean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config_overrides: dict[str, Any] | None = None) -> Flask:
    from app.factory import create_app as build

    return build(config_overrides)
