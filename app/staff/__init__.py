"""The intake staff side: sign-in, the queue, working a request, audit trail, exports,
accounts and their second factors."""

# Their routes join the blueprint defined in views.
from . import (  # noqa: F401
    accounts_views,
    auth,
    fhir_views,
    outbox_views,
    passkey_views,
    second_factor_views,
    sign_in_steps,
)
from .views import bp

__all__ = ["bp"]
