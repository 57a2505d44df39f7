"""The public side: the information page, the request form and its confirmation."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from . import views  # noqa: E402,F401  (registers the routes on bp)
