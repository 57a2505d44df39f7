"""The intake staff side: sign-in, the queue, working a request, audit trail, export."""

from . import auth, outbox_views  # noqa: F401  (their routes join the blueprint defined in views)
from .views import bp

__all__ = ["bp"]
