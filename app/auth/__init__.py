"""Staff sign-in: the password, the second factor (codes, recovery codes, passkeys), the
one-time links, the hospital's identity provider (OpenID Connect), identity checks before
sensitive actions, and the decorators every staff
view carries (access.py)."""

# Their routes join the blueprint defined in views.
from app.auth import passkey_views, provider_views, second_factor_views  # noqa: F401
from app.auth.views import bp

__all__ = ["bp"]
