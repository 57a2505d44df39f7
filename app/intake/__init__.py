"""The coordinators' side: the queue, my work, taking the next request, and working a
request (claim, status, callbacks, notes, reopen)."""

from app.intake import records_views  # noqa: F401 (registers the records' views)
from app.intake.views import bp

__all__ = ["bp"]
