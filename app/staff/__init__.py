"""The intake staff side: sign-in, the queue, working a request, audit trail, export."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.after_request
def _no_store(response):
    # Staff pages carry patient data: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


# Registers the routes on bp (accounts, passkeys, second factor: issue 13).
from . import (  # noqa: E402,F401
    accounts_views,
    auth,
    passkey_views,
    second_factor_views,
    sign_in_steps,
    template_filters,
    views,
)
