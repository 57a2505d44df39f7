"""The intake admins' side: staff accounts, the audit trail, exports (CSV, FHIR), the
access metrics and the e-mail outbox."""

# Their routes join the blueprint defined in views.
from app.admin import accounts_views, fhir_views, outbox_views  # noqa: F401
from app.admin.views import bp

__all__ = ["bp"]
