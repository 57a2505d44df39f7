"""The intake staff side: sign-in, the queue, working a request, audit trail, exports."""

# Their routes join the blueprint defined in views.
from . import auth, fhir_views, outbox_views  # noqa: F401
from .views import bp

__all__ = ["bp"]
