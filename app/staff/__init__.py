"""The intake staff side: sign-in, the queue, working a request, audit trail, export."""

from . import auth  # noqa: F401  (the sign-in routes join the blueprint defined in views)
from .views import bp

__all__ = ["bp"]
