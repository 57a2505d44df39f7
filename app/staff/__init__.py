"""The intake staff side: sign-in, the queue, working a request, audit trail, export."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.after_request
def _no_store(response):
    # Staff pages carry patient data: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


from . import accounts_views, auth, second_factor_views, sign_in_steps, template_filters, views  # noqa: E402,F401  (registers the routes on bp)  # noqa: E402,F401  (issue 13)
